"""Parameter helpers shared by the command groups: key=value flags, -f/--set spec building."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from ferry.specs.base import Spec
from ferry.specs.loader import apply_overrides, is_uri, read_yaml, spec_from_data

__all__ = [
    "build_spec",
    "deployment_endpoint_option",
    "deployment_file_option",
    "expand_multi_value",
    "file_option",
    "local_path",
    "set_option",
    "tags_option",
]

S = TypeVar("S", bound=Spec)
F = TypeVar("F", bound=Callable[..., Any])

#: Options that take several space-separated values, as az's ``--tags a=1 b=2`` (``--traffic``
#: is one quoted word in az, ``--traffic "blue=90 green=10"``; unquoted words are taken too).
MULTI_VALUE_OPTIONS = ("--tags", "--set", "--traffic", "--mirror-traffic")


def expand_multi_value(args: Sequence[str]) -> list[str]:
    """Rewrite ``--tags a=1 b=2`` as ``--tags a=1 --tags b=2``, which click can parse.

    The first word after the option is always its value; later words join it while they look
    like ``key=value`` (contain ``=``, do not start with ``-``), so positional arguments and
    other options are left alone.
    """
    out: list[str] = []
    pending: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            out.extend(args[i:])
            break
        if pending and not arg.startswith("-") and "=" in arg:
            out += [pending, arg]
            i += 1
            continue
        pending = None
        out.append(arg)
        if arg in MULTI_VALUE_OPTIONS and i + 1 < len(args):
            out.append(args[i + 1])
            pending = arg
            i += 2
            continue
        i += 1
    return out


def _pairs(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """``key=value`` words as pairs; ``key`` alone means an empty value (as az's ``--tags``)."""
    pairs: list[tuple[str, str]] = []
    for value in values:
        key, _, text = value.partition("=")
        if not key.strip():
            raise click.BadParameter(f"{value!r} is not key=value (for example team=vision)")
        pairs.append((key.strip(), text))
    return tuple(pairs)


def tags_option(func: F) -> F:
    return click.option(
        "--tags",
        metavar="KEY=VALUE",
        multiple=True,
        callback=_pairs,
        help="Space-separated key=value tags: --tags team=vision stage=dev.",
    )(func)


def set_option(func: F) -> F:
    return click.option(
        "--set",
        "sets",
        metavar="KEY=VALUE",
        multiple=True,
        help="Override a field after the file and flags apply: --set tags.team=vision.",
    )(func)


def file_option(func: F) -> F:
    return click.option(
        "-f",
        "--file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Azure ML v2 YAML spec; flags and --set override its fields.",
    )(func)


def deployment_endpoint_option(required: bool) -> Callable[[F], F]:
    """``-e/--endpoint-name`` of the deployment commands (batch and online)."""
    suffix = "." if required else " (default: the file's endpoint_name)."
    return click.option(
        "-e", "--endpoint-name", required=required, help="Endpoint of the deployment" + suffix
    )


def deployment_file_option(required: bool) -> Callable[[F], F]:
    """``-f/--file`` of the deployment commands (batch and online)."""
    return click.option(
        "-f",
        "--file",
        required=required,
        type=click.Path(dir_okay=False, path_type=Path),
        help="Azure ML v2 deployment YAML; --name, --endpoint-name and --set override it.",
    )


def local_path(value: str | None) -> str | None:
    """A flag's local path made absolute against the current folder (URIs stay as they are).

    Flags are relative to where the command runs, while paths inside a ``-f`` file are relative
    to the file; making flag paths absolute first keeps the loader from re-basing them.
    """
    if value is None or is_uri(value):
        return value
    return str(Path(value).expanduser().resolve())


def _set_field(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    target = data
    for part in parents:
        nested = target.get(part)
        nested = dict(nested) if isinstance(nested, dict) else {}
        target[part] = nested
        target = nested
    if isinstance(value, dict) and isinstance(target.get(leaf), dict):
        target[leaf] = {**target[leaf], **value}  # --tags adds to the file's tags
    else:
        target[leaf] = value


def build_spec(cls: type[S], file: Path | None, fields: dict[str, Any], sets: Sequence[str]) -> S:
    """Validate ``-f FILE``, then the flags (dotted keys; ``None`` = not given), then ``--set``."""
    data = read_yaml(file) if file is not None else {}
    for key, value in fields.items():
        if value is not None and value != {}:
            _set_field(data, key, value)
    data = apply_overrides(data, list(sets))
    base = file.resolve().parent if file is not None else Path.cwd()
    return spec_from_data(cls, data, source=str(file) if file is not None else None, base_dir=base)
