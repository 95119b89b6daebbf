"""Turn command results into text the way ``az`` does (json, jsonc, yaml, table, tsv, none).

Scripts depend on these shapes, so they follow knack (the framework under ``az``) closely:

* ``json``: 2-space indent, sorted keys; ``jsonc`` is the same, coloured when stdout is a terminal.
* ``tsv``: one line per list item; an object's values in key order (in the query's order for a
  ``{a: x, b: y}`` projection), nested lists as their length, nested objects as empty cells; a bare
  scalar prints as itself (``--query version -o tsv`` prints ``1``), a bare boolean in lower case.
* ``table``: the scalar columns of each object (``id`` and ``type`` skipped, as az does), aligned.
* A command whose result is ``None`` (a delete) prints nothing in every format.
"""

from __future__ import annotations

import io
import json
import sys
from collections import OrderedDict
from typing import Any

import click
import jmespath
import yaml
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from ferry.cli.context import state

__all__ = ["emit", "render", "to_data"]

_TABLE_SKIP = ("id", "type", "etag")


def to_data(obj: Any) -> Any:
    """JSON-ready data of a result: an SDK entity's full server view, else its fields."""
    if isinstance(obj, BaseModel):
        raw = getattr(obj, "raw", None)
        if isinstance(raw, dict) and raw:
            return to_jsonable_python(raw)
        data = obj.model_dump(mode="json", exclude_none=True)
        data.pop("schema_uri", None)
        return data
    if isinstance(obj, (list, tuple)):
        return [to_data(item) for item in obj]
    if isinstance(obj, dict):
        return {str(key): to_data(value) for key, value in obj.items()}
    return to_jsonable_python(obj)


def render(result: Any, output: str, query: str | None, *, color: bool = False) -> str:
    """The text ``ferry`` prints for ``result``."""
    data = to_data(result)
    if query:
        # OrderedDict marks a query's {a: x, b: y} projection, whose order tsv keeps (as az).
        data = jmespath.search(query, data, options=jmespath.Options(dict_cls=OrderedDict))
    if data is None or output == "none":
        return ""
    if output in ("json", "jsonc"):
        text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        return _colour_json(text) if output == "jsonc" and color else text
    if output == "yaml":
        return yaml.safe_dump(
            json.loads(json.dumps(data)), default_flow_style=False, allow_unicode=True
        )
    if output == "tsv":
        return _tsv(data if isinstance(data, list) else [data])
    if output == "table":
        return _table(data if isinstance(data, list) else [data], sort_keys=not query)
    raise click.BadParameter(f"unknown output format {output!r}", param_hint="--output")


def emit(ctx: click.Context, result: Any) -> None:
    """Print ``result`` as the global options ask."""
    current = state(ctx)
    text = render(result, current.output, current.query, color=sys.stdout.isatty())
    if text:
        click.echo(text, nl=False)


def _colour_json(text: str) -> str:
    from rich.console import Console
    from rich.syntax import Syntax

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, soft_wrap=True)
    console.print(Syntax(text.rstrip("\n"), "json", background_color="default"))
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return str(len(value))
    if isinstance(value, dict):
        return ""
    return value if isinstance(value, str) else str(value)


def _tsv(rows: list[Any]) -> str:
    lines: list[str] = []
    for row in rows:
        if isinstance(row, OrderedDict):
            values: list[Any] = list(row.values())
        elif isinstance(row, dict):
            values = [value for _, value in sorted(row.items())]
        elif isinstance(row, list):
            values = row
        elif isinstance(row, bool):
            values = [str(row).lower()]
        else:
            values = [row]
        lines.append("\t".join(_cell(value) for value in values))
    return "".join(line + "\n" for line in lines)


def _table_row(item: Any, sort_keys: bool) -> dict[str, Any]:
    if isinstance(item, dict):
        keys = sorted(item) if sort_keys else list(item)
        return {
            key[:1].upper() + key[1:]: item[key]
            for key in keys
            if key not in _TABLE_SKIP
            and item[key] is not None
            and not isinstance(item[key], (list, dict))
        }
    if isinstance(item, list):
        return {f"Column{i + 1}": value for i, value in enumerate(item)}
    return {"Result": item}


def _table(items: list[Any], *, sort_keys: bool) -> str:
    rows = [_table_row(item, sort_keys) for item in items]
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    if not columns:
        return ""
    cells = [[_table_text(row.get(col)) for col in columns] for row in rows]
    widths = [max(len(col), *(len(line[i]) for line in cells)) for i, col in enumerate(columns)]
    lines = [
        "  ".join(col.ljust(w) for col, w in zip(columns, widths, strict=True)),
        "  ".join("-" * w for w in widths),
        *("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells),
    ]
    return "".join(line.rstrip() + "\n" for line in lines)


def _table_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)
