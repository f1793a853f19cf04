"""Run mitmproxy in this process with the whoknows addons (what `whoknows proxy` does).

`run(settings)` builds the options and a mitmproxy `Master` with the mitmproxy addons whoknows needs
(`mitmproxy_addons()`; no per-flow dump; the log goes to stderr at `warn` unless asked), adds
`proxy_addons.whoknows_addons()` in one `chain.Chain`, prints one line on stdout once the
listener is up, and returns an exit status after a clean shutdown: SIGINT/SIGTERM stop the master,
whose `done` hooks run (addons flush what they hold there); a second signal kills the process.

Fixed choices: mitmproxy's configuration (its CA) lives in whoknows's data directory, never in
`~/.mitmproxy`; `connection_strategy=lazy`, so a request blocked inside an HTTPS tunnel is answered
without ever connecting to the tracker. Default: `stream_large_bodies=1m`, so bodies above 1 MB are
streamed rather than held whole (`proxy_addons.streaming`; `--set stream_large_bodies=...` changes it).
On glibc, buffers of 512 KB and more that the heap has no room for get memory of their own from the
system (`fix_malloc_mmap_threshold`), so the proxy's memory stops creeping under large bodies.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import dataclasses
import logging
import re
import signal
import sys
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import TextIO

from proxy_addons import DEFAULT_HOST
from proxy_addons import DEFAULT_PORT
from proxy_addons import direct_pac_url
from proxy_addons import host_port
from whoknows.errors import InputError

LOG_LEVELS = ("error", "warn", "info", "debug")
_LOGGING_LEVELS = {"error": logging.ERROR, "warn": logging.WARNING, "info": logging.INFO,
                   "debug": logging.DEBUG}
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
# Above asyncio's 256 KB socket read buffer (taken and freed for every read): see below.
MMAP_THRESHOLD_BYTES = 512 * 1024
TRIM_THRESHOLD_BYTES = 2 * MMAP_THRESHOLD_BYTES  # the ratio glibc's own adjustment keeps


@dataclasses.dataclass(frozen=True)
class ProxySettings:
    listen_host: str = DEFAULT_HOST
    listen_port: int = DEFAULT_PORT
    confdir: Path | None = None  # None: <data dir>/mitmproxy
    proxyauth: str | None = dataclasses.field(default=None, repr=False)  # "user:password"
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # name -> typed value
    option_specs: Sequence[str] = ()  # "name=value" strings, as `mitmdump --set`
    log_level: str = "warn"


def mitmproxy_options(settings: ProxySettings) -> dict[str, Any]:
    """The options whoknows sets (after the addons are loaded); `settings.options` may override."""
    from proxy_addons.streaming import DEFAULT_STREAM_THRESHOLD

    options: dict[str, Any] = {"connection_strategy": "lazy", "termlog_verbosity": settings.log_level,
                               "stream_large_bodies": DEFAULT_STREAM_THRESHOLD}
    if settings.proxyauth:
        options["proxyauth"] = settings.proxyauth
    return options


def mitmproxy_addons() -> list:
    """The mitmproxy addons the whoknows proxy runs, in mitmproxy's own order: what proxying,
    TLS, authentication, upstream and DNS modes, the CA's onboarding page (http://mitm.it) and
    `--set scripts=...` need; not the ones for interactive use, capture files, replay, or header
    and body rewriting (options such as `modify_headers` or `save_stream_file` are unknown here;
    `mitmdump -s proxy_addons/whoknows.py` runs whoknows with all of mitmproxy).

    Why (speed): mitmproxy hands every event of every request to every addon it has, whether or
    not the addon has a hook for it; the ~30 addons of mitmdump cost about half of what mitmdump
    spends on a request (bench/bench_proxy.py). `stickycookie` would also undo the cookie policy.
    """
    from mitmproxy.addons import block
    from mitmproxy.addons import core
    from mitmproxy.addons import disable_h2c
    from mitmproxy.addons import dns_resolver
    from mitmproxy.addons import errorcheck
    from mitmproxy.addons import next_layer
    from mitmproxy.addons import onboarding
    from mitmproxy.addons import proxyauth
    from mitmproxy.addons import proxyserver
    from mitmproxy.addons import script
    from mitmproxy.addons import strip_dns_https_records
    from mitmproxy.addons import tlsconfig
    from mitmproxy.addons import update_alt_svc
    from mitmproxy.addons import upstream_auth

    return [core.Core(), block.Block(), strip_dns_https_records.StripDnsHttpsRecords(),
            disable_h2c.DisableH2C(), onboarding.Onboarding(), proxyauth.ProxyAuth(),
            proxyserver.Proxyserver(), script.ScriptLoader(), dns_resolver.DnsResolver(),
            next_layer.NextLayer(), tlsconfig.TlsConfig(), upstream_auth.UpstreamAuth(),
            update_alt_svc.UpdateAltSvc(), errorcheck.ErrorCheck()]


class Announce:
    """Says once, on stdout, where the proxy listens; says on stderr when it has stopped."""

    name = "whoknows_announce"

    def __init__(self, out: TextIO, err: TextIO, on_listening: Callable | None = None) -> None:
        self.out, self.err, self.on_listening = out, err, on_listening

    def running(self) -> None:
        from mitmproxy import ctx

        addrs = ctx.master.addons.get("proxyserver").listen_addrs()
        host, port = addrs[0][0], addrs[0][1]
        if host in WILDCARD_HOSTS:
            where = f"all addresses, port {port}"
            pac = direct_pac_url("<this machine's address>", port)
        else:
            where = host_port(host, port)
            pac = direct_pac_url(host, port)
        control_url = getattr(ctx.master.addons.get("whoknows_control"), "url", None)
        control = f"; control API: {control_url}" if control_url else ""
        print(f"whoknows proxy listening on {where} (PAC file: {pac}{control})", file=self.out, flush=True)
        if self.on_listening:
            self.on_listening(host, port)

    def done(self) -> None:
        print("whoknows proxy: stopped", file=self.err, flush=True)


class FreezeStartupHeap:
    """Hides what start-up made from the garbage collector (`gc.freeze`), once the whoknows addons
    are running (the filter engine is loaded) and just before the proxy says it is listening.

    Why (speed only): start-up leaves ~130k tracked objects (mitmproxy and its libraries, the
    filter engine); under load every full collection walked them all, stalling every connection
    for 40-70 ms several times a minute (bench/bench_proxy.py: p99 latency about halved).
    Frozen, a full collection walks only what came later. Frozen objects are still freed by
    reference counting; only cycles among them would stay (start-up's, made once).
    """

    name = "whoknows_freeze_startup_heap"

    def running(self) -> None:
        import gc

        gc.collect()  # start-up's garbage cycles go now, not into the frozen set
        gc.freeze()


def fix_malloc_mmap_threshold(threshold: int = MMAP_THRESHOLD_BYTES, trim: int = TRIM_THRESHOLD_BYTES) -> bool:
    """Have glibc's malloc give a buffer of `threshold` bytes or more that its heap has no room for
    memory of its own from the system (mmap, returned when the buffer is freed) rather than grow
    the heap, for the rest of the process's life. True if set; False where malloc is not glibc's
    (nothing changes there).

    Why: glibc raises this threshold by itself to the size of each large buffer freed (up to 32 MB),
    and its heap trim threshold to twice that. After one 4 MB upload or download chunk, buffers
    below 4 MB grow the heap instead, and large short-lived buffers among long-lived small
    objects leave holes it cannot give back: the proxy's RSS crept by 1-2 MB in the first ten
    minutes of bench/bench_soak.py and went on in steps (+1.2 MB in 19 minutes), malloc's heap
    growing while what it held in use stayed flat (mallinfo2: 21 MB in use, free 8 -> 10 MB).
    Fixed (setting it turns the adjustment off): flat from the first minute (docs/architecture.md,
    "Memory over hours"). Fixed at 512 KB, with the heap trimmed only above 1 MB free at its top:
    asyncio reads every socket into a fresh 256 KB buffer, and at glibc's starting 128 KB each of
    those reads cost an mmap and a munmap (~9 us; ~30 us of CPU a proxied request), or with a
    lower trim threshold a heap grow and shrink (~6 us).
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl without mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return mallopt(M_MMAP_THRESHOLD, threshold) == 1 and mallopt(M_TRIM_THRESHOLD, trim) == 1


def _prepare_confdir(settings: ProxySettings) -> Path:
    if settings.confdir is not None:
        path = Path(settings.confdir)
    else:
        from proxy_addons import confdir

        path = confdir()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)  # the CA's private key goes there
    return path


