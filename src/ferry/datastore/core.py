"""The :class:`Datastore`: artifact bytes under a root in an fsspec filesystem.

Paths given to a datastore are relative to its root, posix, and may not climb out of it.

Commits are atomic (see :mod:`ferry.datastore.commit`): readers see all of a committed file or
folder or nothing. Names that commits use while in flight (``<dest>.tmp-<hex>`` and
``<dest>.ferry-pending``) never show up in listings.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, cast

from ferry.archive import walk_tree
from ferry.datastore.commit import PENDING_SUFFIX, commit_by_copy, commit_by_rename
from ferry.datastore.errors import ErrorContext, translate
from ferry.datastore.uri import format_uri, normalize_path
from ferry.errors import ConflictError, FerryError, InvalidInputError, NotFoundError

__all__ = ["Datastore"]

_IN_FLIGHT = re.compile(r"(\.tmp-[0-9a-f]{32}|" + re.escape(PENDING_SUFFIX) + r")$")


class Datastore:
    """Files and folders under ``root`` in an fsspec filesystem ``fs``.

    Build one with :func:`ferry.datastore.open_datastore`; tests and adapters may build one
    directly around any fsspec filesystem.

    Args:
        name: the datastore's name, used in URIs and messages.
        fs: the fsspec filesystem.
        root: the root inside ``fs`` (a local folder, ``bucket/prefix``, ``container/prefix``).
        local: ``True`` when ``fs`` is the local filesystem: commits then use an atomic rename
            and :meth:`local_path` works. Otherwise commits go through a pending marker.
        errors: what error messages may say (container label, credential names, secrets to
            scrub).
    """

    def __init__(
        self,
        name: str,
        fs: Any,
        root: str,
        *,
        local: bool = False,
        errors: ErrorContext | None = None,
    ) -> None:
        self.name = name
        self.fs = fs
        self.root = root.rstrip("/") or "/"
        self.local = local
        self._errors = errors or ErrorContext(datastore=name)

    def __repr__(self) -> str:
        kind = "local" if self.local else type(self.fs).__name__
        return f"Datastore(name={self.name!r}, kind={kind!r}, root={self.root!r})"

    def uri(self, path: str) -> str:
        """The ``azureml://datastores/<name>/paths/<path>`` URI of ``path``."""
        return format_uri(self.name, path)

    def full_path(self, path: str) -> str:
        """``path`` inside ``fs`` (root joined with the normalised relative path)."""
        rel = normalize_path(path)
        if not rel:
            return self.root
        return f"{self.root}/{rel}" if self.root != "/" else f"/{rel}"

    def local_path(self, path: str) -> Path | None:
        """The local file path of ``path`` for a local datastore (a fast path); else ``None``."""
        return Path(self.full_path(path)) if self.local else None

    def check(self) -> None:
        """Check that the datastore can be reached with its credentials.

        Raises:
            NotFoundError: the bucket or container does not exist.
            AuthError: the credentials were rejected.
        """
        with self._guard("reach", ""):
            if self.local:
                Path(self.root).mkdir(parents=True, exist_ok=True)
            else:
                self.fs.ls(self.root.split("/", 1)[0], detail=False)

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists as a completed file or folder (not a commit in flight)."""
        full = self.full_path(path)
        with self._guard("look up", path):
            if not self.fs.exists(full):
                return False
            return self.local or not self.fs.exists(full + PENDING_SUFFIX)

    def is_dir(self, path: str) -> bool:
        """Whether ``path`` is a completed folder."""
        with self._guard("look up", path):
            return bool(self.fs.isdir(self.full_path(path))) and self.exists(path)

    def list_files(self, path: str = "") -> list[str]:
        """Every file below the folder ``path``, relative to it, posix, sorted.

        Raises:
            NotFoundError: ``path`` does not exist.
            InvalidInputError: ``path`` is a file.
        """
        self._require(path)
        if not self.is_dir(path):
            raise InvalidInputError(
                f"datastore '{self.name}': '{path}' is a file, not a folder; pass a folder path",
                details={"datastore": self.name, "path": path},
            )
        return self._files(self.full_path(path), path)

    def open_read(self, path: str) -> BinaryIO:
        """Open the file ``path`` for reading (binary). Close it when done.

        Raises:
            NotFoundError: ``path`` does not exist.
            InvalidInputError: ``path`` is a folder.
        """
        self._require(path)
        with self._guard("read", path):
            return cast(BinaryIO, self.fs.open(self.full_path(path), "rb"))

    def download(self, path: str, local_dest: Path) -> Path:
        """Copy the file or folder ``path`` to ``local_dest/<base name>`` and return that path.

        The copy lands under a temporary name first, so an interrupted download never leaves a
        partial tree at the returned path. Empty folders are not copied (object stores have none).

        Raises:
            NotFoundError: ``path`` does not exist.
            ConflictError: ``local_dest/<base name>`` already exists.
        """
        self._require(path)
        rel = normalize_path(path)
        name = PurePosixPath(rel).name or self.name
        target = local_dest / name
        if target.exists() or target.is_symlink():
            raise ConflictError(
                f"'{target}' already exists; download into another folder or remove it",
                details={"path": str(target)},
            )
        local_dest.mkdir(parents=True, exist_ok=True)
        staging = local_dest / f".{name}.tmp-{uuid.uuid4().hex}"
        full = self.full_path(rel)
        try:
            with self._guard("download", rel):
                if self.is_dir(rel):
                    files = self._files(full, rel)
                    staging.mkdir()
                    for f in files:
                        (staging / f).parent.mkdir(parents=True, exist_ok=True)
                    if files:
                        self.fs.get(
                            [f"{full}/{f}" for f in files], [str(staging / f) for f in files]
                        )
                else:
                    self.fs.get_file(full, str(staging))
            staging.rename(target)
        finally:
            if staging.is_dir():
                shutil.rmtree(staging, ignore_errors=True)
            elif staging.exists():
                staging.unlink()
        return target

    def fetch(self, paths: list[str], dest: Path) -> list[Path]:
        """Copy the files ``paths`` to ``dest/<path>`` (their folders kept), in one call so that
        an async filesystem (s3fs, adlfs) downloads them concurrently; returns the local paths.

        A local datastore hands back its own files: nothing is copied.

        Raises:
            NotFoundError: a file does not exist (named, with its datastore).
        """
        rels = [normalize_path(p) for p in paths]
        if self.local:
            local = [Path(self.full_path(r)) for r in rels]
            for rel, path in zip(rels, local, strict=True):
                if not path.is_file():
                    raise self._not_found(rel)
            return local
        targets = [dest / r for r in rels]
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
        with self._guard("download", rels[0] if rels else ""):
            try:
                self.fs.get([self.full_path(r) for r in rels], [str(t) for t in targets])
            except FileNotFoundError:
                missing = next((r for r in rels if not self.fs.exists(self.full_path(r))), "")
                raise self._not_found(missing) from None
        return targets

    def commit(self, local_src: Path, dest_path: str) -> None:
        """Upload the local file or folder ``local_src`` to ``dest_path``, atomically.

        If ``dest_path`` already exists nothing happens: callers use content-addressed paths, so
        an existing path already holds the same bytes. On any failure nothing is left at
        ``dest_path`` and the temporary upload is removed.

        Raises:
            NotFoundError: ``local_src`` does not exist.
            UnsafePathError: a symlink in ``local_src`` points outside it.
            InvalidInputError: ``dest_path`` is the datastore's root.
        """
        rel = normalize_path(dest_path)
        if not rel:
            raise InvalidInputError(
                f"datastore '{self.name}': cannot commit to the datastore's root; pass a path "
                "inside it",
                details={"datastore": self.name},
            )
        entries = walk_tree(local_src)
        if self.exists(rel):
            return
        with self._guard("upload to", rel):
            if self.local:
                commit_by_rename(self.fs, entries, self.full_path(rel))
            else:
                commit_by_copy(self.fs, entries, self.full_path(rel))

    def delete(self, path: str, *, missing_ok: bool = False) -> None:
        """Delete the file or folder ``path`` (and any commit marker it has).

        Raises:
            NotFoundError: ``path`` does not exist and ``missing_ok`` is false.
            InvalidInputError: ``path`` is the datastore's root.
        """
        rel = normalize_path(path)
        if not rel:
            raise InvalidInputError(
                f"datastore '{self.name}': refusing to delete the datastore's root; pass a path "
                "inside it",
                details={"datastore": self.name},
            )
        full = self.full_path(rel)
        with self._guard("delete", rel):
            found = bool(self.fs.exists(full))
            if found:
                self.fs.rm(full, recursive=True)
            if not self.local and self.fs.exists(full + PENDING_SUFFIX):
                self.fs.rm_file(full + PENDING_SUFFIX)
        if not found and not missing_ok:
            raise self._not_found(rel)

    def sweep(self, path: str) -> list[str]:
        """Remove what commits killed midway left below the folder ``path``: temporary uploads
        and pending markers (listings hide them, but other tools do not). Call it only while
        nothing commits there, e.g. when the job writing there has ended. Returns what it
        removed, relative to ``path``.
        """
        full = self.full_path(path)
        with self._guard("clean up", path):
            if not self.fs.exists(full):
                return []
            found = self.fs.find(full, withdirs=False)
            prefix = full.rstrip("/") + "/"
            left = [p for p in found if any(map(_IN_FLIGHT.search, p[len(prefix) :].split("/")))]
            if left:
                self.fs.rm(left)
        return [p[len(prefix) :] for p in left]

    def _files(self, full: str, path: str) -> list[str]:
        with self._guard("list", path):
            found = self.fs.find(full, withdirs=False)
        prefix = full.rstrip("/") + "/"
        rels = (p[len(prefix) :] for p in found if p.startswith(prefix))
        return sorted(r for r in rels if r and not any(map(_IN_FLIGHT.search, r.split("/"))))

    def _require(self, path: str) -> None:
        if not self.exists(path):
            raise self._not_found(normalize_path(path))

    def _not_found(self, rel: str) -> NotFoundError:
        return NotFoundError(
            f"datastore '{self.name}' has no '{rel or '/'}'; check the path (it is relative to "
            "the datastore's root)",
            details={"datastore": self.name, "path": rel},
        )

    @contextlib.contextmanager
    def _guard(self, action: str, path: str) -> Iterator[None]:
        try:
            yield
        except FerryError:
            raise
        except Exception as exc:
            raise translate(exc, action, path, self._errors) from exc
