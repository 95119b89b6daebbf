"""What a deployment hands its scoring script besides files: arguments and granted secrets.

* ``arguments`` (ParallelRunStep's ``arguments``, v2's ``program_arguments``) reach the worker's
  ``sys.argv``, so ``argparse``'s ``parse_known_args()`` in ``init()`` sees them.
* ``properties.ferry_secrets`` names the secrets the script may read through the ``azureml.core``
  Key Vault shim; a ``${{secrets.X}}`` environment variable grants ``X`` as well.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "FERRY_SECRETS",
    "SECRET_REF",
    "granted_secrets",
    "join_secret_names",
    "split_arguments",
]

#: The deployment property that lists the secrets its script may read.
FERRY_SECRETS = "ferry_secrets"
#: ``${{secrets.NAME}}`` as an environment variable's whole value.
SECRET_REF = re.compile(r"^\$\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}$")


def split_arguments(value: object, *, field: str = "arguments") -> list[str]:
    """``arguments`` as argv words: a YAML list (numbers become text) or one shell-quoted line.

    Raises:
        ValueError: neither a list of scalars nor a string (the message names ``field``).
    """
    if value is None:
        return []
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:  # an unclosed quote
            raise ValueError(f"{field}: cannot split {value!r} into words ({exc})") from exc
    if isinstance(value, (list, tuple)):
        words: list[str] = []
        for item in value:
            if isinstance(item, bool):
                words.append("true" if item else "false")
            elif isinstance(item, (str, int, float)):
                words.append(str(item))
            else:
                raise ValueError(
                    f"{field}: each argument must be a string or a number, not "
                    f"{type(item).__name__}; write them as a list of words, e.g. "
                    "['--model_name', 'mosaic']"
                )
        return words
    raise ValueError(
        f"{field} must be a list of words (['--model_name', 'mosaic']) or one line "
        f"('--model_name mosaic'), not {type(value).__name__}"
    )


def join_secret_names(properties: object) -> object:
    """``properties.ferry_secrets`` given as a YAML list, kept as the comma-separated text that
    a ``properties`` value is (properties are strings, as on Azure)."""
    if not isinstance(properties, dict):
        return properties
    names = properties.get(FERRY_SECRETS)
    if isinstance(names, (list, tuple)):
        return {**properties, FERRY_SECRETS: ",".join(str(n).strip() for n in names)}
    return properties


def granted_secrets(
    properties: Mapping[str, Any], environment_variables: Iterable[Mapping[str, str]] = ()
) -> list[str]:
    """The secret names a deployment's script may read: ``properties.ferry_secrets`` plus each
    secret that one of its ``${{secrets.X}}`` environment variables references, sorted."""
    names = {n.strip() for n in str(properties.get(FERRY_SECRETS) or "").split(",") if n.strip()}
    for env in environment_variables:
        for value in env.values():
            match = SECRET_REF.match(str(value))
            if match is not None:
                names.add(match.group(1))
    return sorted(names)
