"""Stage a job's local input on the server before invoking: by path, else by one archive.

See :mod:`ferry.services.staging` for what the server does. The client picks the way:

* ``link`` (a local workspace: the server shares this machine's filesystem): it names the
  resolved path and its user id; the server links the files into its datastore. Nothing is sent.
* ``archive`` (a remote server, or ``FERRY_INPUT_STAGING=archive``): it hashes the tree and asks
  whether the server has that content staged already; only if not does it upload one tar.gz.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from ferry.archive import content_hash, pack
from ferry.client.transport import Transport
from ferry.errors import NotFoundError

__all__ = ["InputStager", "StagingMode"]

StagingMode = Literal["link", "archive", "auto"]


class InputStager:
    """Turns a local file or folder into the ``azureml://`` URI of its staged copy."""

    def __init__(self, transport: Transport, mode: StagingMode) -> None:
        self._t = transport
        self._mode = mode

    def stage(self, local: Path) -> str:
        """Stage ``local`` (an existing, resolved path) and return the URI to invoke with."""
        if self._mode != "archive":
            try:
                data = self._t.json(
                    "POST", "/api/v1/staged-inputs", json={"path": str(local), "uid": os.getuid()}
                )
                return str(data["path"])
            except NotFoundError as exc:
                # The server cannot see the path: it does not share this filesystem after all.
                if self._mode == "link" or exc.details.get("field") != "path":
                    raise
        return self._upload(local)

    def _upload(self, local: Path) -> str:
        name = local.name
        digest = content_hash(local).removeprefix("sha256:")
        try:
            found = self._t.json("GET", f"/api/v1/staged-inputs/{digest}/{quote(name, safe='')}")
            return str(found["path"])
        except NotFoundError:
            pass
        with tempfile.TemporaryFile() as archive:
            # Level 1: small files compress almost as well, at a fraction of level 9's time.
            pack(local, archive, compresslevel=1)
            archive.seek(0)
            data = self._t.json(
                "POST",
                "/api/v1/staged-inputs/archive",
                files={"archive": (f"{name}.tar.gz", archive, "application/gzip")},
            )
        return str(data["path"])
