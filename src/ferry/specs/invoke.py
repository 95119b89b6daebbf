"""The body of a batch endpoint invoke, in the three forms callers send.

1. Ferry's own (the CLI and SDK): ``{"input": {"type", "path"}, "output_path", "params_override",
   "deployment_name", "job_name"}``.
2. Azure's batch-endpoint REST body, as its docs and ``azure-ai-ml`` send it:
   ``{"properties": {"InputData": {"<name>": {"JobInputType": "UriFolder", "Uri": ...}},
   "OutputDataset": {"DatastoreId", "Path"}, "OutputData": {"score": {...}}, "MiniBatchSize",
   ...}}``. Its keys are matched without regard to case or underscores (Azure's docs write
   ``InputData``, the SDK sends ``inputData``).
3. A published pipeline's (seed 004, Data Factory): ``{"ExperimentName", "ParameterAssignments",
   "DataPathAssignments", "Description", "Tags"}``.

They may be mixed. :meth:`InvokeRequest.resolve` turns any of them into one
:class:`ResolvedInvoke`; a body that names no input, or two, is a :class:`SpecError` (422) that
names the fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ferry.errors import SpecError
from ferry.specs.invoke_overrides import datastore_name, flatten_overrides, iso_seconds

__all__ = ["InvokeRequest", "JobInput", "ResolvedInvoke", "azure_uri"]


class _Azure(BaseModel):
    """Azure's REST models: keys match whatever their case or underscores; unknown ones fail."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _any_case(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        canonical = {
            _squash(info.alias or name): info.alias or name
            for name, info in cls.model_fields.items()
        }
        return {canonical.get(_squash(str(key)), key): value for key, value in data.items()}


def _squash(key: str) -> str:
    return key.replace("_", "").lower()


class AzureJobInput(_Azure):
    """One of ``InputData``'s named inputs."""

    job_input_type: str = Field(
        alias="JobInputType",
        pattern="^(?i:urifolder|urifile|uri_folder|uri_file)$",
        description="UriFolder | UriFile (Literal inputs are for pipeline deployments).",
    )
    uri: str = Field(
        alias="Uri",
        min_length=1,
        description="azureml:<data>:<version>, a data asset's azureml://.../data/<n>/versions/<v>"
        " id, azureml://datastores/<d>/paths/<p>, or file://<folder on the server>.",
    )
    mode: str | None = Field(default=None, alias="Mode", description="Accepted; Ferry reads.")
    description: str | None = Field(default=None, alias="Description", description="Free text.")


class AzureDataVersion(_Azure):
    """``OutputDataset``: where the outputs go (Azure's older, still documented form)."""

    datastore_id: str = Field(
        default="workspaceblobstore",
        alias="DatastoreId",
        description="A datastore name or its ARM id (…/datastores/<name>).",
    )
    path: str = Field(alias="Path", min_length=1, description="Folder inside the datastore.")


class AzureJobOutput(_Azure):
    """One of ``OutputData``'s named outputs (a model deployment has one, ``score``)."""

    job_output_type: str = Field(
        default="UriFolder",
        alias="JobOutputType",
        pattern="^(?i:urifolder|urifile|uri_folder|uri_file)$",
        description="UriFolder | UriFile (a file: its name becomes the output file name).",
    )
    uri: str = Field(alias="Uri", min_length=1, description="azureml://datastores/<d>/paths/<p>.")
    mode: str | None = Field(default=None, alias="Mode", description="Accepted; ignored.")


class AzureCompute(_Azure):
    """``Compute``: how many instances run the job."""

    instance_count: int | None = Field(
        default=None, alias="InstanceCount", ge=1, description="Overrides instance_count."
    )
    instance_type: str | None = Field(
        default=None, alias="InstanceType", description="Accepted; ignored."
    )


class AzureRetry(_Azure):
    """``RetrySettings`` of one job."""

    max_retries: int | None = Field(
        default=None, alias="MaxRetries", ge=0, description="Overrides max_retries."
    )
    timeout: int | str | None = Field(
        default=None, alias="Timeout", description="ISO 8601 (PT30S) or seconds."
    )


