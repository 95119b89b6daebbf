"""User secrets: encrypted at rest with the workspace key; values never leave except to workers."""

from __future__ import annotations

from typing import Any

from ferry.errors import InvalidInputError
from ferry.specs.names import SECRET_NAME
from ferry.store.base import SecretRepository
from ferry.vault import Vault

__all__ = ["INTERNAL_PREFIX", "SecretService"]

#: Secrets the system keeps for itself (datastore credentials) carry this prefix, which the
#: user-facing name rule cannot produce, so the two never collide.
INTERNAL_PREFIX = "ferry/"


class SecretService:
    """Set, list (names only), delete and reveal secrets."""

    def __init__(self, repo: SecretRepository, vault: Vault) -> None:
        self._repo = repo
        self._vault = vault

    def set(self, name: str, value: str) -> tuple[dict[str, Any], bool]:
        SECRET_NAME.check(name)
        if value == "":
            raise InvalidInputError(
                f"secret {name!r} has an empty value; pass --value V or --from-file F.",
                details={"field": "value"},
            )
        record, created = self._repo.put(name, self._vault.encrypt(value))
        return _public(record.name, record.created_at, record.updated_at), created

    def list(self) -> list[dict[str, Any]]:
        return [
            _public(r.name, r.created_at, r.updated_at)
            for r in self._repo.list()
            if not r.name.startswith(INTERNAL_PREFIX)
        ]

    def delete(self, name: str) -> None:
        SECRET_NAME.check(name)
        self._repo.delete(name)

    def reveal(self, name: str) -> str:
        """The plain value, for handing to a worker's environment; never for responses."""
        return self._vault.decrypt(self._repo.get(name).ciphertext)

    # System secrets (no name rule; prefixed so listings hide them).
    def put_internal(self, name: str, value: str) -> None:
        self._repo.put(INTERNAL_PREFIX + name, self._vault.encrypt(value))

    def reveal_internal(self, name: str) -> str:
        return self._vault.decrypt(self._repo.get(INTERNAL_PREFIX + name).ciphertext)

    def delete_internal(self, name: str) -> None:
        self._repo.delete(INTERNAL_PREFIX + name)


def _public(name: str, created_at: Any, updated_at: Any) -> dict[str, Any]:
    return {"name": name, "created_at": created_at, "updated_at": updated_at}
