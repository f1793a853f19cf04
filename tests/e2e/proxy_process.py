"""Run the real whoknows proxy (`proxy_addons.runner`) for end-to-end tests, sealed off the network.

    python tests/e2e/proxy_process.py --http-port P --https-port Q --trusted-ca CA.pem
        [--set OPTION=VALUE ...] [--addon MODULE:FACTORY ...] [--log-level info]
        [--network-log FILE]

Inside this process only (`tests/support/sealed_network.py`):
- `socket.getaddrinfo` resolves `*.test` to 127.0.0.1, port 80 to P and 443 to Q (the local test
  sites), passes loopback names through, and refuses every other name (said once on stderr as
  `sealed-network: refused NAME`), so nothing this proxy is asked for can leave the machine;
- `connect`/`sendto` refuse any non-loopback address (IP literals never go through the resolver);
- upstream TLS is verified against the test sites' CA;
- with `--network-log FILE`, every resolver call and connect/send attempt, from start-up on, is
  appended to FILE (`sealed_network.AttemptLog`: what the proxy tried to reach, and why nothing left).

The proxy listens on 127.0.0.1 on a free port and prints its usual line on stdout
(`whoknows proxy listening on 127.0.0.1:PORT ...`). `--addon` adds a test addon before the whoknows
ones (so that it can stand in for one that runs early: the whoknows addons act at a request's
headers), guarded like them. `$WHOKNOWS_HOME` decides the data directory (and so mitmproxy's CA).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from sealed_network import AttemptLog  # noqa: E402
from sealed_network import seal  # noqa: E402


def _load_factory(spec: str):
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--https-port", type=int, required=True)
    parser.add_argument("--trusted-ca", required=True)
    parser.add_argument("--set", dest="specs", action="append", default=[])
    parser.add_argument("--addon", dest="addons", action="append", default=[])
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--network-log")
    args = parser.parse_args(argv)
    seal({80: args.http_port, 443: args.https_port},
         record=AttemptLog(args.network_log) if args.network_log else None)

    import proxy_addons
    from proxy_addons import runner

    guard, *whoknows = proxy_addons.whoknows_addons()
    addons = [guard, *(guard.guard(_load_factory(spec)()) for spec in args.addons), *whoknows]
    settings = runner.ProxySettings(
        listen_host="127.0.0.1", listen_port=0, log_level=args.log_level,
        # The control API on a free port: test proxies must not fight over (or take) the default 8081.
        options={"ssl_verify_upstream_trusted_ca": args.trusted_ca, "whoknows_control_port": 0},
        option_specs=args.specs)
    return runner.run(settings, addons)


if __name__ == "__main__":
    sys.exit(main())
