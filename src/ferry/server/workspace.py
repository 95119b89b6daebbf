"""The composition of one workspace's services, built from settings and shared by the routes."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from ferry.archive import ExtractLimits
from ferry.environments import EnvironmentBuilder
from ferry.hash_cache import TreeHashCache
from ferry.local_workspace.layout import WorkspaceLayout
from ferry.online.service import OnlineService
from ferry.server.jobs import JobService
from ferry.server.online_prepare import prepare_deployment
from ferry.services import AssetService, ComputeService, DatastoreService, SecretService
from ferry.services.batch import BatchEndpointService
from ferry.services.online import OnlineEndpointService
from ferry.services.staging import InputStaging
from ferry.settings import Settings
from ferry.store import open_store
from ferry.store.base import Store
from ferry.vault import Vault

__all__ = ["Workspace"]


@dataclass
class Workspace:
    """Everything a server process owns for one workspace."""

    settings: Settings
    layout: WorkspaceLayout
    store: Store
    secrets: SecretService
    datastores: DatastoreService
    assets: AssetService
    computes: ComputeService
    batch: BatchEndpointService
    environments: EnvironmentBuilder
    token: str
    jobs: JobService = field(init=False)
    online: OnlineEndpointService = field(init=False)
    online_service: OnlineService = field(init=False)
    staging: InputStaging = field(init=False)

    def __post_init__(self) -> None:
        self.jobs = JobService(self)
        # Local inputs by content into the default datastore (the API's and the studio's).
        self.staging = InputStaging(
            self.datastores,
            self.layout.tmp,
            self.assets.unpack_limits,
            # Off by default: the stat it takes of every file slows a first staging (bench/staging).
            TreeHashCache(self.layout.hash_cache) if self.settings.staging_hash_cache else None,
        )
        self.online = OnlineEndpointService(
            self.store.endpoints, self.store.deployments, self.assets, self.secrets
        )
        self.online_service = OnlineService(
            self.online, partial(prepare_deployment, self), self.layout.root / "online"
        )

    @classmethod
    def open(cls, settings: Settings) -> Workspace:
        """Create the folder, token, key and built-in resources on first use; migrate the store."""
        layout = WorkspaceLayout(settings.resolved_workspace)
        layout.ensure()
        store = open_store(settings.resolved_store_url)
        secrets = SecretService(store.secrets, Vault(layout.key_file))
        datastores = DatastoreService(store.resources, secrets, layout.blobstore)
        datastores.ensure_default()
        computes = ComputeService(store.resources)
        computes.ensure_local()
        # Uploads are capped by what they unpack to; the archive's own size says little.
        limits = ExtractLimits(
            max_bytes=settings.max_unpacked_bytes,
            max_files=settings.max_unpacked_files,
            bytes_setting="FERRY_MAX_UNPACKED_BYTES on the server",
            files_setting="FERRY_MAX_UNPACKED_FILES on the server",
        )
        assets = AssetService(store.assets, datastores, layout.tmp, unpack_limits=limits)
        batch = BatchEndpointService(store.endpoints, store.deployments, assets, computes)
        environments = EnvironmentBuilder(layout.root / "envs")
        token = settings.token or layout.read_token()
        assert token is not None  # layout.ensure() wrote it
        return cls(
            settings,
            layout,
            store,
            secrets,
            datastores,
            assets,
            computes,
            batch,
            environments,
            token,
        )

    def close(self) -> None:
        self.jobs.shutdown()
        self.store.close()
