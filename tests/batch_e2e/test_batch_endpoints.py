"""Batch endpoints, deployments and jobs through the SDK against a real server and real workers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ferry import BatchDeployment, BatchEndpoint, Input, MLClient, Model
from ferry.client.entities import CodeConfiguration
from ferry.errors import ConflictError, InvalidInputError, NotFoundError, SpecError
from ferry.specs.batch import BatchDeploymentSettings, BatchRetrySettings, CodeConfigurationSpec
from ferry.specs.loader import load_spec
from tests.batch_e2e.conftest import make_inputs, write_script

ECHO = """
import os
from pathlib import Path

def init():
    global out
    out = os.environ["AZUREML_BI_OUTPUT_PATH"]

def run(mini_batch):
    return [f"{Path(p).name} {Path(p).read_text()}" for p in mini_batch]
"""


def _deploy(
    ml_client: MLClient, tmp_path: Path, endpoint: str, name: str, script: str, **settings: object
) -> None:
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=endpoint))
    code = write_script(tmp_path / f"code-{name}", script)
    model_file = tmp_path / f"weights-{name}.bin"
    model_file.write_bytes(b"w")
    deployment = BatchDeployment(
        name=name,
        endpoint_name=endpoint,
        model=Model(name=f"{name}-model", path=str(model_file)),
        code_configuration=CodeConfigurationSpec(code=str(code), scoring_script="driver.py"),
        environment="ferry:server-python",
        settings=BatchDeploymentSettings(**settings),  # type: ignore[arg-type]
    )
    ml_client.batch_deployments.begin_create_or_update(deployment, set_default=True)


def test_invoke_folder_end_to_end(ml_client: MLClient, tmp_path: Path) -> None:
    _deploy(ml_client, tmp_path, "echo-endpoint", "echo", ECHO, mini_batch_size=3)
    data = make_inputs(tmp_path / "inputs", 20)
    job = ml_client.batch_endpoints.invoke(
        endpoint_name="echo-endpoint", input=Input(type="uri_folder", path=str(data))
    )
    done = ml_client.jobs.wait(job.name, timeout=120)
    assert done.status == "Completed", done.error
    out = ml_client.jobs.download(job.name, download_path=str(tmp_path / "dl"), output_name="score")
    frame = pd.read_csv(out / "predictions.csv", header=None, names=["file", "value"], sep=" ")
    assert list(frame["file"]) == [f"item-{i:05d}.txt" for i in range(20)]
    assert list(frame["value"]) == list(range(20))
    assert done.progress and done.progress["items_succeeded"] == 20
    jobs = ml_client.batch_deployments.list_jobs("echo-endpoint", "echo")
    assert job.name in [j.name for j in jobs]


def test_unknown_endpoint_and_no_default(ml_client: MLClient, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="batch endpoint 'nope-endpoint' does not exist"):
        ml_client.batch_endpoints.invoke(
            endpoint_name="nope-endpoint", input=Input(path=str(tmp_path))
        )
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name="empty-endpoint"))
    with pytest.raises(ConflictError, match="No valid deployments to route to"):
        ml_client.batch_endpoints.invoke(
            endpoint_name="empty-endpoint", input=Input(path=str(tmp_path))
        )


def test_bad_endpoint_name_quotes_rule(ml_client: MLClient) -> None:
    with pytest.raises(InvalidInputError, match="3-32 letters"):
        BatchEndpoint(name="9lives")


def test_deployment_with_missing_model_reference(ml_client: MLClient, tmp_path: Path) -> None:
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name="ref-endpoint"))
    with pytest.raises(NotFoundError, match="model 'azureml:ghost@latest' does not resolve"):
        ml_client.batch_deployments.begin_create_or_update(
            BatchDeployment(
                name="ghost",
                endpoint_name="ref-endpoint",
                model="azureml:ghost@latest",
                environment="ferry:server-python",
                code_configuration=CodeConfigurationSpec(
                    code=str(write_script(tmp_path / "c", ECHO)), scoring_script="driver.py"
                ),
            )
        )


def test_missing_run_is_refused_at_create(ml_client: MLClient, tmp_path: Path) -> None:
    # Parsed at create, as online does; a job never starts on it (a script that loses run() at
    # run time still fails its job: tests/batch/test_engine_failures.py).
    with pytest.raises(SpecError, match=r"driver.py defines no run\(\) function") as info:
        _deploy(ml_client, tmp_path, "norun-endpoint", "norun", "def init():\n    pass\n")
    assert "Add `def run(mini_batch):` to driver.py" in info.value.message
    with pytest.raises(NotFoundError):
        ml_client.batch_deployments.get("norun", "norun-endpoint")


def test_overrides_and_output_file_name(ml_client: MLClient, tmp_path: Path) -> None:
    _deploy(ml_client, tmp_path, "ovr-endpoint", "ovr", ECHO)
    job = ml_client.batch_endpoints.invoke(
        endpoint_name="ovr-endpoint",
        input=Input(path=str(make_inputs(tmp_path / "i", 7))),
        params_override=[{"mini_batch_size": 2}, {"output_file_name": "scores.csv"}],
        job_name="ovr-job-1",
    )
    assert job.name == "ovr-job-1"
    done = ml_client.jobs.wait(job.name, timeout=120)
    assert done.status == "Completed", done.error
    assert done.progress and done.progress["mini_batches_total"] == 4
    out = ml_client.jobs.download(job.name, download_path=str(tmp_path / "dl"), all=True)
    assert (out / "scores.csv").is_file()
    assert (tmp_path / "dl" / "logs" / "job_result.txt").is_file()


def test_unknown_override_is_refused(ml_client: MLClient, tmp_path: Path) -> None:
    _deploy(ml_client, tmp_path, "bad-ovr-endpoint", "badovr", ECHO)
    with pytest.raises(InvalidInputError, match="cannot override colour"):
        ml_client.batch_endpoints.invoke(
            endpoint_name="bad-ovr-endpoint",
            input=Input(path=str(make_inputs(tmp_path / "i", 1))),
            params_override=[{"colour": "red"}],
        )


def test_shared_heart_yaml_loads(examples: Path) -> None:
    base = examples / "batch/deploy-models/heart-classifier-mlflow"
    endpoint = load_spec(BatchEndpoint, base / "endpoint.yml")
    deployment = load_spec(BatchDeployment, base / "deployment-simple" / "deployment.yml")
    assert endpoint.name == "heart-classifier-batch"
    settings = deployment.effective_settings()
    assert settings.mini_batch_size == 2 and settings.retry_settings.timeout == 300
    assert deployment.effective_instance_count() == 2
    assert isinstance(settings.retry_settings, BatchRetrySettings)
    assert CodeConfiguration  # the SDK name exists


ENV_ECHO = """
import hashlib
import os
from pathlib import Path

