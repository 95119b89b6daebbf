"""The import graph of ``src/ferry`` is the one docs/architecture.md declares.

The document's ``import-graph`` block lists, for each part (a top-level module or package of
``ferry``), the parts it may import. Every ``import ferry.X`` / ``from ferry.X import`` in the
code, at module level or inside a function, must be allowed there: the map of the code and the
code cannot drift apart.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "ferry"
DOC = REPO / "docs" / "architecture.md"


def _declared() -> dict[str, set[str]]:
    block = re.search(r"```import-graph\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert block, f"{DOC} has no ```import-graph block"
    graph: dict[str, set[str]] = {}
    for line in block.group(1).splitlines():
        part, _, allowed = line.partition("->")
        assert _, f"bad line in the import graph (want 'part -> parts'): {line!r}"
        graph[part.strip()] = set(allowed.split())
    return graph


def _part(module: str) -> str:
    """``ferry.batch.engine`` -> ``batch``; ``ferry`` itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(source: Path) -> set[str]:
    """The ``ferry`` modules a file imports (``from ferry import x`` counts as ``ferry.x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "ferry":
                found.update(f"ferry.{alias.name}" for alias in node.names)
            else:
                found.add(node.module)
    return {name for name in found if name == "ferry" or name.startswith("ferry.")}


def _actual() -> dict[str, dict[str, set[str]]]:
    """``{part: {imported part: {files}}}`` over the whole package."""
    modules = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()
    }
    graph: dict[str, dict[str, set[str]]] = {}
    for source in sorted(PACKAGE.rglob("*.py")):
        relative = source.relative_to(PACKAGE)
        part = (
            relative.parts[0].removesuffix(".py") if len(relative.parts) == 1 else relative.parts[0]
        )
        edges = graph.setdefault(part, {})
        for name in _imports(source):
            target = _part(name)
            if target not in modules:  # an attribute of ferry/__init__.py (__version__)
                target = "__init__"
            if target != part:
                edges.setdefault(target, set()).add(str(relative))
    return graph


def test_every_import_is_one_the_architecture_allows() -> None:
    declared = _declared()
    undeclared = [
        f"{part} -> {target} ({', '.join(sorted(files))})"
        for part, edges in _actual().items()
        for target, files in sorted(edges.items())
        if part in declared and target not in declared[part]
    ]
    assert not undeclared, (
        "imports docs/architecture.md's import graph does not allow (fix the import, or "
        "update the graph if the architecture changed):\n  " + "\n  ".join(undeclared)
    )


def test_every_part_of_the_package_is_in_the_graph() -> None:
    declared = _declared()
    missing = sorted(set(_actual()) - set(declared))
    assert not missing, f"parts of src/ferry missing from the import graph: {missing}"
    gone = sorted(set(declared) - set(_actual()))
    assert not gone, f"the import graph lists parts that no longer exist: {gone}"


def test_the_worker_runtime_imports_nothing_else_from_ferry() -> None:
    # It runs in the user's interpreter, where only ferry.runtime is on the path.
    assert _declared()["runtime"] == set()
