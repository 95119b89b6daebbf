"""Online endpoints and their deployments, in the store's endpoints and deployments tables; keys
in the vault.

A deployment is stored with references only (``azureml:model:3``, ``azureml:code-…:1``,
``azureml:env:2``): the SDK registers inline models, code folders and environments first. The
record also holds the deployment's ``provisioning_state`` (its status column) and ``error``,
written by the online service as replicas come up, so ``show`` tells the truth after a server
restart too.
"""

from __future__ import annotations

import builtins
import contextlib
import json
from typing import Any

from ferry.errors import ConflictError, InvalidInputError, NotFoundError, SpecError
from ferry.services.assets import AssetService
from ferry.services.endpoint_keys import EndpointCredentials
from ferry.services.endpoint_records import (
    deployment_spec,
    deployment_view,
    endpoint_spec,
    record_state,
    stored_body,
)
from ferry.services.references import SERVER_PYTHON, pin_references
from ferry.services.scoring_check import check_scoring_script
from ferry.services.secrets import SecretService
from ferry.specs.assets import AssetKind, AssetTypes
from ferry.specs.loader import spec_from_data
from ferry.specs.online import OnlineDeploymentSpec, OnlineEndpointSpec
from ferry.specs.states import DeploymentState
from ferry.store.base import (
    DeploymentRecord,
    DeploymentRepository,
    EndpointKind,
    EndpointRecord,
    EndpointRepository,
)

__all__ = ["OnlineEndpointService"]

_KIND: EndpointKind = "online"
_SECRET = "online-endpoint/{}"  # the endpoint's keys, encrypted in the vault
_NEEDS_CODE = (
    "an online deployment needs code_configuration (code + scoring_script, a score.py with "
    "init() and run()), unless its model is an mlflow_model (then Ferry's built-in MLflow "
    "scorer serves it); add code_configuration, or register the model with type: mlflow_model."
)
_NEEDS_ENV = (
    "an online deployment needs an environment: azureml:<env>@latest, an inline environment "
    f"(conda_file/image), or {SERVER_PYTHON} for the server's own Python."
)
_NEEDS_ENV_WITH_CODE = (
    "an online deployment with code_configuration needs an environment, also for an "
    "mlflow_model (as on Azure): azureml:<env>@latest, an inline environment (conda_file/image), "
    f"or {SERVER_PYTHON}; or leave out code_configuration to use the model's own environment "
    "and Ferry's built-in MLflow scorer."
)


