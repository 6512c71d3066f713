"""The import contract: data flows one way through the stages, and only solve/ talks to HiGHS.

Every ``import`` of every module under ``src/allocator`` is read with ``ast`` (function-local and
``TYPE_CHECKING`` imports included: a late import is still a dependency). A module may import its
own stage or a stage to its left in ``STAGES``; docs/architecture.md draws the same order.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "allocator"

# left to right: the order in which data flows; a module may import only leftwards (or its own)
STAGES: list[tuple[str, ...]] = [
    ("errors", "_version", "_heap"),
    ("instance",),
    ("preprocess",),
    ("formulation",),
    ("solve",),
    ("methods",),
    ("results",),
    ("options",),
    ("analysis",),
    ("report",),
    ("pipeline", "deliver"),
    ("batch", "research"),
    ("cli",),
    ("__init__", "__main__"),
]
RANK = {name: i for i, names in enumerate(STAGES) for name in names}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 2:
        parts.pop()
    return ".".join(parts)


def _stage(module: str) -> str:
    """``allocator.results.check`` -> ``results``; the package face is ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, wherever it stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # from package import module: the module is what is imported
            modules = [f"{node.module}.{a.name}" for a in node.names]
            modules = [m for m in modules if _is_module(m)]
            found += [(node.lineno, m) for m in modules] or [(node.lineno, node.module)]
    return found


def _is_module(dotted: str) -> bool:
    """True when ``dotted`` names a module or package of allocator."""
    parts = dotted.split(".")
    if parts[0] != "allocator":
        return False
    base = SRC.joinpath(*parts[1:])
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_every_module_has_a_known_stage() -> None:
    unknown = {_stage(_module_name(p)) for p in _modules()} - set(RANK)
    assert not unknown, f"add these to STAGES and to docs/architecture.md: {sorted(unknown)}"


def test_no_module_imports_a_stage_above_its_own() -> None:
    against: list[str] = []
    for path in _modules():
        own = _stage(_module_name(path))
        for line, imported in _imports(path):
            if imported.split(".")[0] != "allocator" or imported == "allocator":
                continue
            target = _stage(imported)
            if target in RANK and RANK[target] > RANK[own]:
                against.append(f"{path.relative_to(SRC)}:{line} ({own}) imports {imported}")
    assert not against, "imports against the flow:\n" + "\n".join(against)


def test_only_solve_imports_highspy() -> None:
    outside = [
        f"{path.relative_to(SRC)}:{line}"
        for path in _modules()
        if _stage(_module_name(path)) != "solve"
        for line, imported in _imports(path)
        if imported.split(".")[0] == "highspy"
    ]
    assert not outside, f"highspy imported outside solve/: {outside}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from allocator.report.html import x", ["allocator.report.html"]),
        ("def f():\n    import highspy", ["highspy"]),
        ("from allocator import cli", ["allocator.cli"]),
        ("from allocator.preprocess import Network", ["allocator.preprocess"]),
        ("from . import y", []),
    ],
)
def test_the_reader_sees_every_kind_of_import(
    tmp_path: Path, source: str, expected: list[str]
) -> None:
    # the contract is only as good as its reader: late, aliased and package imports all count
    f = tmp_path / "m.py"
    f.write_text(source, encoding="utf-8")
    assert [name for _, name in _imports(f)] == expected


def test_a_violation_would_be_caught() -> None:
    # a formulation module importing the results stage is against the flow
    assert RANK[_stage("allocator.results.plan")] > RANK[_stage("allocator.formulation.arc")]
    assert _stage(_module_name(SRC / "results" / "check.py")) == "results"
    assert _stage(_module_name(SRC / "__init__.py")) == "__init__"


def _top_level_imports(path: Path) -> set[str]:
    """allocator modules imported when ``path`` is imported (module level, not TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("allocator"):
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("allocator")}
    return names


def test_no_import_cycles_between_modules() -> None:
    # a cycle is what late imports hide; within a stage too (a reader and a format it dispatches to)
    modules = {_module_name(p): p for p in _modules()}
    graph = {
        name: {m for _, m in _imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)
