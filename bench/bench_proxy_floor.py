"""The floor of any mitmproxy-based blocker, for `bench_proxy.py`: one substring test per request.

    mitmdump -q -s bench/bench_proxy_floor.py --set connection_strategy=lazy

A request whose host contains `BLOCKED` is answered by the proxy itself (403, empty body, as the
whoknows blocking addon answers a blocked beacon), in `requestheaders` like the blocking addon, so
no upstream connection is made; every other request passes untouched. No engine, no context, no
other addon: whatever a real blocker costs on top of this is its own work.
"""

from mitmproxy import http

BLOCKED = "google-analytics"


class Floor:
    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if BLOCKED in flow.request.host:
            flow.response = http.Response.make(403, b"", {"content-type": "text/plain; charset=utf-8"})


addons = [Floor()]

if __name__ == "__main__":  # `bench/run_all.py` runs every bench_*.py: nothing to measure here
    print("a helper of bench_proxy.py (the minimal blocking addon, for mitmdump -s); run bench_proxy.py")
