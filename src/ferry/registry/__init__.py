"""The registry's services: assets, datastores, secrets and computes over the store and datastores.

These hold the domain rules (immutability, atomic uploads, reference resolution) and know nothing
of HTTP; the server's routes are thin adapters over them.
"""

from ferry.registry.assets import AssetRegistry
from ferry.registry.computes import ComputeRegistry
from ferry.registry.datastores import DatastoreRegistry
from ferry.registry.secrets import SecretService

__all__ = ["AssetRegistry", "ComputeRegistry", "DatastoreRegistry", "SecretService"]
