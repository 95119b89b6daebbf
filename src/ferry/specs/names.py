"""Name and version rules, as Azure ML enforces them, with messages that quote the rule."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ferry.errors import InvalidInputError

__all__ = [
    "ASSET_NAME",
    "COMPUTE_NAME",
    "DATASTORE_NAME",
    "ENDPOINT_NAME",
    "JOB_NAME",
    "SECRET_NAME",
    "VERSION",
    "NameRule",
]


@dataclass(frozen=True)
class NameRule:
    """A regular expression plus the human sentence that explains it."""

    what: str
    pattern: str
    sentence: str

    def check(self, value: str, *, field: str = "name") -> str:
        """Return ``value`` if it follows the rule, else raise an error that quotes the rule."""
        if not isinstance(value, str) or re.fullmatch(self.pattern, value) is None:
            raise InvalidInputError(
                f"{field} {value!r} is not a valid {self.what}: {self.sentence} "
                f"(regex {self.pattern}).",
                details={"field": field, "value": value, "rule": self.pattern},
            )
        return value

    def json_schema(self, *, min_length: int = 1, max_length: int = 255) -> dict[str, Any]:
        """The rule as JSON Schema keywords for OpenAPI; :meth:`check` stays the check.

        For ``Field(json_schema_extra=...)``: a ``pattern=`` constraint would make pydantic
        answer its own message instead of the one that quotes the rule.
        """
        return {"pattern": f"^{self.pattern}$", "minLength": min_length, "maxLength": max_length}


ASSET_NAME = NameRule(
    "asset name",
    r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}",
    "use 1-255 letters, digits, '-', '_' or '.', starting with a letter or digit",
)
VERSION = NameRule(
    "version",
    r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}",
    "use 1-100 letters, digits, '-', '_' or '.', starting with a letter or digit",
)
DATASTORE_NAME = NameRule(
    "datastore name",
    r"[A-Za-z0-9_]{1,255}",
    "use 1-255 letters, digits or '_' (no '-' or spaces)",
)
COMPUTE_NAME = NameRule(
    "compute name",
    r"[A-Za-z]([-A-Za-z0-9]{0,22}[A-Za-z0-9])?",
    "use 1-24 letters, digits or '-', starting with a letter and not ending with '-'",
)
ENDPOINT_NAME = NameRule(
    "endpoint name",
    r"[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?",
    "use 3-32 letters, digits or '-', starting with a letter and not ending with '-'",
)
JOB_NAME = NameRule(
    "job name",
    ENDPOINT_NAME.pattern,
    "use letters, digits or '-', starting with a letter and not ending with '-'",
)
SECRET_NAME = NameRule(
    "secret name",
    r"[A-Za-z_][A-Za-z0-9_-]{0,127}",
    "use 1-128 letters, digits, '_' or '-', starting with a letter or '_'",
)