def init():
    pass

def run(mini_batch):
    ok = hashlib.sha256(os.environ["API_TOKEN"].encode()).hexdigest()[:12] == "1be43534066c"
    return [f"{Path(p).name} {ok} {os.environ['PLAIN']}" for p in mini_batch]
"""


def test_secrets_mapped_into_workers_never_on_disk(ml_client: MLClient, tmp_path: Path) -> None:
    ml_client.secrets.set("API_TOKEN", "tok-123-secret")
    _deploy(
        ml_client,
        tmp_path,
        "env-endpoint",
        "envdep",
        ENV_ECHO,
        environment_variables={"API_TOKEN": "${{secrets.API_TOKEN}}", "PLAIN": "p"},
    )
    job = ml_client.batch_endpoints.invoke(
        endpoint_name="env-endpoint", input=Input(path=str(make_inputs(tmp_path / "i", 2)))
    )
    done = ml_client.jobs.wait(job.name, timeout=120)
    assert done.status == "Completed", done.error
    out = ml_client.jobs.download(job.name, download_path=str(tmp_path / "dl"), all=True)
    assert "True p" in (out / "predictions.csv").read_text()
    for file in ml_client.settings.resolved_workspace.rglob("*"):
        if file.is_file() and file.suffix not in (".db", ".db-wal", ".db-shm"):
            assert b"tok-123-secret" not in file.read_bytes(), file


def test_missing_secret_fails_in_preparing(ml_client: MLClient, tmp_path: Path) -> None:
    _deploy(
        ml_client,
        tmp_path,
        "nosecret-endpoint",
        "nosecret",
        ENV_ECHO,
        environment_variables={"API_TOKEN": "${{secrets.NOT_THERE}}", "PLAIN": "p"},
    )
    job = ml_client.batch_endpoints.invoke(
        endpoint_name="nosecret-endpoint", input=Input(path=str(make_inputs(tmp_path / "i", 1)))
    )
    done = ml_client.jobs.wait(job.name, timeout=60)
    assert done.status == "Failed"
    assert done.error and "NOT_THERE" in done.error and "ferry secret set" in done.error


def test_uri_file_input_and_output_path_never_overwrites(
    ml_client: MLClient, tmp_path: Path
) -> None:
    _deploy(ml_client, tmp_path, "file-endpoint", "filedep", ECHO)
    single = tmp_path / "one.txt"
    single.write_text("41")
    target = "azureml://datastores/workspaceblobstore/paths/results/run-1"
    job = ml_client.batch_endpoints.invoke(
        endpoint_name="file-endpoint",
        input=Input(type="uri_file", path=str(single)),
        output_path=target,
    )
    done = ml_client.jobs.wait(job.name, timeout=60)
    assert done.status == "Completed", done.error
    published = ml_client.settings.resolved_workspace / "blobstore/results/run-1/predictions.csv"
    assert published.read_text().split() == ["one.txt", "41"]
    with pytest.raises(ConflictError, match="never overwrites"):
        ml_client.batch_endpoints.invoke(
            endpoint_name="file-endpoint",
            input=Input(type="uri_file", path=str(single)),
            output_path=target,
        )


def test_allow_reuse(ml_client: MLClient, tmp_path: Path) -> None:
    _deploy(ml_client, tmp_path, "reuse-endpoint", "reusedep", ECHO)
    data = make_inputs(tmp_path / "i", 4)
    first = ml_client.batch_endpoints.invoke(
        endpoint_name="reuse-endpoint", input=Input(path=str(data), mode=None), in_place=True
    )
    assert ml_client.jobs.wait(first.name, timeout=60).status == "Completed"
    second = ml_client.batch_endpoints.invoke(
        endpoint_name="reuse-endpoint",
        input=Input(path=str(data)),
        in_place=True,
        allow_reuse=True,
    )
    done = ml_client.jobs.wait(second.name, timeout=60)
    assert done.status == "Completed"
    assert (done.model_extra or {}).get("reused_from") == first.name
    third = ml_client.batch_endpoints.invoke(
        endpoint_name="reuse-endpoint", input=Input(path=str(data)), in_place=True
    )
    assert not (ml_client.jobs.wait(third.name, timeout=60).model_extra or {}).get("reused_from")


V1_SCRIPT = """
from pathlib import Path

