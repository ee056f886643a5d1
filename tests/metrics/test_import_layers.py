"""The metrics package's modules import one another one way: no circle, no import tucked
inside a function to dodge one, and the metric definitions know nothing of how they are
evaluated or cached. Read from the source with `ast`, so that the check cannot be fooled by
import order at run time."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "metrics"
# Django's documented place for imports that need the app registry ready.
READY_HOOKS = {"metrics.apps"}
# What the definitions may not know: the engine, the caches, the summaries they feed.
NOT_FOR_DEFINITIONS = {
    "metrics.engine",
    "metrics.registry",
    "metrics.answer_cache",
    "metrics.customer_figures",
    "metrics.rollups",
    "metrics.rollup_days",
    "metrics.rollup_invalidation",
    "metrics.customer_rollup",
    "metrics.purchase_days",
    "metrics.purchase_days_upkeep",
    "metrics.selectors",
    "metrics.snapshots",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts and "management" not in path.parts
    }


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    return name if name in known else None


def _imports(path: Path, known: dict[str, Path]) -> list[tuple[str, bool]]:
    """The package's modules this file imports, each with whether the import sits inside a
    function (or method)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if target := _resolve(alias.name, known):
                        found.append((target, nested))
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                for alias in child.names:
                    target = _resolve(f"{child.module}.{alias.name}", known)
                    target = target or _resolve(child.module, known)
                    if target:
                        found.append((target, nested))
            visit(child, inner)

    visit(tree, False)
    return found


def _graph() -> dict[str, dict[str, bool]]:
    known = _modules()
    graph: dict[str, dict[str, bool]] = {}
    for name, path in known.items():
        edges: dict[str, bool] = {}
        for target, nested in _imports(path, known):
            if target != name:
                edges[target] = edges.get(target, False) or nested
        graph[name] = edges
    return graph


def _cycle(graph: dict[str, dict[str, bool]]) -> list[str]:
    """One circle of imports, or []."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for target in graph.get(node, {}):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := walk(target)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := walk(node)):
            return found
    return []


def test_the_package_is_read_whole() -> None:
    graph = _graph()
    assert {"metrics.engine", "metrics.registry", "metrics.definitions.surveys"} <= set(graph)
    assert "metrics.rollups" in graph["metrics.engine"]


def test_no_module_imports_another_that_imports_it_back() -> None:
    assert _cycle(_graph()) == []


def test_no_import_of_the_package_hides_inside_a_function() -> None:
    nested = [
        f"{name} -> {target}"
        for name, edges in _graph().items()
        if name not in READY_HOOKS
        for target, inside in edges.items()
        if inside
    ]
    assert nested == []


def test_metric_definitions_know_nothing_of_evaluation_or_caches() -> None:
    graph = _graph()
    leaks = [
        f"{name} -> {target}"
        for name, edges in graph.items()
        if name.startswith("metrics.definitions")
        for target in edges
        if target in NOT_FOR_DEFINITIONS
    ]
    assert leaks == []


def test_the_check_finds_a_circle_when_there_is_one() -> None:
    assert _cycle({"a": {"b": False}, "b": {"c": True}, "c": {"a": False}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b": False}, "b": {}}) == []


@pytest.mark.parametrize(
    ("module", "private"),
    [("metrics.aggregate_filter", "AggregateFilter")],
)
def test_only_one_module_touches_djangos_private_aggregate_filter(
    module: str, private: str
) -> None:
    users = [
        name
        for name, path in _modules().items()
        if private in path.read_text(encoding="utf-8") and name != module
    ]
    assert users == []