class OnlineEndpointService:
    """Create, update, show, list and delete online endpoints, deployments and keys."""

    def __init__(
        self,
        endpoints: EndpointRepository,
        deployments: DeploymentRepository,
        assets: AssetService,
        secrets: SecretService,
    ) -> None:
        self._endpoints = endpoints
        self._deployments = deployments
        self._assets = assets
        self._secrets = secrets

    # -- endpoints ------------------------------------------------------------------------------
    def put_endpoint(self, spec: OnlineEndpointSpec) -> tuple[dict[str, Any], bool]:
        """Create or update; ``traffic``/``mirror_traffic`` left out keep their current value."""
        try:
            current: OnlineEndpointSpec | None = self.endpoint_spec(spec.name)
        except NotFoundError:
            current = None
        data = spec.to_json()
        for key in ("traffic", "mirror_traffic"):
            if data.get(key) is None:
                data[key] = getattr(current, key, None) or {}
        merged = spec_from_data(OnlineEndpointSpec, data)  # re-checks the merged split
        names = {d["name"] for d in self.list_deployments(spec.name)} if current else set()
        for key in ("traffic", "mirror_traffic"):
            for name, percent in (getattr(merged, key) or {}).items():
                if percent and name not in names:
                    raise NotFoundError(
                        f"{key} names deployment {name!r}, which endpoint {spec.name!r} does not "
                        f"have (it has: {', '.join(sorted(names)) or 'none'}); create the "
                        "deployment first, then set its traffic.",
                        details={"field": key},
                    )
        stored = {k: v for k, v in merged.to_json().items() if k != "name"}
        stored["traffic"] = {k: v for k, v in (merged.traffic or {}).items() if v}
        stored["mirror_traffic"] = {k: v for k, v in (merged.mirror_traffic or {}).items() if v}
        record, created = self._endpoints.put(_KIND, spec.name, stored)
        if created:
            self._save_credentials(spec.name, EndpointCredentials.generate())
        return self._endpoint_view(record), created

    def endpoint(self, name: str) -> dict[str, Any]:
        return self._endpoint_view(self._endpoint_record(name))

    def endpoint_spec(self, name: str) -> OnlineEndpointSpec:
        return OnlineEndpointSpec.model_validate(endpoint_spec(self._endpoint_record(name)))

    def list_endpoints(self) -> builtins.list[dict[str, Any]]:
        return [self._endpoint_view(r) for r in self._endpoints.list(_KIND)]

    def delete_endpoint(self, name: str) -> builtins.list[str]:
        """Delete the endpoint, its deployments and its keys; returns the deployments' names."""
        self._endpoint_record(name)
        removed = [d["name"] for d in self.list_deployments(name)]
        self._endpoints.delete(_KIND, name)  # and its deployments, in one transaction
        with contextlib.suppress(NotFoundError):
            self._secrets.delete_internal(_SECRET.format(name))
        return removed

    def set_traffic(self, endpoint: str, traffic: dict[str, int]) -> dict[str, Any]:
        data = {**self.endpoint_spec(endpoint).to_json(), "traffic": traffic}
        return self.put_endpoint(spec_from_data(OnlineEndpointSpec, data))[0]

    def _endpoint_record(self, name: str) -> EndpointRecord:
        return self._endpoints.get(_KIND, name)

    def _endpoint_view(self, record: EndpointRecord) -> dict[str, Any]:
        spec = endpoint_spec(record)
        name = record.name
        deployments = [r.name for r in self._deployments.list(_KIND, name)]
        traffic = {d: 0 for d in sorted(deployments)} | dict(spec.get("traffic") or {})
        return {
            **spec,
            "traffic": traffic,
            "mirror_traffic": dict(spec.get("mirror_traffic") or {}),
            "scoring_uri": f"/endpoints/{name}/score",
            "openapi_uri": f"/endpoints/{name}/swagger.json",
            **record_state(record),
        }

    # -- credentials ----------------------------------------------------------------------------
    def credentials(self, name: str) -> EndpointCredentials:
        self._endpoint_record(name)
        try:
            return EndpointCredentials.from_json(
                json.loads(self._secrets.reveal_internal(_SECRET.format(name)))
            )
        except NotFoundError:  # e.g. a record restored without its keys: issue new ones
            creds = EndpointCredentials.generate()
            self._save_credentials(name, creds)
            return creds

    def regenerate_key(self, name: str, key_type: str) -> EndpointCredentials:
        if key_type not in ("primary", "secondary"):
            raise InvalidInputError(
                f"key_type {key_type!r} is not primary or secondary.",
                details={"field": "key_type"},
            )
        if self.endpoint_spec(name).auth_mode != "key":
            # 409: a well-formed request that the endpoint's auth mode rules out.
            raise ConflictError(
                f"endpoint {name!r} uses aml_token auth; keys are regenerated only for "
                "auth_mode key (tokens expire by themselves: get a new one with get-credentials).",
                details={"field": "auth_mode"},
            )
        creds = self.credentials(name).regenerate(key_type)
        self._save_credentials(name, creds)
        return creds

    def _save_credentials(self, name: str, creds: EndpointCredentials) -> None:
        self._secrets.put_internal(_SECRET.format(name), json.dumps(creds.to_json()))

    # -- deployments ----------------------------------------------------------------------------
    def put_deployment(
        self, endpoint: str, spec: OnlineDeploymentSpec
    ) -> tuple[dict[str, Any], bool]:
        """Store the desired deployment with state Creating (or Updating)."""
        if spec.endpoint_name and spec.endpoint_name != endpoint:
            # 422 like any other field of the spec that cannot be processed.
            raise SpecError(
                f"the deployment names endpoint_name {spec.endpoint_name!r} but was sent to "
                f"endpoint {endpoint!r}; make them match.",
                details={"field": "endpoint_name"},
            )
        self._endpoint_record(endpoint)
        spec.endpoint_name = endpoint
        self._check_references(spec)
        exists = any(r.name == spec.name for r in self._deployments.list(_KIND, endpoint))
        state = DeploymentState.UPDATING if exists else DeploymentState.CREATING
        body = stored_body(spec.to_stored())
        record, created = self._deployments.put(
            _KIND, endpoint, spec.name, {**body, "error": None}, state
        )
        return deployment_view(record), created

    def _check_references(self, spec: OnlineDeploymentSpec) -> None:
        pinned = pin_references(self._assets, spec)
        code = pinned.get(AssetKind.CODE)
        if code is not None and spec.code_configuration is not None:
            self._check_script(code, spec.code_configuration.scoring_script)
        model = pinned.get(AssetKind.MODEL)
        # Azure's no-code deployment: an MLflow model needs neither a script nor an environment.
        mlflow = model is not None and model.spec.get("type") == AssetTypes.MLFLOW_MODEL
        if spec.code_configuration is None and not mlflow:
            raise SpecError(_NEEDS_CODE, details={"field": "code_configuration"})
        if spec.environment is None and (spec.code_configuration is not None or not mlflow):
            fix = _NEEDS_ENV_WITH_CODE if mlflow else _NEEDS_ENV
            raise SpecError(fix, details={"field": "environment"})

    def _check_script(self, record: Any, script: str) -> None:
        """Refuse now, not when replicas start, a scoring script that cannot work."""
        folder = self._assets.local_path(record)
        if folder is not None:
            check_scoring_script(folder, script, online=True)

    def deployment(self, endpoint: str, name: str) -> dict[str, Any]:
        return deployment_view(self._deployment_record(endpoint, name))

    def deployment_spec(self, endpoint: str, name: str) -> OnlineDeploymentSpec:
        return _spec_of(self._deployment_record(endpoint, name))

    def list_deployments(self, endpoint: str) -> builtins.list[dict[str, Any]]:
        self._endpoint_record(endpoint)
        return [deployment_view(r) for r in self._deployments.list(_KIND, endpoint)]

    def all_deployments(self) -> builtins.list[OnlineDeploymentSpec]:
        """Every deployment of every endpoint (what the server brings back on start)."""
        return [_spec_of(r) for r in self._deployments.list(_KIND)]

    def delete_deployment(self, endpoint: str, name: str) -> None:
        self._deployment_record(endpoint, name)
        spec = self.endpoint_spec(endpoint)
        for key in ("traffic", "mirror_traffic"):
            percent = (getattr(spec, key) or {}).get(name, 0)
            if percent:
                raise ConflictError(
                    f"deployment {name!r} takes {percent}% of the {key.replace('_', ' ')} of "
                    f"endpoint {endpoint!r}; set it to 0 first (ferry online-endpoint update "
                    f'--name {endpoint} --{key.replace("_", "-")} "{name}=0 ...").',
                    details={"field": key},
                )
        self._deployments.delete(_KIND, endpoint, name)

    def set_state(
        self, endpoint: str, name: str, state: DeploymentState, error: str | None = None
    ) -> None:
        """Record a deployment's provisioning state (no-op if it was deleted meanwhile)."""
        self._deployments.set_status(_KIND, endpoint, name, state, {"error": error})

    def _deployment_record(self, endpoint: str, name: str) -> DeploymentRecord:
        self._endpoint_record(endpoint)  # an unknown endpoint is named first
        return self._deployments.get(_KIND, endpoint, name)


def _spec_of(record: DeploymentRecord) -> OnlineDeploymentSpec:
    body = {k: v for k, v in deployment_spec(record).items() if k != "error"}
    return OnlineDeploymentSpec.model_validate(body)
