"""Cold build and warm reuse of Azure's heart-classifier MLflow environment.

The environment is what a batch deployment of ``deployment-simple`` gets with no property set:
the model's own ``conda.yaml`` (python=3.8.5, mlflow, cloudpickle==1.6.0, scikit-learn==1.1.2,
xgboost==1.3.3), resolved with the default policy (unpinned packages as of the model's save date,
pins without a wheel repaired). Three timings:

* cold: a new environment folder and an empty uv cache (every wheel downloaded from PyPI);
* cold env, warm cache: a new environment folder, uv's cache filled by the first build;
* warm reuse: ``ensure()`` again on a built environment (what every later job pays).

Usage::

    .venv/bin/python bench/environments/heart_build.py [--examples PATH_TO_AZUREML_EXAMPLES]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from ferry.environments import (
    EnvironmentBuilder,
    ResolutionPolicy,
    model_created_at,
    normalize_conda,
)

MODEL = "cli/endpoints/batch/deploy-models/heart-classifier-mlflow/deployment-simple/model"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", default="/work/shared/data/azureml-examples", type=Path)
    args = parser.parse_args()
    model = args.examples / MODEL
    resolved = normalize_conda(model / "conda.yaml")
    policy = ResolutionPolicy(exclude_newer=model_created_at(model))  # as materialise builds it
    scratch = Path(tempfile.mkdtemp(prefix="ferry-bench-env-"))
    cache = scratch / "uv-cache"
    try:
        rows = []
        for label, root in (("cold", "a"), ("cold env, warm uv cache", "b")):
            builder = EnvironmentBuilder(scratch / root, uv_cache_dir=cache)
            started = time.perf_counter()
            env = builder.ensure(resolved, policy=policy)
            rows.append((label, time.perf_counter() - started, env.reused))
        builder = EnvironmentBuilder(scratch / "b", uv_cache_dir=cache)
        started = time.perf_counter()
        env = builder.ensure(resolved, policy=policy)
        rows.append(("warm reuse", time.perf_counter() - started, env.reused))
        print(f"python {env.python_version}; {len(env.changes)} pin changes")
        for notice in (*env.notices, *env.changes):
            print(f"  {notice}")
        print("| build | seconds | reused |\n|---|---:|---|")
        for label, seconds, reused in rows:
            print(f"| {label} | {seconds:.3f} | {reused} |")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