class AzureBatchJob(_Azure):
    """``properties`` of Azure's batch-endpoint invoke body (its ``BatchJob``)."""

    input_data: dict[str, AzureJobInput] | None = Field(
        default=None, alias="InputData", description="Named inputs; a model deployment takes one."
    )
    output_dataset: AzureDataVersion | None = Field(
        default=None, alias="OutputDataset", description="Where the outputs go (older form)."
    )
    output_data: dict[str, AzureJobOutput] | None = Field(
        default=None,
        alias="OutputData",
        description="{score: {JobOutputType, Uri}}: a model deployment's one output.",
        json_schema_extra={"propertyNames": {"const": "score"}, "maxProperties": 1},
    )
    output_file_name: str | None = Field(
        default=None, alias="OutputFileName", description="Overrides output_file_name."
    )
    mini_batch_size: int | None = Field(
        default=None, alias="MiniBatchSize", ge=1, description="Overrides mini_batch_size."
    )
    max_concurrency_per_instance: int | None = Field(
        default=None,
        alias="MaxConcurrencyPerInstance",
        ge=1,
        description="Overrides max_concurrency_per_instance.",
    )
    error_threshold: int | None = Field(
        default=None, alias="ErrorThreshold", ge=-1, description="Overrides error_threshold."
    )
    logging_level: str | None = Field(
        default=None,
        alias="LoggingLevel",
        pattern="^(?i:debug|info|warning|error|critical)$",
        description="Info | Warning | Debug: overrides logging_level.",
    )
    compute: AzureCompute | None = Field(
        default=None, alias="Compute", description="{InstanceCount}."
    )
    retry_settings: AzureRetry | None = Field(
        default=None, alias="RetrySettings", description="{MaxRetries, Timeout}."
    )
    environment_variables: dict[str, Any] | None = Field(
        default=None, alias="EnvironmentVariables", description="Added to the deployment's."
    )
    name: str | None = Field(default=None, alias="Name", description="The job's name.")
    description: str | None = Field(
        default=None, alias="Description", description="Recorded on the job."
    )
    tags: dict[str, str] | None = Field(
        default=None, alias="Tags", description="Recorded on the job."
    )
    properties: dict[str, str] | None = Field(
        default=None, alias="Properties", description="Accepted; ignored."
    )

    def overrides(self) -> dict[str, Any]:
        """The settings this body overrides, under Ferry's override names."""
        found: dict[str, Any] = {
            "output_file_name": self.output_file_name,
            "mini_batch_size": self.mini_batch_size,
            "max_concurrency_per_instance": self.max_concurrency_per_instance,
            "error_threshold": self.error_threshold,
            "logging_level": self.logging_level.lower() if self.logging_level else None,
            "environment_variables": self.environment_variables,
            "instance_count": self.compute.instance_count if self.compute else None,
        }
        if self.retry_settings is not None:
            found["max_retries"] = self.retry_settings.max_retries
            if self.retry_settings.timeout is not None:
                found["timeout"] = iso_seconds(
                    self.retry_settings.timeout, field="properties.RetrySettings.Timeout"
                )
        return {key: value for key, value in found.items() if value is not None}


class DataPath(_Azure):
    """One of a published pipeline's ``DataPathAssignments``."""

    data_store_name: str = Field(
        alias="DataStoreName", min_length=1, description="A datastore's name."
    )
    relative_path: str = Field(
        alias="RelativePath", min_length=1, description="The folder inside it to score."
    )


