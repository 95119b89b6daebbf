"""The secrets a deployment grants its script, behind ``azureml.core``'s Key Vault shim.

The server puts the granted secrets' values in the worker's environment (``FERRY_KEYVAULT``, a
JSON object) and :func:`take_from_environ` moves them into this module before the script loads,
so neither ``os.environ`` nor a subprocess of the script sees them. A name the deployment does not
grant is refused with the command that grants it (``FERRY_SECRETS_GRANT``). A local run (the
``--local`` commands) calls :func:`configure` instead.

Standard library only: this runs on the deployment's interpreter.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing's: see messages.py
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, MutableMapping

__all__ = [
    "GRANT_ENV",
    "SECRETS_ENV",
    "SecretNotGrantedError",
    "configure",
    "get_secret",
    "get_secrets",
    "granted_names",
    "take_from_environ",
]

SECRETS_ENV = "FERRY_KEYVAULT"
GRANT_ENV = "FERRY_SECRETS_GRANT"

_secrets: dict[str, str] = {}
_grant = ""


class SecretNotGrantedError(PermissionError):
    """The script asked for a secret its deployment does not name."""


def configure(secrets: Mapping[str, str], grant: str = "") -> None:
    """Set the granted secrets and the command that grants more (for messages)."""
    global _grant
    _secrets.clear()
    _secrets.update(secrets)
    _grant = grant


def take_from_environ(environ: MutableMapping[str, str] | None = None) -> None:
    """Move the server's ``FERRY_KEYVAULT`` and ``FERRY_SECRETS_GRANT`` out of the environment."""
    env = os.environ if environ is None else environ
    text = env.pop(SECRETS_ENV, None)
    grant = env.pop(GRANT_ENV, "")
    if text is None:
        configure({}, grant)
        return
    import json  # only where secrets are granted

    values = json.loads(text)
    configure({str(k): str(v) for k, v in values.items()}, grant)


def granted_names() -> list[str]:
    return sorted(_secrets)


def get_secret(name: str) -> str:
    """The value of a granted secret.

    Raises:
        SecretNotGrantedError: the deployment does not grant ``name``; the message says how to.
    """
    try:
        return _secrets[name]
    except KeyError:
        raise SecretNotGrantedError(_refusal(name)) from None


def get_secrets(names: Iterable[str]) -> dict[str, str]:
    return {name: get_secret(name) for name in names}


def _refusal(name: str) -> str:
    names = [*granted_names(), name]
    may = ", ".join(granted_names()) or "none"
    how = (
        f"`{_grant} --set properties.ferry_secrets={','.join(names)}`"
        if _grant
        else f"--set properties.ferry_secrets={','.join(names)}"
    )
    return (
        f"secret {name!r} is not granted to this deployment (it may read: {may}); grant it in "
        f"the deployment's YAML with properties: {{ferry_secrets: [{', '.join(names)}]}}, or with "
        f"{how}"
    )
