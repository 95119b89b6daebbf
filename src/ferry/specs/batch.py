"""Batch endpoints, batch deployments and batch jobs, as Azure ML v2 YAML describes them.

Both deployment schemas are accepted: ``type: model`` with a ``settings:`` block, and the legacy
form with the same fields at the root. :meth:`BatchDeploymentSpec.effective_settings` merges them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import AliasChoices, ConfigDict, Field, field_validator, model_validator

from ferry.specs.assets import EnvironmentSpec, ModelSpec
from ferry.specs.base import Spec, given_in_schema, stringify_values
from ferry.specs.inline import name_inline_assets
from ferry.specs.names import ENDPOINT_NAME
from ferry.specs.refs import REF_PATTERN, SERVER_PYTHON, ref_in_schema
from ferry.specs.scoring import join_secret_names, split_arguments
from ferry.specs.states import TERMINAL_STATES, JobState  # re-exported: their old home

__all__ = [
    "DEFAULT_INIT_TIMEOUT",
    "TERMINAL_STATES",
    "BatchDeploymentSettings",
    "BatchDeploymentSpec",
    "BatchEndpointSpec",
    "BatchRetrySettings",
    "CodeConfigurationSpec",
    "JobState",
    "ResourceSettings",
]


class BatchEndpointSpec(Spec):
    """A batch endpoint: a stable name that routes invocations to its default deployment."""

    name: str = Field(
        description="Endpoint name (3-32 letters, digits or '-').",
        json_schema_extra=ENDPOINT_NAME.json_schema(min_length=3, max_length=32),
    )
    description: str | None = Field(default=None, description="Free text.")
    tags: dict[str, str] = Field(default_factory=dict, description="Key/value labels.")
    properties: dict[str, str] = Field(default_factory=dict, description="Key/value metadata.")
    auth_mode: str = Field(
        default="aad_token",
        description="Accepted for compatibility; Ferry authenticates with the workspace token.",
    )
    defaults: dict[str, str] = Field(
        default_factory=dict,
        description="defaults.deployment_name: the default deployment.",
        # The one key _known_defaults allows, for OpenAPI.
        json_schema_extra={
            "properties": {"deployment_name": {"type": "string"}},
            "additionalProperties": False,
        },
    )

    @field_validator("name")
    @classmethod
    def _name_rule(cls, value: str) -> str:
        ENDPOINT_NAME.check(value)
        if not 3 <= len(value) <= 32:
            ENDPOINT_NAME.check("!", field=f"name {value!r} length")
        return value

    @field_validator("defaults")
    @classmethod
    def _known_defaults(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - {"deployment_name"}
        if unknown:
            raise ValueError(f"unknown key(s) {sorted(unknown)}; the only one is deployment_name")
        return value


class CodeConfigurationSpec(Spec):
    """The scoring code: a folder (or code asset reference) and the script inside it."""

    path_fields: ClassVar[tuple[str, ...]] = ("code",)

    code: str = Field(
        description="Local folder, or azureml:<code>:<version>.",
        # Over HTTP a reference: the CLI and SDK register a local folder first.
        json_schema_extra={"pattern": REF_PATTERN},
    )
    scoring_script: str = Field(description="Script path relative to the code folder.")


class BatchRetrySettings(Spec):
    """Retries of a failed or timed-out mini-batch."""

    max_retries: int = Field(default=3, ge=0, description="Retries after the first attempt.")
    timeout: int = Field(default=30, gt=0, description="Seconds one mini-batch may take.")


class ResourceSettings(Spec):
    """How many instances (on ``local``: groups of worker processes) run the job."""

    instance_count: int = Field(default=1, ge=1, description="Number of instances.")
    instance_type: str | None = Field(default=None, description="Accepted; ignored locally.")
    # Ferry's own: what each worker asks a Ray cluster for (Ray's num_cpus, num_gpus, memory).
    cpus_per_worker: float | None = Field(
        default=None, ge=0, description="CPUs each worker reserves on a Ray compute (default 1)."
    )
    gpus_per_worker: float | None = Field(
        default=None, ge=0, description="GPUs each worker gets (Ray: num_gpus; default 0)."
    )
    memory: str | int | None = Field(
        default=None,
        description="Memory each worker reserves on a Ray compute: bytes, or 512Mi, 4Gi, 2G.",
    )


#: Seconds a batch worker may spend loading its script and in ``init()`` unless the deployment
#: says otherwise: long enough for a large model, short enough that a hung ``init()`` ends.
DEFAULT_INIT_TIMEOUT = 180


class BatchDeploymentSettings(Spec):
    """``settings:`` of a ``type: model`` batch deployment; defaults as Azure's."""

    max_concurrency_per_instance: int = Field(
        default=1, ge=1, description="Worker processes per instance."
    )
    mini_batch_size: int = Field(default=10, ge=1, description="Files per mini-batch.")
    output_action: str = Field(
        default="append_row",
        pattern="^(append_row|summary_only)$",
        description="append_row collects run() results into output_file_name; summary_only not.",
    )
    output_file_name: str | None = Field(
        default=None, description="Name of the append_row file; default predictions.csv."
    )
    retry_settings: BatchRetrySettings = Field(
        default_factory=BatchRetrySettings, description="Retries and per-mini-batch timeout."
    )
    error_threshold: int = Field(
        default=-1, ge=-1, description="Failed items tolerated before the job fails; -1: all."
    )
    logging_level: str = Field(
        default="info",
        pattern="^(?i:debug|info|warning|error|critical)$",
        description="Passed to the script as --logging_level.",
    )
    environment_variables: dict[str, str] = Field(
        default_factory=dict, description="Set in every worker's environment."
    )
    arguments: list[str] = Field(
        default_factory=list,
        validation_alias=AliasChoices("arguments", "program_arguments"),
        description="The scoring script's own arguments (ParallelRunStep's arguments, v2's "
        "program_arguments): a list of words or one line; init() reads them from sys.argv "
        "with argparse's parse_known_args().",
    )
    init_timeout: int = Field(
        default=DEFAULT_INIT_TIMEOUT,
        gt=0,
        description="Seconds a worker may take to load the script and finish init() (PRS's "
        "first_task_creation_timeout); past it the worker is stopped and counts as an init "
        "failure.",
    )

    @field_validator("environment_variables", mode="before")
    @classmethod
    def _stringify(cls, value: object) -> object:
        return stringify_values(value)

    @field_validator("arguments", mode="before")
    @classmethod
    def _words(cls, value: object) -> object:
        return split_arguments(value)

    @model_validator(mode="after")
    def _output_rules(self) -> BatchDeploymentSettings:
        if self.output_action == "summary_only" and self.output_file_name:
            raise ValueError(
                "output_file_name is only for output_action append_row; remove one of them"
            )
        if self.output_file_name is not None and (
            "/" in self.output_file_name or self.output_file_name in ("", ".", "..")
        ):
            raise ValueError("output_file_name must be a plain file name, without folders")
        return self

    @property
    def file_name(self) -> str:
        return self.output_file_name or "predictions.csv"


