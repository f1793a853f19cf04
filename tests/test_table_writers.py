"""Each ledger table has one core module that writes it, so "who changes this table?" has one answer.

The SQL in the core's string literals (ast: comments and docstrings aside) is searched for
INSERT, UPDATE, DELETE and REPLACE. Two modules write every table by design and are left out:
`ledger.py` (the migrations, the `settings` table, and `vendor_ids`, which creates a vendor's row on
its first mention anywhere) and `transfer.py` (an import restores every table of a backup).
"""

import ast
import re
from pathlib import Path

import whoknows
from whoknows.ledger import open_ledger

CORE = Path(whoknows.__file__).parent
WRITERS_OF_EVERY_TABLE = {"whoknows.ledger", "whoknows.transfer"}
_WRITE = re.compile(r"\b(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+([a-z_]+)\b")


def _strings(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def table_writers() -> dict[str, set[str]]:
    writers: dict[str, set[str]] = {}
    for path in sorted(CORE.rglob("*.py")):
        module = ".".join(path.relative_to(CORE.parent).with_suffix("").parts)
        if module in WRITERS_OF_EVERY_TABLE:
            continue
        for text in _strings(ast.parse(path.read_text(encoding="utf-8"))):
            for table in _WRITE.findall(text):
                writers.setdefault(table, set()).add(module)
    return writers


def test_every_table_written_outside_the_ledger_has_one_writer(whoknows_home):
    with open_ledger() as ledger:
        tables = {row[0] for row in ledger.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    writers = table_writers()
    assert set(writers) <= tables  # the search finds real tables, not words
    assert {"disclosures", "leaks", "vendors", "aliases"} <= set(writers)
    assert {table: sorted(modules) for table, modules in writers.items() if len(modules) > 1} == {}
    assert writers["disclosures"] == {"whoknows.disclosures"}
