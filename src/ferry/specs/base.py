"""The base of every spec: strict pydantic models that reject unknown fields by name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ferry.errors import SpecError

__all__ = [
    "Resource",
    "Spec",
    "describe_errors",
    "given_in_schema",
    "spec_error",
    "stringify_values",
]


class Spec(BaseModel):
    """A user-written entity (YAML, flags or SDK object). Unknown fields are an error.

    ``$schema`` is accepted so Azure ML v2 YAML files load unchanged.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_assignment=True)

    #: Dotted names of fields that hold local paths, resolved against a YAML file's folder.
    path_fields: ClassVar[tuple[str, ...]] = ()

    schema_uri: str | None = Field(
        default=None, alias="$schema", description="Azure ML JSON-schema URL; accepted, ignored."
    )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data, without unset optional fields or the ``$schema`` line."""
        return self.model_dump(mode="json", exclude_none=True, exclude={"schema_uri"})


class Resource(BaseModel):
    """A server-side view of an entity. Extra fields from newer servers are tolerated."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def given_in_schema(**types: str | list[str]) -> dict[str, Any]:
    """JSON Schema saying each field is present with a value of its JSON type (so not null).

    For the OpenAPI document of fields the registry needs although the spec model lets them
    default to None (YAML may omit them; the registry then refuses with the fix to use). The
    types are spelled out rather than ``not: null``, which fuzzers handle poorly.
    """
    return {
        "required": list(types),
        "properties": {field: {"type": json_type} for field, json_type in types.items()},
    }


def describe_errors(
    errors: Sequence[Mapping[str, Any]], *, skip: tuple[str, ...] = ()
) -> tuple[list[str], list[str]]:
    """(problems, field names) of pydantic errors, each problem naming its field and the fix.

    ``skip`` drops location parts that are not field names (FastAPI's ``body``, ``query``).
    """
    problems: list[str] = []
    fields: list[str] = []
    for err in errors:
        loc = ".".join(str(part) for part in err["loc"] if part not in skip) or "(root)"
        fields.append(loc)
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown field '{loc}': remove it or check its spelling")
        elif err["type"] == "missing":
            problems.append(f"missing required field '{loc}'")
        else:
            problems.append(f"field '{loc}': {err['msg']}")
    return problems, fields


def spec_error(exc: ValidationError, *, what: str, source: str | None = None) -> SpecError:
    """Turn a pydantic error into one message that names every bad field and how to fix it."""
    problems, fields = describe_errors(exc.errors())
    where = f" in {source}" if source else ""
    return SpecError(f"invalid {what}{where}: " + "; ".join(problems), details={"fields": fields})


def stringify_values(value: object) -> object:
    """Environment variables and tags are strings; YAML and ``--set`` may give 1 or true."""
    if not isinstance(value, dict):
        return value
    return {
        key: ("true" if item is True else "false" if item is False else str(item))
        if isinstance(item, (bool, int, float))
        else item
        for key, item in value.items()
    }
