"""Run a local plan in this interpreter, or re-execute it under the deployment's.

In this interpreter (the default) a debugger that started the ``ferry`` command (``python -m pdb``,
debugpy, an IDE's launch configuration) stops at breakpoints in ``init()``/``run()``. Under
another interpreter (``--python PATH`` or ``--environment build``) the command replaces itself
(``exec``) with ``python -m ferry.runtime.local``: same terminal, same pid, so ``breakpoint()``
in the script still opens pdb there.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from ferry.errors import InvalidInputError
from ferry.runtime.launch import worker_env
from ferry.runtime.local import PLAN_ENV, LocalPlan
from ferry.specs.assets import EnvironmentSpec
from ferry.specs.batch import BatchDeploymentSpec
from ferry.specs.online import OnlineDeploymentSpec
from ferry.specs.refs import SERVER_PYTHON

__all__ = ["build_python", "reexec", "run_here"]


def run_here(plan: LocalPlan, **options: Any) -> int:
    """Run the plan in this process; returns the exit code."""
    if plan.mode == "online":
        from ferry.runtime.local_online import serve

        return serve(plan, **options)
    from ferry.runtime.local_batch import run_local

    return run_local(plan)


def reexec(plan: LocalPlan, python: str, **options: Any) -> NoReturn:
    """Replace this process with the plan running under ``python`` (stdlib runtime only)."""
    if not (Path(python).is_file() and os.access(python, os.X_OK)):
        raise InvalidInputError(
            f"--python {python} is not an executable interpreter; pass the path of the "
            "deployment environment's python (e.g. .venv/bin/python).",
            details={"field": "--python"},
        )
    data = dict(plan.data)
    data["options"] = options
    env = worker_env(os.environ, {PLAN_ENV: LocalPlan(data).to_json()})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(python, [python, "-m", "ferry.runtime.local"], env)


def build_python(
    spec: OnlineDeploymentSpec | BatchDeploymentSpec,
    model: Path | None,
    envs_root: Path,
    log: Callable[[str], None],
) -> str:
    """The interpreter of the deployment's environment, built (or reused) in ``envs_root``.

    Raises:
        InvalidInputError: the environment is a registered reference, or there is none.
        EnvironmentBuildError: the environment cannot be built (the message says why).
    """
    # Imported here: the build machinery (and the server package) only for --environment build.
    from ferry.environments import EnvironmentBuilder, normalize_environment
    from ferry.environments.deployment import model_requirements, resolution_policy

    environment = spec.environment
    if environment == SERVER_PYTHON:
        return sys.executable
    if isinstance(environment, EnvironmentSpec):
        resolved = normalize_environment(environment)
    elif environment is None and model is not None and (model / "MLmodel").is_file():
        resolved = model_requirements(model)
    elif isinstance(environment, str):
        raise InvalidInputError(
            f"environment is {environment!r}, a registered asset; --environment build needs it "
            "inline (environment: {conda_file: ./conda.yaml}), or use --python PATH, or run in "
            "this interpreter (leave out --environment).",
            details={"field": "environment"},
        )
    else:
        raise InvalidInputError(
            "the deployment has no environment to build; add environment: {conda_file: ...} or "
            "run in this interpreter (leave out --environment).",
            details={"field": "environment"},
        )
    policy = resolution_policy(spec, model)
    built = EnvironmentBuilder(envs_root).ensure(resolved, policy=policy, log=log)
    for notice in (*built.notices, *built.changes):
        log(f"environment: {notice}")
    return str(built.python)
