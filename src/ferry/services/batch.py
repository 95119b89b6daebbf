"""Batch endpoints and their deployments, stored as named resources.

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
from ferry.services.references import SERVER_PYTHON, pin_references
from ferry.services.scoring_check import check_scoring_script
from ferry.specs.assets import AssetKind
from ferry.specs.batch import BatchDeploymentSpec, BatchEndpointSpec
from ferry.specs.workspace import LOCAL_COMPUTE
from ferry.store.base import NamedRepository

__all__ = ["SERVER_PYTHON", "BatchEndpointService"]

_ENDPOINT = "batch-endpoint"
_DEPLOYMENT = "batch-deployment"


class BatchEndpointService:
    """Create, update, show, list and delete batch endpoints and deployments."""

    def __init__(
        self, repo: NamedRepository, assets: AssetService, computes: ComputeService
    ) -> None:
        self._repo = repo
        self._assets = assets
        self._computes = computes

    # -- endpoints ------------------------------------------------------------------------------
    def put_endpoint(self, spec: BatchEndpointSpec) -> tuple[dict[str, Any], bool]:
        default = spec.defaults.get("deployment_name")
        if default:
            self.deployment_spec(spec.name, default)
        record, created = self._repo.put(_ENDPOINT, spec.name, spec.to_json())
        return self._endpoint_view(record.spec, record.created_at, record.updated_at), created

    def endpoint(self, name: str) -> dict[str, Any]:
        record = self._endpoint_record(name)
        return self._endpoint_view(record.spec, record.created_at, record.updated_at)

    def endpoint_spec(self, name: str) -> BatchEndpointSpec:
        return BatchEndpointSpec.model_validate(self._endpoint_record(name).spec)

    def _endpoint_record(self, name: str) -> Any:
        return self._get(_ENDPOINT, name, f"batch endpoint {name!r}", "ferry batch-endpoint list")

    def list_endpoints(self) -> builtins.list[dict[str, Any]]:
        return [
            self._endpoint_view(r.spec, r.created_at, r.updated_at)
            for r in self._repo.all(_ENDPOINT)
        ]

    def delete_endpoint(self, name: str) -> None:
        self.endpoint(name)
        for deployment in self.list_deployments(name):
            self._repo.delete(_DEPLOYMENT, _key(name, deployment["name"]))
        self._repo.delete(_ENDPOINT, name)

    def _endpoint_view(self, spec: dict[str, Any], created: Any, updated: Any) -> dict[str, Any]:
        name = spec["name"]
        return {
            **spec,
            "scoring_uri": f"/api/v1/batch-endpoints/{name}/jobs",
            "openapi_uri": "/api/openapi.json",
            "provisioning_state": "Succeeded",
            "created_at": created,
            "updated_at": updated,
        }

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
        record, created = self._repo.put(_DEPLOYMENT, _key(endpoint, spec.name), spec.to_stored())
        endpoint_spec = self.endpoint_spec(endpoint)
        if set_default or not endpoint_spec.defaults.get("deployment_name"):
            # Azure makes the first deployment the default; --set-default moves it.
            endpoint_spec.defaults = {"deployment_name": spec.name}
            self._repo.put(_ENDPOINT, endpoint, endpoint_spec.to_json())
        return _deployment_view(record.spec, record.created_at, record.updated_at), created

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
        record = self._deployment_record(endpoint, name)
        return _deployment_view(record.spec, record.created_at, record.updated_at)

    def deployment_spec(self, endpoint: str, name: str) -> BatchDeploymentSpec:
        return BatchDeploymentSpec.model_validate(self._deployment_record(endpoint, name).spec)

    def _deployment_record(self, endpoint: str, name: str) -> Any:
        self._endpoint_record(endpoint)
        return self._get(
            _DEPLOYMENT,
            _key(endpoint, name),
            f"batch deployment {name!r} of endpoint {endpoint!r}",
            f"ferry batch-deployment list --endpoint-name {endpoint}",
        )

    def list_deployments(self, endpoint: str) -> builtins.list[dict[str, Any]]:
        self.endpoint(endpoint)
        prefix = _key(endpoint, "")
        return [
            _deployment_view(r.spec, r.created_at, r.updated_at)
            for r in self._repo.all(_DEPLOYMENT)
            if r.name.startswith(prefix)
        ]

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
        self._repo.delete(_DEPLOYMENT, _key(endpoint, name))
        if spec.defaults.get("deployment_name") == name:
            spec.defaults = {}
            self._repo.put(_ENDPOINT, endpoint, spec.to_json())

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

    def _get(self, kind: str, key: str, what: str, hint: str) -> Any:
        try:
            return self._repo.get(kind, key)
        except NotFoundError as exc:
            raise NotFoundError(f"{what} does not exist; list them with `{hint}`.") from exc


def _key(endpoint: str, deployment: str) -> str:
    return f"{endpoint}/{deployment}"


def _deployment_view(spec: dict[str, Any], created: Any, updated: Any) -> dict[str, Any]:
    return {**spec, "provisioning_state": "Succeeded", "created_at": created, "updated_at": updated}
