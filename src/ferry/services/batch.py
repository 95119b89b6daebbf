"""Batch endpoints and their deployments, in the store's endpoints and deployments tables.

A deployment is stored with references only (``azureml:model:3``, ``azureml:code-…:1``,
``azureml:env:2``): the SDK registers inline models, code folders and environments first, so a
deployment always points at immutable versions that jobs can rebuild from.
"""

from __future__ import annotations

import builtins
from typing import Any

from ferry.errors import ConflictError, NotFoundError, SpecError
from ferry.services.assets import AssetService
from ferry.services.computes import ComputeService
from ferry.services.endpoint_records import (
    deployment_spec,
    deployment_view,
    endpoint_spec,
    record_state,
    stored_body,
)
from ferry.services.references import SERVER_PYTHON, pin_references
from ferry.services.scoring_check import check_scoring_script
from ferry.specs.assets import AssetKind
from ferry.specs.batch import BatchDeploymentSpec, BatchEndpointSpec
from ferry.specs.workspace import LOCAL_COMPUTE
from ferry.store.base import (
    DeploymentRecord,
    DeploymentRepository,
    EndpointKind,
    EndpointRecord,
    EndpointRepository,
)

__all__ = ["SERVER_PYTHON", "BatchEndpointService"]

_KIND: EndpointKind = "batch"


