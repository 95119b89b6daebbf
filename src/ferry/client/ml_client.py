"""``MLClient``: the SDK's entry point, as in ``azure.ai.ml``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ferry.client.batch import BatchDeploymentOperations, BatchEndpointOperations, JobOperations
from ferry.client.connect import connect_info
from ferry.client.entities import Code, Compute, Data, Datastore, Environment, Model
from ferry.client.online import OnlineDeploymentOperations, OnlineEndpointOperations
from ferry.client.operations import (
    AssetOperations,
    ComputeOperations,
    DatastoreOperations,
    SecretOperations,
)
from ferry.client.poller import Poller
from ferry.client.staging import InputStager
from ferry.client.transport import Transport
from ferry.errors import InvalidInputError, NotFoundError
from ferry.settings import Settings
from ferry.specs.assets import AssetKind
from ferry.specs.batch import BatchDeploymentSpec, BatchEndpointSpec
from ferry.specs.online import OnlineDeploymentSpec, OnlineEndpointSpec

__all__ = ["MLClient"]


class MLClient:
    """Talks to one workspace's server over HTTP.

    ``MLClient()`` uses ``FERRY_*`` settings (default workspace ``~/.ferry``, auto-started);
    ``MLClient(workspace="./ws")`` a local folder; ``MLClient(server_url=..., token=...)`` a remote
    server. Azure's positional ``credential, subscription_id, resource_group, workspace_name`` are
    accepted and ignored, so existing code constructs it unchanged.
    """

    def __init__(
        self,
        credential: Any = None,
        subscription_id: str | None = None,
        resource_group_name: str | None = None,
        workspace_name: str | None = None,
        *,
        workspace: str | Path | None = None,
        server_url: str | None = None,
        token: str | None = None,
        settings: Settings | None = None,
        autostart: bool = True,
    ) -> None:
        overrides: dict[str, Any] = {}
        if workspace is not None:
            overrides["workspace"] = Path(workspace)
        if server_url is not None:
            overrides["server_url"] = server_url
        if token is not None:
            overrides["token"] = token
        base = settings or Settings()
        self.settings = base.model_copy(update=overrides) if overrides else base
        url, secret = connect_info(self.settings, autostart=autostart)
        self._transport = Transport(url, secret)
        self.models: AssetOperations[Model] = AssetOperations(
            self._transport, AssetKind.MODEL, Model
        )
        self.data: AssetOperations[Data] = AssetOperations(self._transport, AssetKind.DATA, Data)
        self.environments: AssetOperations[Environment] = AssetOperations(
            self._transport, AssetKind.ENVIRONMENT, Environment
        )
        self.code: AssetOperations[Code] = AssetOperations(self._transport, AssetKind.CODE, Code)
        self.datastores = DatastoreOperations(self._transport)
        self.compute = ComputeOperations(self._transport)
        self.secrets = SecretOperations(self._transport)
        # A local workspace's server shares this filesystem: it links a local input's files.
        staging = self.settings.input_staging
        if staging == "auto" and self.settings.server_url:
            staging = "archive"
        self.batch_endpoints = BatchEndpointOperations(
            self._transport, InputStager(self._transport, staging)
        )
        self.batch_deployments = BatchDeploymentOperations(
            self._transport, self.models, self.code, self.environments
        )
        self.jobs = JobOperations(self._transport)
        self.online_endpoints = OnlineEndpointOperations(self._transport)
        self.online_deployments = OnlineDeploymentOperations(
            self._transport, self.models, self.code, self.environments
        )

    def build_environment(self, name: str, version: str | None = None) -> dict[str, Any]:
        """Pre-build an environment (``ferry environment build NAME@VER``); returns its facts."""
        params = {"version": version} if version else {}
        result: dict[str, Any] = self._transport.json(
            "POST", f"/api/v1/environments/{name}/build", params=params
        )
        return result

    def begin_create_or_update(self, entity: Any) -> Poller[Any]:
        """Create or update any entity (``AmlCompute``, ``Model``, ``BatchEndpoint`` ...) through
        its operation group, as ``azure.ai.ml``'s ``MLClient.begin_create_or_update``."""
        if isinstance(entity, Compute):
            return self.compute.begin_create_or_update(entity)
        if isinstance(entity, BatchEndpointSpec):
            return self.batch_endpoints.begin_create_or_update(entity)
        if isinstance(entity, BatchDeploymentSpec):
            return self.batch_deployments.begin_create_or_update(entity)
        if isinstance(entity, OnlineEndpointSpec):
            return self.online_endpoints.begin_create_or_update(entity)
        if isinstance(entity, OnlineDeploymentSpec):
            return self.online_deployments.begin_create_or_update(entity)
        if isinstance(entity, Datastore):
            return Poller.completed(self.datastores.create_or_update(entity))
        assets: tuple[tuple[type[Any], AssetOperations[Any]], ...] = (
            (Model, self.models),
            (Data, self.data),
            (Environment, self.environments),
            (Code, self.code),
        )
        for cls, operations in assets:
            if isinstance(entity, cls):
                return Poller.completed(operations.create_or_update(entity))
        raise InvalidInputError(
            f"begin_create_or_update takes an entity such as AmlCompute, Model, Data, "
            f"Environment, BatchEndpoint or ManagedOnlineDeployment, not {type(entity).__name__}.",
            details={"field": "entity"},
        )

    def create_or_update(self, entity: Any) -> Any:
        """:meth:`begin_create_or_update`, waiting for the result."""
        return self.begin_create_or_update(entity).result()

    @property
    def server_url(self) -> str:
        return self._transport.base_url

    def studio_url(self, page: str = "/studio/") -> str:
        """A one-time login URL for the studio that opens ``page`` once signed in.

        The server mints the code (this client's token is needed); the URL works once, for ten
        minutes, and sets a session cookie in the browser that opens it (``ferry studio``).
        """
        answer = self._transport.json("POST", "/api/v1/studio/login-codes", params={"next": page})
        return self.server_url + str(answer["path"])

    @classmethod
    def from_config(
        cls, credential: Any = None, *, path: str | Path | None = None, file_name: str | None = None
    ) -> MLClient:
        """Read ``config.json`` as Azure does (from ``path``, else this folder and its parents,
        also inside ``.azureml/``). Ferry's keys: ``workspace`` (a folder, relative to the file)
        or ``server_url`` plus ``token``. Azure's subscription keys are ignored."""
        config = _find_config(Path(path) if path else None, file_name or "config.json")
        data = json.loads(config.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise InvalidInputError(f"{config} must hold a JSON object.")
        workspace = data.get("workspace")
        if workspace is not None:
            workspace = (config.parent / str(workspace)).resolve()
        return cls(workspace=workspace, server_url=data.get("server_url"), token=data.get("token"))

    def close(self) -> None:
        self.online_endpoints.close()
        self._transport.close()

    def __enter__(self) -> MLClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _find_config(path: Path | None, file_name: str) -> Path:
    if path is not None and path.is_file():
        return path
    start = (path or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        for candidate in (folder / file_name, folder / ".azureml" / file_name):
            if candidate.is_file():
                return candidate
    raise NotFoundError(
        f"no {file_name} found in {start} or its parents (also looked in .azureml/); write one "
        'with {"workspace": "<folder>"} or {"server_url": "...", "token": "..."}.'
    )
