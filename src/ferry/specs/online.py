"""Online endpoints and deployments, as Azure ML v2 YAML describes them.

Azure's fields load unchanged; the ones that only mean something on Azure's infrastructure
(``identity``, ``public_network_access``, ``instance_type``, ``app_insights_enabled`` ...) are
accepted and ignored. Ferry's additions sit outside Azure's schema blocks: ``batching`` (dynamic
batching), ``max_request_body_mb`` and ``compute`` (a Ray cluster) on the deployment.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field, field_validator, model_validator

from ferry.errors import InvalidInputError
from ferry.specs.assets import EnvironmentSpec, ModelSpec
from ferry.specs.base import Spec
from ferry.specs.batch import CodeConfigurationSpec
from ferry.specs.inline import name_inline_assets
from ferry.specs.names import ENDPOINT_NAME
from ferry.specs.refs import SERVER_PYTHON, ref_in_schema
from ferry.specs.scoring import join_secret_names
from ferry.specs.states import DeploymentState  # re-exported: its old home

__all__ = [
    "AUTH_MODES",
    "BatchingSettings",
    "DeploymentState",
    "OnlineDeploymentSpec",
    "OnlineEndpointSpec",
    "OnlineRequestSettings",
    "ProbeSettings",
    "check_endpoint_name",
]

AUTH_MODES = ("key", "aml_token")


def _percents(most: int) -> dict[str, Any]:
    """JSON Schema of a name -> percent mapping (what sums to what stays in the validators)."""
    return {"additionalProperties": {"type": "integer", "minimum": 0, "maximum": most}}


def check_endpoint_name(value: str, *, field: str = "name") -> str:
    """Azure's rule: 3-32 characters, ``^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$``."""
    try:
        ENDPOINT_NAME.check(value, field=field)
    except InvalidInputError as exc:  # pydantic reports ValueErrors with the field's location
        raise ValueError(exc.message) from None
    if not 3 <= len(value) <= 32:
        raise ValueError(f"{field} {value!r} has {len(value)} characters; {ENDPOINT_NAME.sentence}")
    return value


