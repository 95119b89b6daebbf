"""Real job folders, real scoring scripts, real worker processes (``sys.executable`` as the env)."""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ferry.backends.local import LocalCompute
from ferry.batch.definition import JobDefinition, JobLayout
from ferry.batch.engine import JobOutcome, Progress, resume_job, run_job
from ferry.batch.journal import read_events


class Jobs:
    """Builds inputs, scripts and job folders under one test's ``tmp_path``."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self._n = 0

    def script(self, source: str, name: str = "score.py") -> Path:
        """Write a scoring script into a fresh code folder; returns the script's path."""
        self._n += 1
        code = self.tmp / f"code{self._n}"
        code.mkdir()
        path = code / name
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    def files(self, count: int, folder: str = "data", content: Callable[[int], str] = str) -> Path:
        """``count`` files ``f00000.txt``... holding ``content(i)``."""
        data = self.tmp / folder
        data.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            (data / f"f{i:05d}.txt").write_text(content(i), encoding="utf-8")
        return data

    def job(self, inputs: Path | list[Path], script: Path | None, **settings: Any) -> Path:
        """A job folder with its job.json; ``settings`` override JobDefinition fields."""
        self._n += 1
        root = self.tmp / f"job{self._n}"
        root.mkdir()
        paths = inputs if isinstance(inputs, list) else [inputs]
        fields: dict[str, Any] = {
            "name": f"job{self._n}",
            "inputs": [str(p) for p in paths],
            "input_type": "uri_folder",
            "python": _python(),
            "entry_script": str(script) if script else None,
            "code_dir": str(script.parent) if script else str(self.tmp),
            "model_dir": None,
            "timeout": 20.0,
        }
        fields.update(settings)
        JobDefinition(**fields).save(root / "job.json")
        return root

    def run(self, job: Path, *, resume: bool = False, **kwargs: Any) -> JobOutcome:
        engine = resume_job if resume else run_job
        return engine(job, compute=LocalCompute(), **kwargs)


def _python() -> str:
    import sys

    return sys.executable


@pytest.fixture
def jobs(tmp_path: Path) -> Jobs:
    return Jobs(tmp_path)


def output_lines(job: Path, name: str = "predictions.csv") -> list[str]:
    data = (JobLayout(job).outputs / name).read_bytes()
    return data.decode("utf-8", "surrogateescape").splitlines()


def events(job: Path, kind: str | None = None) -> list[dict[str, Any]]:
    return [e for e in read_events(JobLayout(job).journal) if kind is None or e["ev"] == kind]


def progress_json(job: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(JobLayout(job).progress.read_text(encoding="utf-8"))
    return data


class Recorder:
    """Collects on_progress snapshots (from the engine's thread)."""

    def __init__(self) -> None:
        self.snapshots: list[Progress] = []
        self.lock = threading.Lock()

    def __call__(self, progress: Progress) -> None:
        with self.lock:
            self.snapshots.append(progress)
