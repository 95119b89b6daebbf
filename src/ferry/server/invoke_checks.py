"""What an invoke must get right before a job exists: its input resolves and its size fits.

A bad reference found in *Preparing* leaves a Failed job behind for a request that was wrong
from the start; Azure answers such an invoke with an error and no job. So the input's data asset
and version, datastore and path are resolved here (nothing is copied), and an ``instance_count``
over the compute's ``max_instances`` is refused, before :meth:`JobService.submit` stores a job.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferry.datastore.cloud_url import is_cloud_url
from ferry.errors import InvalidInputError, NotFoundError
from ferry.server.paths import path_exists
from ferry.specs.assets import AssetKind
from ferry.specs.batch import BatchDeploymentSpec
from ferry.specs.refs import is_asset_ref

if TYPE_CHECKING:
    from ferry.server.workspace import Workspace

__all__ = ["check_invoke"]


def check_invoke(
    workspace: Workspace, deployment: BatchDeploymentSpec, settings: dict[str, Any], job_input: Any
) -> None:
    """Raise the error a job would fail with in Preparing, now, so that no job is created.

    Args:
        workspace: the server's workspace.
        deployment: the deployment the job would run on.
        settings: its settings with the invoke's overrides applied (``apply_overrides``).
        job_input: the job's ``input`` (``{"type": ..., "path": ...}``).

    Raises:
        NotFoundError: the data asset (or version), datastore or path does not exist.
        SpecError: ``instance_count`` is over the compute's ``max_instances``.
    """
    workspace.batch.check_instance_count(
        deployment, int(settings["instance_count"]), field="params_override.instance_count"
    )
    if isinstance(job_input, dict) and "path" in job_input:
        _check_input(workspace, str(job_input["path"]))


def _check_input(workspace: Workspace, path: str) -> None:
    if is_cloud_url(path):  # s3://, abfss:// ...: read through the datastore over that place
        path = workspace.datastores.uri_of(path)
    if path.startswith("file://"):
        local = Path(path.removeprefix("file://"))
        if not path_exists(local, field="input.path"):
            raise NotFoundError(
                f"input {local} does not exist on the server's machine; check the path.",
                details={"field": "input"},
            )
    elif is_asset_ref(path):
        try:
            workspace.assets.resolve(AssetKind.DATA, path)
        except NotFoundError as exc:
            raise NotFoundError(
                f"input {path!r} does not resolve: {exc.message}", details={"field": "input"}
            ) from exc
    elif path.startswith("azureml://"):
        store, rel = workspace.datastores.resolve(path)
        if not store.exists(rel):
            raise NotFoundError(
                f"input {path} does not exist: datastore {store.name!r} has no {rel or '/'!r} "
                "(the path is relative to the datastore's root).",
                details={"field": "input", "datastore": store.name},
            )
    elif "://" not in path:
        raise InvalidInputError(
            f"input {path!r} is not a data asset, datastore URI or uploaded folder; pass a local "
            "path (the CLI uploads it), azureml:<data>@latest or azureml://datastores/<d>/paths/"
            "<p>.",
            details={"field": "input"},
        )
