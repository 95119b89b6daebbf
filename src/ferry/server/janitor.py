"""Remove what a server that died left behind, when the next one starts.

A server killed with SIGKILL (or a machine that lost power) runs none of its cleanup. It leaves:

* the folders of its unix sockets, ``ferry-<pid>-batch-*`` and ``ferry-<pid>-online-*``, in the
  system temporary folder (see :mod:`ferry.sockdirs`);
* staging folders in ``<workspace>/tmp``: uploads being unpacked, downloads being packed;
* ``LocalUpload`` folders of the default datastore that no asset version refers to: an upload is
  committed before its row is written, so a crash between the two leaves the files only;
* ``LocalInputs/<folder>.tmp-<hex>``: a job input being staged (never visible as an input).

:func:`sweep` runs in the server process, with the workspace lock held and before the server
serves, so nothing of this workspace is in flight. What it removes goes to the server log.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

from ferry import sockdirs
from ferry.server.workspace import Workspace
from ferry.services.assets import UPLOAD_FOLDER
from ferry.services.staging import INPUT_FOLDER
from ferry.specs.assets import AssetKind
from ferry.store.base import AssetRecord, AssetRepository

__all__ = ["sweep"]

_log = logging.getLogger("ferry.server")

_IN_FLIGHT = re.compile(r"\.tmp-[0-9a-f]{32}$")
_UPLOAD_REF = re.compile(re.escape(UPLOAD_FOLDER) + r"/([0-9a-f]{32})(?![0-9a-f])")
# A folder changed this recently may be an upload another server is committing right now (two
# workspaces that share a PostgreSQL store share the default datastore's folder, too): a commit
# is followed by its row within milliseconds, so an older unreferenced folder is an orphan.
_UPLOAD_GRACE_SECONDS = 600.0


def sweep(workspace: Workspace) -> list[Path]:
    """Remove a dead predecessor's leftovers; returns what was removed (each also logged)."""
    removed = sockdirs.sweep()
    removed += _clear_staging(workspace.layout.tmp)
    removed += _orphan_uploads(workspace)
    removed += _half_staged_inputs(workspace)
    if removed:
        _log.warning(
            "removed %d leftovers of a server that did not shut down cleanly: %s",
            len(removed),
            ", ".join(str(p) for p in removed),
        )
    return removed


def _clear_staging(tmp: Path) -> list[Path]:
    removed: list[Path] = []
    try:
        entries = sorted(tmp.iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _orphan_uploads(workspace: Workspace) -> list[Path]:
    store = workspace.datastores.default
    # Only a default datastore that is this workspace's own folder; never a remote one.
    if not store.local or Path(store.root).resolve() != workspace.layout.blobstore.resolve():
        return []
    uploads = workspace.layout.blobstore / UPLOAD_FOLDER
    try:
        folders = sorted(p for p in uploads.iterdir() if p.is_dir() and not p.is_symlink())
    except FileNotFoundError:
        return []
    if not folders:
        return []
    in_use = _referenced_uploads(workspace.store.assets)
    cutoff = time.time() - _UPLOAD_GRACE_SECONDS
    removed: list[Path] = []
    for folder in folders:
        if folder.name in in_use or _last_change(folder) > cutoff:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _half_staged_inputs(workspace: Workspace) -> list[Path]:
    """Staged inputs a killed server was still building (``LocalInputs/<f>.tmp-<hex>``).

    Complete ones stay: they are content-addressed, and a job may need its input to resume.
    """
    store = workspace.datastores.default
    if not store.local or Path(store.root).resolve() != workspace.layout.blobstore.resolve():
        return []
    removed: list[Path] = []
    for folder in sorted((workspace.layout.blobstore / INPUT_FOLDER).glob("*.tmp-*")):
        if _IN_FLIGHT.search(folder.name) and folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _referenced_uploads(assets: AssetRepository) -> set[str]:
    """The ``LocalUpload/<folder>`` names any asset version refers to, archived ones too.

    Assets are never deleted and their paths are immutable; anything else that points into
    ``LocalUpload`` (a job input, a deployment) got the path from an asset version, so this set
    covers every reference.
    """
    found: set[str] = set()
    for kind in AssetKind:
        for latest in _pages(assets, kind, None):
            for record in _pages(assets, kind, latest.name):
                found.update(_UPLOAD_REF.findall(json.dumps(record.spec)))
    return found


def _pages(assets: AssetRepository, kind: AssetKind, name: str | None) -> list[AssetRecord]:
    records: list[AssetRecord] = []
    token: str | None = None
    while True:
        page = assets.list_versions(kind, name, include_archived=True, limit=500, page_token=token)
        records.extend(page.items)
        token = page.next_token
        if not token:
            return records


def _last_change(folder: Path) -> float:
    """The newest modification time in the tree (an upload being committed touches some)."""
    newest = 0.0
    for root, dirs, files in os.walk(folder):
        for path in (Path(root), *(Path(root, n) for n in (*dirs, *files))):
            try:
                newest = max(newest, path.lstat().st_mtime)
            except OSError:
                continue
    return newest