_LEGACY_FIELDS = set(BatchDeploymentSettings.model_fields) - {"schema_uri"}


class BatchDeploymentSpec(Spec):
    """A batch deployment: model + code + environment + compute + settings."""

    # For OpenAPI: a model or code, or both (BatchEndpointService._check_references), and the legacy
    # root-level settings only without 'settings' (_one_schema).
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                given_in_schema(model="string"),
                given_in_schema(code_configuration="object"),
            ],
            "if": given_in_schema(settings="object"),
            "then": {"properties": {field: {"type": "null"} for field in sorted(_LEGACY_FIELDS)}},
        }
    )

    path_fields: ClassVar[tuple[str, ...]] = ()

    name: str = Field(
        description="Deployment name (3-32 letters, digits or '-').",
        json_schema_extra=ENDPOINT_NAME.json_schema(),
    )
    endpoint_name: str | None = Field(
        default=None,
        description="The endpoint it belongs to (the one in the URL, when given).",
        json_schema_extra=ENDPOINT_NAME.json_schema(),
    )
    # 'pipeline' passes the pattern only to get _one_schema's explanation; OpenAPI says 'model'.
    type: str = Field(
        default="model",
        pattern="^(model|pipeline)$",
        description="model.",
        json_schema_extra={"pattern": "^model$"},
    )
    description: str | None = Field(default=None, description="Free text.")
    tags: dict[str, str] = Field(default_factory=dict, description="Key/value labels.")
    properties: dict[str, str] = Field(default_factory=dict, description="Key/value metadata.")
    model: str | ModelSpec | None = Field(
        default=None,
        description="azureml:<model>:<version> or @latest, or an inline model.",
        json_schema_extra=ref_in_schema(),
    )
    code_configuration: CodeConfigurationSpec | None = Field(
        default=None, description="Scoring script; optional for MLflow models."
    )
    environment: str | EnvironmentSpec | None = Field(
        default=None,
        description="azureml:<env>:<version> or @latest, or an inline environment.",
        json_schema_extra=ref_in_schema(SERVER_PYTHON),
    )
    compute: str = Field(
        default="local", description="Compute name (azureml:batch-cluster maps to local)."
    )
    resources: ResourceSettings = Field(
        default_factory=ResourceSettings, description="instance_count."
    )
    settings: BatchDeploymentSettings | None = Field(
        default=None, description="Job settings of a type: model deployment."
    )
    # Legacy root-level fields (before ``type: model``); merged into settings.
    instance_count: int | None = Field(default=None, ge=1, description="Legacy instance_count.")
    max_concurrency_per_instance: int | None = Field(default=None, description="Legacy field.")
    mini_batch_size: int | None = Field(default=None, description="Legacy field.")
    output_action: str | None = Field(default=None, description="Legacy field.")
    output_file_name: str | None = Field(default=None, description="Legacy field.")
    retry_settings: BatchRetrySettings | None = Field(default=None, description="Legacy field.")
    error_threshold: int | None = Field(default=None, description="Legacy field.")
    logging_level: str | None = Field(default=None, description="Legacy field.")
    environment_variables: dict[str, str] | None = Field(default=None, description="Legacy.")
    arguments: list[str] | None = Field(
        default=None,
        validation_alias=AliasChoices("arguments", "program_arguments"),
        description="Legacy place of settings.arguments.",
    )
    init_timeout: int | None = Field(
        default=None, gt=0, description="Legacy place of settings.init_timeout."
    )

    @field_validator("environment_variables", mode="before")
    @classmethod
    def _stringify(cls, value: object) -> object:
        return stringify_values(value)

    @field_validator("arguments", mode="before")
    @classmethod
    def _words(cls, value: object) -> object:
        return None if value is None else split_arguments(value)

    @field_validator("properties", mode="before")
    @classmethod
    def _secret_list(cls, value: object) -> object:
        return join_secret_names(value)

    @model_validator(mode="before")
    @classmethod
    def _script_fields_into_settings(cls, data: Any) -> Any:
        """``--set arguments=...`` (or ``init_timeout``) on a deployment with ``settings:`` goes
        into its settings: these are Ferry's own fields, so no Azure file puts them at the root
        to mean something else."""
        if not isinstance(data, dict) or not isinstance(data.get("settings"), dict):
            return data
        moved = [k for k in ("arguments", "program_arguments", "init_timeout") if k in data]
        if not moved:
            return data
        data, settings = dict(data), dict(data["settings"])
        for key in moved:
            inner = "init_timeout" if key == "init_timeout" else "arguments"
            clash = (
                ("init_timeout",) if key == "init_timeout" else ("arguments", "program_arguments")
            )
            if any(k in settings for k in clash):
                raise ValueError(
                    f"{key} is given both at the root and under settings; keep one of them"
                )
            settings[inner] = data.pop(key)
        data["settings"] = settings
        return data

    @model_validator(mode="before")
    @classmethod
    def _name_inline_assets(cls, data: Any) -> Any:
        # Azure's anonymous `model: {path: ...}` and `environment: {conda_file:, image:}`.
        return name_inline_assets(data, "batch")

    @field_validator("name")
    @classmethod
    def _name_rule(cls, value: str) -> str:
        return ENDPOINT_NAME.check(value)

    @model_validator(mode="after")
    def _one_schema(self) -> BatchDeploymentSpec:
        legacy = [f for f in _LEGACY_FIELDS if getattr(self, f) is not None]
        if self.settings is not None and legacy:
            raise ValueError(
                f"{', '.join(sorted(legacy))} must go under 'settings:' when 'settings' is used"
            )
        if self.type == "pipeline":
            raise ValueError("type: pipeline deployments are not supported yet; use type: model")
        return self

    def effective_settings(self) -> BatchDeploymentSettings:
        """The job settings, whichever schema the YAML used."""
        if self.settings is not None:
            return self.settings
        legacy = {f: getattr(self, f) for f in _LEGACY_FIELDS if getattr(self, f) is not None}
        return BatchDeploymentSettings.model_validate(legacy)

    def effective_instance_count(self) -> int:
        return self.instance_count or self.resources.instance_count

    def compute_name(self) -> str:
        """``azureml:batch-cluster`` → ``batch-cluster``."""
        return self.compute.removeprefix("azureml:")

    def to_stored(self) -> dict[str, Any]:
        """The normalised form kept in the store: settings always under ``settings``."""
        data = self.to_json()
        for field in _LEGACY_FIELDS | {"instance_count"}:
            data.pop(field, None)
        data["settings"] = self.effective_settings().to_json()
        data["resources"] = {
            **data.get("resources", {}),
            "instance_count": self.effective_instance_count(),
        }
        return data
