"""A real server per module, real replicas, real HTTP; helpers to deploy scripts and score."""

from __future__ import annotations

import re
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferry import (
    CodeConfiguration,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    MLClient,
    OnlineDeployment,
)

SERVER_PYTHON = "ferry:server-python"


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """A scoring client that opens a connection per request.

    The server's listening socket is created without IPPROTO_TCP, so asyncio does not set
    TCP_NODELAY on accepted connections and a kept-alive connection stalls ~40 ms per response
    (Nagle + delayed ACK); fresh connections are acknowledged at once.
    """
    with httpx.Client(
        timeout=30.0, limits=httpx.Limits(max_keepalive_connections=0, max_connections=64)
    ) as client:
        yield client


def write_code(folder: Path, source: str, name: str = "score.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(source), encoding="utf-8")
    return folder


def make_endpoint(ml_client: MLClient, name: str, **fields: Any) -> ManagedOnlineEndpoint:
    return ml_client.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name=name, **fields)
    ).result()


def deploy(
    ml_client: MLClient,
    endpoint: str,
    name: str,
    code: Path,
    *,
    all_traffic: bool = True,
    timeout: float = 60,
    **fields: Any,
) -> OnlineDeployment:
    """Deploy ``code/score.py`` in the server's interpreter and wait until it is Succeeded."""
    deployment = ManagedOnlineDeployment(
        name=name,
        endpoint_name=endpoint,
        code_configuration=fields.pop(
            "code_configuration", CodeConfiguration(code=str(code), scoring_script="score.py")
        ),
        environment=fields.pop("environment", SERVER_PYTHON),
        **fields,
    )
    poller = ml_client.online_deployments.begin_create_or_update(
        deployment, all_traffic=all_traffic
    )
    return poller.result(timeout=timeout)


def scoring(ml_client: MLClient, endpoint: str) -> tuple[str, dict[str, str]]:
    """(scoring_uri, headers with the primary key)."""
    keys = ml_client.online_endpoints.get_keys(endpoint)
    uri = ml_client.online_endpoints.get(endpoint).scoring_uri
    assert uri is not None
    return uri, {"Authorization": f"Bearer {keys.primary_key}"}  # type: ignore[union-attr]


def metric(http: httpx.Client, ml_client: MLClient, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    text = http.get(ml_client.server_url + "/metrics").text
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            total += float(match.group(2))
    return total


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")