class JobInput(BaseModel):
    """What a batch job scores (Ferry's form)."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(
        default="uri_folder",
        pattern="^(uri_folder|uri_file)$",
        description="uri_folder | uri_file.",
    )
    path: str = Field(
        description="azureml:<data>:<version>, azureml://datastores/<d>/paths/<p>, or file://<abs "
        "path> for a folder read in place on the server's machine."
    )
    name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,254}$",
        description="The input's name, its key in the script's Run.input_datasets; default "
        "input_data (the SDK's inputs={name: Input(...)} sets it).",
    )


@dataclass
class ResolvedInvoke:
    """One invoke, whatever form it came in."""

    input: dict[str, str]
    output_path: str | None
    overrides: dict[str, Any]
    job_name: str | None
    deployment_name: str | None
    experiment_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


#: JSON Schema of "the input is given exactly once": ``input``, Azure's ``properties.InputData``
#: (one entry) or ``DataPathAssignments`` (one entry). :meth:`InvokeRequest.resolve` says the same
#: in words. The types are spelled out (not ``not: null``), which fuzzers handle better.
_ONE_ENTRY = {"type": "object", "minProperties": 1, "maxProperties": 1}
_ONE_INPUT: dict[str, Any] = {
    "oneOf": [
        {"required": ["input"], "properties": {"input": {"type": "object"}}},
        {
            "required": ["properties"],
            "properties": {
                "properties": {
                    "type": "object",
                    "required": ["InputData"],
                    "properties": {"InputData": _ONE_ENTRY},
                }
            },
        },
        {"required": ["DataPathAssignments"], "properties": {"DataPathAssignments": _ONE_ENTRY}},
    ]
}


class InvokeRequest(BaseModel):
    """Start a batch job on an endpoint: Ferry's, Azure's or a published pipeline's body."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, json_schema_extra=_ONE_INPUT)

    deployment_name: str | None = Field(
        default=None,
        description="Deployment to run on; default the azureml-model-deployment header, then "
        "the endpoint's default.",
    )
    input: JobInput | None = Field(default=None, description="The data to score (Ferry's form).")
    output_path: str | None = Field(
        default=None, description="azureml://datastores/<d>/paths/<p> to copy outputs to."
    )
    job_name: str | None = Field(default=None, description="Name of the job; default generated.")
    params_override: list[dict[str, Any]] | dict[str, Any] = Field(
        default_factory=dict,
        description="Settings overrides, e.g. [{'mini_batch_size': 5}]; dotted keys nest "
        "(environment_variables.X, compute.instance_count, output_dataset.path ...).",
    )
    allow_reuse: bool = Field(
        default=False, description="Reuse an identical completed job's outputs (off by default)."
    )
    properties: AzureBatchJob | None = Field(
        default=None, description="Azure's batch-endpoint invoke body (InputData, OutputDataset…)."
    )
    parameter_assignments: dict[str, Any] = Field(
        default_factory=dict,
        alias="ParameterAssignments",
        description="Overrides in the published-pipeline (ADF) style, dotted keys included "
        "(environment_variables.INPUT_PARTITION); applied after params_override.",
    )
    data_path_assignments: dict[str, DataPath] = Field(
        default_factory=dict,
        alias="DataPathAssignments",
        description="The input as a published pipeline takes it: {name: {DataStoreName, "
        "RelativePath}}.",
    )
    experiment_name: str | None = Field(
        default=None,
        alias="ExperimentName",
        description="Recorded on the job (experiment_name).",
    )
    description: str | None = Field(
        default=None,
        alias="Description",
        description="Recorded on the job.",
    )
    tags: dict[str, str] = Field(
        default_factory=dict,
        alias="Tags",
        description="Recorded on the job.",
    )

    def resolve(self, header_deployment: str | None = None) -> ResolvedInvoke:
        """The one input, output, overrides and names this body asks for."""
        overrides, output_path = flatten_overrides(self._override_items())
        azure = self.properties
        job_input = self._input()
        output_path = self._output(output_path, overrides)
        return ResolvedInvoke(
            input=job_input,
            output_path=output_path,
            overrides=overrides,
            job_name=self.job_name or (azure.name if azure else None),
            deployment_name=self.deployment_name or header_deployment,
            experiment_name=self.experiment_name,
            description=self.description or (azure.description if azure else None),
            tags={**(azure.tags or {} if azure else {}), **self.tags},
        )

    def submission(self, endpoint: str, header_deployment: str | None = None) -> dict[str, Any]:
        """What ``JobService.submit`` takes for this body: the REST invoke and the studio's
        Invoke form both start jobs through it."""
        resolved = self.resolve(header_deployment)
        return {
            "endpoint_name": endpoint,
            "deployment_name": resolved.deployment_name,
            "input": resolved.input,
            "output_path": resolved.output_path,
            "job_name": resolved.job_name,
            "overrides": resolved.overrides,
            "allow_reuse": self.allow_reuse,
            "experiment_name": resolved.experiment_name,
            "description": resolved.description,
            "tags": resolved.tags,
        }

    def _override_items(self) -> list[tuple[str, dict[str, Any]]]:
        items = self.params_override
        entries = [
            ("params_override", item) for item in (items if isinstance(items, list) else [items])
        ]
        if self.properties is not None:
            entries.insert(0, ("properties", self.properties.overrides()))
        entries.append(("ParameterAssignments", self.parameter_assignments))
        return entries

    def _input(self) -> dict[str, str]:
        given: list[tuple[str, dict[str, str]]] = []
        if self.input is not None:
            named = {"name": self.input.name} if self.input.name else {}
            given.append(("input", {"type": self.input.type, "path": self.input.path, **named}))
        azure = self.properties.input_data if self.properties else None
        if azure:
            given.append(("properties.InputData", _one_input(azure)))
        if self.data_path_assignments:
            _, path = _only(self.data_path_assignments, "DataPathAssignments", "input")
            uri = f"azureml://datastores/{path.data_store_name}/paths/{path.relative_path}"
            given.append(("DataPathAssignments", {"type": "uri_folder", "path": uri}))
        if not given:
            raise SpecError(
                "the invoke names no input: send input: {path: ...}, or Azure's properties: "
                "{InputData: {<name>: {JobInputType: UriFolder, Uri: ...}}}, or "
                "DataPathAssignments: {<name>: {DataStoreName: ..., RelativePath: ...}}.",
                details={"fields": ["input"]},
            )
        if len(given) > 1:
            fields = [where for where, _ in given]
            raise SpecError(
                f"the invoke names its input twice ({', '.join(fields)}); send one of them.",
                details={"fields": fields},
            )
        return given[0][1]

    def _output(self, from_overrides: str | None, overrides: dict[str, Any]) -> str | None:
        given: list[tuple[str, str]] = []
        if self.output_path:
            given.append(("output_path", self.output_path))
        if from_overrides:
            given.append(("output_dataset", from_overrides))
        azure = self.properties
        if azure and azure.output_dataset:
            store = datastore_name(azure.output_dataset.datastore_id)
            path = azure.output_dataset.path.lstrip("/")
            given.append(("properties.OutputDataset", f"azureml://datastores/{store}/paths/{path}"))
        if azure and azure.output_data:
            name, output = _only(azure.output_data, "properties.OutputData", "output")
            if name != "score":
                raise SpecError(
                    f"properties.OutputData names {name!r}; a model deployment's one output "
                    "is 'score'.",
                    details={"fields": [f"properties.OutputData.{name}"]},
                )
            uri = azure_uri(output.uri)
            if _squash(output.job_output_type) == "urifile":
                folder, _, file_name = uri.rstrip("/").rpartition("/")
                overrides.setdefault("output_file_name", file_name)
                uri = folder
            given.append(("properties.OutputData", uri))
        if len(given) > 1:
            fields = [where for where, _ in given]
            raise SpecError(
                f"the invoke names its output twice ({', '.join(fields)}); send one of them.",
                details={"fields": fields},
            )
        return given[0][1] if given else None


