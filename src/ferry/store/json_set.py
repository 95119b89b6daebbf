"""SQL that sets top-level keys of a JSON column inside an UPDATE, on SQLite and PostgreSQL.

Merging in the database, not in Python, is what makes an update atomic without a lock: two
concurrent updates of different keys of one record both land, whichever commits first.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, String, bindparam, func, literal
from sqlalchemy.dialects.postgresql import JSONB

from ferry.errors import InvalidInputError

__all__ = ["json_set_keys"]

# Keys go into a SQLite JSON path ('$."key"'); Ferry's record keys are plain identifiers.
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def json_set_keys(
    dialect: str, column: SQLColumnExpression[Any], changes: dict[str, Any], what: str
) -> ColumnElement[Any]:
    """``column`` with each key of ``changes`` set to its value (JSON ``null`` for None).

    Args:
        dialect: ``sqlite`` or ``postgresql`` (the engine's ``dialect.name``).
        column: The JSON column (a JSON object in every row).
        changes: Top-level keys and plain JSON values.
        what: Names the record, for the error.

    Raises:
        InvalidInputError: a key is not an identifier, or a value is not plain JSON data.
    """
    for key in changes:
        if not _KEY.match(key):
            raise InvalidInputError(f"{what}: field name {key!r} is not an identifier")
    try:
        texts = {key: json.dumps(value, allow_nan=False) for key, value in changes.items()}
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what}: the changes are not plain JSON data: {exc}") from exc
    if dialect == "postgresql":
        # jsonb || jsonb replaces the right side's top-level keys and keeps JSON nulls.
        patch = bindparam(None, json.loads(json.dumps(changes)), type_=JSONB)
        return column.op("||", return_type=JSONB)(patch)
    # SQLite's json_patch would delete the keys set to null (RFC 7396); json_set keeps them.
    args: list[ColumnElement[Any]] = []
    for key, text in texts.items():
        args += [literal(f'$."{key}"', String), func.json(literal(text, String))]
    return func.json_set(column, *args)
