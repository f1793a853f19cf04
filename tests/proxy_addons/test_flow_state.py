"""Every flow.metadata key a whoknows addon uses is named in proxy_addons/flow_state.py, once."""

import ast
import re
from pathlib import Path

from proxy_addons import flow_state

ADDONS = Path(flow_state.__file__).parent


def test_no_addon_spells_out_a_metadata_key_of_its_own():
    spelt = []
    for path in sorted(ADDONS.glob("*.py")):
        if path.name == "flow_state.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                      and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and re.fullmatch(r"whoknows\.[a-z_]+", node.value) and node.value != "whoknows.proxy"
                    and node.value != "whoknows.control"):
                spelt.append(f"{path.name}: {node.value}")
    assert spelt == []


def test_each_key_is_named_once_and_documented_with_its_writer():
    assert len(set(flow_state.ALL)) == len(flow_state.ALL)
    table = flow_state.__doc__
    for name in ("CONTEXT", "CANONICAL_NAMES", "FILTER", "TRACKER", "REMOVED_PARAMS", "COOKIES", "LEAKS_SCANNED",
                 "LEAKS_FOUND", "LEAK_VERDICT", "TERMS_OFFERED", "ADDON_ERRORS"):
        assert getattr(flow_state, name) in flow_state.ALL
        assert re.search(rf"^\| {name} +\|", table, re.M), name
