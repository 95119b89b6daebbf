"""What a batch job needs to run, fully resolved: the contract between the server and the engine.

The server's job service resolves references (deployment, model, code, environment, input data),
builds the environment, and writes a :class:`JobDefinition` into the job folder. The engine
(:mod:`ferry.batch.engine`) needs nothing else, so a job can be resumed from its folder alone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["JobDefinition", "JobLayout"]


@dataclass(frozen=True)
class JobDefinition:
    """A resolved batch job. Paths are absolute and local to the machine that runs the job."""

    name: str
    #: Local files or folders to score; folders are listed recursively.
    inputs: list[str]
    input_type: str  # "uri_folder" | "uri_file"
    #: Interpreter of the deployment's built environment (or the server's own, for development).
    python: str
    #: The user's scoring script; ``None`` means the built-in MLflow scorer.
    entry_script: str | None
    #: Working directory of the workers, put first on ``sys.path``.
    code_dir: str
    #: ``AZUREML_MODEL_DIR``: the folder that holds the model under its own base name.
    model_dir: str | None
    mini_batch_size: int = 10
    instance_count: int = 1
    max_concurrency_per_instance: int = 1
    max_retries: int = 3
    timeout: float = 30.0
    error_threshold: int = -1
    output_action: str = "append_row"
    output_file_name: str = "predictions.csv"
    logging_level: str = "info"
    environment_variables: dict[str, str] = field(default_factory=dict)
    program_arguments: list[str] = field(default_factory=list)
    #: Seconds a worker may take to load the script and finish ``init()`` (PRS:
    #: ``first_task_creation_timeout``); past it the worker is killed and counts as an init failure.
    #: The deployment's ``settings.init_timeout`` sets it; 600 is for job.json files from before.
    init_timeout: float = 600.0
    #: Secrets the script may read through the ``azureml.core`` Key Vault shim (names only: the
    #: values reach the workers in memory through :attr:`ferry.workers.spec.WorkerSpec.secret_env`).
    secret_names: list[str] = field(default_factory=list)
    #: The input's name (``Run.input_datasets``); Azure calls a model deployment's one input so.
    input_name: str = "input_data"
    #: ``resources.cpus_per_worker`` / ``gpus_per_worker`` of the deployment (None: not asked);
    #: locally the GPUs pick each worker's ``CUDA_VISIBLE_DEVICES``.
    cpus_per_worker: float | None = None
    gpus_per_worker: float | None = None

    #: A file listing the items one per line (``azureml://`` URIs), written in Preparing when
    #: the input is on a datastore the workers read through their data agent; the plan reads it
    #: instead of listing :attr:`inputs`.
    input_listing: str | None = None
    #: The datastores the workers' data agents may open (their credentials travel in memory).
    datastores: list[str] = field(default_factory=list)
    #: ``azureml://`` folder that output files are committed to, one by one, by the data agents
    #: (workers off this machine); None: ``AZUREML_BI_OUTPUT_PATH`` is the job folder's.
    output_uri: str | None = None

    @property
    def worker_count(self) -> int:
        return self.instance_count * self.max_concurrency_per_instance

    def problems(self) -> list[str]:
        """What makes this definition unrunnable, one message per field (empty when fine)."""
        found: list[str] = []
        for name in ("mini_batch_size", "instance_count", "max_concurrency_per_instance"):
            if getattr(self, name) < 1:
                found.append(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_retries < 0:
            found.append(f"max_retries must be 0 or more, got {self.max_retries}")
        if self.timeout <= 0 or self.init_timeout <= 0:
            found.append("timeout and init_timeout must be more than 0 seconds")
        if self.error_threshold < -1:
            found.append(f"error_threshold must be -1 or more, got {self.error_threshold}")
        if self.input_type not in ("uri_folder", "uri_file"):
            found.append(f"input_type must be uri_folder or uri_file, got {self.input_type!r}")
        if self.output_action not in ("append_row", "summary_only"):
            found.append(
                f"output_action must be append_row or summary_only, got {self.output_action!r}"
            )
        name = self.output_file_name
        if "/" in name or "\\" in name or name in ("", ".", ".."):
            found.append(f"output_file_name must be a plain file name, got {name!r}")
        return found

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobDefinition:
        return cls(**data)

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> JobDefinition:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class JobLayout:
    """Files of one job folder. The log layout follows Azure's so people find things::

    job.json                    the JobDefinition (written by the server)
    progress.json               live counts, rate, ETA, state (rewritten atomically)
    manifest.csv                file,status,mini_batch,attempts,error,seconds (at the end)
    named-outputs/score/        AZUREML_BI_OUTPUT_PATH; predictions.csv (append_row)
    logs/job_result.txt         verdict and counts
    logs/job_error.txt          what failed and where to look (when anything failed)
    logs/job_progress_overview.txt
    logs/sys/master_role.txt    the engine's log: workers, retries, timeouts
    logs/sys/job_report/processed_mini-batches.csv
    logs/user/error.txt         every error raised by the script, with tracebacks
    logs/user/stdout/<worker>.txt, logs/user/stderr/<worker>.txt
    logs/user/entry_script_log/<worker>/    EntryScript().log_dir
    state/                      the engine's own: plan/, journal.jsonl, rows.dat, lock
    """

    root: Path

    @property
    def definition(self) -> Path:
        return self.root / "job.json"

    @property
    def outputs(self) -> Path:
        """``AZUREML_BI_OUTPUT_PATH`` and the home of ``predictions.csv``: the ``score`` output."""
        return self.root / "named-outputs" / "score"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def progress(self) -> Path:
        """JSON snapshot of counts, rate and ETA, rewritten as the job runs."""
        return self.root / "progress.json"

    @property
    def manifest(self) -> Path:
        """Per-item manifest: file, status, mini-batch, attempts, error, seconds."""
        return self.root / "manifest.csv"

    def output_file(self, name: str) -> Path:
        """The ``append_row`` file, e.g. ``named-outputs/score/predictions.csv``."""
        return self.outputs / name

    # Engine state: not for users; the engine alone reads and writes it.
    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def plan(self) -> Path:
        """The ordered item list and mini-batch index (:mod:`ferry.batch.minibatches`)."""
        return self.state / "plan"

    @property
    def journal(self) -> Path:
        """Append-only JSONL of mini-batch events (:mod:`ferry.batch.journal`)."""
        return self.state / "journal.jsonl"

    @property
    def rows(self) -> Path:
        """Append-only rows of every mini-batch, assembled into the output file at the end."""
        return self.state / "rows.dat"

    @property
    def lock(self) -> Path:
        """Held (flock) by the process running the job, so two engines never share a folder."""
        return self.state / "lock"

    # Azure's log layout.
    @property
    def job_result(self) -> Path:
        return self.logs / "job_result.txt"

    @property
    def job_error(self) -> Path:
        return self.logs / "job_error.txt"

    @property
    def progress_overview(self) -> Path:
        return self.logs / "job_progress_overview.txt"

    @property
    def master_log(self) -> Path:
        """The engine's own log: workers started and lost, retries, timeouts."""
        return self.logs / "sys" / "master_role.txt"

    @property
    def processed_mini_batches(self) -> Path:
        return self.logs / "sys" / "job_report" / "processed_mini-batches.csv"

    @property
    def user_error(self) -> Path:
        """Every error raised by the user's script, with its traceback."""
        return self.logs / "user" / "error.txt"

    def user_stdout(self, worker_id: str) -> Path:
        return self.logs / "user" / "stdout" / f"{worker_id}.txt"

    def user_stderr(self, worker_id: str) -> Path:
        return self.logs / "user" / "stderr" / f"{worker_id}.txt"

    def entry_script_log(self, worker_id: str) -> Path:
        """``EntryScript().log_dir`` of one worker (``FERRY_LOG_DIR``)."""
        return self.logs / "user" / "entry_script_log" / worker_id
