"""How the server starts a worker: the command line and the environment it needs."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["package_root", "worker_command", "worker_env"]

# Derived, not hard-coded, so the runtime also works when copied under another package name.
_PACKAGE = __name__.rpartition(".")[0]


def package_root() -> str:
    """The folder to put on the worker's PYTHONPATH: it holds this runtime's top package."""
    return str(Path(__file__).absolute().parents[len(_PACKAGE.split("."))])


def worker_command(
    python: str,
    *,
    connect: str,
    mode: str,
    entry_script: str,
    code_dir: str | None = None,
    worker_id: str | None = None,
    logging_level: str | None = None,
    user_args: Sequence[str] = (),
) -> list[str]:
    """The argv that starts a worker with the environment's interpreter ``python``.

    Args:
        python: the environment's interpreter.
        connect: the server's unix socket path, or ``host:port``.
        mode: ``batch`` or ``online``.
        entry_script: absolute path of the scoring script.
        code_dir: the code folder (default: the script's folder).
        worker_id: a name for logs and ``EntryScript.agent_name``.
        logging_level: e.g. ``INFO``; batch scripts also get it as ``--logging_level``.
        user_args: the script's own arguments (``program_arguments`` / PRS ``arguments``).
    """
    argv = [python, "-m", f"{_PACKAGE}.worker", "--connect", connect, "--mode", mode]
    argv += ["--entry-script", entry_script]
    if code_dir:
        argv += ["--code-dir", code_dir]
    if worker_id:
        argv += ["--worker-id", worker_id]
    if logging_level:
        argv += ["--logging-level", logging_level]
    if user_args:
        argv += ["--", *user_args]
    return argv


def worker_env(base: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The worker's environment: ``base`` plus ``extra``, with this runtime first on PYTHONPATH.

    ``extra`` carries ``AZUREML_MODEL_DIR``, ``AZUREML_BI_OUTPUT_PATH``, ``FERRY_LOG_DIR`` and the
    deployment's ``environment_variables``.
    """
    env = dict(base)
    env.update(extra or {})
    paths = [package_root()] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
