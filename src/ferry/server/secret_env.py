"""Secrets mapped into worker environments: ``VAR: ${{secrets.NAME}}`` in environment_variables.

Values are resolved in memory when a worker starts and handed to it through its environment;
they are never written into job folders, specs or logs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from ferry.backends.local import LocalCompute, LocalWorker
from ferry.batch.compute import WorkerLaunch
from ferry.errors import NotFoundError
from ferry.registry.secrets import SecretService

__all__ = ["SecretAwareCompute", "resolve_secret_refs"]

_REF = re.compile(r"^\$\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}$")


def resolve_secret_refs(env: Mapping[str, str], secrets: SecretService) -> dict[str, str]:
    """The variables whose value is a secret reference, with the secret's value."""
    resolved: dict[str, str] = {}
    for var, value in env.items():
        match = _REF.match(value)
        if match is None:
            continue
        try:
            resolved[var] = secrets.reveal(match.group(1))
        except NotFoundError as exc:
            raise NotFoundError(
                f"environment variable {var} references secret {match.group(1)!r}, which does "
                f"not exist; create it with `ferry secret set {match.group(1)} --value ...`.",
                details={"field": f"environment_variables.{var}"},
            ) from exc
    return resolved


class SecretAwareCompute(LocalCompute):
    """Local workers whose environment carries resolved secrets (kept in memory only)."""

    def __init__(self, secret_env: Mapping[str, str]) -> None:
        self._secret_env = dict(secret_env)

    def start(self, launch: WorkerLaunch) -> LocalWorker:
        return super().start(replace(launch, env={**launch.env, **self._secret_env}))
