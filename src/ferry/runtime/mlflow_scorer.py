"""Ferry's built-in batch scorer for MLflow models deployed with no code (Azure's "no-code" path).

It runs inside the model's environment (which has mlflow and pandas). Each CSV or Parquet file is
read into a DataFrame, ``predict`` is called once per file, and one row per input row comes back
with the columns ``row``, ``prediction`` and ``file``. Only the standard library is imported at
module level, so the file loads anywhere and reports a clear error where mlflow is missing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_model: Any = None

_TABULAR = {".csv", ".parquet", ".pqt"}


def model_folder() -> str:
    """The MLflow model folder under AZUREML_MODEL_DIR (it, or its one child with an MLmodel)."""
    root = Path(os.environ["AZUREML_MODEL_DIR"])
    candidates = [p for p in root.iterdir() if (p / "MLmodel").is_file()]
    if (root / "MLmodel").is_file():
        return str(root)
    if len(candidates) != 1:
        raise RuntimeError(
            f"expected one MLflow model folder (with an MLmodel file) under {root}, "
            f"found {len(candidates)}"
        )
    return str(candidates[0])


def init() -> None:
    """Load the MLflow model once per worker."""
    global _model
    import mlflow.pyfunc

    _model = mlflow.pyfunc.load_model(model_folder())


def run(mini_batch: list[str]) -> Any:
    """Score each file; the rows of all files come back as one DataFrame."""
    import pandas as pd

    frames = []
    for file in mini_batch:
        suffix = Path(file).suffix.lower()
        if suffix not in _TABULAR:
            raise ValueError(
                f"{Path(file).name}: the MLflow scorer reads .csv and .parquet files, not "
                f"{suffix or 'files without an extension'}; use a scoring script for other types"
            )
        data = pd.read_csv(file) if suffix == ".csv" else pd.read_parquet(file)
        predictions = _model.predict(data)
        frames.append(
            pd.DataFrame(
                {
                    "row": range(len(data)),
                    "prediction": list(predictions),
                    "file": Path(file).name,
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["row", "prediction", "file"])
    return pd.concat(frames, ignore_index=True)
