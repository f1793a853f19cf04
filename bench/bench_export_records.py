"""What keeping an export costs on top of reading it: `export_records.read_vendor_export` (the
reading, then the export's digest and the one transaction that stores the findings) against
`data_exports.read_export` alone on the same generated export (`bench_data_exports.write_export`),
in the same run, each timed twice (best kept).

Goal: the keeping adds little (ratio printed). The digest is a pass over the bytes on disk: few for a
ZIP; a 200 MB plain JSON file costs ~0.9 s more on this machine.
Usage: python bench/bench_export_records.py [MEGABYTES]   (default 40)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> int:
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["WHOKNOWS_HOME"] = str(Path(tmp) / "home")
        os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
        from bench_data_exports import write_export

        from whoknows import me
        from whoknows.data_exports import read_export
        from whoknows.export_records import export_digest, read_vendor_export
        from whoknows.ledger import open_ledger

        export = Path(tmp) / "export.zip"
        size = write_export(export, megabytes)
        with open_ledger() as ledger:
            for kind, value in (("email", "ana.garcia@example.com"), ("phone", "+34 600 111 222"),
                                ("address", "Calle Mayor 5")):
                me.add_value(ledger, kind, value)
            watched, _ = me.watched_values(ledger, me.load_keys())

            def best(action) -> float:
                times = []
                for _ in range(2):
                    start = time.perf_counter()
                    action()
                    times.append(time.perf_counter() - start)
                return min(times)

            digest = best(lambda: export_digest(export))
            alone = best(lambda: read_export(export, watched))
            kept = best(lambda: read_vendor_export(ledger, "shop.example", export))
            findings = ledger.query("SELECT count(*) FROM export_findings")[0][0]
    print(f"export: {size / 1e6:.0f} MB uncompressed, {findings} findings kept")
    print(f"digest alone:            {digest:6.2f} s")
    print(f"read_export alone:       {alone:6.2f} s  (baseline)")
    print(f"read_vendor_export:      {kept:6.2f} s  ratio {kept / alone:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
