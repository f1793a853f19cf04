"""Run every benchmark in bench/ in turn (`make bench`). Each prints its own table of ratios."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The benchmarks, in order; `bench_proxy_*.py` and `bench_pageload_sites.py` are helpers of
# bench_proxy.py and bench_pageload.py, not benchmarks.
BENCHMARKS = (
    "bench_filters.py", "bench_memory.py", "bench_cookies_params.py", "bench_personal_terms.py",
    "bench_cname_frames.py", "bench_leakscan.py",
    "bench_mailscan.py", "bench_data_exports.py", "bench_tracker_companies.py", "bench_companies.py",
    "bench_report.py", "bench_learned_trackers.py",
    "bench_ledger.py",
    "bench_alias_startup.py", "bench_proxy.py", "bench_soak.py", "bench_pageload.py", "bench_download.py",
)


def main() -> int:
    failed = []
    for script in (HERE / name for name in BENCHMARKS):
        print(f"\n=== {script.name} ===", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"\nbenchmarks that failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
