"""SDK entities of batch endpoints, deployments and jobs, named as in ``azure.ai.ml.entities``.

Each is the shared spec plus the fields the server fills in, so an entity ``get`` returns can be
changed and sent back (``endpoint.defaults.deployment_name = "d2"``). Only the spec's fields
travel to the server (:func:`spec_body`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ferry.client.entities import FriendlyInit, SystemData, Tracked
from ferry.specs import batch as _batch
from ferry.specs.base import Spec
from ferry.specs.batch import (
    TERMINAL_STATES,
    BatchDeploymentSettings,
    BatchDeploymentSpec,
    BatchEndpointSpec,
    JobState,
    ResourceSettings,
)

__all__ = [
    "BatchDeployment",
    "BatchDeploymentOutputAction",
    "BatchEndpoint",
    "BatchEndpointDefaults",
    "BatchJob",
    "BatchRetrySettings",
    "ModelBatchDeployment",
    "ModelBatchDeploymentSettings",
    "ResourceConfiguration",
    "spec_body",
]


class BatchDeploymentOutputAction:
    """``output_action`` values, as ``azure.ai.ml.constants.BatchDeploymentOutputAction``."""

    APPEND_ROW = "append_row"
    SUMMARY_ONLY = "summary_only"


class ResourceConfiguration(ResourceSettings, FriendlyInit):
    """``resources=ResourceConfiguration(instance_count=2)``; ``instance_type`` is ignored."""


class BatchEndpointDefaults(Spec, FriendlyInit):
    """``endpoint.defaults``: the deployment that runs when an invoke names none."""

    deployment_name: str | None = Field(default=None, description="The default deployment.")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        # The spec's wording, which names the one key there is.
        known = {"deployment_name", "schema_uri", "$schema"}
        unknown = set(data) - known if isinstance(data, dict) else set()
        if unknown:
            raise ValueError(f"unknown key(s) {sorted(unknown)}; the only one is deployment_name")
        return data


class BatchEndpoint(BatchEndpointSpec, Tracked):
    """``BatchEndpoint(name="heart-classifier", description=...)``, plus the server's fields."""

    #: Keywords azure.ai.ml's constructor takes that are folded into fields (see the validator).
    sdk_shortcuts: ClassVar[tuple[str, ...]] = ("default_deployment_name",)

    defaults: BatchEndpointDefaults = Field(  # type: ignore[assignment]
        default_factory=BatchEndpointDefaults,
        description="defaults.deployment_name: the default deployment.",
    )
    location: str | None = Field(default=None, description="Accepted; not sent.")
    scoring_uri: str | None = Field(default=None, description="POST invocations here.")
    openapi_uri: str | None = Field(default=None, description="The OpenAPI document.")
    provisioning_state: str | None = Field(default=None, description="Succeeded.")

    @model_validator(mode="before")
    @classmethod
    def _default_deployment_name(cls, data: Any) -> Any:
        # azure.ai.ml's shortcut: BatchEndpoint(default_deployment_name="d").
        if isinstance(data, dict) and "default_deployment_name" in data:
            data = dict(data)
            name = data.pop("default_deployment_name")
            if name is not None:
                data["defaults"] = {**dict(data.get("defaults") or {}), "deployment_name": name}
        return data

    @field_validator("defaults", mode="before")
    @classmethod
    def _known_defaults(cls, value: Any) -> Any:
        # Replaces the spec's dict check: here defaults is an object that forbids unknown keys.
        return {} if value is None else value


class ModelBatchDeploymentSettings(BatchDeploymentSettings, FriendlyInit):
    """``settings=`` of a deployment; ``instance_count`` here sets ``resources.instance_count``."""

    instance_count: int | None = Field(
        default=None, ge=1, description="Instances (sent as resources.instance_count)."
    )


