"""Seed 004's scoring script, unchanged, on a real server with real workers: arguments in YAML and
as invoke overrides reach ``parse_known_args()`` in ``init()``, which reads Key Vault secrets
through the ``azureml.core`` shim (only those the deployment grants) and ``Run.input_datasets``."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry import BatchDeployment, BatchEndpoint, Input, MLClient
from ferry.errors import InvalidInputError
from ferry.specs.loader import load_spec
from tests.batch_e2e.conftest import make_inputs, write_script

# Modelled on seed 004's mini-batch script: arguments parsed in init(), secrets read from the
# workspace's default Key Vault, the input dataset found through Run.input_datasets.
SEED_004_SCRIPT = """
import argparse
import os

from azureml.core import Run


def init():
    global input_partition, custom_image_key, read_api_key, images
    parser = argparse.ArgumentParser()
    parser.add_argument("--input_partition", dest="input_partition")
    parser.add_argument("--kv_customimage", dest="kv_customimage")
    parser.add_argument("--kv_readapi", dest="kv_readapi")
    args, unknown_args = parser.parse_known_args()
    input_partition = args.input_partition

    run = Run.get_context()
    ws = run.experiment.workspace
    keyvault = ws.get_default_keyvault()
    custom_image_key = keyvault.get_secret(name=args.kv_customimage)
    read_api_key = run.get_secret(name=args.kv_readapi)
    images = Run.input_datasets["images"]


def run(mini_batch):
    result = []
    for path in mini_batch:
        result.append(
            f"{os.path.basename(path)} {input_partition} {custom_image_key} {read_api_key} "
            f"{os.path.dirname(path) == images}"
        )
    return result
"""

DEPLOYMENT_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/modelBatchDeployment.schema.json
name: {name}
endpoint_name: {endpoint}
type: model
code_configuration:
  code: code
  scoring_script: batch_driver.py
environment: ferry:server-python
properties:
  ferry_secrets: [customimagesecret]
settings:
  mini_batch_size: 2
  retry_settings:
    max_retries: 0
  environment_variables:
    READ_KEY: ${{{{secrets.readapisecret}}}}
  program_arguments: >-
    --input_partition 2020/08/07 --kv_customimage customimagesecret --kv_readapi readapisecret
"""

ENDPOINT = "seed-four"


@pytest.fixture(scope="module")
def deployed(ml_client: MLClient, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("seed4")
    write_script(folder / "code", SEED_004_SCRIPT, name="batch_driver.py")
    (folder / "deployment.yml").write_text(
        DEPLOYMENT_YML.format(name="kv", endpoint=ENDPOINT), encoding="utf-8"
    )
    ml_client.secrets.set("customimagesecret", "img-key-123")
    ml_client.secrets.set("readapisecret", "read-key-456")
    ml_client.secrets.set("unlisted", "must-not-leak")
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=ENDPOINT))
    deployment = load_spec(BatchDeployment, folder / "deployment.yml")
    ml_client.batch_deployments.begin_create_or_update(deployment, set_default=True)
    return make_inputs(folder / "images", 3)


def _download(ml_client: MLClient, job_name: str, tmp_path: Path) -> Path:
    """The job's folder as downloaded: ``named-outputs/score/`` and ``logs/``."""
    score = ml_client.jobs.download(job_name, download_path=str(tmp_path / job_name), all=True)
    return score.parents[1]


def _rows(ml_client: MLClient, job_name: str, tmp_path: Path) -> list[str]:
    folder = _download(ml_client, job_name, tmp_path)
    return (folder / "named-outputs" / "score" / "predictions.csv").read_text().splitlines()


def test_yaml_arguments_and_granted_secrets_reach_init(
    ml_client: MLClient, deployed: Path, tmp_path: Path
) -> None:
    job = ml_client.batch_endpoints.invoke(
        endpoint_name=ENDPOINT, inputs={"images": Input(type="uri_folder", path=str(deployed))}
    )
    done = ml_client.jobs.wait(job.name, timeout=120)
    assert done.status == "Completed", done.error
    assert _rows(ml_client, job.name, tmp_path) == [
        f"item-{i:05d}.txt 2020/08/07 img-key-123 read-key-456 True" for i in range(3)
    ]


def test_invoke_overrides_the_arguments(
    ml_client: MLClient, deployed: Path, tmp_path: Path
) -> None:
    job = ml_client.batch_endpoints.invoke(
        endpoint_name=ENDPOINT,
        inputs={"images": Input(type="uri_folder", path=str(deployed))},
        params_override=[
            {
                "arguments": [
                    "--input_partition",
                    "2021/01/01",
                    "--kv_customimage",
                    "customimagesecret",
                    "--kv_readapi",
                    "readapisecret",
                ]
            }
        ],
    )
    done = ml_client.jobs.wait(job.name, timeout=120)
    assert done.status == "Completed", done.error
    assert (
        _rows(ml_client, job.name, tmp_path)[0]
        == "item-00000.txt 2021/01/01 img-key-123 read-key-456 True"
    )


def test_a_secret_the_deployment_does_not_grant_is_refused(
    ml_client: MLClient, deployed: Path, tmp_path: Path
) -> None:
    job = ml_client.batch_endpoints.invoke(
        endpoint_name=ENDPOINT,
        inputs={"images": Input(type="uri_folder", path=str(deployed))},
        params_override=[{"program_arguments": "--kv_customimage unlisted --kv_readapi x"}],
    )
    done = ml_client.jobs.wait(job.name, timeout=120)
    assert done.status == "Failed"
    error = (_download(ml_client, job.name, tmp_path) / "logs" / "job_error.txt").read_text()
    assert "secret 'unlisted' is not granted to this deployment" in error
    assert "it may read: customimagesecret, readapisecret" in error
    assert (
        f"`ferry batch-deployment update --endpoint-name {ENDPOINT} --name kv --set "
        "properties.ferry_secrets=customimagesecret,readapisecret,unlisted`" in error
    )
    assert "must-not-leak" not in error


def test_bad_argument_and_init_timeout_overrides_name_the_field(
    ml_client: MLClient, deployed: Path
) -> None:
    with pytest.raises(InvalidInputError, match="init_timeout=0 must be a whole number"):
        ml_client.batch_endpoints.invoke(
            endpoint_name=ENDPOINT,
            inputs={"images": Input(type="uri_folder", path=str(deployed))},
            params_override=[{"init_timeout": 0}],
        )
    with pytest.raises(InvalidInputError, match="arguments: cannot split"):
        ml_client.batch_endpoints.invoke(
            endpoint_name=ENDPOINT,
            inputs={"images": Input(type="uri_folder", path=str(deployed))},
            params_override=[{"arguments": "--a 'unclosed"}],
        )
