"""A failed job's record says what kind of failure it was, and its error leads with the kind."""

from __future__ import annotations

from pathlib import Path

from ferry import BatchDeployment, BatchEndpoint, Input, MLClient, Model
from ferry.specs.batch import BatchDeploymentSettings, BatchRetrySettings, CodeConfigurationSpec
from tests.batch_e2e.conftest import make_inputs, write_script

RAISES = """
def run(mini_batch):
    raise ValueError("cannot score this")
"""

OK = """
def run(mini_batch):
    return [str(p) for p in mini_batch]
"""


def _deploy(ml_client: MLClient, tmp_path: Path, endpoint: str, script: str, **env: str) -> None:
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=endpoint))
    code = write_script(tmp_path / f"code-{endpoint}", script)
    model_file = tmp_path / f"weights-{endpoint}.bin"
    model_file.write_bytes(b"w")
    deployment = BatchDeployment(
        name="main",
        endpoint_name=endpoint,
        model=Model(name=f"{endpoint}-model", path=str(model_file)),
        code_configuration=CodeConfigurationSpec(code=str(code), scoring_script="driver.py"),
        environment="ferry:server-python",
        settings=BatchDeploymentSettings(
            retry_settings=BatchRetrySettings(max_retries=0),
            error_threshold=0,
            environment_variables=env,
        ),
    )
    ml_client.batch_deployments.begin_create_or_update(deployment, set_default=True)


def test_failure_kinds_of_jobs(ml_client: MLClient, tmp_path: Path) -> None:
    data = Input(path=str(make_inputs(tmp_path / "inputs", 2)))
    _deploy(ml_client, tmp_path, "kind-raises", RAISES)
    _deploy(ml_client, tmp_path, "kind-secret", OK, API_TOKEN="${{secrets.NOT_THERE}}")
    _deploy(ml_client, tmp_path, "kind-ok", OK)

    raised = ml_client.batch_endpoints.invoke(endpoint_name="kind-raises", input=data)
    done = ml_client.jobs.wait(raised.name, timeout=120)
    assert (done.status, done.failure_kind) == ("Failed", "script_error")
    assert done.error and done.error.startswith("script_error: 2 items failed, over the error_")

    secret = ml_client.batch_endpoints.invoke(endpoint_name="kind-secret", input=data)
    done = ml_client.jobs.wait(secret.name, timeout=120)
    assert (done.status, done.failure_kind) == ("Failed", "preparation_failed")
    assert (
        done.error and done.error.startswith("preparation_failed: ") and "NOT_THERE" in done.error
    )

    ok = ml_client.batch_endpoints.invoke(endpoint_name="kind-ok", input=data)
    done = ml_client.jobs.wait(ok.name, timeout=120)
    assert (done.status, done.failure_kind, done.error) == ("Completed", None, None)
    # Listing one endpoint's jobs (an indexed query now) finds that endpoint's only.
    listed = ml_client.batch_endpoints.list_jobs(endpoint_name="kind-raises")
    assert [j.name for j in listed] == [raised.name]
