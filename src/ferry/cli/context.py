"""Global options (``--workspace``, ``--query``, ``-o``, ``--debug``) and the per-run state.

As with ``az``, the global options are accepted on every command as well as before the first
group (``ferry --workspace ws model list`` and ``ferry model list --workspace ws`` agree). Each
occurrence records its value in :class:`CliState`, which lives in ``ctx.meta`` (one dict shared by
every context of an invocation); a value given on the command wins over one given earlier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import ValidationError

from ferry.client import MLClient
from ferry.errors import InvalidInputError
from ferry.settings import Settings

__all__ = [
    "OUTPUT_FORMATS",
    "CliState",
    "client",
    "global_options",
    "settings",
    "state",
]

F = TypeVar("F", bound=Callable[..., Any])

OUTPUT_FORMATS = ("json", "jsonc", "yaml", "table", "tsv", "none")
_KEY = "ferry.cli.state"


@dataclass
class CliState:
    """What the global options asked for, plus the lazily built settings and client."""

    workspace: Path | None = None
    query: str | None = None
    output: str = "json"
    debug: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _client: MLClient | None = field(default=None, repr=False)


def state(ctx: click.Context) -> CliState:
    """The invocation's state (created on first use)."""
    found = ctx.meta.get(_KEY)
    if not isinstance(found, CliState):
        found = CliState()
        ctx.meta[_KEY] = found
    return found


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    # Options not given on this command keep what an earlier occurrence (before the group) set.
    if value is None or value is False:
        return value
    current = state(ctx)
    if param.name == "query":
        try:
            jmespath.compile(value)
        except JMESPathError as exc:
            raise click.BadParameter(f"not a valid JMESPath expression ({exc})") from exc
    if param.name == "output":
        value = value.lower()
    setattr(current, str(param.name), value)
    return value


_GLOBAL_OPTIONS: tuple[Callable[[F], F], ...] = (
    click.option(
        "--workspace",
        type=click.Path(file_okay=False, path_type=Path),
        expose_value=False,
        callback=_remember,
        help="Workspace folder (default: $FERRY_WORKSPACE, else ~/.ferry).",
    ),
    click.option(
        "--query",
        metavar="JMESPATH",
        expose_value=False,
        callback=_remember,
        help="JMESPath query applied to the result, e.g. --query version.",
    ),
    click.option(
        "-o",
        "--output",
        type=click.Choice(OUTPUT_FORMATS, case_sensitive=False),
        expose_value=False,
        callback=_remember,
        help="Output format (default: json).",
    ),
    click.option(
        "--debug",
        is_flag=True,
        default=False,
        expose_value=False,
        callback=_remember,
        help="Show the full traceback of errors.",
    ),
)


def global_options(func: F) -> F:
    """Add the global options to a command or group."""
    for option in reversed(_GLOBAL_OPTIONS):
        func = option(func)
    return func


def settings(ctx: click.Context) -> Settings:
    """Settings built once from the global options and ``FERRY_*`` variables."""
    current = state(ctx)
    if current._settings is None:
        overrides: dict[str, Any] = {}
        if current.workspace is not None:
            overrides["workspace"] = current.workspace
        try:
            current._settings = Settings(**overrides)
        except ValidationError as exc:
            problems = "; ".join(
                f"FERRY_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
                for err in exc.errors()
            )
            raise InvalidInputError(
                f"invalid Ferry setting ({problems}); fix the environment variable."
            ) from exc
    return current._settings


def client(ctx: click.Context) -> MLClient:
    """The SDK client for this invocation; starts the local server if none is running."""
    current = state(ctx)
    if current._client is None:
        current._client = MLClient(settings=settings(ctx))
        ctx.find_root().call_on_close(current._client.close)
    return current._client
