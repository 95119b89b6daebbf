"""Browsing a folder of user files from a page: listings, text previews and safe downloads.

Paths come from the URL and go through :func:`ferry.server.paths.safe_child`, so ``..``, an
absolute path, a NUL byte or a symlink out of the folder is a 400, never a read. User files are
never served as HTML or script on the studio's origin (a model folder may hold an ``.html`` or
``.svg``): only raster images are inline; everything else is an ``octet-stream`` attachment, with
``nosniff`` and a sandboxing CSP either way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fastapi.responses import FileResponse

from ferry.errors import InvalidInputError, NotFoundError
from ferry.server.paths import safe_child

__all__ = [
    "IMAGE_TYPES",
    "Entry",
    "Folder",
    "file_response",
    "list_folder",
    "read_preview",
    "resolve",
]

#: Served inline (thumbnails, previews); SVG is left out: it is a document that can run script.
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
}
#: Entries a listing page shows; bigger folders are paged.
PAGE_SIZE = 200
#: Bytes of a text file previewed in a page.
PREVIEW_BYTES = 64 * 1024


@dataclass(frozen=True)
class Entry:
    """One file or folder of a listing; ``rel`` is its path below the browsed root."""

    name: str
    rel: str
    is_dir: bool
    size: int | None

    @property
    def is_image(self) -> bool:
        return not self.is_dir and Path(self.name).suffix.lower() in IMAGE_TYPES


@dataclass(frozen=True)
class Folder:
    """One page of a folder's entries (folders first, then by name)."""

    rel: str
    entries: list[Entry]
    total: int
    offset: int

    @property
    def next_offset(self) -> int | None:
        end = self.offset + len(self.entries)
        return end if end < self.total else None


def resolve(root: Path, rel: str, *, field: str = "path") -> Path:
    """``rel`` below ``root`` (a folder, or a single file whose own name is its only path)."""
    if root.is_file():
        if rel.strip("/") != root.name:
            raise NotFoundError(
                f"{field} {rel!r} is not in this asset; its only file is {root.name!r}.",
                details={"field": field},
            )
        return root
    target = safe_child(root, rel, field=field)
    if not target.exists():
        raise NotFoundError(f"{field} {rel!r} does not exist here.", details={"field": field})
    return target


def list_folder(root: Path, rel: str = "", *, offset: int = 0) -> Folder:
    """A page of the entries of ``root/rel`` (``rel`` empty: the root itself)."""
    if root.is_file():
        entry = Entry(root.name, root.name, False, root.stat().st_size)
        return Folder("", [entry], 1, 0)
    folder = resolve(root, rel) if rel.strip("/") else root
    if not folder.is_dir():
        raise NotFoundError(f"path {rel!r} is a file, not a folder.", details={"field": "path"})
    # scandir knows a folder from a file without a stat per entry; only the page is stat'ed.
    with os.scandir(folder) as scan:
        children = sorted(((not e.is_dir(), e.name, e) for e in scan), key=lambda c: c[:2])
    base = rel.strip("/")
    page = []
    for is_file, name, child in children[offset : offset + PAGE_SIZE]:
        page.append(
            Entry(
                name=name,
                rel=f"{base}/{name}" if base else name,
                is_dir=not is_file,
                size=child.stat().st_size if is_file else None,
            )
        )
    return Folder(base, page, len(children), offset)


def read_preview(path: Path) -> tuple[str, bool] | None:
    """The start of a text file and whether it was cut; ``None`` for binary content."""
    with path.open("rb") as handle:
        head = handle.read(PREVIEW_BYTES + 1)
    if b"\x00" in head:
        return None
    try:
        text = head[:PREVIEW_BYTES].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < PREVIEW_BYTES - 4:  # not just a character cut at the preview's end
            return None
        text = head[: exc.start].decode("utf-8")
    return text, len(head) > PREVIEW_BYTES


def file_response(path: Path, *, download: bool) -> FileResponse:
    """The file's bytes: raster images inline unless ``download``; anything else an attachment."""
    media = IMAGE_TYPES.get(path.suffix.lower())
    inline = media is not None and not download
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "private, no-store",
    }
    return FileResponse(
        path,
        media_type=media if inline else "application/octet-stream",
        filename=path.name,
        content_disposition_type="inline" if inline else "attachment",
        headers=headers,
    )


def raw_file(root: Path, rel: str, *, download: bool, whole: str) -> FileResponse:
    """The bytes of the file at ``rel`` under ``root``; a folder is refused (400) with ``whole``,
    how to download all of it instead."""
    target = resolve(root, rel)
    if target.is_dir():
        raise InvalidInputError(f"path {rel!r} is a folder; {whole}", details={"field": "path"})
    return file_response(target, download=download)