class PortTaken(logging.Filter):
    """Says, when the listen port is taken, what to do in whoknows's terms: mitmproxy's own hint
    (`--mode regular@PORT`) is an option `whoknows proxy` does not have."""

    _FAILED = re.compile(r"failed to listen on (?P<host>\S+):(?P<port>\d+) with .*address already in use",
                         re.IGNORECASE | re.DOTALL)

    def filter(self, record: logging.LogRecord) -> bool:
        found = self._FAILED.search(record.getMessage())
        if found:
            host, port = found["host"], int(found["port"])
            record.msg, record.args = (
                f"port {port} on {host} is already in use (another proxy, or whoknows already running?): "
                f"give whoknows proxy another port, e.g. --port {port + 1} (--port 0 takes any free one), "
                f"or stop what listens there"), ()
        return True


def _configure_logging(level: str) -> None:
    logging.getLogger().setLevel(_LOGGING_LEVELS[level])
    for noisy in ("asyncio", "hpack", "tornado", "quic", "passlib"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, _LOGGING_LEVELS[level]))


def _install_signal_handlers(master) -> Callable[[], None]:
    """SIGINT/SIGTERM: shut down cleanly; a second one gets the default action (interrupt/kill)."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)

    def stop() -> None:
        for sig in signals:
            loop.remove_signal_handler(sig)
        master.shutdown()

    try:
        for sig in signals:
            loop.add_signal_handler(sig, stop)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread: caller stops us
        return lambda: None

    def uninstall() -> None:
        for sig in signals:
            loop.remove_signal_handler(sig)

    return uninstall


async def serve(settings: ProxySettings, addons: Sequence | None = None, *,
                out: TextIO | None = None, err: TextIO | None = None,
                on_listening: Callable[[str, int], None] | None = None) -> int:
    """Run the proxy until shut down; returns the exit status (non-zero: it could not start)."""
    from mitmproxy import exceptions
    from mitmproxy import options as mitm_options
    from mitmproxy.addons import termlog
    from mitmproxy.master import Master

    import proxy_addons
    from proxy_addons.chain import Chain
    from proxy_addons.mitmproxy_shortcuts import use_hook_table

    if settings.log_level not in LOG_LEVELS:
        raise InputError(f"log level must be one of {', '.join(LOG_LEVELS)}; got {settings.log_level!r}")
    out, err = out or sys.stdout, err or sys.stderr
    fix_malloc_mmap_threshold()
    confdir = _prepare_confdir(settings)
    _configure_logging(settings.log_level)
    # confdir and the listen address go in at construction: the TLS addon creates (or loads) the
    # CA as soon as it is configured, and must never do so in ~/.mitmproxy.
    opts = mitm_options.Options(listen_host=settings.listen_host, listen_port=settings.listen_port,
                                confdir=str(confdir))
    master = Master(opts)
    use_hook_table(master)
    log = termlog.TermLog(out=err)
    port_taken = PortTaken()
    proxyserver_log = logging.getLogger("mitmproxy.addons.proxyserver")
    proxyserver_log.addFilter(port_taken)
    try:
        master.addons.add(*mitmproxy_addons(), log)
        # FreezeStartupHeap and Announce go last in the chain, so their `running` still comes after
        # every whoknows addon's. Why in the chain (speed only): as top-level addons, every event
        # of every request reached each through its own `safecall` and walk (see chain.Chain).
        master.addons.add(Chain([*(proxy_addons.whoknows_addons() if addons is None else addons),
                                 FreezeStartupHeap(), Announce(out, err, on_listening)]))
        try:
            opts.update(**{**mitmproxy_options(settings), **settings.options})
            if settings.option_specs:
                opts.set(*settings.option_specs)
        except (exceptions.OptionsError, KeyError) as exc:
            message = str(exc.args[0] if exc.args else exc)
            if message.startswith("Unknown option"):
                message += (" (whoknows proxy runs only the mitmproxy addons it needs; for the others "
                            "run mitmdump -s proxy_addons/whoknows.py)")
            raise InputError(f"bad proxy option: {message}") from None
        uninstall = _install_signal_handlers(master)
        try:
            await master.run()
        except SystemExit as exc:  # mitmproxy's errorcheck: an error was logged during startup
            return exc.code if isinstance(exc.code, int) else 1
        finally:
            uninstall()
        return 0
    finally:
        proxyserver_log.removeFilter(port_taken)
        log.uninstall()


def run(settings: ProxySettings, addons: Sequence | None = None) -> int:
    """Run the proxy in this thread's own event loop; returns the exit status."""
    return asyncio.run(serve(settings, addons))
