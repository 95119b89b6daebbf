"""SDK entities, named as in ``azure.ai.ml.entities``: the shared specs plus server fields."""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePath
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from ferry.errors import InvalidInputError
from ferry.specs import assets as _assets
from ferry.specs.assets import (
    AssetTypes,
    CodeSpec,
    DataSpec,
    EnvironmentSpec,
    ModelSpec,
)
from ferry.specs.base import spec_error
from ferry.specs.batch import CodeConfigurationSpec
from ferry.specs.states import DeploymentState
from ferry.specs.workspace import ComputeSpec, DatastoreSpec

__all__ = [
    "AmlCompute",
    "AssetTypes",
    "BuildContext",
    "Code",
    "CodeConfiguration",
    "Compute",
    "Data",
    "Datastore",
    "Environment",
    "FriendlyInit",
    "Input",
    "InputOutputModes",
    "Model",
    "Output",
    "SystemData",
    "Tracked",
    "from_server",
]

E = TypeVar("E", bound=BaseModel)


class SystemData(BaseModel):
    """``creation_context`` of an entity, as ``azure.ai.ml.entities.SystemData``.

    A workspace has one token rather than users, so the ``*_by`` fields stay ``None``.
    """

    model_config = ConfigDict(frozen=True)

    created_at: datetime | None = Field(default=None, description="Creation time (UTC).")
    created_by: str | None = Field(default=None, description="Always None on Ferry.")
    created_by_type: str | None = Field(default=None, description="Always None on Ferry.")
    last_modified_at: datetime | None = Field(default=None, description="Last change (UTC).")
    last_modified_by: str | None = Field(default=None, description="Always None on Ferry.")
    last_modified_by_type: str | None = Field(default=None, description="Always None on Ferry.")


class FriendlyInit(BaseModel):
    """SDK constructors raise Ferry's :class:`~ferry.errors.SpecError`, worded as the CLI's
    messages (each bad field named with its fix), not pydantic's ``ValidationError``."""

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise spec_error(exc, what=type(self).__name__, model=type(self)) from None

    # Pydantic calls a custom __init__ when it validates a nested model too; marked as its own,
    # a nested error stays part of the outer one, which then names the field's whole path.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]


class Tracked(FriendlyInit):
    """What every entity the server returns carries: times, ``creation_context`` and ``raw``."""

    created_at: datetime | None = Field(default=None, description="Creation time (UTC).")
    updated_at: datetime | None = Field(default=None, description="Last update time (UTC).")
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def raw(self) -> dict[str, Any]:
        """Everything the server returned, including fields this SDK version does not model."""
        return self._raw

    @property
    def creation_context(self) -> SystemData | None:
        """When it was created and last changed (Azure's ``SystemData``); None before saving."""
        if self.created_at is None:
            return None
        return SystemData(created_at=self.created_at, last_modified_at=self.updated_at)


class _ServerFields(Tracked):
    """Read-only fields the server fills in; ``None`` on an entity built locally."""

    id: str | None = Field(default=None, description="azureml:<name>:<version>.")
    content_hash: str | None = Field(default=None, description="sha256 of the uploaded files.")
    archived: bool = Field(default=False, description="Whether the version is archived.")

    def reference(self) -> str | None:
        """``azureml:<name>:<version>`` of a version the registry holds; None for a new one.

        A Model, Environment or Data obtained from ``get`` (or returned by ``create_or_update``)
        is a reference wherever it is used: a deployment or an Input refers to that version and
        nothing is uploaded again.
        """
        name, version = getattr(self, "name", None), getattr(self, "version", None)
        if self.id is None or not name or not version:
            return None
        return f"azureml:{name}:{version}"


class BuildContext(_assets.BuildContext, FriendlyInit):
    """``Environment(build=BuildContext(path="./docker", dockerfile_path="Dockerfile"))``."""


class Model(ModelSpec, _ServerFields):
    """A model asset: ``Model(name="m", path="./model", type=AssetTypes.CUSTOM_MODEL)``.

    Inside a deployment a model may go without a name: it is registered anonymously.
    """

    name: str | None = Field(  # type: ignore[assignment]
        default=None, description="Asset name; needed to register it on its own."
    )

    signature: dict[str, Any] | None = Field(default=None, description="MLflow signature.")


class Data(DataSpec, _ServerFields):
    """A data asset: ``Data(name="d", path="./data", type=AssetTypes.URI_FOLDER)``."""


class Environment(EnvironmentSpec, _ServerFields):
    """An environment: ``Environment(name="e", conda_file="conda.yaml", image="...")``.

    Inside a deployment an environment may go without a name: it is registered anonymously.
    """

    name: str | None = Field(  # type: ignore[assignment]
        default=None, description="Asset name; needed to register it on its own."
    )

    pip_requirements: list[str] | None = Field(
        default=None, description="The conda file's pip section, as the server read it."
    )


class Code(CodeSpec, _ServerFields):
    """A code snapshot."""


class Datastore(DatastoreSpec):
    """A datastore: ``Datastore(name="s3data", type="s3", bucket="b", credentials={...})``."""

    created_at: datetime | None = Field(default=None, description="Creation time (UTC).")
    updated_at: datetime | None = Field(default=None, description="Last update time (UTC).")

    @property
    def id(self) -> str:
        """``/datastores/<name>``: the end of Azure's ARM id, which is what Azure's samples pass
        on (``{"output_dataset.datastore_id": f"azureml:{ds.id}"}``)."""
        return f"/datastores/{self.name}"