class BatchEndpointService:
    """Create, update, show, list and delete batch endpoints and deployments."""

    def __init__(
        self,
        endpoints: EndpointRepository,
        deployments: DeploymentRepository,
        assets: AssetService,
        computes: ComputeService,
    ) -> None:
        self._endpoints = endpoints
        self._deployments = deployments
        self._assets = assets
        self._computes = computes

    # -- endpoints ------------------------------------------------------------------------------
    def put_endpoint(self, spec: BatchEndpointSpec) -> tuple[dict[str, Any], bool]:
        default = spec.defaults.get("deployment_name")
        if default:
            self.deployment_spec(spec.name, default)
        record, created = self._endpoints.put(_KIND, spec.name, stored_body(spec.to_json()))
        return _endpoint_view(record), created

    def endpoint(self, name: str) -> dict[str, Any]:
        return _endpoint_view(self._endpoints.get(_KIND, name))

    def endpoint_spec(self, name: str) -> BatchEndpointSpec:
        return BatchEndpointSpec.model_validate(endpoint_spec(self._endpoints.get(_KIND, name)))

    def list_endpoints(self) -> builtins.list[dict[str, Any]]:
        return [_endpoint_view(r) for r in self._endpoints.list(_KIND)]

    def delete_endpoint(self, name: str) -> None:
        self._endpoints.delete(_KIND, name)  # and its deployments, in one transaction

    # -- deployments ----------------------------------------------------------------------------
    def put_deployment(
        self, endpoint: str, spec: BatchDeploymentSpec, *, set_default: bool = False
    ) -> tuple[dict[str, Any], bool]:
        if spec.endpoint_name and spec.endpoint_name != endpoint:
            # 422 like any other field of the spec that cannot be processed.
            raise SpecError(
                f"the deployment names endpoint_name {spec.endpoint_name!r} but was sent to "
                f"endpoint {endpoint!r}; make them match.",
                details={"field": "endpoint_name"},
            )
        self.endpoint(endpoint)
        spec.endpoint_name = endpoint
        self._check_references(spec)
        body = stored_body(spec.to_stored())
        record, created = self._deployments.put(_KIND, endpoint, spec.name, body)
        owner = self.endpoint_spec(endpoint)
        if set_default or not owner.defaults.get("deployment_name"):
            # Azure makes the first deployment the default; --set-default moves it.
            owner.defaults = {"deployment_name": spec.name}
            self._endpoints.put(_KIND, endpoint, stored_body(owner.to_json()))
        return deployment_view(record), created

    def _check_references(self, spec: BatchDeploymentSpec) -> None:
        code = pin_references(self._assets, spec).get(AssetKind.CODE)
        if spec.model is None and spec.code_configuration is None:
            raise SpecError(
                "a batch deployment needs a model, a code_configuration, or both.",
                details={"field": "model"},
            )
        folder = self._assets.local_path(code) if code is not None else None
        if folder is not None and spec.code_configuration is not None:
            # Fail at create, as online does, not in every job's Preparing.
            check_scoring_script(folder, spec.code_configuration.scoring_script, online=False)
        if spec.compute_name() != "batch-cluster":  # Azure's sample cluster name runs locally
            self._computes.get(spec.compute_name())
        self.check_instance_count(spec, spec.effective_instance_count())

    def check_instance_count(
        self, spec: BatchDeploymentSpec, count: int, *, field: str = "resources.instance_count"
    ) -> None:
        """Refuse more instances than the deployment's registered compute allows.

        The built-in ``local`` compute and an unregistered ``batch-cluster`` (Azure's sample
        name) have no limit of their own: instances there are worker processes on this machine.
        """
        name = spec.compute_name()
        if name == LOCAL_COMPUTE:
            return
        try:
            compute = self._computes.get_spec(name)
        except NotFoundError:
            return  # only batch-cluster gets here unregistered (checked above)
        if count > compute.max_instances:
            raise SpecError(
                f"{field} is {count} but compute {name!r} allows at most {compute.max_instances} "
                f"instances (max_instances); ask for {compute.max_instances} or fewer, or raise "
                f"the compute's limit (ferry compute create -n {name} --type "
                f"{compute.type} --max-instances {count}).",
                details={"field": field},
            )

    def deployment(self, endpoint: str, name: str) -> dict[str, Any]:
        return deployment_view(self._deployment_record(endpoint, name))

    def deployment_spec(self, endpoint: str, name: str) -> BatchDeploymentSpec:
        record = self._deployment_record(endpoint, name)
        return BatchDeploymentSpec.model_validate(deployment_spec(record))

    def _deployment_record(self, endpoint: str, name: str) -> DeploymentRecord:
        self._endpoints.get(_KIND, endpoint)  # an unknown endpoint is named first
        return self._deployments.get(_KIND, endpoint, name)

    def list_deployments(self, endpoint: str) -> builtins.list[dict[str, Any]]:
        self._endpoints.get(_KIND, endpoint)
        return [deployment_view(r) for r in self._deployments.list(_KIND, endpoint)]

    def delete_deployment(self, endpoint: str, name: str) -> None:
        self.deployment(endpoint, name)
        spec = self.endpoint_spec(endpoint)
        if (
            spec.defaults.get("deployment_name") == name
            and len(self.list_deployments(endpoint)) > 1
        ):
            raise ConflictError(
                f"{name!r} is the default deployment of {endpoint!r}; make another the default "
                f"first (ferry batch-endpoint update --name {endpoint} "
                "--set defaults.deployment_name=<other>).",
            )
        self._deployments.delete(_KIND, endpoint, name)
        if spec.defaults.get("deployment_name") == name:
            spec.defaults = {}
            self._endpoints.put(_KIND, endpoint, stored_body(spec.to_json()))

    def route(self, endpoint: str, deployment: str | None) -> BatchDeploymentSpec:
        """The deployment an invocation runs on: the named one, else the endpoint's default."""
        spec = self.endpoint_spec(endpoint)
        name = deployment or spec.defaults.get("deployment_name")
        if not name:
            # 409: a valid request the endpoint's state (no default deployment) rules out.
            raise ConflictError(
                f"No valid deployments to route to: endpoint {endpoint!r} has no default "
                "deployment; pass --deployment-name or set defaults.deployment_name.",
                details={"field": "deployment_name"},
            )
        return self.deployment_spec(endpoint, name)


def _endpoint_view(record: EndpointRecord) -> dict[str, Any]:
    return {
        **endpoint_spec(record),
        "scoring_uri": f"/api/v1/batch-endpoints/{record.name}/jobs",
        "openapi_uri": "/api/openapi.json",
        **record_state(record),
    }
