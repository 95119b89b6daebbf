"""Pieces the online command groups share: az's ``--traffic "blue=90 green=10"`` words, the
endpoint spec rebuilt from the server's view for ``update``, and waiting for a deployment."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ferry.cli.output import to_data
from ferry.client import MLClient
from ferry.client.online import OnlineDeployment, OnlineEndpoint, Poller
from ferry.errors import FerryError, InvalidInputError
from ferry.specs.loader import apply_overrides, read_yaml, spec_from_data
from ferry.specs.online import OnlineEndpointSpec

__all__ = [
    "endpoint_spec_from_file",
    "endpoint_spec_from_view",
    "parse_split",
    "wait_for_deployment",
]

_SPLIT_KEYS = ("traffic", "mirror_traffic")


def parse_split(flag: str, values: Sequence[str]) -> dict[str, int] | None:
    """``("blue=90 green=10",)`` or ``("blue=90", "green=10")`` as ``{"blue": 90, "green": 10}``.

    ``None`` when the flag was not given. A value that is not ``name=<whole percent>`` is an
    error naming the flag and the word.
    """
    if not values:
        return None
    split: dict[str, int] = {}
    for value in values:
        for word in value.replace(",", " ").split():
            name, sep, percent = word.partition("=")
            if not sep or not name or not percent.strip().isdigit():
                raise InvalidInputError(
                    f"{flag} {word!r} is not <deployment>=<percent>; write for example "
                    f'{flag} "blue=90 green=10".',
                    details={"field": flag},
                )
            split[name] = int(percent)
    return split


def endpoint_spec_from_view(
    endpoint: OnlineEndpoint,
    sets: Sequence[str],
    splits: dict[str, dict[str, int] | None],
) -> OnlineEndpointSpec:
    """The endpoint as it is now, with ``--traffic``/``--mirror-traffic`` and ``--set`` on top.

    A split that no flag or ``--set`` touches is left out, so the server keeps the current one
    (a deployment taking all the traffic meanwhile is not undone). ``--set traffic.green=10``
    changes one entry of the current split, as az's ``--set`` does.
    """
    view = to_data(endpoint)
    data: dict[str, Any] = {k: v for k, v in view.items() if k in OnlineEndpointSpec.model_fields}
    touched = {item.partition("=")[0].strip().split(".")[0] for item in sets}
    for key in _SPLIT_KEYS:
        split = splits.get(key)
        if split is not None:
            data[key] = split
        elif key not in touched:
            data.pop(key, None)
    data = apply_overrides(data, list(sets))
    return spec_from_data(OnlineEndpointSpec, data, source="--traffic/--set", base_dir=Path.cwd())


def endpoint_spec_from_file(
    file: Path,
    fields: dict[str, str | None],
    splits: dict[str, dict[str, int] | None],
    sets: Sequence[str],
) -> OnlineEndpointSpec:
    """``-f FILE``, then the flags (a split flag replaces the file's split), then ``--set``."""
    data = read_yaml(file)
    data.update({key: value for key, value in fields.items() if value is not None})
    data.update({key: split for key, split in splits.items() if split is not None})
    data = apply_overrides(data, list(sets))
    return spec_from_data(
        OnlineEndpointSpec, data, source=str(file), base_dir=file.resolve().parent
    )


def wait_for_deployment(
    ml: MLClient, poller: Poller[OnlineDeployment], name: str, endpoint: str
) -> OnlineDeployment:
    """Wait until the deployment is Succeeded; a failure names the logs command.

    On a terminal, each state change is shown on stderr, as ``az`` shows its progress.
    """
    show_progress = sys.stderr.isatty()
    last = ""
    while True:
        try:
            done = poller.done()
        except FerryError as exc:
            raise FerryError(
                f"{exc.message}\nSee the replica logs with: ferry online-deployment get-logs "
                f"--name {name} --endpoint-name {endpoint}",
                details=exc.details,
            ) from exc
        if done:
            return poller.result()
        if show_progress:
            state = ml.online_deployments.get(name, endpoint).provisioning_state or ""
            if state != last:
                click.echo(f"Deployment {name!r}: {state} ...", err=True)
                last = state
        time.sleep(0.5)
