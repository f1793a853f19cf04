"""The proxy under test as a real process (`proxy_process.py`), started and stopped with timeouts.

Why a process rather than a thread: the name-sealing patches (`socket.getaddrinfo`, `connect`) must
not touch the test process (Playwright and the test sites use sockets too); signals, clean shutdown
and "the proxy did not die" are only real with a process; and a hung or crashed proxy cannot take
pytest down with it.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from e2e_pki import SitePKI
from sealed_network import REFUSED_PREFIX
from sealed_network import Attempt
from sealed_network import AttemptLog

LAUNCHER = Path(__file__).with_name("proxy_process.py")
LISTENING = re.compile(r"whoknows proxy listening on (\S+):(\d+) ")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class ProxyProcess:
    """One running proxy. `url` is what a browser or client is given as its proxy."""

    def __init__(self, home: Path, pki: SitePKI, http_port: int, https_port: int, *,
                 sets: tuple[str, ...] = (), addons: tuple[str, ...] = (),
                 mitm_confdir: Path | None = None, log_level: str = "info",
                 record_network: bool = False, wrapper: tuple[str, ...] = ()) -> None:
        self.home = home  # the proxy's $WHOKNOWS_HOME (ledger, mitmproxy CA)
        self.confdir = home / "mitmproxy"
        self.host = "127.0.0.1"
        self.port = 0
        self._stdout = home.parent / f"{home.name}.stdout"
        self._stderr = home.parent / f"{home.name}.stderr"
        self._network_log = home.parent / f"{home.name}.network.jsonl" if record_network else None
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        if mitm_confdir is not None:  # share one mitmproxy CA between the session's proxies
            shutil.copytree(mitm_confdir, self.confdir, dirs_exist_ok=True)
        # `wrapper`: a command the proxy runs under (`strace -f -o FILE`); it must run its command as
        # its only child and exit with its status.
        self.wrapper = wrapper
        self.argv = [*wrapper, sys.executable, str(LAUNCHER), "--http-port", str(http_port),
                     "--https-port", str(https_port), "--trusted-ca", str(pki.ca_cert),
                     "--log-level", log_level]
        self.argv += [arg for spec in sets for arg in ("--set", spec)]
        self.argv += [arg for spec in addons for arg in ("--addon", spec)]
        if self._network_log is not None:
            self.argv += ["--network-log", str(self._network_log)]
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ca_cert(self) -> Path:
        return self.confdir / "mitmproxy-ca-cert.pem"

    def start(self, timeout: float = START_TIMEOUT) -> "ProxyProcess":
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(WHOKNOWS_HOME=str(self.home), PYTHONUNBUFFERED="1")
        with open(self._stdout, "wb") as out, open(self._stderr, "wb") as err:
            self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=err, env=env, cwd=LAUNCHER.parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = LISTENING.search(self.stdout())
            if match:
                self.host, self.port = match.group(1), int(match.group(2))
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"the proxy exited with {self.process.returncode} before listening:\n"
                                   f"{self.stderr()[-4000:]}")
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"the proxy did not listen within {timeout} s:\n{self.stderr()[-4000:]}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        """The proxy's own process id (under a wrapper, the wrapper's child)."""
        pid = self.process.pid
        if self.wrapper:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            return int(children[0]) if children else pid
        return pid

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then wait; a proxy that does not stop in time is killed (returns None)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)  # the proxy itself, not a wrapper that would kill it
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            if self.wrapper:  # the proxy first: a killed wrapper may leave its child running
                with contextlib.suppress(OSError):
                    os.kill(self.pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait(5)

    def stdout(self) -> str:
        return self._stdout.read_text(errors="replace") if self._stdout.exists() else ""

    def stderr(self) -> str:
        return self._stderr.read_text(errors="replace") if self._stderr.exists() else ""

    def request(self, method: str, url: str, headers: dict[str, str] | None = None,
                body: bytes | None = None, timeout: float = 5.0) -> Answer:
        """One request through the proxy without a browser (HTTPS: CONNECT, mitmproxy CA trusted)."""
        response = self.open(method, url, headers, body, timeout)
        try:
            return Answer(response.status, response.headers, response.read())
        finally:
            response.close()

    def open(self, method: str, url: str, headers: dict[str, str] | None = None, body=None,
             timeout: float = 5.0, encode_chunked: bool = False) -> http.client.HTTPResponse:
        """Send one request through the proxy; its response once the head has arrived, the body
        left to read as it comes (closing the response closes the connection). `body` may be an
        iterable of bytes (sent chunked with `encode_chunked`, else give a content-length)."""
        parts = urlsplit(url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        if parts.scheme == "https":
            tls = ssl.create_default_context(cafile=str(self.ca_cert))
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=tls)
            conn.set_tunnel(parts.hostname, parts.port or 443)
            target = path
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            target = url  # absolute form: a proxy request
        try:
            conn.request(method, target, body=body, headers=headers or {}, encode_chunked=encode_chunked)
            response = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        # Not conn.close(), which would close the response too: the socket stays open for the
        # response alone, and closes with it (http.client has done so itself when the response
        # ends the connection).
        sock, conn.sock = conn.sock, None
        if sock is not None:
            sock.close()
        return response

    def get(self, url: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> Answer:
        return self.request("GET", url, headers, timeout=timeout)

    def refused_names(self) -> set[str]:
        """Names (and addresses) the sealed resolver refused: what would have left the machine."""
        return set(re.findall(rf"^{re.escape(REFUSED_PREFIX)}(\S+)$", self.stderr(), re.M))

    def network_attempts(self) -> list[Attempt]:
        """Every resolver call and connect/send the proxy made so far (`record_network=True` only)."""
        if self._network_log is None:
            raise RuntimeError("this proxy was started without record_network=True")
        return AttemptLog.read(self._network_log)
