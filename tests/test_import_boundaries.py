"""The core stays importable without the server, CLI or Ray stacks."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ferry

_HEAVY = ("fastapi", "click", "ray")


def _imported_by(statement: str, modules: tuple[str, ...]) -> str:
    """Which of ``modules`` a fresh interpreter has loaded after ``statement`` (comma-separated)."""
    code = f"import sys\n{statement}\nprint(','.join(m for m in {modules!r} if m in sys.modules))\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_core_packages_do_not_import_server_cli_or_ray() -> None:
    loaded = _imported_by("import ferry.store, ferry.specs, ferry.datastore", _HEAVY)
    assert loaded == "", f"imported by the core: {loaded}"


def test_batch_worker_does_not_import_the_online_contract() -> None:
    # Every batch job starts fresh worker processes, so what ferry.runtime.worker imports is
    # paid per worker per job; the HTTP side (asyncio, http.client, email, the online contract)
    # is loaded only in online mode.
    online_only = (
        "asyncio",
        "http.client",
        "email.parser",
        "ferry.runtime.online",
        "ferry.runtime.online_frames",
        "ferry.runtime.wsgi",
        "ferry.runtime._fallback",
    )
    loaded = _imported_by("import ferry.runtime.worker", online_only)
    assert loaded == "", f"imported by a batch worker: {loaded}"


def test_batch_worker_start_imports_no_logging_argparse_dataclasses_typing_or_pathlib() -> None:
    # Together ~20 ms of every worker's start; logging is set up when the script imports it
    # (ferry.runtime.logs), and tests/runtime checks that its records still arrive.
    costly = ("logging", "argparse", "dataclasses", "typing", "pathlib", "traceback", "datetime")
    loaded = _imported_by("import ferry.runtime.worker", costly)
    assert loaded == "", f"imported by a batch worker at start: {loaded}"


def test_nothing_imports_azure_ai_ml() -> None:
    # azure-ai-ml is in the dev extra for the parity test only; the SDK, CLI and server that
    # mirror it must work without it.
    statement = (
        "import ferry, ferry.entities, ferry.constants, ferry.client, ferry.cli.main, "
        "ferry.server.app\nferry.MLClient"
    )
    loaded = _imported_by(statement, ("azure.ai.ml",))
    assert loaded == "", f"imported at run time: {loaded}"


def _imports_of(folder: str) -> list[tuple[str, int, str]]:
    """Every module an ``import``/``from`` names in ``src/ferry/<folder>``, lazy ones included."""
    root = Path(ferry.__file__).parent
    found: list[tuple[str, int, str]] = []
    for path in sorted((root / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = ".".join(("ferry", *path.relative_to(root).parent.parts))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package.rsplit(".", node.level - 1)[0] if node.level else ""
                module = ".".join(p for p in (base, node.module or "") if p)
                names = [module] + [f"{module}.{alias.name}" for alias in node.names]
            else:
                continue
            found.extend((str(path.relative_to(root)), node.lineno, name) for name in names)
    return found


def test_client_and_cli_do_not_import_online() -> None:
    # The SDK and the CLI talk to the server over HTTP; the gateway's errors they raise and
    # catch live in ferry.errors. Lazy imports inside functions count too.
    offending = [
        f"{path}:{line} imports {name}"
        for folder in ("client", "cli")
        for path, line, name in _imports_of(folder)
        if name == "ferry.online" or name.startswith("ferry.online.")
    ]
    assert offending == [], "\n".join(offending)
    statement = (
        "import importlib, pkgutil, ferry.client, ferry.cli\n"
        "for package in (ferry.client, ferry.cli):\n"
        "    for info in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
        "        importlib.import_module(info.name)"
    )
    online = (
        "ferry.online",
        "ferry.online.gateway",
        "ferry.online.routing",
        "ferry.online.service",
    )
    loaded = _imported_by(statement, online)
    assert loaded == "", f"loaded by importing ferry.client and ferry.cli: {loaded}"


def test_only_the_composition_root_imports_a_backend() -> None:
    # Batch and online reach workers through ferry.workers' Compute port; which backend runs
    # them is the server's choice, made in one module (and ray only when a compute asks for it).
    root = Path(ferry.__file__).parent
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != "backends")
    offending = [
        f"{path}:{line} imports {name}"
        for folder in [*folders, "."]
        for path, line, name in (_imports_of(folder) if folder != "." else _top_level_imports())
        if (name == "ferry.backends" or name.startswith("ferry.backends."))
        and path != "server/compute_choice.py"
    ]
    assert offending == [], "\n".join(offending)


def _top_level_imports() -> list[tuple[str, int, str]]:
    """What the modules directly in ``src/ferry`` import (``_imports_of`` walks folders)."""
    root = Path(ferry.__file__).parent
    found: list[tuple[str, int, str]] = []
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                found.extend((path.name, node.lineno, n) for n in names)
            elif isinstance(node, ast.Import):
                found.extend((path.name, node.lineno, a.name) for a in node.names)
    return found
