"""`mitmdump -s proxy_addons/whoknows.py`: the whoknows addons in a user's own mitmproxy."""

import http.client
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "proxy_addons" / "whoknows.py"
MITMDUMP = str(Path(sys.executable).with_name("mitmdump"))


@pytest.mark.slow
def test_mitmdump_loads_the_script_and_serves_the_pac_file(tmp_path):
    out = tmp_path / "mitmdump.out"
    with open(out, "wb") as sink:
        # cwd elsewhere: the script must find the real `whoknows` package, not itself.
        process = subprocess.Popen(
            [MITMDUMP, "-s", str(SCRIPT), "--listen-host", "127.0.0.1", "-p", "0",
             "--set", f"confdir={tmp_path / 'conf'}", "--set", "connection_strategy=lazy"],
            stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline, port = time.monotonic() + 20, None
        while port is None and time.monotonic() < deadline and process.poll() is None:
            match = re.search(r"proxy listening at \S*:(\d+)", out.read_text())
            port = int(match.group(1)) if match else time.sleep(0.05)
        assert port, out.read_text()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "http://whoknows.proxy/proxy.pac")
        response = conn.getresponse()
        assert response.status == 200
        assert f'"PROXY 127.0.0.1:{port}"' in response.read().decode()
        conn.close()
        assert "Traceback" not in out.read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
