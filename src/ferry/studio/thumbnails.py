"""Gallery thumbnails: a job's images scaled down once, kept in the workspace's tmp folder.

A page of 48 generated 1024 px images is tens of megabytes at full size; their 256 px PNG
thumbnails are a few hundred kilobytes. A thumbnail is named after the image's path, size and
mtime, so a rewritten image gets a new one; the janitor clears ``tmp/`` at the next server start.
An image Pillow cannot read (damaged, or too many pixels to decode safely) is served as it is.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from PIL import Image, UnidentifiedImageError

__all__ = ["SIZE", "thumbnail"]

#: The longest side of a thumbnail, in pixels (the gallery shows them at 128 CSS px, 2x dense).
SIZE = 256


def thumbnail(image: Path, cache: Path) -> Path:
    """The thumbnail of ``image`` (made now if not cached), or ``image`` itself when it is small
    already or Pillow cannot read it."""
    stat = image.stat()
    key = hashlib.sha256(f"{image.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    target = cache / f"{key.hexdigest()[:40]}.png"
    if target.is_file():
        return target
    try:
        with Image.open(image) as source:
            if max(source.size) <= SIZE:
                return image
            source.thumbnail((SIZE, SIZE))
            small = source.convert("RGBA" if "A" in source.getbands() else "RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        return image
    cache.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=cache, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            small.save(out, format="PNG", optimize=True)
        Path(tmp).replace(target)  # two pages asking at once write the same bytes
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target
