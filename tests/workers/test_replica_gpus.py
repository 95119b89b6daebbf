"""Online replicas asking for a GPU (Azure's Kubernetes ``resources.requests.nvidia.com/gpu``)
each get their own device on this machine, as batch workers do: a real server that sees two
GPUs (``FERRY_GPUS``; no GPU is needed), real replicas."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferry import KubernetesOnlineDeployment, MLClient
from ferry.errors import InvalidInputError
from ferry.server.online_prepare import replica_resources
from tests.online.conftest import SERVER_PYTHON, make_endpoint, write_code

RECORD_GPU = """
import os
from pathlib import Path

def init():
    seen = os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")
    Path(os.environ["GPU_DIR"], str(os.getpid())).write_text(seen)

def run(raw):
    return {"ok": True}
"""


@pytest.fixture(scope="module")
def two_gpus() -> Iterator[None]:
    """The server started in this module sees two GPUs."""
    before = os.environ.get("FERRY_GPUS")
    os.environ["FERRY_GPUS"] = "0,1"
    yield
    if before is None:
        os.environ.pop("FERRY_GPUS", None)
    else:
        os.environ["FERRY_GPUS"] = before


@pytest.fixture(scope="module")
def ml_client(two_gpus: None, ml_client: MLClient) -> MLClient:
    """The suite's client, its server started while ``FERRY_GPUS`` is set."""
    return ml_client


def test_two_replicas_asking_for_a_gpu_get_one_each(ml_client: MLClient, tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", RECORD_GPU)
    seen = tmp_path / "seen"
    seen.mkdir()
    make_endpoint(ml_client, "gpu-ep")
    deployment = KubernetesOnlineDeployment(
        name="main",
        endpoint_name="gpu-ep",
        code_configuration={"code": str(code), "scoring_script": "score.py"},
        environment=SERVER_PYTHON,
        instance_count=2,
        resources={"requests": {"nvidia.com/gpu": 1}},
        environment_variables={"GPU_DIR": str(seen)},
    )
    ml_client.online_deployments.begin_create_or_update(deployment).result(timeout=60)
    assert sorted(p.read_text() for p in seen.iterdir()) == ["0", "1"]


def test_resources_map_the_gpu_request_and_name_a_bad_one() -> None:
    assert replica_resources(None).gpus is None
    assert replica_resources({"limits": {"nvidia.com/gpu": "2"}}).gpus == 2.0
    assert replica_resources({"requests": {"cpu": "500m", "nvidia.com/gpu": 1}}).gpus == 1.0
    with pytest.raises(InvalidInputError, match=r"resources.requests.nvidia.com/gpu must be a"):
        replica_resources({"requests": {"nvidia.com/gpu": "one"}})
