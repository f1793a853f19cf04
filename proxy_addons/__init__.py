"""mitmproxy addons for whoknows: thin adapters, one behaviour per module; decisions live in `whoknows`.

This package's top level imports no mitmproxy (the `setup` command reads the constants below), so
addon modules are imported only by `whoknows_addons()`, the one list of addons in chain order.
"""

from __future__ import annotations

from pathlib import Path

# A name the proxy answers itself and never forwards (reserved: `.proxy` is not a real TLD).
PROXY_HOST = "whoknows.proxy"
PAC_PATH = "/proxy.pac"
PAC_URL = f"http://{PROXY_HOST}{PAC_PATH}"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
CA_CERT_NAME = "mitmproxy-ca-cert.pem"


def confdir() -> Path:
    """mitmproxy's configuration directory (its CA lives there): inside whoknows's data directory."""
    from whoknows.paths import data_dir

    return data_dir() / "mitmproxy"


def host_port(host: str, port: int) -> str:
    """`host:port`, with brackets around IPv6 addresses."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def direct_pac_url(host: str, port: int) -> str:
    """The PAC file's URL on the proxy's own address (what browsers and systems are given)."""
    return f"http://{host_port(host, port)}{PAC_PATH}"


def whoknows_addons() -> list:
    """Every whoknows addon, in chain order, each guarded by the first one (`safety.Safety`).

    Order matters: `terms_page` (the personal terms' public text) and `pac` answer the proxy's own
    URLs before anything else sees them; `cname` finds a first-party subdomain's canonical names
    after `context` says whose page it is and before the blocking addon matches them; `frames` reads the cookies addon's tracker verdict; the blocking
    addon (when present) marks tracker requests before `signals` reads the mark; `streaming` comes
    after every addon that may answer a request at its headers, and before `leaks`; `personal_terms`
    after `signals` (it adds its header to requests the proxy lets through) and before `streaming`;
    `company_sightings` after `leaks` (it reads the values `leaks` found in the request);
    `websocket_memory` drops a WebSocket's past messages after every other addon has seen the
    current one.
    """
    from proxy_addons import pac
    from proxy_addons import personal_terms
    from proxy_addons import terms_page
    from proxy_addons import safety
    from proxy_addons import signals

    from proxy_addons import blocking
    from proxy_addons import cname
    from proxy_addons import frames
    from proxy_addons import context
    from proxy_addons import params
    from proxy_addons import cookies
    from proxy_addons import observation
    from proxy_addons import company_sightings
    from proxy_addons import control
    from proxy_addons import leaks
    from proxy_addons import streaming
    from proxy_addons import upstream_http1
    from proxy_addons import websocket_memory

    from whoknows.frames import FrameMemory

    guard = safety.Safety()
    frame_memory = FrameMemory()  # the frames addon fills it, the context addon reads it
    addons = [terms_page.TermsPage(), pac.Pac(), context.Context(frames=frame_memory), cname.Cname(),
              blocking.Blocking(), params.Params(), cookies.Cookies(), frames.Frames(frame_memory), signals.Signals(),
              personal_terms.PersonalTerms(),
              streaming.Streaming(), leaks.Leaks(), observation.Observation(),
              company_sightings.CompanySightingsAddon(), control.Control(), upstream_http1.UpstreamHttp1(),
              websocket_memory.WebSocketMemory()]
    return [guard, *(guard.guard(addon) for addon in addons)]
