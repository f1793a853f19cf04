"""The control API server: how the browser extension reads and changes what this proxy does.

Listens on 127.0.0.1 only (never the proxy's --listen-host), on `whoknows_control_port` (default
8081; 0: any free port; -1: off), from `running` to `done`. The proxy's "listening" line names its
URL, and `<data dir>/control-api.json` records it for `whoknows extension status`. The requests
themselves are answered by `whoknows.control.ControlAPI` (every security rule lives there).

Why a stdlib `ThreadingHTTPServer` on daemon threads rather than a server on mitmproxy's event
loop: control work must never stall the proxy. Writing a setting or making an alias is a SQLite
write that may wait for the ledger's lock (and reading a vendor record loads the company
directory); on the event loop that wait would hold up every request the browser makes. On their
own threads these calls use their own short-lived ledger connections (`LedgerSites`), the live
counters are read under their own lock (`Observations.snapshot`), and the stdlib parses HTTP.
The one thing that must happen on the loop is reloading the settings and learned trackers the
request hooks use (the context addon's store and its connection belong to the loop's thread):
after a write, the handler thread asks the loop to reload them and waits for that, so the change
applies from the proxy's next request on; before a site state, it asks the loop to re-read them
if another process changed the ledger (one `PRAGMA data_version` when nothing did), so the popup
shows a `whoknows trackers allow` made elsewhere at once, not after the browser's next request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.server
import json
import logging
import socketserver
import threading

from mitmproxy import ctx
from mitmproxy import exceptions

from whoknows import control
from whoknows.control import ControlAPI
from whoknows.control import LedgerSites
from whoknows.control import Refused
from whoknows.control import Request
from whoknows.control import Response
from whoknows.control import TokenStore

logger = logging.getLogger("whoknows.control")

PORT_OPTION = "whoknows_control_port"
LISTEN_HOST = "127.0.0.1"
OFF = -1
# How long a handler thread waits for the event loop to reload the live settings after a write
# (the store notices the change by itself within half a second anyway).
RELOAD_WAIT_SECONDS = 2.0
# How long a site state waits for the event loop to re-read a ledger changed by another process
# (a busy loop: the state says what the proxy knew, and the next one catches up).
STATE_WAIT_SECONDS = 0.5
SOCKET_TIMEOUT_SECONDS = 10  # a client that stops sending frees its thread after this


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_SECONDS
    server: "ControlServer"

    def _serve(self) -> None:
        self.close_connection = True  # one request per connection: nothing lingers
        headers = list(self.headers.items())
        refusal = self._body_refusal()
        if refusal is not None:
            request = Request(self.command, self.path.partition("?")[0], "", headers, b"")
            self._send(self.server.api.refuse(request, refusal))
            return
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self._send(self.server.api.handle(self.command, self.path, headers, body))

    def _body_refusal(self) -> Refused | None:
        if self.headers.get_all("transfer-encoding"):
            return Refused(411, "send the body with a Content-Length", "chunked body")
        lengths = self.headers.get_all("content-length") or []
        if len(lengths) > 1 or (lengths and not lengths[0].strip().isdigit()):
            return Refused(400, "bad Content-Length", "bad Content-Length")
        if lengths and int(lengths[0]) > control.MAX_BODY_BYTES:
            return Refused(413, f"the body is larger than {control.MAX_BODY_BYTES} bytes", "body too large")
        return None

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = _serve

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(response.body)))
        self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # What the stdlib refuses before a handler runs (bad request line, huge headers, an unknown
        # method): JSON like every other answer, without echoing the request back.
        self.close_connection = True
        reason = self.responses.get(code, ("error",))[0]
        self._send(Response(code, list(control.BASE_HEADERS), json.dumps({"error": reason}).encode()))

    def version_string(self) -> str:
        return "whoknows"

    def log_message(self, format: str, *args) -> None:
        # The stdlib would log every request line, query (the tab's URL) included; the API logs
        # its refusals itself.
        pass

    def log_error(self, format: str, *args) -> None:
        logger.debug("whoknows control API: " + format % args)


class ControlServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, port: int, api: ControlAPI | None = None) -> None:
        super().__init__((LISTEN_HOST, port), _Handler)
        self.api = api

    def server_bind(self) -> None:
        # TCPServer's, not HTTPServer's: that one looks the address up in DNS (socket.getfqdn),
        # which can stall the proxy's start where name resolution is slow.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = LISTEN_HOST, self.server_address[1]

    @property
    def port(self) -> int:
        return self.server_address[1]

    def handle_error(self, request, client_address) -> None:  # a client hanging up is not news
        logger.debug("whoknows control API: error while serving a client", exc_info=True)


class Control:
    name = "whoknows_control"

    def __init__(self, tokens: TokenStore | None = None, open_ledger=None) -> None:
        self.tokens = tokens or TokenStore()
        self.sites = LedgerSites(open_ledger, on_change=self._reload_live_settings)
        self.api: ControlAPI | None = None
        self._server: ControlServer | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False

    # -- lifecycle ----------------------------------------------------------------------------

    def load(self, loader) -> None:
        loader.add_option(PORT_OPTION, int, control.DEFAULT_PORT,
                          "Port of the control API the browser extension uses, on 127.0.0.1 only "
                          "(0: any free port, -1: off).")

    def configure(self, updated: set[str]) -> None:
        if PORT_OPTION not in updated:
            return
        port = getattr(ctx.options, PORT_OPTION)
        if not OFF <= port <= 65535:
            raise exceptions.OptionsError(f"{PORT_OPTION} must be a port (1-65535), 0 for any free "
                                          f"port or -1 for off; got {port}")
        if self._running:  # changed while the proxy runs: move the listener
            self.stop()
            self.start()

    def running(self) -> None:
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside an event loop (unit tests): no loop to reload on
            self._loop = None
        self._running = True
        self.start()

    def done(self) -> None:
        self._running = False
        self.stop()

    @property
    def url(self) -> str | None:
        """`http://127.0.0.1:PORT` while the control API listens, else None."""
        return None if self._server is None else f"http://{LISTEN_HOST}:{self._server.port}"

    def start(self) -> None:
        port = getattr(ctx.options, PORT_OPTION)
        if port == OFF or self._server is not None:
            return
        try:
            server = ControlServer(port)
        except OSError as exc:
            # A warning, not an error (which would stop the proxy at startup): blocking and cookie
            # rules matter more than the extension's view of them.
            logger.warning(f"whoknows: the control API cannot listen on {LISTEN_HOST}:{port} "
                         f"({exc.strerror or exc}), so the browser extension cannot reach this proxy; "
                         f"is another whoknows proxy running? Another port: --set {PORT_OPTION}=PORT "
                         "(0: any free port)")
            return
        self.api = server.api = ControlAPI(self.sites, self.tokens, port=server.port,
                                           observations=self._observations, leaks=self._leaks,
                                           prevented=self._prevented)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.25},
                                        name="whoknows-control", daemon=True)
        self._thread.start()
        try:
            control.write_address(self.url)
        except Exception as exc:  # noqa: BLE001 -- only `whoknows extension status` reads it
            logger.warning(f"whoknows: cannot record the control API's address ({exc})")

    def stop(self) -> None:
        server, thread, url = self._server, self._thread, self.url
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()  # ends serve_forever; handlers still running are daemon threads
        server.server_close()
        if thread is not None:
            thread.join(timeout=2)
        control.remove_address(url)

    # -- wiring to the other addons of this proxy ---------------------------------------------

    def _observations(self, site: str) -> dict | None:
        """The site's live counters from the observation addon (thread-safe), if it is loaded, each
        third party with whether it is a learned tracker now (the context addon's list)."""
        observation = _addon("whoknows_observation")
        if observation is None:
            return None
        # Another process may have changed the learned list (`whoknows trackers allow`) since the
        # browser's last request: the state says what the proxy does from now on.
        self._follow_ledger(force=False, wait=STATE_WAIT_SECONDS)
        learned = getattr(_addon("whoknows_context"), "learned_trackers", None)
        # (The learned list the request hooks block by, read without a lock: it is swapped whole.)
        return observation.snapshot(site, learned=None if learned is None else learned.get)

    def _leaks(self, site: str) -> int:
        """Distinct (value, recipient host) pairs seen leaving the site's pages for hosts outside the
        site since the proxy started (the leaks addon's `snapshot`; 0 if it is not loaded): one of
        the person's values or aliases sent to two hosts counts twice, sent to one host in several
        encodings once; attempts the proxy blocked are not counted."""
        leaks = _addon("whoknows_leaks")
        return 0 if leaks is None else int(leaks.snapshot(site).get("leaks", 0))

    def _prevented(self, site: str) -> int:
        """Distinct (value, recipient host) pairs leak prevention stopped or scrubbed on the site's
        pages since the proxy started (the leaks addon's `snapshot`; 0 if it is not loaded)."""
        leaks = _addon("whoknows_leaks")
        return 0 if leaks is None else int(leaks.snapshot(site).get("prevented", 0))

    def _reload_live_settings(self) -> None:
        """Called on a handler thread after a settings write: have the event loop reload the
        settings the request hooks read, and wait for it (bounded)."""
        self._follow_ledger(force=True, wait=RELOAD_WAIT_SECONDS)

    def _follow_ledger(self, force: bool, wait: float) -> None:
        """On a handler thread: have the event loop re-read the site settings and learned trackers
        the request hooks use (`Context.follow_ledger`; only if the ledger changed, unless
        `force`), and wait for it, at most `wait` seconds."""
        loop = self._loop
        context = _addon("whoknows_context")
        if loop is None or context is None or loop.is_closed() or not hasattr(context, "follow_ledger"):
            return
        followed: concurrent.futures.Future = concurrent.futures.Future()

        def follow() -> None:
            try:
                context.follow_ledger(force=force)
                followed.set_result(True)
            except BaseException as exc:  # noqa: BLE001 -- reported to the waiting thread
                followed.set_exception(exc)

        try:
            loop.call_soon_threadsafe(follow)
            followed.result(timeout=wait)
        except RuntimeError:  # the loop closed meanwhile (shutting down)
            pass
        except concurrent.futures.TimeoutError:
            logger.info("whoknows control API: the proxy did not re-read its settings in time; "
                        "it picks the change up within a second")


def _addon(name: str):
    try:
        return ctx.master.addons.get(name)
    except Exception:  # noqa: BLE001 -- no master (unit tests without one)
        return None
