"""Pieces the batch command groups share: az's ``--yes``/``--no-wait``, specs rebuilt from the
server's view for ``update``, and invoke's ``--set`` turned into ``params_override`` entries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from ferry.client.entities import Tracked
from ferry.specs.base import Spec
from ferry.specs.loader import apply_overrides, spec_from_data

__all__ = [
    "confirm_delete",
    "no_wait_option",
    "params_override",
    "spec_from_view",
    "yes_option",
]

S = TypeVar("S", bound=Spec)
F = TypeVar("F", bound=Callable[..., Any])


def yes_option(func: F) -> F:
    return click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")(func)


def no_wait_option(func: F) -> F:
    # az scripts pass --no-wait; Ferry's create/update/delete finish before returning anyway.
    return click.option(
        "--no-wait",
        is_flag=True,
        help="Accepted for az compatibility; the command returns when the change is done.",
    )(func)


def confirm_delete(what: str, yes: bool) -> None:
    """Ask before deleting unless ``--yes``; declining exits 1 as ``az`` does."""
    if not yes:
        click.confirm(f"Delete {what}?", abort=True, err=True)


def spec_from_view(cls: type[S], view: dict[str, Any] | Tracked, sets: Sequence[str]) -> S:
    """The spec behind a server view (its computed fields dropped), with ``--set`` applied."""
    if isinstance(view, Tracked):
        view = view.raw
    known = set(cls.model_fields) | {f.alias for f in cls.model_fields.values() if f.alias}
    data = {key: value for key, value in view.items() if key in known}
    return spec_from_data(
        cls, apply_overrides(data, list(sets)), source="--set", base_dir=Path.cwd()
    )


def params_override(sets: Sequence[str], flags: dict[str, Any]) -> list[dict[str, Any]]:
    """``--mini-batch-size 5 --set output_file_name=x.csv`` as ``[{"mini_batch_size": 5}, ...]``.

    Flags given explicitly come first, so a ``--set`` of the same key wins (it is applied later
    on the server). Dotted keys nest: ``--set environment_variables.DEBUG=1``. The server checks
    the keys and names the overridable ones when one is unknown.
    """
    entries = [{key: value} for key, value in flags.items() if value is not None]
    for key, value in apply_overrides({}, list(sets)).items():
        if key == _ENV and isinstance(value, dict):
            value = {name: _env_text(name, value[name], sets) for name in value}
        entries.append({key: value})
    return entries


_ENV = "environment_variables"


def _env_text(name: str, parsed: Any, sets: Sequence[str]) -> str:
    # Environment values are strings: keep the words as typed (1.10 must not become 1.1).
    for item in reversed(sets):
        key, _, raw = item.partition("=")
        if key.strip() == f"{_ENV}.{name}":
            return raw
    return "" if parsed is None else str(parsed)
