"""Checks of the names routes take from the URL path.

Every route that takes a name in its path checks it against the same rule the spec of that
entity follows (:mod:`ferry.specs.names`) before any lookup, so a NUL byte or a 5,000-character
name is a clear client error (400) naming the rule. File paths from requests go through
:mod:`ferry.server.paths`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Path, Request

from ferry.errors import InvalidInputError
from ferry.specs.names import NameRule

__all__ = ["MAX_NAME_LENGTH", "check_name", "name_in_path", "path_names"]

# One path component on Linux and macOS; the patterns of some rules do not bound the length.
MAX_NAME_LENGTH = 255


def check_name(value: str, rule: NameRule, *, field: str) -> str:
    """Return ``value`` if it follows ``rule`` and fits in one path component, else raise."""
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidInputError(
            f"{field} is {len(value)} characters long; a {rule.what} has at most "
            f"{MAX_NAME_LENGTH} ({rule.sentence}).",
            details={"field": field, "rule": rule.pattern},
        )
    return rule.check(value, field=field)


def path_names(**rules: NameRule) -> Any:
    """A route dependency that checks the named path parameters, e.g. ``path_names(name=RULE)``.

    Put it after ``Auth`` in a router's or route's ``dependencies`` so a caller without a token
    learns nothing about the naming rules.
    """

    def check(request: Request) -> None:
        for param, rule in rules.items():
            value = request.path_params.get(param)
            if isinstance(value, str):
                check_name(value, rule, field=param)

    return Depends(check)


def name_in_path(rule: NameRule, description: str) -> Any:
    """``Path(...)`` that documents ``rule`` (pattern and length) in OpenAPI.

    Only documents: the check itself is :func:`path_names`, which runs first and answers 400
    quoting the rule. A client (or a fuzzer) reading the schema knows which names are valid.
    """
    return Path(
        description=f"{description} ({rule.sentence}).",
        json_schema_extra=rule.json_schema(max_length=MAX_NAME_LENGTH),
    )
