"""Wall time of `whoknows alias new VENDOR` against bare Python, measured in the same run.

    .venv/bin/python bench/bench_alias_startup.py [--runs N]

Cases (medians of N runs, interleaved round-robin so machine noise hits every case alike):
- `python -c pass`, `python -c "import click"`: the baselines (the same venv interpreter, so both
  pay the same site/.pth start-up as the CLI);
- `whoknows alias new shop.example` for a vendor that already has its alias (the common case);
- `whoknows alias new vN.example` for a new vendor each run (Public Suffix List, key, two writes);
- the floor: the same work for an existing alias in `python -c`, without click (what is left when
  only the interpreter, sqlite3 and whoknows' own modules load);
- the same with the key in a keyring backend (keyrings.alt's PlaintextKeyring chosen through
  PYTHON_KEYRING_BACKEND, standing in for an OS keyring: the cost of importing keyring).
Then `python -X importtime` for the two alias cases: where the time goes, by top-level package.

Each case runs in a fresh temporary WHOKNOWS_HOME with its own XDG dirs; the key is kept in the
fallback file (PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring) so the benchmark never touches
the user's real keyring.

Bytecode: an installed whoknows has .pyc files, but a development shell may set
PYTHONDONTWRITEBYTECODE=1, and then every run compiles the project's sources again (~5-10 ms). By
default the benchmark caches bytecode in its temporary directory (PYTHONPYCACHEPREFIX, nothing is
written to the tree) for every case alike; `--inherit-bytecode-setting` measures the shell as it is.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python")
WHOKNOWS = str(VENV_BIN / "whoknows")
FILE_BACKEND = "keyring.backends.fail.Keyring"
KEYRING_BACKEND = "keyrings.alt.file.PlaintextKeyring"
WITHOUT_CLICK = (
    "from whoknows import aliases\n"
    "from whoknows.ledger import open_ledger\n"
    "with open_ledger() as ledger:\n"
    "    print(aliases.get_or_create(ledger, aliases.resolve_vendor(ledger, 'shop.example'))[0])\n"
)


def environment(home: Path, backend: str, pycache: Path | None) -> dict:
    env = dict(os.environ)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.update(
        WHOKNOWS_HOME=str(home / "data"),
        XDG_DATA_HOME=str(home / "xdg-data"),
        XDG_CONFIG_HOME=str(home / "xdg-config"),
        PYTHON_KEYRING_BACKEND=backend,
    )
    return env


def run(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


class Case:
    def __init__(self, name: str, argv, env: dict):
        self.name, self.argv, self.env, self.times = name, argv, env, []

    def once(self, i: int) -> None:
        argv = self.argv(i) if callable(self.argv) else self.argv
        self.times.append(run(argv, self.env))


def prepare(home: Path, backend: str, pycache: Path | None) -> dict:
    env = environment(home, backend, pycache)
    subprocess.run([WHOKNOWS, "alias", "setup", "--base", "you@mail.example"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([WHOKNOWS, "alias", "new", "shop.example"], env=env, check=True, stdout=subprocess.DEVNULL)
    return env


def importtime(argv: list[str], env: dict) -> dict[str, float]:
    """Self import time (ms) by top-level package, from `python -X importtime`."""
    code = f"import sys; sys.argv = {argv!r}; from cli.main import main; main()"
    result = subprocess.run([PYTHON, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True)
    totals: dict[str, float] = defaultdict(float)
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = line[len("import time:"):].split("|")
        totals[name.strip().split(".")[0]] += int(self_us) / 1000
    return dict(totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--inherit-bytecode-setting", action="store_true",
                        help="Keep PYTHONDONTWRITEBYTECODE as the shell has it (default: cache bytecode).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="whoknows-bench-") as tmp:
        tmp = Path(tmp)
        pycache = None if args.inherit_bytecode_setting else tmp / "pycache"
        file_env = prepare(tmp / "file", FILE_BACKEND, pycache)
        keyring_env = prepare(tmp / "keyring", KEYRING_BACKEND, pycache)
        cases = [
            Case("python -c pass", [PYTHON, "-c", "pass"], file_env),
            Case("python -c 'import click'", [PYTHON, "-c", "import click"], file_env),
            Case("alias new (existing alias)", [WHOKNOWS, "alias", "new", "shop.example"], file_env),
            Case("floor: same work without click", [PYTHON, "-c", WITHOUT_CLICK], file_env),
            Case("alias new (new vendor)", lambda i: [WHOKNOWS, "alias", "new", f"v{i}.example"], file_env),
            Case("alias new (new vendor, keyring)",
                 lambda i: [WHOKNOWS, "alias", "new", f"k{i}.example"], keyring_env),
        ]
        for case in cases:  # warm the page cache and the ledgers once
            case.once(10_000)
            case.times.clear()
        for i in range(args.runs):
            for case in cases:
                case.once(i)
        baseline = statistics.median(cases[0].times)
        cached = "cached" if pycache else f"as the shell has it (PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})"
        print(f"median of {args.runs} runs each (interleaved), ratio against python -c pass; bytecode {cached}")
        for case in cases:
            median = statistics.median(case.times)
            print(f"  {case.name:<34} {median * 1000:7.1f} ms  {median / baseline:5.2f}x")
        for label, argv in (("existing alias", ["whoknows", "alias", "new", "shop.example"]),
                            ("new vendor", ["whoknows", "alias", "new", "importtime.example"])):
            totals = importtime(argv, file_env)
            top = sorted(totals.items(), key=lambda item: -item[1])[:10]
            print(f"import time of 'alias new' ({label}): {sum(totals.values()):.1f} ms in all; by package:")
            print("  " + ", ".join(f"{name} {ms:.1f}" for name, ms in top))


if __name__ == "__main__":
    sys.exit(main())
