"""The core package has no import cycle: its modules form layers, each importing only those below.

A cycle hides which module depends on which (and works only while its imports stay inside
functions, or in one order). Every `import` and `from ... import` of a `whoknows` module counts,
at module level and inside functions alike: an import moved into a function to dodge a cycle is
still the cycle. Only the modules' source is read (ast), nothing is imported.
"""

import ast
from pathlib import Path

import whoknows

CORE = Path(whoknows.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _known(name: str, modules: set[str]) -> str | None:
    """`name` if it is a core module; its package when it names something inside one."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    """Each core module -> the core modules it imports (a package's `__init__` is the package)."""
    paths = {_module_name(path): path for path in CORE.rglob("*.py")}
    modules = set(paths)
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                # `from . import x` imports the module `x`; `from .m import f` imports `m`
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            else:
                continue
            for target in targets:
                module = _known(target, modules)
                if module and module != name:
                    imported.add(module)
        graph[name] = imported
    # importing `whoknows.a.b` runs `whoknows.a` first, but a package importing its own
    # submodules is how a package is made, not a cycle: drop the package from its children's edges
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module (Tarjan), as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_graph_sees_module_and_function_level_imports():
    graph = import_graph()
    assert "whoknows.ledger" in graph["whoknows.disclosures"]  # module level, relative
    assert "whoknows.secrets" in graph["whoknows.me"]  # inside a function: `from . import secrets`
    assert "whoknows.filters.parser" in graph["whoknows.filters.engine"]  # `from . import parser`


def test_cycles_finds_a_cycle_through_three_modules():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_core_has_no_import_cycle():
    assert cycles(import_graph()) == []
