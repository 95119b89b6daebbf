"""The composition of one workspace's services, built from settings and shared by the routes."""

from __future__ import annotations

from dataclasses import dataclass

from ferry.layout import WorkspaceLayout
from ferry.registry import AssetRegistry, ComputeRegistry, DatastoreRegistry, SecretService
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
    datastores: DatastoreRegistry
    assets: AssetRegistry
    computes: ComputeRegistry
    token: str

    @classmethod
    def open(cls, settings: Settings) -> Workspace:
        """Create the folder, token, key and built-in resources on first use; migrate the store."""
        layout = WorkspaceLayout(settings.resolved_workspace)
        layout.ensure()
        store = open_store(settings.resolved_store_url)
        secrets = SecretService(store.secrets, Vault(layout.key_file))
        datastores = DatastoreRegistry(store.resources, secrets, layout.blobstore)
        datastores.ensure_default()
        computes = ComputeRegistry(store.resources)
        computes.ensure_local()
        assets = AssetRegistry(store.assets, datastores, layout.tmp)
        token = settings.token or layout.read_token()
        assert token is not None  # layout.ensure() wrote it
        return cls(settings, layout, store, secrets, datastores, assets, computes, token)

    def close(self) -> None:
        self.store.close()
