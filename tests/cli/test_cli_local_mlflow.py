"""The local debug loop on Azure's heart-classifier MLflow model, deployed with no code: Ferry's
built-in scorers run in the model's own environment (``--environment build``, Python 3.8)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli.local_serve import clean_env, serve
from tests.conftest import EXAMPLES

HEART = EXAMPLES / "batch" / "deploy-models" / "heart-classifier-mlflow"
MODEL = HEART / "deployment-simple" / "model"

pytestmark = [
    pytest.mark.slow,  # a cold uv cache builds xgboost, pandas and mlflow for Python 3.8
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One workspace, so the model's environment is built once for both tests."""
    return tmp_path_factory.mktemp("mlflow-local-ws")


def test_azures_deployment_simple_runs_locally_unchanged_but_for_the_model_path(
    workspace: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ferry.cli.main", "batch-deployment", "run", "--local",
         "-f", str(HEART / "deployment-simple" / "deployment.yml"), "--input", str(HEART / "data"),
         "--output-dir", "out", "--set", f"model.path={MODEL}", "--environment", "build"],
        cwd=tmp_path, env=clean_env(workspace), capture_output=True, text=True, timeout=1800,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = (tmp_path / "out" / "predictions.csv").read_text().splitlines()
    inputs = sum(
        len(list(csv.reader(f.open()))) - 1 for f in sorted((HEART / "data").glob("*.csv"))
    )
    assert len(rows) == inputs  # one prediction per input row, over mini-batches of 2 files
    assert "mlflow_scorer.py ready" in result.stdout


def test_a_no_code_online_deployment_serves_azures_input_data_and_the_signatures_swagger(
    workspace: Path, tmp_path: Path
) -> None:
    (tmp_path / "deployment.yml").write_text(
        textwrap.dedent(
            f"""\
            name: heart
            endpoint_name: heart-endpoint
            model:
              path: {MODEL}
              type: mlflow_model
            """
        )
    )
    with (HEART / "data" / "heart-unlabeled-0.csv").open() as f:
        rows = list(csv.reader(f))
    columns = rows[0]
    data = [[v if v.isalpha() else float(v) for v in row] for row in rows[1:4]]
    args = ("-f", "deployment.yml", "--environment", "build")
    with serve(clean_env(workspace), *args, cwd=tmp_path) as served:
        status, answer = served.score({"input_data": {"columns": columns, "data": data}})
        assert status == 200, answer
        assert len(answer) == 3 and set(answer) <= {0, 1}
        status, _, body = served.request("/swagger.json")
        swagger = json.loads(body)
        assert status == 200 and swagger["swagger"] == "2.0"
        assert "age" in json.dumps(swagger["definitions"]["ServiceInput"])
    assert "python 3.8" in "".join(served.stdout)
