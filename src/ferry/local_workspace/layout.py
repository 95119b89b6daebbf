"""Where things live inside a local workspace folder.

The server owns the workspace; clients read only ``server.json`` and ``token`` to find and
authenticate to it. Keeping the layout in one place keeps the two sides in agreement.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["WorkspaceLayout"]


@dataclass(frozen=True)
class WorkspaceLayout:
    """Paths of one workspace folder."""

    root: Path

    @property
    def token_file(self) -> Path:
        return self.root / "token"

    @property
    def key_file(self) -> Path:
        """The Fernet key that encrypts secrets at rest."""
        return self.root / "secret.key"

    @property
    def server_file(self) -> Path:
        """Written by a running server: pid, url, started_at."""
        return self.root / "server.json"

    @property
    def lock_file(self) -> Path:
        """Held (flock) by the running server so a second one refuses to start."""
        return self.root / "server.lock"

    @property
    def log_file(self) -> Path:
        return self.root / "logs" / "server.log"

    @property
    def blobstore(self) -> Path:
        """Root of the default ``workspaceblobstore`` datastore."""
        return self.root / "blobstore"

    @property
    def tmp(self) -> Path:
        """Staging area for uploads; on the same filesystem as the blobstore so moves are atomic."""
        return self.root / "tmp"

    @property
    def hash_cache(self) -> Path:
        """Remembered content hashes of staged local folders (``ferry.hash_cache``): inside the
        workspace, whose user is the one whose files are staged, and gone with it."""
        return self.root / "cache" / "tree-hashes"

    def ensure(self) -> None:
        """Create the folders and the control-plane token (mode 0600) if missing.

        The root is made 0700 (an older workspace is tightened too): the store, logs, keys and
        uploaded models inside are this user's alone, whatever the umask made of them.
        """
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.root.stat().st_mode & 0o077 and self.root.stat().st_uid == os.getuid():
            self.root.chmod(0o700)
        for folder in (self.log_file.parent, self.blobstore, self.tmp):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.token_file.exists():
            write_private(self.token_file, secrets.token_urlsafe(32))

    def read_token(self) -> str | None:
        try:
            return self.token_file.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def read_server_info(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.server_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) else None


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file that is never readable by others, even briefly."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
