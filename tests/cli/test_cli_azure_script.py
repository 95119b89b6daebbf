"""Azure's heart-classifier-mlflow ``deploy-and-run.sh``, run by bash with ``az ml`` → ``ferry``.

``scripts/heart-classifier-mlflow.sh`` is Azure's script with only the command name changed (its
comments say where and why a line differs or is left out). It runs in a copy of Azure's sample
folder against a real server in a fresh workspace: model, data, ``amlcompute`` compute,
endpoint, no-code MLflow deployment, default update, invoke, ``job show --web``, ``list-jobs``,
``job stream``, the status check, ``job download --output-name score`` and delete. The MLflow
model's environment is built with uv (wheels cached across runs), hence ``slow``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.cli.conftest import make_ferry

SCRIPT = Path(__file__).parent / "scripts" / "heart-classifier-mlflow.sh"
HEART = "batch/deploy-models/heart-classifier-mlflow"

# `ferry` as a shell command for this interpreter; jq's one use, `jq -r '.name'`, if jq is absent.
PRELUDE = f"""\
ferry() {{ "{sys.executable}" -m ferry.cli.main "$@"; }}
command -v jq >/dev/null || jq() {{
  "{sys.executable}" -c 'import json, sys; print(json.load(sys.stdin)["name"])'
}}
"""


@pytest.mark.slow
def test_heart_classifier_deploy_and_run(examples: Path, tmp_path: Path) -> None:
    folder = tmp_path / "heart-classifier-mlflow"
    shutil.copytree(examples / HEART, folder)
    # The script registers `--path "model"`: Azure's folder holds the model there.
    shutil.copytree(folder / "deployment-simple" / "model", folder / "model")
    runner = make_ferry(tmp_path / "ws")
    try:
        result = subprocess.run(
            ["bash", "-c", PRELUDE + SCRIPT.read_text(encoding="utf-8")],
            cwd=folder,
            env=runner.env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    finally:
        runner("server", "stop", "-o", "none")
    out = result.stdout
    assert "Completed\nJob completed\n" in out
    assert "in the studio (the link signs you in once, within 10 minutes):\n  http" in result.stderr
    predictions = folder / "named-outputs" / "score" / "predictions.csv"
    rows = pd.read_csv(predictions, header=None, sep=" ")
    expected = sum(len(pd.read_csv(f)) for f in (folder / "data").glob("*.csv"))
    assert len(rows) == expected
