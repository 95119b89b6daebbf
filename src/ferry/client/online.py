"""Online endpoints and deployments in the SDK, named as in ``azure.ai.ml``.

``begin_*`` calls return a :class:`Poller` whose ``result()`` waits like Azure's ``LROPoller``
(a deployment's waits until every replica's ``init()`` finished, and raises if it failed).
``invoke`` posts to the endpoint's ``scoring_uri`` with its key, as Azure's does; a binary answer
comes back as ``bytes`` (Azure returns ``str`` whatever the answer is).
"""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from ferry.client.entities import Code, Environment, Model, from_server
from ferry.client.inline_assets import InlineAssets
from ferry.client.online_entities import (
    BatchingSettings,
    EndpointAuthKeys,
    EndpointAuthToken,
    KubernetesOnlineDeployment,
    KubernetesOnlineEndpoint,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    OnlineDeployment,
    OnlineEndpoint,
    OnlineRequestSettings,
    Poller,
    ProbeSettings,
)
from ferry.client.operations import AssetOperations
from ferry.client.transport import Transport
from ferry.errors import FerryError, GatewayError, InvalidInputError, ServerError, gateway_error
from ferry.specs.online import DeploymentState, OnlineDeploymentSpec, OnlineEndpointSpec

__all__ = [
    "BatchingSettings",
    "EndpointAuthKeys",
    "EndpointAuthToken",
    "KubernetesOnlineDeployment",
    "KubernetesOnlineEndpoint",
    "ManagedOnlineDeployment",
    "ManagedOnlineEndpoint",
    "OnlineDeployment",
    "OnlineDeploymentOperations",
    "OnlineEndpoint",
    "OnlineEndpointOperations",
    "OnlineRequestSettings",
    "Poller",
    "ProbeSettings",
]

E = TypeVar("E", bound=BaseModel)
_BASE = "/api/v1/online-endpoints"


def _entity(cls: type[E], data: dict[str, Any]) -> E:
    return from_server(cls, data)


def _spec_json(entity: BaseModel, spec_cls: type[BaseModel]) -> dict[str, Any]:
    data = entity.model_dump(mode="json", exclude_none=True, include=set(spec_cls.model_fields))
    data.pop("schema_uri", None)
    return data