class Compute(ComputeSpec, Tracked):
    """A compute target: ``Compute(name="ray1", type="ray", address="ray://host:10001")``."""

    # Azure's provisioning states are one set of words for computes, endpoints and deployments.
    provisioning_state: str = Field(
        default=DeploymentState.SUCCEEDED.value,
        description="Always Succeeded: a compute is ready once stored.",
    )


class AmlCompute(Compute):
    """Azure's cluster, ``AmlCompute(name="batch-cluster", min_instances=0, max_instances=5)``.

    It runs on Ferry's local compute (worker processes on the server's machine), with Azure's
    defaults. ``size``, ``tier`` and ``idle_time_before_scale_down`` are recorded where the
    server keeps them; the SSH, network and identity settings only mean something on Azure and
    are not sent.
    """

    max_instances: int = Field(default=4, ge=1, description="Most instances (Azure: 4).")
    size: str | None = Field(default=None, description="Azure VM size; not used locally.")
    tier: str | None = Field(default=None, description="dedicated | low_priority; recorded.")
    idle_time_before_scale_down: int | None = Field(
        default=120, ge=0, description="Idle seconds before scaling down (Azure: 120)."
    )
    ssh_public_access_enabled: bool | None = Field(default=None, description="Not sent.")
    ssh_settings: Any = Field(default=None, description="Not sent.")
    network_settings: Any = Field(default=None, description="Not sent.")
    identity: Any = Field(default=None, description="Not sent.")
    enable_node_public_ip: bool = Field(default=True, description="Not sent.")
    location: str | None = Field(default=None, description="Not sent.")


class CodeConfiguration(CodeConfigurationSpec, FriendlyInit):
    """Where a deployment's scoring script lives; every deployment class takes it.

    ``CodeConfiguration(code="./src", scoring_script="score.py")``; ``code`` may also be a
    ``pathlib.Path`` or a registered :class:`Code`.
    """

    @field_validator("code", "scoring_script", mode="before")
    @classmethod
    def _paths(cls, value: Any) -> Any:
        if isinstance(value, Code):
            return value.reference() or value.path
        return str(value) if isinstance(value, PurePath) else value


#: The ``type`` values an :class:`Input` may have.
INPUT_TYPES = (AssetTypes.URI_FOLDER, AssetTypes.URI_FILE, AssetTypes.MLTABLE)


class Input(FriendlyInit):
    """A job input: ``Input(type=AssetTypes.URI_FOLDER, path="azureml:data@latest")``.

    ``path`` is a local path (``str`` or ``pathlib.Path``), a data asset reference, a datastore
    URI, or a registered :class:`Data` (used as the reference to that version).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    type: str = Field(default=AssetTypes.URI_FOLDER, description="uri_folder | uri_file | mltable.")
    path: str = Field(description="Local path, data asset reference or datastore URI.")
    mode: str | None = Field(default=None, description="ro_mount | download | direct.")
    description: str | None = Field(default=None, description="Free text; not sent.")

    def __init__(self, *, type: str = AssetTypes.URI_FOLDER, path: Any = None, **rest: Any):
        # Checked here rather than by a validator, so the error is Ferry's InvalidInputError
        # naming the valid types instead of pydantic's ValidationError.
        _check_input_type(type)
        if path is None:
            raise InvalidInputError(
                "Input needs path=...: a local path, azureml:<data>:<version> or a datastore URI.",
                details={"field": "path"},
            )
        super().__init__(type=type, path=_input_path(path), **rest)


class Output(FriendlyInit):
    """A job output: ``Output(type=AssetTypes.URI_FOLDER, path="azureml://datastores/x/paths/y")``.

    A batch job has one output, ``score``; its ``path`` is where the job writes its results.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    type: str = Field(default=AssetTypes.URI_FOLDER, description="uri_folder | uri_file.")
    path: str | None = Field(default=None, description="Datastore URI of the results.")
    mode: str | None = Field(default=None, description="rw_mount | upload | direct.")
    description: str | None = Field(default=None, description="Free text; not sent.")

    @field_validator("path", mode="before")
    @classmethod
    def _path(cls, value: Any) -> Any:
        return str(value) if isinstance(value, PurePath) else value


class InputOutputModes:
    """``mode`` values of Input and Output, as ``azure.ai.ml.constants.InputOutputModes``."""

    MOUNT = "mount"
    RO_MOUNT = "ro_mount"
    RW_MOUNT = "rw_mount"
    DOWNLOAD = "download"
    UPLOAD = "upload"
    DIRECT = "direct"
    EVAL_MOUNT = "eval_mount"
    EVAL_DOWNLOAD = "eval_download"


def _check_input_type(value: str) -> None:
    if value not in INPUT_TYPES:
        raise InvalidInputError(
            f"Input type {value!r} is not valid; use one of {', '.join(INPUT_TYPES)} "
            "(AssetTypes.URI_FOLDER, AssetTypes.URI_FILE, AssetTypes.MLTABLE).",
            details={"field": "type", "value": value},
        )


def _input_path(value: Any) -> Any:
    if isinstance(value, Data):
        return value.reference() or value.path
    return str(value) if isinstance(value, PurePath) else value


def from_server(cls: type[E], data: dict[str, Any]) -> E:
    """Build an entity from a server response, keeping unknown fields in ``.raw``."""
    fields = cls.model_fields
    aliases = {f.alias for f in fields.values() if f.alias}
    known = {k: v for k, v in data.items() if k in fields or k in aliases}
    if "credentials" in known and isinstance(known["credentials"], list):
        known["credentials"] = dict.fromkeys(known["credentials"], "***")
    entity = cls.model_validate(known)
    if isinstance(entity, Tracked):
        entity._raw = dict(data)
    return entity
