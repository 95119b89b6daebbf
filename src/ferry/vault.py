"""The workspace's secret vault: Fernet encryption under one key file.

Datastore credentials and other secrets are stored encrypted with a key kept in the workspace
(``Vault(settings.resolved_workspace / "secret.key")``). The key file is created on first use,
readable by its owner only. Secret values never appear in error messages, ``repr`` or ``str``.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import uuid
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from ferry.errors import StoreError

__all__ = ["Secret", "Vault"]


class Secret:
    """A secret string that hides itself from ``repr``, ``str``, f-strings and logs.

    Call :meth:`reveal` where the value is really needed (for example, to build a storage client).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        # Constant-time comparison: equality checks on secrets must not leak them by timing.
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("ferry.Secret", self._value))

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would copy the value in clear; make sending it anywhere an explicit choice.
        raise TypeError("a Secret cannot be pickled; send secret.reveal() explicitly if you must")


class Vault:
    """Encrypts and decrypts secrets with the workspace key in ``key_file``.

    The key is created on first use. Creation is atomic and race-free: the key is written to a
    private temporary file (created with mode 0600, so it is never readable by others, not even
    for a moment) and then hard-linked into place, so a concurrent process either wins and sees
    its own key or uses the one already there.
    """

    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self._fernet: Fernet | None = None

    def __repr__(self) -> str:
        return f"Vault(key_file={str(self.key_file)!r})"

    def encrypt(self, value: str | Secret) -> bytes:
        """Encrypt ``value``; the result is an opaque token safe to store in the database."""
        plain = value.reveal() if isinstance(value, Secret) else value
        return self._key().encrypt(plain.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        """Decrypt a token made by :meth:`encrypt` with the same key.

        Raises:
            StoreError: the token was made with another workspace key, or is damaged.
        """
        try:
            return self._key().decrypt(token).decode("utf-8")
        except InvalidToken as exc:
            raise StoreError(
                f"a stored secret cannot be decrypted: the workspace key '{self.key_file}' does "
                "not match the key it was encrypted with (was the key file replaced?); restore "
                "the original key file or set the secret again",
                details={"key_file": str(self.key_file)},
            ) from exc

    def decrypt_secret(self, token: bytes) -> Secret:
        """Like :meth:`decrypt`, wrapped in a :class:`Secret`."""
        return Secret(self.decrypt(token))

    def _key(self) -> Fernet:
        if self._fernet is None:
            key = self._read_key() if self.key_file.exists() else self._create_key()
            try:
                self._fernet = Fernet(key)
            except ValueError as exc:
                raise StoreError(
                    f"the workspace key file '{self.key_file}' is not a valid key; restore it "
                    "from a backup (secrets encrypted with it cannot be read without it)",
                    details={"key_file": str(self.key_file)},
                ) from exc
        return self._fernet

    def _read_key(self) -> bytes:
        try:
            return self.key_file.read_bytes().strip()
        except OSError as exc:
            raise StoreError(
                f"cannot read the workspace key file '{self.key_file}' ({exc.strerror}); check "
                "its permissions",
                details={"key_file": str(self.key_file)},
            ) from exc

    def _create_key(self) -> bytes:
        self.key_file.parent.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        tmp = self.key_file.with_name(f".{self.key_file.name}.{uuid.uuid4().hex}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(key)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, self.key_file)
            except FileExistsError:
                # Another process created the key first: use theirs.
                return self._read_key()
            return key
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
