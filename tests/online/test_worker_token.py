"""A replica proves it belongs to its deployment: a client without the token is refused."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferry import MLClient
from ferry.online.channel import Channel, Hub
from ferry.runtime.frames import encode_frame
from tests.batch.forger import FORGER
from tests.online.conftest import deploy, make_endpoint, scoring, write_code

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/cmdline")

SCRIPT = (
    FORGER
    + """

def init():
    forge()

def run(raw):
    return FORGED
"""
)


def test_a_forged_replica_is_refused_and_the_real_one_serves(
    ml_client: MLClient, tmp_path: Path, http: httpx.Client
) -> None:
    code = write_code(tmp_path / "forger", SCRIPT)
    make_endpoint(ml_client, "token-ep")

    # The forger announced the replica's own id while it was in init(): had the gateway taken
    # it, the real replica's ready would be refused and the deployment would not succeed.
    deployment = deploy(ml_client, "token-ep", "main", code)

    assert deployment.provisioning_state == "Succeeded"
    uri, headers = scoring(ml_client, "token-ep")
    answer = http.post(uri, content=b"{}", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"missing": "", "wrong": "", "token_in_environ": False}


class _Peer:
    def __init__(self) -> None:
        self.attached: list[dict[str, Any]] = []

    def attach(self, channel: Channel, header: dict[str, Any]) -> None:
        self.attached.append(header)

    def on_frame(self, header: dict[str, Any], body: bytes) -> None:
        pass

    def on_lost(self, channel: Channel) -> None:
        pass


def test_the_tcp_listener_refuses_a_replica_without_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> _Peer:
        hub = Hub()
        await hub.start()
        peer = _Peer()
        hub.expect("main-0.1.abcd", peer, "deployment-token")
        host, port = (await hub.address_for("tcp", "127.0.0.1")).rsplit(":", 1)
        try:
            for extra in ({}, {"token": "guess"}):
                reader, writer = await asyncio.open_connection(host, int(port))
                hello = {"kind": "ready", "worker_id": "main-0.1.abcd", **extra}
                writer.write(encode_frame(hello))
                assert await asyncio.wait_for(reader.read(), 30) == b""  # dropped
                writer.close()
            assert peer.attached == []  # the id is still the real replica's
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(
                encode_frame(
                    {"kind": "ready", "worker_id": "main-0.1.abcd", "token": "deployment-token"}
                )
            )
            await writer.drain()
            while not peer.attached:
                await asyncio.sleep(0.01)
            writer.close()
        finally:
            await hub.close()
        return peer

    with caplog.at_level(logging.WARNING, logger="ferry.online"):
        peer = asyncio.run(scenario())
    assert peer.attached == [{"kind": "ready", "worker_id": "main-0.1.abcd"}]  # token taken out
    assert caplog.text.count("dropped a worker connection from 127.0.0.1:") == 2
    assert "deployment-token" not in caplog.text
