"""The opt-in resolution policy, on the real heart-classifier MLflow model from azureml-examples."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ferry.environments import (
    EnvironmentBuilder,
    EnvironmentBuildError,
    ResolutionPolicy,
    model_created_at,
    normalize_conda,
    normalize_requirements,
)
from ferry.errors import SpecError

HEART = Path(
    "/work/shared/data/azureml-examples/cli/endpoints/batch/deploy-models/heart-classifier-mlflow"
)
MODEL = HEART / "deployment-simple" / "model"
needs_examples = pytest.mark.skipif(not MODEL.is_dir(), reason="azureml-examples not present")


@needs_examples
def test_model_created_at_reads_mlmodel() -> None:
    expected = datetime(2022, 10, 13, 0, 55, 57, 543663, tzinfo=timezone.utc)
    assert model_created_at(MODEL) == expected


def test_model_created_at_edge_cases(tmp_path: Path) -> None:
    assert model_created_at(tmp_path) is None
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    assert model_created_at(tmp_path) is None
    (tmp_path / "MLmodel").write_text("utc_time_created: 'last tuesday'\n")
    with pytest.raises(SpecError, match="is not a date") as caught:
        model_created_at(tmp_path)
    assert caught.value.details["field"] == "MLmodel.utc_time_created"


@pytest.mark.slow
@needs_examples
def test_heart_classifier_builds_and_predicts_with_the_relaxed_policy(tmp_path: Path) -> None:
    resolved = normalize_conda(MODEL / "conda.yaml")  # what Azure builds an MLflow model from
    policy = ResolutionPolicy(relax_pins=True, exclude_newer=model_created_at(MODEL))
    env = EnvironmentBuilder(tmp_path / "envs").ensure(resolved, policy=policy)
    print("\nnotices:", *env.notices, "changes:", *env.changes, sep="\n  ")

    # the interpreter chosen for python=3.8.5 and why (3.8 from pyenv where there is one)
    assert any("for python=3.8.5: " in notice for notice in env.notices), env.notices
    if not env.python_version.startswith("3.8"):
        assert any(
            c.startswith("scikit-learn 1.1.2 → 1.1.3: no wheel for Python") for c in env.changes
        )
    frozen = set((env.path / "ferry-freeze.txt").read_text().splitlines())
    assert {"cloudpickle==1.6.0", "xgboost==1.3.3"} <= frozen
    assert any(line.startswith("numpy==1.") for line in frozen)  # as of 2022: no numpy 2
    assert any(line.startswith("mlflow==1.") for line in frozen)

    rows = HEART / "data" / "heart-unlabeled-0.csv"
    code = (
        "import mlflow.pyfunc, pandas as pd\n"
        f"model = mlflow.pyfunc.load_model({str(MODEL)!r})\n"
        f"print(list(model.predict(pd.read_csv({str(rows)!r}).head(5))))\n"
    )
    done = subprocess.run(
        [str(env.python), "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[0, 1, 0, 0, 0]"


@pytest.mark.slow
@needs_examples
def test_heart_requirements_txt_reports_what_cannot_be_relaxed(tmp_path: Path) -> None:
    python = normalize_conda(MODEL / "conda.yaml").python_version
    resolved = normalize_requirements(MODEL / "requirements.txt", python_version=python)
    policy = ResolutionPolicy(relax_pins=True, exclude_newer=model_created_at(MODEL))
    builder = EnvironmentBuilder(tmp_path)
    try:
        env = builder.ensure(resolved, policy=policy)
    except EnvironmentBuildError as exc:
        print(f"\n{exc}")
        # sparse==0.13.0 needs numba, which as of the model's date needs an llvmlite that only
        # supports Python < 3.11; the policy does not cross minor versions, so it says so
        assert exc.details["package"] == "llvmlite"
        assert "repair found no release of llvmlite 0.39.*" in str(exc)
        assert "scikit-learn 1.1.2 → 1.1.3" in str(exc)  # what it had already changed
        assert "relax_pins=True" not in str(exc).split("Fix:")[1]
        assert not builder.path_for(resolved, policy).exists()
    else:  # a machine with Python 3.8-3.10 builds it
        assert tuple(int(p) for p in env.python_version.split(".")[:2]) < (3, 11)