class BatchDeployment(BatchDeploymentSpec, Tracked):
    """A batch deployment, in Azure's legacy form (settings at the root) or with ``settings=``.

    ``model``, ``environment`` and ``code_configuration`` may be registered entities (they are
    referred to), inline ones (registered first) or ``azureml:`` references.
    """

    #: Keywords azure.ai.ml's constructor takes that are folded into fields (see the validator).
    sdk_shortcuts: ClassVar[tuple[str, ...]] = ("code_path", "scoring_script", "instance_type")

    settings: ModelBatchDeploymentSettings | None = Field(
        default=None, description="Job settings (ModelBatchDeploymentSettings)."
    )
    provisioning_state: str | None = Field(default=None, description="Succeeded.")

    @model_validator(mode="before")
    @classmethod
    def _azure_shortcuts(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        code, script = data.pop("code_path", None), data.pop("scoring_script", None)
        if code is not None or script is not None:
            if data.get("code_configuration") is not None or not (code and script):
                raise ValueError(
                    "give code_path and scoring_script together, or code_configuration alone"
                )
            data["code_configuration"] = {"code": str(code), "scoring_script": str(script)}
        instance_type = data.pop("instance_type", None)
        if instance_type is not None:
            resources = data.get("resources")
            if isinstance(resources, BaseModel):
                resources = resources.model_dump(exclude_none=True)
            data["resources"] = {**(resources or {}), "instance_type": instance_type}
        return data

    @field_validator("settings", mode="before")
    @classmethod
    def _plain_settings(cls, value: Any) -> Any:
        # The spec's own settings class (from a YAML file, or ferry.specs) is taken as well.
        if isinstance(value, BatchDeploymentSettings) and not isinstance(
            value, ModelBatchDeploymentSettings
        ):
            return value.model_dump(exclude={"schema_uri"}, exclude_unset=True)
        return value

    @model_validator(mode="after")
    def _settings_instance_count(self) -> BatchDeployment:
        count = self.settings.instance_count if self.settings is not None else None
        if count is not None and self.resources.instance_count != count:
            self.resources.instance_count = count
        return self


class BatchRetrySettings(_batch.BatchRetrySettings, FriendlyInit):
    """``retry_settings=BatchRetrySettings(max_retries=3, timeout=300)``."""


class ModelBatchDeployment(BatchDeployment):
    """``ModelBatchDeployment(name=..., endpoint_name=..., model=model, settings=...)``."""


class BatchJob(Tracked):
    """A batch job as the server reports it (``status``, ``progress``, ``outputs`` ...)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(description="Job name.")
    status: str = Field(description="Queued, Preparing, Running, Completed, Failed or Canceled.")
    endpoint_name: str | None = Field(default=None, description="Endpoint it ran on.")
    deployment_name: str | None = Field(default=None, description="Deployment it ran on.")
    experiment_name: str | None = Field(default=None, description="Experiment it is filed under.")
    error: str | None = Field(default=None, description="Why it failed.")
    failure_kind: str | None = Field(
        default=None,
        description="What failed it: script_error, too_few_rows, timeout, worker_crashed, "
        "init_failed, preparation_failed or internal_error (Ferry's; Azure has no such field).",
    )
    progress: dict[str, Any] | None = Field(default=None, description="Live counts.")
    outputs: dict[str, Any] = Field(default_factory=dict, description="Output name -> URI.")
    started_at: datetime | None = Field(default=None, description="When it started running.")
    ended_at: datetime | None = Field(default=None, description="When it ended.")
    studio_url: str | None = Field(
        default=None, description="Ferry has no studio yet: the job's REST URL."
    )

    @property
    def finished(self) -> bool:
        return JobState(self.status) in TERMINAL_STATES

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def creation_context(self) -> SystemData | None:
        """Created, and last changed: when it ended (or started, while it runs)."""
        if self.created_at is None:
            return None
        last = self.ended_at or self.started_at or self.updated_at or self.created_at
        return SystemData(created_at=self.created_at, last_modified_at=last)


def spec_body(entity: BaseModel, spec: type[Spec]) -> dict[str, Any]:
    """The JSON the server takes for ``entity``: the fields of ``spec`` only, server fields and
    SDK-only fields (``settings.instance_count``, ``location``) left out."""
    fields = set(spec.model_fields) - {"schema_uri"}
    data = entity.model_dump(mode="json", exclude_none=True, include=fields)
    settings = data.get("settings")
    if isinstance(settings, dict):
        settings.pop("instance_count", None)
    return data