from azureml.core import Model, Run


def init():
    global weights
    weights = Path(Model.get_model_path("v1-model")).read_bytes()
    Run.get_context().log("loaded", len(weights))


def run(mini_batch):
    return [f"{Path(p).name} {len(weights)}" for p in mini_batch]
"""


def test_v1_azureml_core_script_runs_unchanged(ml_client: MLClient, tmp_path: Path) -> None:
    _deploy(ml_client, tmp_path, "v1-endpoint", "v1", V1_SCRIPT)
    job = ml_client.batch_endpoints.invoke(
        endpoint_name="v1-endpoint", input=Input(path=str(make_inputs(tmp_path / "i", 3)))
    )
    done = ml_client.jobs.wait(job.name, timeout=120)
    assert done.status == "Completed", done.error
    out = ml_client.jobs.download(job.name, download_path=str(tmp_path / "dl"), all=True)
    assert (out / "predictions.csv").read_text().split() == [
        "item-00000.txt",
        "1",
        "item-00001.txt",
        "1",
        "item-00002.txt",
        "1",
    ]
    logs = "".join(p.read_text() for p in (tmp_path / "dl" / "logs").rglob("*.txt"))
    assert "metric loaded=1" in logs


def test_missing_python_version_notice_or_strict_error(ml_client: MLClient, tmp_path: Path) -> None:
    from ferry import Environment

    # 3.5 is never used (older than Ferry's worker runtime supports), installed or not
    conda = {"dependencies": ["python=3.5", "pip", {"pip": ["six==1.16.0"]}]}
    env = ml_client.environments.create_or_update(Environment(name="py38", conda_file=conda))
    for strict in (False, True):
        name = f"py38-{'strict' if strict else 'closest'}"
        ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=name)).result()
        code = write_script(tmp_path / f"code-{name}", ECHO)
        ml_client.batch_deployments.begin_create_or_update(
            BatchDeployment(
                name="d",
                endpoint_name=name,
                code_configuration=CodeConfigurationSpec(
                    code=str(code), scoring_script="driver.py"
                ),
                environment=f"azureml:py38:{env.raw['version']}",
                properties={"ferry_python": "strict"} if strict else {},
            )
        ).result()
        job = ml_client.batch_endpoints.invoke(
            endpoint_name=name, input=Input(path=str(make_inputs(tmp_path / f"i-{name}", 2)))
        )
        done = ml_client.jobs.wait(job.name, timeout=300)
        notices = (done.model_extra or {}).get("notices", [])
        if strict:
            assert done.status == "Failed"
            assert done.error and "3.5" in done.error and "ferry_python is strict" in done.error
        else:
            assert done.status == "Completed", done.error
            assert any("for python=3.5: " in n for n in notices), notices


def test_latest_is_pinned_when_the_deployment_is_created(
    ml_client: MLClient, tmp_path: Path
) -> None:
    weights = tmp_path / "pin.bin"
    weights.write_bytes(b"one")
    ml_client.models.create_or_update(Model(name="pinned-model", path=str(weights)))
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name="pin-endpoint")).result()
    stored = ml_client.batch_deployments.begin_create_or_update(
        BatchDeployment(
            name="pin",
            endpoint_name="pin-endpoint",
            model="azureml:pinned-model@latest",
            code_configuration=CodeConfigurationSpec(
                code=str(write_script(tmp_path / "c", ECHO)), scoring_script="driver.py"
            ),
            environment="ferry:server-python",
        )
    ).result()
    assert stored.model == "azureml:pinned-model:1"
    weights.write_bytes(b"two")
    ml_client.models.create_or_update(Model(name="pinned-model", path=str(weights)))
    shown = ml_client.batch_deployments.get("pin", endpoint_name="pin-endpoint")
    assert shown.model == "azureml:pinned-model:1"
