"""examples/online-sklearn: Azure's model-1 score.py on its own, then run.py against a server."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import pytest
from sklearn.exceptions import InconsistentVersionWarning

from ferry import MLClient
from tests.examples.support import EXAMPLES, load_script

EXAMPLE = EXAMPLES / "online-sklearn"


@pytest.fixture(scope="module")
def model_1(examples: Path) -> Path:
    """The shared model-1 folder: model/sklearn_regression_model.pkl and sample-request.json."""
    return examples / "online" / "model-1"


def _model_predictions(model_1: Path) -> list[float]:
    # model-1 was pickled by scikit-learn 0.24.2; newer releases load it with a warning.
    with pytest.warns(InconsistentVersionWarning, match="from version 0.24.2"):
        model = joblib.load(model_1 / "model" / "sklearn_regression_model.pkl")
    rows = json.loads((model_1 / "sample-request.json").read_text())["data"]
    return [float(x) for x in model.predict(rows)]


def test_score_py_predicts_what_the_model_does(
    model_1: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(model_1))
    script = load_script(EXAMPLE / "onlinescoring" / "score.py")
    with pytest.warns(InconsistentVersionWarning):
        script.init()

    answer = script.run((model_1 / "sample-request.json").read_text())

    assert answer == _model_predictions(model_1)
    assert [round(x, 2) for x in answer] == [11055.98, 4503.08]


def test_run_py_deploys_scores_and_prints_a_curl_line(
    ml_client: MLClient, model_1: Path, tmp_path: Path
) -> None:
    workspace = ml_client.settings.workspace
    done = subprocess.run(
        [sys.executable, str(EXAMPLE / "run.py"), str(workspace), "--server-python"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    expected = _model_predictions(model_1)
    printed = re.search(r"predictions for sample-request\.json: (\[.*\])", done.stdout)
    assert printed is not None, done.stdout
    assert json.loads(printed.group(1)) == expected
    endpoint = ml_client.online_endpoints.get("sklearn-regression")
    assert endpoint.traffic == {"blue": 100}
    blue = ml_client.online_deployments.get("blue", "sklearn-regression")
    assert blue.environment == "ferry:server-python"
    assert str(blue.model).startswith("azureml:model-1")

    # The curl line works as printed; the server was left running.
    curl_line = next(line.strip() for line in done.stdout.splitlines() if "curl " in line)
    argv = shlex.split(curl_line)
    key = ml_client.online_endpoints.get_keys("sklearn-regression").primary_key  # type: ignore[union-attr]
    assert f"Authorization: Bearer {key}" in argv
    assert argv[-1] == endpoint.scoring_uri
    request_files = [Path(a[1:]).resolve() for a in argv if a.startswith("@")]
    assert request_files == [(model_1 / "sample-request.json").resolve()]
    assert shutil.which("curl"), "curl is not installed: the README's curl line needs it"
    scored = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    assert json.loads(scored.stdout) == expected
    assert "server stop" in done.stdout
