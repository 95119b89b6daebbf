"""The core stays importable without the server, CLI or Ray stacks."""

from __future__ import annotations

import subprocess
import sys

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