class OnlineEndpointOperations:
    """``ml_client.online_endpoints``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport
        self._http = httpx.Client(timeout=200.0)

    def begin_create_or_update(
        self, endpoint: OnlineEndpointSpec, *, local: bool = False
    ) -> Poller[OnlineEndpoint]:
        """Create or update; traffic may only name deployments that exist."""
        data = self._t.json("POST", _BASE, json=_spec_json(endpoint, OnlineEndpointSpec))
        return Poller(lambda: (True, _entity(OnlineEndpoint, data)))

    def get(self, name: str, *, local: bool = False) -> OnlineEndpoint:
        return _entity(OnlineEndpoint, self._t.json("GET", f"{_BASE}/{name}"))

    def list(self, *, local: bool = False) -> builtins.list[OnlineEndpoint]:
        return [_entity(OnlineEndpoint, e) for e in self._t.json("GET", _BASE)["value"]]

    def begin_delete(self, name: str, *, local: bool = False) -> Poller[None]:
        """Delete the endpoint, its deployments (their replicas stop) and its keys."""
        self._t.request("DELETE", f"{_BASE}/{name}")
        return Poller(lambda: (True, None))

    def get_keys(self, name: str) -> EndpointAuthKeys | EndpointAuthToken:
        data = self._t.json("GET", f"{_BASE}/{name}/keys")
        if "access_token" in data:
            return EndpointAuthToken.model_validate(data)
        return EndpointAuthKeys.model_validate(data)

    def begin_regenerate_keys(self, name: str, *, key_type: str = "primary") -> Poller[None]:
        """Replace one key; the old one stops working at once, the other keeps working."""
        self._t.json("POST", f"{_BASE}/{name}/keys/regenerate", json={"key_type": key_type})
        return Poller(lambda: (True, None))

    def invoke(
        self,
        endpoint_name: str,
        *,
        request_file: str | Path | None = None,
        deployment_name: str | None = None,
        body: bytes | str | dict[str, Any] | builtins.list[Any] | None = None,
        headers: dict[str, str] | None = None,
        local: bool = False,
    ) -> str | bytes:
        """POST ``request_file`` (or ``body``) to the scoring URI and return the answer.

        The answer is ``str`` when its content type is text (``text/*``, JSON, XML, or any with
        a ``charset``) and ``bytes`` otherwise, e.g. ``image/png``. This differs from Azure on
        purpose: Azure's ``invoke`` always returns ``str``, which mangles binary answers.
        :meth:`invoke_raw` gives the HTTP response itself (exact bytes and headers).

        Raises GatewayError (status 401, 404, 408, 413, 424, 429, 503 ...) with the message.
        """
        response = self.invoke_raw(
            endpoint_name,
            request_file=request_file,
            deployment_name=deployment_name,
            body=body,
            headers=headers,
        )
        return response.text if is_text(response) else response.content

    def invoke_raw(
        self,
        endpoint_name: str,
        *,
        request_file: str | Path | None = None,
        deployment_name: str | None = None,
        body: bytes | str | dict[str, Any] | builtins.list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Like :meth:`invoke`, but the whole HTTP response (its bytes untouched, headers)."""
        if request_file is not None:
            content = Path(request_file).read_bytes()
        elif isinstance(body, (dict, builtins.list)):
            content = json.dumps(body).encode()
        elif body is not None:
            content = body.encode() if isinstance(body, str) else body
        else:
            raise InvalidInputError("invoke needs request_file=... or body=...")
        endpoint = self.get(endpoint_name)
        keys = self.get_keys(endpoint_name)
        key = keys.access_token if isinstance(keys, EndpointAuthToken) else keys.primary_key
        sent = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        if deployment_name:
            sent["azureml-model-deployment"] = deployment_name
        sent.update(headers or {})
        try:
            response = self._http.post(str(endpoint.scoring_uri), content=content, headers=sent)
        except httpx.TransportError as exc:
            raise ServerError(f"cannot reach {endpoint.scoring_uri} ({exc}).") from exc
        if response.status_code >= 400:
            raise _gateway_error(response)
        return response

    def close(self) -> None:
        self._http.close()


#: Media types that are text although not ``text/*``.
_TEXT_TYPES = {"application/json", "application/xml", "application/javascript", "application/yaml"}


def is_text(response: httpx.Response) -> bool:
    """Whether an answer is text by its content type; with none, whether it decodes as UTF-8."""
    header = response.headers.get("content-type")
    if header is None:
        try:
            response.content.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    media, _, params = header.partition(";")
    media = media.strip().lower()
    return (
        media.startswith("text/")
        or media in _TEXT_TYPES
        or media.endswith(("+json", "+xml"))
        or "charset=" in params.lower()
    )


def _gateway_error(response: httpx.Response) -> GatewayError:
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    message = str(payload.get("message") or response.text[:500] or response.reason_phrase)
    code = str(payload.get("code") or "")
    return gateway_error(response.status_code, code, message, payload.get("details"))


class OnlineDeploymentOperations:
    """``ml_client.online_deployments``: local model, code and environment are registered first."""

    def __init__(
        self,
        transport: Transport,
        models: AssetOperations[Model],
        code: AssetOperations[Code],
        environments: AssetOperations[Environment],
    ) -> None:
        self._t = transport
        self._inline = InlineAssets(models, code, environments)

    def begin_create_or_update(
        self,
        deployment: OnlineDeploymentSpec,
        *,
        local: bool = False,
        skip_script_validation: bool = False,
        all_traffic: bool = False,
    ) -> Poller[OnlineDeployment]:
        """Register inline assets, create or update the deployment, and start its replicas.

        ``result()`` waits until it is Succeeded and raises (with the init() traceback) if it
        failed. ``all_traffic`` sends 100% of the endpoint's live traffic to it once stored.
        ``skip_script_validation`` is accepted; the server always checks the script.
        """
        endpoint = deployment.endpoint_name
        if not endpoint:
            raise InvalidInputError(
                "the deployment has no endpoint_name; set it or pass --endpoint-name.",
                details={"field": "endpoint_name"},
            )
        # Registered entities become references first: the JSON copy below would lose their id.
        pinned = self._inline.pin(deployment.model_copy(deep=True))
        copy = OnlineDeploymentSpec.model_validate(_spec_json(pinned, OnlineDeploymentSpec))
        body = _spec_json(self._inline.register(copy), OnlineDeploymentSpec)
        self._t.json(
            "POST",
            f"{_BASE}/{endpoint}/deployments",
            json=body,
            params={"all_traffic": all_traffic},
        )
        name = deployment.name

        def poll() -> tuple[bool, OnlineDeployment]:
            current = self.get(name, endpoint)
            state = current.provisioning_state
            if state == DeploymentState.FAILED.value:
                raise FerryError(f"deployment {name!r} failed: {current.error}")
            return state == DeploymentState.SUCCEEDED.value, current

        return Poller(poll)

    def get(self, name: str, endpoint_name: str, *, local: bool = False) -> OnlineDeployment:
        data = self._t.json("GET", f"{_BASE}/{endpoint_name}/deployments/{name}")
        return _entity(OnlineDeployment, data)

    def list(self, endpoint_name: str, *, local: bool = False) -> builtins.list[OnlineDeployment]:
        data = self._t.json("GET", f"{_BASE}/{endpoint_name}/deployments")
        return [_entity(OnlineDeployment, d) for d in data["value"]]

    def begin_delete(self, name: str, endpoint_name: str, *, local: bool = False) -> Poller[None]:
        """Delete a deployment that takes no traffic; its replicas stop."""
        self._t.request("DELETE", f"{_BASE}/{endpoint_name}/deployments/{name}")
        return Poller(lambda: (True, None))

    def get_logs(
        self,
        name: str,
        endpoint_name: str,
        lines: int = 5000,
        *,
        container_type: str | None = None,
        local: bool = False,
    ) -> str:
        """The last ``lines`` lines of each replica's log (``StorageInitializer``: preparation)."""
        params: dict[str, Any] = {"lines": lines}
        if container_type:
            params["container_type"] = container_type
        path = f"{_BASE}/{endpoint_name}/deployments/{name}/logs"
        return self._t.request("GET", path, params=params).text
