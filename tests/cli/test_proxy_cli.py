"""`whoknows proxy` as a user runs it: a real process, real sockets, real signals."""

import base64
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.proxy import proxyauth_spec
from whoknows.errors import InputError

WHOKNOWS = str(Path(sys.executable).with_name("whoknows"))
START_TIMEOUT = 20.0


class CliProxy:
    """`whoknows proxy ARGS` in the background, output in files (no pipe to fill up and block)."""

    def __init__(self, tmp_path: Path, *args: str, env: dict | None = None) -> None:
        self.out, self.err = tmp_path / "proxy.out", tmp_path / "proxy.err"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.process = subprocess.Popen([WHOKNOWS, "proxy", *args], stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=err, env={**os.environ, **(env or {})})
        self.host, self.port = "", 0

    def stdout(self) -> str:
        return self.out.read_text()

    def stderr(self) -> str:
        return self.err.read_text()

    def wait_listening(self) -> "CliProxy":
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            line = self.stdout()
            if "listening on " in line:
                address = line.split("listening on ", 1)[1].split(" ", 1)[0]
                host, _, port = address.rpartition(":")
                self.host, self.port = host, int(port)
                return self
            if self.process.poll() is not None:
                raise AssertionError(f"exited {self.process.returncode}: {self.stderr()}")
            time.sleep(0.05)
        raise AssertionError(f"not listening after {START_TIMEOUT} s: {self.stderr()}")

    def wait(self, timeout: float = 15.0) -> int:
        return self.process.wait(timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture
def run_proxy(tmp_path):
    started = []

    def run(*args, env=None):
        directory = tmp_path / f"p{len(started)}"
        directory.mkdir()
        proxy = CliProxy(directory, *args, env=env)
        started.append(proxy)
        return proxy

    yield run
    for proxy in started:
        proxy.close()


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket in LISTEN state on `port`, from /proc/net/tcp{,6}."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:
                raw = bytes.fromhex(address)
                # The kernel prints each 32-bit word in host (little-endian) order.
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                family = socket.AF_INET if width == 8 else socket.AF_INET6
                found.add(socket.inet_ntop(family, words))
    return found


def direct_get(host: str, port: int, path: str, headers=None) -> tuple[int, str]:
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_it_listens_on_loopback_only_and_stops_cleanly(run_proxy, stop_signal):
    proxy = run_proxy("--port", "0", "--set", "whoknows_control_port=0").wait_listening()
    assert proxy.host == "127.0.0.1"
    control_port = int(proxy.stdout().strip().rpartition(":")[2].rstrip(")"))
    assert proxy.stdout().strip() == (f"whoknows proxy listening on 127.0.0.1:{proxy.port} "
                                      f"(PAC file: http://127.0.0.1:{proxy.port}/proxy.pac; "
                                      f"control API: http://127.0.0.1:{control_port})")
    assert listening_addresses(proxy.port) == {"127.0.0.1"}
    assert listening_addresses(control_port) == {"127.0.0.1"}
    status, pac = direct_get("127.0.0.1", proxy.port, "/proxy.pac")
    assert status == 200 and f'"PROXY 127.0.0.1:{proxy.port}"' in pac
    # mitmproxy's CA page, which `whoknows setup` points browsers to, is among its addons.
    status, pem = direct_get("127.0.0.1", proxy.port, "http://mitm.it/cert/pem")
    assert status == 200 and "BEGIN CERTIFICATE" in pem
    check = subprocess.run([WHOKNOWS, "setup", "--check", "--port", str(proxy.port)],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    assert "Check: ok: the proxy is running and serves its PAC file" in check.stdout

    proxy.process.send_signal(stop_signal)
    assert proxy.wait() == 0
    assert "whoknows proxy: stopped" in proxy.stderr()  # the done hooks ran
    assert "Traceback" not in proxy.stderr()
    assert listening_addresses(proxy.port) == set()
    assert listening_addresses(control_port) == set()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "proxy.example.org"])
def test_any_other_address_is_refused_without_authentication(run_proxy, host):
    proxy = run_proxy("--listen-host", host, "--port", "0")
    assert proxy.wait() == 2
    assert "--auth-user" in proxy.stderr() and "other machines" in proxy.stderr()
    assert "listening" not in proxy.stdout()


@pytest.mark.slow
def test_authentication_keeps_the_password_off_the_command_line(run_proxy):
    password = "correct-horse-battery"
    proxy = run_proxy("--port", "0", "--auth-user", "alice",
                      env={"WHOKNOWS_PROXY_PASSWORD": password}).wait_listening()
    assert password not in Path(f"/proc/{proxy.process.pid}/cmdline").read_text()
    through = ("127.0.0.1", proxy.port, "http://whoknows.proxy/proxy.pac")
    assert direct_get(*through)[0] == 407
    wrong = base64.b64encode(b"alice:guess").decode()
    assert direct_get(*through, {"proxy-authorization": f"Basic {wrong}"})[0] == 407
    right = base64.b64encode(f"alice:{password}".encode()).decode()
    assert direct_get(*through, {"proxy-authorization": f"Basic {right}"})[0] == 200
    # Browsers fetch a PAC file without credentials: the direct URL stays open.
    assert direct_get("127.0.0.1", proxy.port, "/proxy.pac")[0] == 200
    assert password not in proxy.stdout() + proxy.stderr()
    proxy.process.send_signal(signal.SIGTERM)
    assert proxy.wait() == 0


@pytest.mark.slow
def test_a_port_in_use_is_a_clear_error(run_proxy):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proxy = run_proxy("--port", str(taken.getsockname()[1]))
        assert proxy.wait() == 1
    assert "whoknows: error: the proxy stopped with an error" in proxy.stderr()
    assert "in use" in proxy.stderr().lower()


def test_a_bad_option_is_refused_before_listening(run_proxy):
    proxy = run_proxy("--port", "0", "--set", "whoknows_referer=everything")
    assert proxy.wait() == 2
    assert "whoknows_referer must be one of trim, strip, keep" in proxy.stderr()


def test_an_option_of_a_mitmproxy_addon_left_out_says_where_it_is(run_proxy):
    proxy = run_proxy("--port", "0", "--set", "modify_headers=/~q/x-test/1")
    assert proxy.wait() == 2
    assert "Unknown option(s): modify_headers" in proxy.stderr()
    assert "mitmdump -s proxy_addons/whoknows.py" in proxy.stderr()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_needs_no_authentication(host):
    assert proxyauth_spec(host, None) == (None, "")


def test_the_password_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("WHOKNOWS_PROXY_PASSWORD", "s3cret")
    spec, source = proxyauth_spec("0.0.0.0", "alice")
    assert spec == "alice:s3cret" and source == "$WHOKNOWS_PROXY_PASSWORD"
    monkeypatch.setenv("WHOKNOWS_PROXY_PASSWORD", "a:b")
    with pytest.raises(InputError, match="':'"):
        proxyauth_spec("0.0.0.0", "alice")
    with pytest.raises(InputError, match="auth-user"):
        proxyauth_spec("0.0.0.0", "al:ice")


def test_without_the_environment_the_stored_secret_is_the_password(monkeypatch, whoknows_home):
    monkeypatch.delenv("WHOKNOWS_PROXY_PASSWORD", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")  # the 0600 file
    first, source = proxyauth_spec("0.0.0.0", "alice")
    again, _ = proxyauth_spec("0.0.0.0", "alice")
    assert first == again  # made once, then kept
    password = first.split(":", 1)[1]
    assert len(password) >= 40 and "stored secret" in source
    assert password not in source