class OnlineEndpointSpec(Spec):
    """An online endpoint: a stable scoring URL, its auth, and how traffic is split."""

    name: str = Field(
        description="Endpoint name: 3-32 letters, digits or '-', letter first.",
        json_schema_extra=ENDPOINT_NAME.json_schema(min_length=3, max_length=32),
    )
    auth_mode: str = Field(
        default="key",
        description="key (primary and secondary keys) or aml_token (expiring).",
        # An enum in OpenAPI only: _auth_rule explains why aad_token is refused.
        json_schema_extra={"enum": list(AUTH_MODES)},
    )
    description: str | None = Field(default=None, description="Free text.")
    tags: dict[str, str] = Field(default_factory=dict, description="Key/value labels.")
    properties: dict[str, str] = Field(default_factory=dict, description="Key/value metadata.")
    traffic: dict[str, int] | None = Field(
        default=None,
        description="Deployment name -> percent of live traffic; sums to 0 or 100. Omitted on "
        "update: the current split is kept.",
        json_schema_extra=_percents(100),
    )
    mirror_traffic: dict[str, int] | None = Field(
        default=None,
        description="One deployment -> percent (<= 50) of live requests copied to it; its "
        "responses are discarded. Omitted on update: kept.",
        json_schema_extra=_percents(50),
    )
    identity: dict[str, Any] | None = Field(
        default=None, description="Accepted for Azure compatibility; ignored."
    )
    public_network_access: str | None = Field(
        default=None, description="enabled | disabled; accepted, ignored (bind the server)."
    )
    kind: str | None = Field(default=None, description="Accepted (Managed); ignored.")

    @field_validator("name")
    @classmethod
    def _name_rule(cls, value: str) -> str:
        return check_endpoint_name(value)

    @field_validator("auth_mode")
    @classmethod
    def _auth_rule(cls, value: str) -> str:
        if value == "aad_token":
            raise ValueError(
                "aad_token needs Microsoft Entra ID, which a self-hosted server cannot verify; "
                "use auth_mode: key or aml_token"
            )
        if value not in AUTH_MODES:
            raise ValueError(f"auth_mode {value!r} is not one of key, aml_token")
        return value

    @field_validator("traffic")
    @classmethod
    def _traffic_rule(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is None:
            return None
        for name, percent in value.items():
            if not 0 <= percent <= 100:
                raise ValueError(f"traffic of {name!r} is {percent}; use 0-100")
        total = sum(value.values())
        if total not in (0, 100):
            shown = ", ".join(f"{k}={v}" for k, v in value.items())
            raise ValueError(
                f"traffic percentages add up to {total} ({shown}); they must add up to 100 "
                "(or 0 to stop live traffic)"
            )
        return value

    @model_validator(mode="after")
    def _mirror_rule(self) -> OnlineEndpointSpec:
        mirror = self.mirror_traffic or {}
        mirror = {k: v for k, v in mirror.items() if v}
        if len(mirror) > 1:
            raise ValueError(
                f"mirror_traffic names {len(mirror)} deployments ({', '.join(mirror)}); "
                "mirror to one deployment only"
            )
        for name, percent in mirror.items():
            if not 0 <= percent <= 50:
                raise ValueError(f"mirror_traffic of {name!r} is {percent}; use 0-50")
            if (self.traffic or {}).get(name):
                raise ValueError(
                    f"deployment {name!r} would get live traffic and mirror_traffic; a "
                    "deployment takes one or the other: set its traffic or its mirror_traffic to 0"
                )
        return self


class OnlineRequestSettings(Spec):
    """``request_settings``: Azure's defaults."""

    request_timeout_ms: int = Field(
        default=5000, ge=1, le=180000, description="Time one request may take (408 after)."
    )
    max_concurrent_requests_per_instance: int = Field(
        default=1, ge=1, le=1000, description="Requests one instance works on at once."
    )
    max_queue_wait_ms: int = Field(
        default=500, ge=0, le=180000, description="Time a request may wait for a free replica."
    )


class ProbeSettings(Spec):
    """``liveness_probe`` / ``readiness_probe`` (seconds, as in Azure's YAML)."""

    initial_delay: int = Field(default=10, ge=0, description="Seconds before the first probe.")
    period: int = Field(default=10, ge=1, description="Seconds between probes.")
    timeout: int = Field(default=2, ge=1, description="Seconds a probe may take.")
    success_threshold: int = Field(default=1, ge=1, description="Successes to become healthy.")
    failure_threshold: int = Field(default=30, ge=1, description="Failures to become unhealthy.")


class BatchingSettings(Spec):
    """Ferry's dynamic batching: concurrent requests are scored together by ``run_batch``."""

    max_batch_size: int = Field(default=8, ge=1, le=4096, description="Most requests per batch.")
    max_batch_wait_ms: int = Field(
        default=10, ge=0, le=60000, description="Longest wait for a batch to fill."
    )


class OnlineDeploymentSpec(Spec):
    """An online deployment: model + code + environment served by ``instance_count`` replicas."""

    # code_configuration and environment may be left out only for an mlflow_model (Azure's
    # no-code deployment), which no schema can say: OnlineEndpointService._check_references decides.
    path_fields: ClassVar[tuple[str, ...]] = ()

    name: str = Field(
        description="Deployment name: 3-32 letters, digits or '-', letter first.",
        json_schema_extra=ENDPOINT_NAME.json_schema(min_length=3, max_length=32),
    )
    endpoint_name: str | None = Field(
        default=None,
        description="The endpoint it belongs to (the one in the URL, when given).",
        json_schema_extra=ENDPOINT_NAME.json_schema(),
    )
    type: str | None = Field(default=None, description="managed | kubernetes; accepted.")
    description: str | None = Field(default=None, description="Free text.")
    tags: dict[str, str] = Field(default_factory=dict, description="Key/value labels.")
    properties: dict[str, str] = Field(default_factory=dict, description="Key/value metadata.")
    model: str | ModelSpec | None = Field(
        default=None,
        description="azureml:<model>:<version> or @latest, or an inline model.",
        json_schema_extra=ref_in_schema(),
    )
    code_configuration: CodeConfigurationSpec | None = Field(
        default=None,
        description="The scoring script (score.py with init() and run()); optional for an "
        "mlflow_model, served then by Ferry's built-in MLflow scorer.",
    )
    environment: str | EnvironmentSpec | None = Field(
        default=None,
        description="azureml:<env>:<version>, an inline environment, or ferry:server-python.",
        json_schema_extra=ref_in_schema(SERVER_PYTHON),
    )
    environment_variables: dict[str, str] = Field(
        default_factory=dict, description="Set in every replica's environment."
    )
    instance_type: str | None = Field(default=None, description="Accepted; ignored locally.")
    compute: str | None = Field(
        default=None,
        description="Ferry: azureml:<compute> of type ray runs the replicas as actors on that "
        "Ray cluster; omitted (or local): on the server's machine.",
    )
    instance_count: int = Field(default=1, ge=1, le=64, description="Number of replicas.")
    request_settings: OnlineRequestSettings = Field(
        default_factory=OnlineRequestSettings, description="Timeout and concurrency."
    )
    liveness_probe: ProbeSettings = Field(
        default_factory=ProbeSettings, description="A replica failing it is restarted."
    )
    readiness_probe: ProbeSettings = Field(
        default_factory=ProbeSettings, description="A replica failing it gets no traffic."
    )
    scale_settings: dict[str, Any] | None = Field(default=None, description="Accepted; ignored.")
    app_insights_enabled: bool = Field(default=False, description="Accepted; ignored.")
    egress_public_network_access: str | None = Field(default=None, description="Accepted.")
    data_collector: dict[str, Any] | None = Field(default=None, description="Accepted; ignored.")
    model_mount_path: str | None = Field(default=None, description="Accepted; ignored.")
    resources: dict[str, Any] | None = Field(default=None, description="Kubernetes; accepted.")
    batching: BatchingSettings | None = Field(
        default=None, description="Ferry: dynamic batching through run_batch(list)."
    )
    max_request_body_mb: float = Field(
        default=100.0, gt=0, le=4096, description="Ferry: larger request bodies get 413."
    )

    @field_validator("name")
    @classmethod
    def _name_rule(cls, value: str) -> str:
        return check_endpoint_name(value)

    @model_validator(mode="before")
    @classmethod
    def _name_inline_assets(cls, data: Any) -> Any:
        # Azure registers an inline model or environment without a name anonymously; name them
        # after the deployment so they are easy to find in `ferry model list`.
        if not isinstance(data, dict):
            return data
        if "code_path" in data or "scoring_script" in data:
            # azure.ai.ml's shortcut: ManagedOnlineDeployment(code_path=..., scoring_script=...).
            data = dict(data)
            code, script = data.pop("code_path", None), data.pop("scoring_script", None)
            if data.get("code_configuration") is None and code and script:
                data["code_configuration"] = {"code": str(code), "scoring_script": str(script)}
            elif code or script:
                raise ValueError(
                    "give code_path and scoring_script together, or code_configuration alone"
                )
        return name_inline_assets(data, "online")

    @field_validator("code_configuration", "request_settings", mode="before")
    @classmethod
    def _from_objects(cls, value: Any) -> Any:
        # azure.ai.ml-style objects (CodeConfiguration(...)) are other classes: take their fields.
        if isinstance(value, BaseModel) and not isinstance(value, Spec):
            return value.model_dump(exclude_none=True)
        return value

    @field_validator("properties", mode="before")
    @classmethod
    def _secret_list(cls, value: object) -> object:
        return join_secret_names(value)  # properties: {ferry_secrets: [a, b]}

    @field_validator("environment_variables", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        # YAML turns `TILE_GRID_SIZE: 2` into an int; environment variables are strings.
        if isinstance(value, dict):
            return {str(k): v if isinstance(v, str) else _env_text(v) for k, v in value.items()}
        return value

    def compute_name(self) -> str | None:
        """The compute's name without ``azureml:``; None: the server's machine."""
        return self.compute.removeprefix("azureml:") if self.compute else None

    @property
    def worker_count(self) -> int:
        """Worker processes per instance: ``WORKER_COUNT`` as azmlinfsrv reads it (default 1)."""
        raw = self.environment_variables.get("WORKER_COUNT", "1")
        try:
            return max(1, min(64, int(raw)))
        except ValueError:
            return 1

    def to_stored(self) -> dict[str, Any]:
        """The JSON kept in the store (all defaults written out, so the view shows them)."""
        return self.model_dump(mode="json", exclude_none=True, exclude={"schema_uri"})


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
