"""The project's modules import each other without cycles, lazy (function-level) imports
included: a cycle hidden by a lazy import is still a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("anomseer", "data_gen")


def project_modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the project's packages."""
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imported_names(path: Path, module: str) -> set[str]:
    """Every dotted name ``module``'s source imports, at any depth of the file."""
    names = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (the deepest module each name resolves to)."""
    modules = project_modules()
    graph = {}
    for module, path in modules.items():
        targets = set()
        for name in imported_names(path, module):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_finds_a_cycle_hidden_by_a_lazy_import(tmp_path):
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    source = tmp_path / "mod.py"
    source.write_text("def f():\n    from anomseer.protocol import Answer\n")
    assert "anomseer.protocol.Answer" in imported_names(source, "anomseer.mod")


@pytest.mark.parametrize("package", ["anomseer", "data_gen"])
def test_no_import_cycles(package):
    found = [c for c in cycles(import_graph()) if any(m.startswith(package) for m in c)]
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


BOTTOM_LAYER = {
    "anomseer.errors",
    "anomseer.atomic_files",
    "anomseer.recipes",
    "anomseer.columns",
    "anomseer.intervals",
    "anomseer.protocol",
    "anomseer.metrics",
    "anomseer.series_metrics",
}
"""DESIGN.md's lowest layer: it imports nothing of the project above it."""


def test_bottom_layer_and_data_gen_import_nothing_above_them():
    graph = import_graph()
    for module in BOTTOM_LAYER:
        assert graph[module] <= BOTTOM_LAYER, (module, graph[module] - BOTTOM_LAYER)
    for module, targets in graph.items():
        if module.startswith("data_gen"):
            above = {t for t in targets if t.startswith("anomseer")} - BOTTOM_LAYER
            assert not above, (module, above)


def test_faithfulness_sits_between_data_gen_and_its_users():
    """anomseer.faithfulness reads the expert panel (data_gen) and the bootstrap; evaluation
    and rewards import it, never the other way round."""
    graph = import_graph()
    allowed = BOTTOM_LAYER | {"anomseer.bootstrap"}
    for module, targets in graph.items():
        if module.startswith("anomseer.faithfulness"):
            outside = {
                t for t in targets if not t.startswith(("anomseer.faithfulness", "data_gen"))
            }
            assert outside <= allowed, (module, outside - allowed)
