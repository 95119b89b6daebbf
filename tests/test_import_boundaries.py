"""The core stays importable without the server, CLI or Ray stacks."""

from __future__ import annotations

import subprocess
import sys

_HEAVY = ("fastapi", "click", "ray")


def test_core_packages_do_not_import_server_cli_or_ray() -> None:
    code = (
        "import sys\n"
        "import ferry.store, ferry.specs, ferry.datastore\n"
        f"print(','.join(m for m in {_HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"imported by the core: {result.stdout.strip()}"


def test_batch_worker_does_not_import_the_online_contract() -> None:
    # Every batch job starts fresh worker processes, so what ferry.runtime.worker imports is
    # paid per worker per job; the HTTP side (asyncio, http.client, email, the online contract)
    # is loaded only in online mode.
    online_only = (
        "asyncio",
        "http.client",
        "email.parser",
        "typing_extensions",
        "ferry.runtime.online",
        "ferry.runtime.online_frames",
        "ferry.runtime.wsgi",
        "ferry.runtime._fallback",
    )
    code = (
        "import sys\n"
        "import ferry.runtime.worker\n"
        f"print(','.join(m for m in {online_only!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"imported by a batch worker: {result.stdout.strip()}"
