"""Secrets mapped into worker environments: ``VAR: ${{secrets.NAME}}`` in environment_variables.

Values are resolved in memory when a worker starts and travel in its
:attr:`~ferry.workers.spec.WorkerSpec.secret_env`, which every Compute adds to the worker's
environment; they are never written into job folders, specs or logs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from ferry.errors import NotFoundError
from ferry.runtime.keyvault import GRANT_ENV, SECRETS_ENV
from ferry.services.secrets import SecretService
from ferry.specs.scoring import FERRY_SECRETS, SECRET_REF

__all__ = ["keyvault_env", "resolve_secret_refs"]

_REF = SECRET_REF


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


def keyvault_env(names: Sequence[str], secrets: SecretService, grant: str) -> dict[str, str]:
    """What a worker needs for ``get_default_keyvault().get_secret()``: the granted secrets'
    values (``FERRY_KEYVAULT``, JSON; the worker takes it out of its environment before the
    script loads) and the command that grants more (``FERRY_SECRETS_GRANT``).

    Args:
        names: the secrets the deployment grants (:func:`ferry.specs.scoring.granted_secrets`).
        secrets: the workspace's secret store.
        grant: the command that changes the deployment, e.g. ``ferry batch-deployment update
            --endpoint-name E --name D``; the worker's refusal adds ``--set properties...``.

    Raises:
        NotFoundError: a granted secret does not exist (the message says how to create it).
    """
    values: dict[str, str] = {}
    for name in names:
        try:
            values[name] = secrets.reveal(name)
        except NotFoundError as exc:
            raise NotFoundError(
                f"the deployment grants secret {name!r} (properties.{FERRY_SECRETS} or a "
                f"${{{{secrets.{name}}}}} variable), which does not exist; create it with "
                f"`ferry secret set {name} --value ...` or remove it from the deployment.",
                details={"field": f"properties.{FERRY_SECRETS}"},
            ) from exc
    return {SECRETS_ENV: json.dumps(values), GRANT_ENV: grant}
