"""The service layer: assets, datastores, secrets, computes and endpoints over the store and
datastores.

These hold the domain rules (immutability, atomic uploads, reference resolution) and know nothing
of HTTP; the server's routes are thin adapters over them.
"""

from ferry.services.assets import AssetService
from ferry.services.computes import ComputeService
from ferry.services.datastores import DatastoreService
from ferry.services.secrets import SecretService

__all__ = ["AssetService", "ComputeService", "DatastoreService", "SecretService"]
