"""``ferry model|data|environment|code``: one factory, since the four share their verbs.

Each group is built from an :class:`AssetKindCli` (see :mod:`ferry.cli.asset_kinds`): the entity
class, how to reach its operations on ``MLClient``, the kind's own ``create`` flags and which
verbs it has. The verbs and flags follow ``az ml model ...``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
import yaml

from ferry.cli.context import client, global_options
from ferry.cli.output import emit
from ferry.cli.params import build_spec, file_option, set_option, tags_option
from ferry.client import MLClient
from ferry.client.operations import AssetOperations
from ferry.errors import InvalidInputError
from ferry.specs.base import Spec

__all__ = ["AssetKindCli", "asset_group"]

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


@dataclass(frozen=True)
class AssetKindCli:
    """What differs between the asset groups."""

    noun: str
    summary: str
    entity: type[Spec]
    operations: Callable[[MLClient], AssetOperations[Any]]
    #: The kind's own ``create`` flags, and how their values map to (dotted) spec fields.
    create_options: tuple[Decorator, ...]
    create_fields: Callable[[dict[str, Any]], dict[str, Any]]
    example: str
    verbs: tuple[str, ...]


def _command(
    name: str, help_text: str, options: list[Decorator], body: Callable[..., Any]
) -> click.Command:
    func: Callable[..., Any] = click.pass_context(body)
    for option in reversed([*options, global_options]):
        func = option(func)
    return click.command(name, help=help_text)(func)


def _name(required: bool = True) -> Decorator:
    return click.option("-n", "--name", required=required, help="Asset name.")


def _version(help_text: str, required: bool = False) -> Decorator:
    return click.option("-v", "--version", required=required, help=help_text)


def _create(kind: AssetKindCli) -> click.Command:
    def create(
        ctx: click.Context,
        name: str | None,
        version: str | None,
        description: str | None,
        tags: tuple[tuple[str, str], ...],
        file: Any,
        sets: tuple[str, ...],
        **flags: Any,
    ) -> None:
        fields = {"name": name, "version": version, "description": description, "tags": dict(tags)}
        fields.update(kind.create_fields(flags))
        spec = build_spec(kind.entity, file, fields, sets)
        emit(ctx, kind.operations(client(ctx)).create_or_update(spec))

    return _command(
        "create",
        f"Register a new {kind.noun} version (as `az ml {kind.noun} create`).\n\n"
        f"Fields come from -f FILE, then the flags, then --set. Without --version the next "
        f"integer version is used.\n\n\b\nExample:\n  {kind.example}",
        [
            _name(required=False),
            _version("Version; default: the next integer."),
            click.option("-d", "--description", help="Free-text description."),
            *kind.create_options,
            tags_option,
            file_option,
            set_option,
        ],
        create,
    )


def _show(kind: AssetKindCli) -> click.Command:
    def show(ctx: click.Context, name: str, version: str | None, label: str | None) -> None:
        if version and label:
            raise click.UsageError("pass --version or --label, not both.")
        emit(ctx, kind.operations(client(ctx)).get(name, version=version, label=label))

    return _command(
        "show",
        f"Show one {kind.noun} version (default: --label latest).",
        [
            _name(),
            _version("Version to show."),
            click.option("-l", "--label", help="Label to resolve; 'latest' is the newest version."),
        ],
        show,
    )


def _list(kind: AssetKindCli) -> click.Command:
    def list_(
        ctx: click.Context,
        name: str | None,
        include_archived: bool,
        archived_only: bool,
        max_results: int | None,
    ) -> None:
        ops = kind.operations(client(ctx))
        items: Any = ops.list(name, include_archived=include_archived or archived_only)
        if archived_only:
            items = (item for item in items if item.archived)
        emit(ctx, list(itertools.islice(items, max_results)))

    return _command(
        "list",
        f"List the latest version of every {kind.noun}, or every version of --name.",
        [
            _name(required=False),
            click.option("--include-archived", is_flag=True, help="Also list archived versions."),
            click.option("--archived-only", is_flag=True, help="List only archived versions."),
            click.option(
                "-r", "--max-results", type=click.IntRange(min=1), help="List at most this many."
            ),
        ],
        list_,
    )


def _download(kind: AssetKindCli) -> click.Command:
    def download(ctx: click.Context, name: str, version: str | None, download_path: str) -> None:
        ops = kind.operations(client(ctx))
        version = version or ops.get(name).version
        path = ops.download(name, version=version, download_path=download_path)
        emit(ctx, {"name": name, "version": version, "download_path": str(path.resolve())})

    return _command(
        "download",
        f"Download a {kind.noun} version's files into DOWNLOAD_PATH/<name>/.",
        [
            _name(),
            _version("Version to download; default: the latest."),
            click.option(
                "-p", "--download-path", default=".", show_default=True, help="Destination folder."
            ),
        ],
        download,
    )


def _archiver(kind: AssetKindCli, verb: str) -> click.Command:
    def run(ctx: click.Context, name: str, version: str | None) -> None:
        ops = kind.operations(client(ctx))
        changed = ops.archive(name, version) if verb == "archive" else ops.restore(name, version)
        # One version in, one entity out; the whole container gives the list of its versions.
        emit(ctx, changed[0] if version and len(changed) == 1 else changed)

    doing = "Archive (hide from listings)" if verb == "archive" else "Restore (un-archive)"
    return _command(
        verb,
        f"{doing} one {kind.noun} version, or every version of --name.",
        [_name(), _version("Version; default: every version.")],
        run,
    )


def _update(kind: AssetKindCli) -> click.Command:
    def update(
        ctx: click.Context, name: str, version: str, sets: tuple[str, ...], removes: tuple[str, ...]
    ) -> None:
        if not sets and not removes:
            raise click.UsageError(
                "nothing to update; pass --set description=... or --set tags.k=v."
            )
        # Check the assignments before asking the server, so a typo fails fast and offline.
        _apply_update(kind.noun, None, {}, sets, removes)
        ops = kind.operations(client(ctx))
        current = ops.get(name, version=version)
        description, tags = _apply_update(
            kind.noun, current.description, dict(current.tags), sets, removes
        )
        emit(ctx, ops.update(name, version, description=description, tags=tags))

    return _command(
        "update",
        f"Change the description or tags of a {kind.noun} version (the rest is immutable).\n\n"
        f"\b\nExample:\n  ferry {kind.noun} update -n NAME -v 1 --set description=hi tags.team=ml",
        [
            _name(),
            _version("Version to update.", required=True),
            set_option,
            click.option(
                "--remove", "removes", metavar="KEY", multiple=True, help="Remove tags.KEY."
            ),
        ],
        update,
    )


def _apply_update(
    noun: str,
    description: str | None,
    tags: dict[str, str],
    sets: tuple[str, ...],
    removes: tuple[str, ...],
) -> tuple[str | None, dict[str, str]]:
    # Values stay verbatim strings: YAML-parsing them would turn tags.v=1.10 into 1.1.
    for item in sets:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInputError(
                f"--set {item!r} is not key=value; write for example --set description=hello.",
                details={"field": "--set", "value": item},
            )
        if key == "description":
            description = value
        elif key.startswith("tags.") and len(key) > len("tags."):
            tags[key.removeprefix("tags.")] = value
        elif key == "tags":
            parsed = yaml.safe_load(value) if value.strip() else {}
            if not isinstance(parsed, dict):
                raise InvalidInputError(
                    "--set tags=... needs a mapping, for example --set 'tags={team: ml}'.",
                    details={"field": "tags"},
                )
            tags = {str(k): "" if v is None else str(v) for k, v in parsed.items()}
        else:
            raise _immutable(noun, key)
    for key in removes:
        if key.startswith("tags.") and len(key) > len("tags."):
            tags.pop(key.removeprefix("tags."), None)
        elif key == "description":
            description = ""
        else:
            raise _immutable(noun, key)
    return description, tags


def _immutable(noun: str, key: str) -> InvalidInputError:
    return InvalidInputError(
        f"'{key}' cannot be updated: only description and tags.<key> change on an existing "
        f"{noun} version; register a new version with `ferry {noun} create` instead.",
        details={"field": key},
    )


_VERBS: dict[str, Callable[[AssetKindCli], click.Command]] = {
    "create": _create,
    "show": _show,
    "list": _list,
    "download": _download,
    "archive": lambda kind: _archiver(kind, "archive"),
    "restore": lambda kind: _archiver(kind, "restore"),
    "update": _update,
}


def asset_group(kind: AssetKindCli) -> click.Group:
    """The ``ferry <noun>`` group with the kind's verbs."""
    group = click.Group(kind.noun, help=kind.summary)
    for verb in kind.verbs:
        group.add_command(_VERBS[verb](kind))
    return group
