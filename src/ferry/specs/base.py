"""The base of every spec: strict pydantic models that reject unknown fields by name."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ferry.errors import SpecError

__all__ = ["Resource", "Spec", "spec_error", "stringify_values"]


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


def spec_error(exc: ValidationError, *, what: str, source: str | None = None) -> SpecError:
    """Turn a pydantic error into one message that names every bad field and how to fix it."""
    problems: list[str] = []
    fields: list[str] = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"]) or "(root)"
        fields.append(loc)
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown field '{loc}': remove it or check its spelling")
        elif err["type"] == "missing":
            problems.append(f"missing required field '{loc}'")
        else:
            problems.append(f"field '{loc}': {err['msg']}")
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
