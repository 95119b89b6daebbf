"""Atomic uploads of a local file or folder into a datastore.

Two strategies, one per kind of filesystem:

**Rename** (local folders). Upload into a temporary sibling ``<dest>.tmp-<hex>``, then rename it
to ``<dest>``. The rename is atomic, so readers see the whole tree or nothing. Files are moved with
``link`` rather than ``rename`` so that a concurrent commit of the same path is never overwritten.

**Copy with a pending marker** (object stores, where there is no atomic rename of a prefix).

1. Upload every object under the temporary prefix ``<dest>.tmp-<hex>``.
2. Write the marker ``<dest>.ferry-pending``: from now on ``<dest>`` may be partial.
3. Copy the objects server-side from the temporary prefix to ``<dest>``.
4. Delete the marker. This is the commit point: the upload is complete.

:meth:`Datastore.exists` treats a path with a marker as absent, so a commit that crashed in step 3
is invisible, and the next commit of that path replaces it. The marker says "incomplete" rather
than "complete" so that data written by other tools (``aws s3 cp``, ``azcopy``, Azure ML itself),
which carries no Ferry marker, is still found. The copy keeps the window in which ``<dest>`` is
partial short, for readers that do not know about markers. On failure, the temporary prefix is
removed and so is anything written to ``<dest>``.

The marker guards the committed path as a whole. Each object is copied whole, so a file read by
its full path is never torn; at worst, during a commit, a file is not there yet.

A process killed in step 1 leaves a ``*.tmp-<hex>`` prefix behind; listings hide such names and a
janitor may delete old ones. Concurrent commits of the *same* path should be serialised by the
caller (the workspace server is one process); content-addressed paths make a repeat a no-op.
Object stores have no empty folders, so empty folders are not kept there.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Any

from ferry.archive import TreeEntry

__all__ = ["PENDING_SUFFIX", "commit_by_copy", "commit_by_rename", "temp_name"]

PENDING_SUFFIX = ".ferry-pending"


def temp_name(full: str) -> str:
    """A fresh temporary sibling name for ``full``."""
    return f"{full}.tmp-{uuid.uuid4().hex}"


def _join(base: str, rel: str) -> str:
    return f"{base}/{rel}" if rel else base


def _upload(fs: Any, entries: list[TreeEntry], base: str, *, with_dirs: bool) -> None:
    if with_dirs:
        for entry in entries:
            if entry.is_dir:
                fs.makedirs(_join(base, entry.rel), exist_ok=True)
    files = [e for e in entries if not e.is_dir]
    if files:
        # One call with two lists lets async filesystems (s3fs, adlfs) upload concurrently.
        fs.put([str(e.source) for e in files], [_join(base, e.rel) for e in files])


def commit_by_rename(fs: Any, entries: list[TreeEntry], full: str) -> None:
    """Upload ``entries`` to the local path ``full`` via a temporary sibling and a rename."""
    tmp = temp_name(full)
    is_dir = entries[0].is_dir
    try:
        fs.makedirs(str(Path(full).parent), exist_ok=True)
        _upload(fs, entries, tmp, with_dirs=True)
        if is_dir:
            try:
                Path(tmp).rename(full)
            except OSError:
                # A concurrent commit put the same folder there first; keep theirs.
                if not Path(full).is_dir():
                    raise
        else:
            with contextlib.suppress(FileExistsError):  # same: the first commit wins
                os.link(tmp, full)
    finally:
        _remove(fs, tmp)


def commit_by_copy(fs: Any, entries: list[TreeEntry], full: str) -> None:
    """Upload ``entries`` to the object-store path ``full`` (see the module docstring)."""
    tmp = temp_name(full)
    pending = full + PENDING_SUFFIX
    files = [e.rel for e in entries if not e.is_dir]
    marked = False
    try:
        _upload(fs, entries, tmp, with_dirs=False)
        stale = bool(fs.exists(pending))
        if not stale and fs.exists(full):
            return  # a concurrent commit finished while we uploaded
        fs.pipe_file(pending, b"")
        marked = True
        if stale and fs.exists(full):
            fs.rm(full, recursive=True)  # the leftovers of a commit that crashed
        if files:
            fs.copy([_join(tmp, f) for f in files], [_join(full, f) for f in files])
        fs.rm_file(pending)
        marked = False
    except BaseException:
        if marked:
            # Best effort: if this fails too, the marker keeps the partial copy invisible.
            with contextlib.suppress(Exception):
                if fs.exists(full):
                    fs.rm(full, recursive=True)
                fs.rm_file(pending)
        raise
    finally:
        _remove(fs, tmp)


def _remove(fs: Any, path: str) -> None:
    # Cleanup must not hide the error that caused it.
    with contextlib.suppress(Exception):
        if fs.exists(path):
            fs.rm(path, recursive=True)
