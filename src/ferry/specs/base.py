"""The base of every spec: strict pydantic models that reject unknown fields by name."""

from __future__ import annotations

import difflib
import re
import typing
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

    For the OpenAPI document of fields the services layer needs although the spec model lets them
    default to None (YAML may omit them; the services layer then refuses with the fix to use). The
    types are spelled out rather than ``not: null``, which fuzzers handle poorly.
    """
    return {
        "required": list(types),
        "properties": {field: {"type": json_type} for field, json_type in types.items()},
    }


def describe_errors(
    errors: Sequence[Mapping[str, Any]],
    *,
    skip: tuple[str, ...] = (),
    model: type[BaseModel] | None = None,
) -> tuple[list[str], list[str]]:
    """(problems, field names) of pydantic errors, each problem naming its field and the fix.

    ``skip`` drops location parts that are not field names (FastAPI's ``body``, ``query``);
    ``model``, the class validated, lets an unknown field name the field it most looks like.
    """
    problems: list[str] = []
    fields: list[str] = []
    for err in _user_level(errors, skip):
        loc = ".".join(str(part) for part in err["loc"]) or "(root)"
        if loc not in fields:
            fields.append(loc)
        if err["type"] == "extra_forbidden":
            close = _close_field(model, err["loc"]) if model is not None else None
            fix = f"did you mean '{close}'?" if close else "remove it or check its spelling"
            problem = f"unknown field '{loc}': {fix}"
        elif err["type"] == "missing":
            problem = f"missing required field '{loc}'"
        else:
            message = _MODEL_NAME.sub(" a mapping (key: value)", err["msg"])
            message = _choices(err) or message.removeprefix("Value error, ")
            problem = message if loc == "(root)" else f"field '{loc}': {message}"
        if problem not in problems:
            problems.append(problem)
    return problems, fields


# pydantic names union members in error locations (`model.str`, `model.ModelSpec.name`,
# `environment.function-after[_one_source(), EnvironmentSpec].name`) and classes in messages
# ("a valid dictionary or instance of CodeConfigurationSpec"): internal names a user never wrote.
_BASIC_TAGS = frozenset({"str", "int", "float", "bool", "dict", "list", "none", "bytes"})
_MODEL_NAME = re.compile(r" a valid dictionary or instance of \w+")


def _close_field(model: type[BaseModel], loc: Sequence[Any]) -> str | None:
    """The field of ``model`` (followed along ``loc``) that an unknown name most looks like."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        field = _field(current, part) if current is not None else None
        current = _model_in(field.annotation) if field is not None else None
        if current is None:
            return None
    assert current is not None
    names = [*current.model_fields, *(f.alias for f in current.model_fields.values() if f.alias)]
    names = [n for n in names if not n.startswith("$")]
    close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.6)
    return close[0] if close else None


def _field(model: type[BaseModel], name: object) -> Any:
    for key, field in model.model_fields.items():
        if name in (key, field.alias):
            return field
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _choices(err: Mapping[str, Any]) -> str | None:
    """A pattern of alternatives (``^(uri_file|uri_folder)$``) said as the list it allows."""
    pattern = str((err.get("ctx") or {}).get("pattern", ""))
    match = re.fullmatch(r"\^\(([\w|-]+)\)\$", pattern)
    if err["type"] != "string_pattern_mismatch" or match is None:
        return None
    return f"{err.get('input')!r} is not one of {', '.join(match.group(1).split('|'))}"


def _model_names() -> set[str]:
    names: set[str] = set()
    pending: list[type[BaseModel]] = [BaseModel]
    while pending:
        for sub in pending.pop().__subclasses__():
            if sub.__name__ not in names:
                names.add(sub.__name__)
                pending.append(sub)
    return names


def _is_tag(part: object, models: set[str]) -> bool:
    if not isinstance(part, str):
        return False
    return part in _BASIC_TAGS or part in models or any(c in part for c in "[](),")


def _user_level(errors: Sequence[Mapping[str, Any]], skip: tuple[str, ...]) -> list[dict[str, Any]]:
    """Errors with union-member tags dropped from their locations, keeping, for each union
    field, the member the user meant: the mapping one when a mapping was given, else the
    scalar one; a value neither member takes becomes one error naming both forms."""
    models = _model_names()
    plain: list[dict[str, Any]] = []
    unions: dict[tuple[Any, ...], list[tuple[bool, dict[str, Any]]]] = {}
    for err in errors:
        loc = [part for part in err["loc"] if part not in skip]
        cut = next((i for i, part in enumerate(loc) if _is_tag(part, models)), None)
        if cut is None:
            plain.append({**err, "loc": tuple(loc)})
            continue
        field = tuple(loc[:cut])
        rest = tuple(part for part in loc[cut + 1 :] if not _is_tag(part, models))
        basic = loc[cut] in _BASIC_TAGS
        unions.setdefault(field, []).append((basic, {**err, "loc": field + rest}))
    for field, members in unions.items():
        scalar = [err for basic, err in members if basic]
        mapped = [err for basic, err in members if not basic]
        given = scalar[0].get("input") if scalar else None
        if not scalar or not mapped or isinstance(given, Mapping):
            plain += mapped or scalar
        elif isinstance(given, str):
            plain += scalar
        else:
            plain.append(
                {
                    "type": "union",
                    "loc": field,
                    "msg": f"expected a reference string or a mapping (key: value), not "
                    f"{type(given).__name__}",
                }
            )
    return plain


def spec_error(
    exc: ValidationError,
    *,
    what: str,
    source: str | None = None,
    model: type[BaseModel] | None = None,
) -> SpecError:
    """Turn a pydantic error into one message that names every bad field and how to fix it;
    with ``model``, a misspelt field names the one meant."""
    problems, fields = describe_errors(exc.errors(), model=model)
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
