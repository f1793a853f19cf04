"""The proxy auto-config (PAC) file, served by the proxy itself.

Two URLs answer it, never forwarded upstream:
- `http://<proxy address>/proxy.pac`, a plain request to the proxy's own port: what a browser's or
  system's "automatic proxy configuration URL" setting is given (they fetch it without a proxy);
- `http://whoknows.proxy/proxy.pac` through the proxy (any other path on that name is a 404).

The file points at the address the client reached the proxy on (the accepted socket's local
address), so it is right whatever `--listen-host`/`--port` were, port 0 included. Loopback and
plain host names go direct. When the proxy is down there is no DIRECT fallback unless
`whoknows_pac_fallback` is on: a privacy proxy that silently stops applying is worse than a
browser that says it cannot reach it.
"""

from __future__ import annotations

from mitmproxy import ctx
from mitmproxy import http

from proxy_addons import PAC_PATH
from proxy_addons import PROXY_HOST
from proxy_addons import host_port

PAC_CONTENT_TYPE = "application/x-ns-proxy-autoconfig"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def pac_script(proxy: str, fallback: bool = False) -> str:
    """A PAC file sending every non-local request to `proxy` (`host:port`)."""
    target = f"PROXY {proxy}; DIRECT" if fallback else f"PROXY {proxy}"
    return (
        "// whoknows: send web traffic through the whoknows proxy; local names go direct.\n"
        "function FindProxyForURL(url, host) {\n"
        "  if (isPlainHostName(host) || host === \"localhost\" || host === \"[::1]\" ||\n"
        "      shExpMatch(host, \"127.*\") || shExpMatch(host, \"*.localhost\")) {\n"
        "    return \"DIRECT\";\n"
        "  }\n"
        f"  return \"{target}\";\n"
        "}\n"
    )


def _local_host(address: tuple | None) -> str | None:
    if not address:
        return None
    host = str(address[0])
    return host.removeprefix("::ffff:")  # an IPv4 client on a dual-stack socket


def _is_direct(flow: http.HTTPFlow) -> bool:
    """A request for the proxy's own address (the client asked the proxy, not through it)."""
    sockname = flow.client_conn.sockname
    if not sockname or flow.request.port != sockname[1]:
        return False
    return flow.request.host in LOOPBACK_NAMES | {_local_host(sockname)}


class Pac:
    name = "whoknows_pac"

    def load(self, loader) -> None:
        loader.add_option("whoknows_pac_fallback", bool, False,
                          "Let the PAC file fall back to DIRECT connections when the proxy is down.")

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        # Answered before the body is read. A direct PAC request is answered even when proxy
        # authentication is on (proxyauth has set a 401 by now): browsers fetch PAC files without
        # credentials, and the file holds nothing but the proxy's address.
        path = flow.request.path.partition("?")[0]
        if path != PAC_PATH and flow.request.host != PROXY_HOST:
            return  # why (speed only): neither branch below can apply; skips `_is_direct`
        if _is_direct(flow) and path == PAC_PATH:
            flow.response = self._pac_response(flow)
        elif flow.request.host == PROXY_HOST and flow.response is None:
            if path == PAC_PATH and flow.request.method in ("GET", "HEAD"):
                flow.response = self._pac_response(flow)
            else:
                flow.response = http.Response.make(
                    404, f"whoknows proxy: nothing here; the PAC file is at {PAC_PATH}\n",
                    {"content-type": "text/plain; charset=utf-8"})

    @staticmethod
    def _pac_response(flow: http.HTTPFlow) -> http.Response:
        sockname = flow.client_conn.sockname
        proxy = host_port(_local_host(sockname) or "127.0.0.1", sockname[1] if sockname else 8080)
        return http.Response.make(
            200, pac_script(proxy, ctx.options.whoknows_pac_fallback),
            {"content-type": PAC_CONTENT_TYPE, "cache-control": "no-store"})
