"""Real storage services for tests: an S3 server (moto) and Azure Blob (Azurite).

A required service that is missing fails the run, saying how to provide it: a skip would hide
that the suite did not test what it claims.

Use it as a pytest plugin from the top-level ``tests/conftest.py``::

    pytest_plugins = ["fixtures_services"]

Fixtures:

* ``moto_endpoint`` (session): ``http://127.0.0.1:<port>`` of a moto S3 server in a thread.
* ``s3_bucket``: a fresh, empty bucket on it; credentials are :data:`S3_CREDENTIALS`.
* ``s3_spec``: a ``DatastoreSpec`` of type s3 for ``s3_bucket``.
* ``azurite`` (session): an Azurite blob service started with node; its value is the connection
  string. Fails (saying why) when Azurite is not installed: ``make azurite`` installs it into
  ``.cache/azurite``, or point ``FERRY_AZURITE_BIN`` at an ``azurite-blob`` executable.
* ``azure_container``: a fresh, empty container there; ``azure_spec``: its ``DatastoreSpec``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ferry.specs.workspace import DatastoreSpec

S3_CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing-secret"}
S3_REGION = "us-east-1"
# Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
REPO = Path(__file__).resolve().parents[1]
AZURITE_BIN = REPO / ".cache" / "azurite" / "node_modules" / ".bin" / "azurite-blob"


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until something listens on 127.0.0.1:``port``; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the service exited with code {proc.returncode} before listening")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 and a free port, for the whole session."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    wait_for_port(port, timeout=30)
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_client(endpoint: str) -> Any:
    """A boto3 S3 client for the moto server at ``endpoint``, with :data:`S3_CREDENTIALS`."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_REGION,
        aws_access_key_id=S3_CREDENTIALS["access_key_id"],
        aws_secret_access_key=S3_CREDENTIALS["secret_access_key"],
    )


def s3_keys(endpoint: str, bucket: str, prefix: str = "") -> list[str]:
    """Every key under ``prefix`` in ``bucket``, sorted (all pages)."""
    pages = (
        s3_client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    )
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


@pytest.fixture
def s3_bucket(moto_endpoint: str) -> str:
    """A new empty bucket on the moto server."""
    name = f"ferry-{uuid.uuid4().hex[:12]}"
    client = s3_client(moto_endpoint)
    client.create_bucket(Bucket=name)
    client.close()
    return name


@pytest.fixture
def s3_spec(moto_endpoint: str, s3_bucket: str) -> DatastoreSpec:
    """An s3 ``DatastoreSpec`` for ``s3_bucket`` (pass :data:`S3_CREDENTIALS` alongside)."""
    return DatastoreSpec(
        name="s3store",
        type="s3",
        bucket=s3_bucket,
        endpoint_url=moto_endpoint,
        region=S3_REGION,
        prefix="ferry/artifacts",
    )


def _azurite_command() -> list[str]:
    explicit = os.environ.get("FERRY_AZURITE_BIN")
    binary = Path(explicit) if explicit else AZURITE_BIN
    if not binary.exists():
        pytest.fail(
            f"Azurite is not installed at {binary}: run `make azurite` (npm install --prefix "
            ".cache/azurite azurite) or set FERRY_AZURITE_BIN"
        )
    if shutil.which("node") is None:
        pytest.fail("Azurite needs node on PATH, and there is none: install Node.js")
    return [str(binary)]


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An Azurite blob service for the whole session; the value is its connection string."""
    command = _azurite_command()
    port = free_port()
    location = tmp_path_factory.mktemp("azurite")
    log_path = location / "azurite-stderr.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                *command,
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(port),
                "--location",
                str(location),
                "--silent",
                "--skipApiVersionCheck",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        wait_for_port(port, timeout=60, proc=proc)
    except (RuntimeError, TimeoutError) as exc:
        proc.kill()
        proc.wait()
        pytest.fail(f"Azurite did not start: {exc}; stderr: {log_path.read_text(errors='replace')}")
    yield (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def azure_container(azurite: str) -> str:
    """A new empty container in Azurite."""
    from azure.storage.blob import BlobServiceClient

    name = f"ferry-{uuid.uuid4().hex[:12]}"
    with BlobServiceClient.from_connection_string(azurite) as service:
        service.create_container(name)
    return name


@pytest.fixture
def azure_spec(azurite: str, azure_container: str) -> DatastoreSpec:
    """An azure_blob ``DatastoreSpec`` for ``azure_container``.

    Pass ``{"connection_string": azurite}`` as its credentials.
    """
    return DatastoreSpec(
        name="azstore",
        type="azure_blob",
        account_name=AZURITE_ACCOUNT,
        container_name=azure_container,
        prefix="ferry/artifacts",
    )