def _only(items: dict[str, Any], where: str, what: str) -> tuple[str, Any]:
    if len(items) != 1:
        names = ", ".join(sorted(items)) or "none"
        raise SpecError(
            f"{where} must name exactly one {what} (a model deployment scores one); it names "
            f"{len(items)}: {names}.",
            details={"fields": [where]},
        )
    return next(iter(items.items()))


def _one_input(inputs: dict[str, AzureJobInput]) -> dict[str, str]:
    name, item = _only(inputs, "properties.InputData", "input")
    kind = "uri_file" if _squash(item.job_input_type) == "urifile" else "uri_folder"
    return {"type": kind, "path": azure_uri(item.uri), "name": name}


_DATA_ID = re.compile(r"^azureml://.*/data/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/?$")
_LONG_DATASTORE = re.compile(r"^azureml://.+/datastores/(?P<store>[^/]+)/paths/(?P<path>.*)$")


def azure_uri(uri: str) -> str:
    """Azure's long ids as Ferry's short references; anything else as it is.

    ``azureml://subscriptions/…/workspaces/…/data/<n>/versions/<v>`` → ``azureml:<n>:<v>``;
    ``azureml://subscriptions/…/datastores/<d>/paths/<p>`` → ``azureml://datastores/<d>/paths/<p>``.
    """
    data = _DATA_ID.match(uri)
    if data:
        return f"azureml:{data['name']}:{data['version']}"
    store = _LONG_DATASTORE.match(uri)
    if store and not uri.startswith("azureml://datastores/"):
        return f"azureml://datastores/{store['store']}/paths/{store['path']}"
    return uri
