"""The package's structure: no import cycles, one module that builds and solves, internals in compat.

The layer contracts themselves are checked by import-linter (``make lint``, configured in
pyproject.toml); these tests check what a layers contract cannot: cycles inside a layer, and
where the calls that build and solve linopy models and touch PyPSA/linopy internals live.
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "energy_model"
#: The one module that builds and solves linopy models.
MODEL_MODULE = PACKAGE / "optimization" / "model.py"
#: The one module that uses PyPSA/linopy internals.
COMPAT_MODULE = PACKAGE / "optimization" / "compat.py"
#: Private attributes of PyPSA/linopy objects the engine has used.
INTERNAL_ATTRIBUTES = {"_model", "_xCounter", "solver_model"}


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_import_cycles_function_level_imports_included() -> None:
    graph = grimp.build_graph("energy_model", include_external_packages=False)
    modules = sorted(graph.modules)
    cycles = []
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported != module and graph.chain_exists(importer=imported, imported=module):
                cycles.append(f"{module} <-> {imported}")
    assert not cycles, "import cycles: " + "; ".join(cycles)


def _calls(path: Path) -> list[tuple[int, str, set[str]]]:
    """(line, called attribute name, keyword names) of every ``x.attr(...)`` call in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            out.append((node.lineno, node.func.attr, {k.arg for k in node.keywords if k.arg}))
    return out


def test_only_the_model_module_builds_and_solves_linopy_models() -> None:
    offenders = []
    for path in _sources():
        if path == MODEL_MODULE:
            continue
        for line, attr, keywords in _calls(path):
            builds = attr == "create_model"
            solves_linopy = attr == "solve" and "solver_name" in keywords
            if builds or solves_linopy:
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line}: .{attr}(...)")
    # n.optimize(...) (PyPSA's one-call build + solve) bypasses the options policy too
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "optimize"
            ):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: .optimize(...)")
    assert not offenders, "linopy models built or solved outside optimization/model.py: " + ", ".join(
        offenders
    )


def test_model_module_does_build_and_solve() -> None:
    """The scan above is not vacuous: it finds the calls where they are."""
    attrs = {(attr, frozenset(k)) for _, attr, k in _calls(MODEL_MODULE)}
    assert any(attr == "create_model" for attr, _ in attrs)
    assert any(attr == "solve" and "solver_name" in k for attr, k in attrs)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_internals_only_in_compat(path: Path) -> None:
    if path == COMPAT_MODULE:
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    used = [
        f"line {node.lineno}: .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in INTERNAL_ATTRIBUTES
    ]
    used += [
        f"line {node.lineno}: getattr(..., {node.args[1].value!r})"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and node.args[1].value in INTERNAL_ATTRIBUTES
    ]
    assert not used, f"{path.name} uses PyPSA/linopy internals outside compat.py: {used}"


def test_no_module_over_the_size_limit() -> None:
    """No module over ~1,000 lines (the architecture issue's limit, with a little slack)."""
    limit = 1100
    sizes = {
        str(p.relative_to(PACKAGE.parent)): len(p.read_text(encoding="utf-8").splitlines())
        for p in _sources()
    }
    assert {k: v for k, v in sizes.items() if v > limit} == {}
