"""ferry.archive: pack, safe_extract and content_hash on real files and real tarballs."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from ferry.archive import ExtractLimits, content_hash, pack, safe_extract, walk_tree
from ferry.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    UnsafePathError,
)


def tree(root: Path) -> dict[str, bytes | None]:
    """Files (bytes) and folders (None) below ``root`` by relative posix path."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in root.rglob("*")
    }


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A save_pretrained-like folder: nested subfolders, an empty one, an executable."""
    root = tmp_path / "src" / "pipeline"
    for rel, data in {
        "model_index.json": b"{}",
        "unet/diffusion_pytorch_model.safetensors": os.urandom(70_000),
        "unet/config.json": b'{"a": 1}',
        "text_encoder/deep/er/weights.bin": b"w" * 10,
        "run.sh": b"#!/bin/sh\necho hi\n",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "run.sh").chmod(0o755)
    (root / "empty").mkdir()
    return root


def packed(path: Path) -> io.BytesIO:
    buf = io.BytesIO()
    pack(path, buf)
    buf.seek(0)
    return buf


def malicious(*members: tuple[tarfile.TarInfo, bytes]) -> io.BytesIO:
    """A tar.gz built by hand with exactly the given members."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    buf.seek(0)
    return buf


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def test_folder_round_trip(folder: Path, tmp_path: Path) -> None:
    out = safe_extract(packed(folder), tmp_path / "dest")

    assert out == tmp_path / "dest" / "pipeline"
    assert tree(out) == tree(folder)
    assert os.access(out / "run.sh", os.X_OK)
    assert not os.access(out / "model_index.json", os.X_OK)
    assert [p.name for p in (tmp_path / "dest").iterdir()] == ["pipeline"]  # no staging left


def test_single_file_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "model.pkl"
    src.write_bytes(b"\x80\x04pickle")

    out = safe_extract(packed(src), tmp_path / "dest")

    assert out == tmp_path / "dest" / "model.pkl"
    assert out.read_bytes() == b"\x80\x04pickle"


def test_pack_is_reproducible_and_sorted(folder: Path) -> None:
    first = packed(folder).getvalue()
    os.utime(folder / "model_index.json", (0, 0))  # times must not matter
    assert packed(folder).getvalue() == first
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        names = tar.getnames()
    assert names[0] == "pipeline"
    assert names == sorted(names)
    assert "pipeline/empty" in names


def test_symlink_inside_is_stored_as_content(folder: Path, tmp_path: Path) -> None:
    (folder / "alias.json").symlink_to("unet/config.json")
    (folder / "unet_link").symlink_to("unet", target_is_directory=True)

    out = safe_extract(packed(folder), tmp_path / "dest")

    assert not (out / "alias.json").is_symlink()
    assert (out / "alias.json").read_bytes() == b'{"a": 1}'
    assert (out / "unet_link" / "config.json").read_bytes() == b'{"a": 1}'


def test_symlink_outside_is_refused(folder: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    (folder / "unet" / "leak").symlink_to(secret)

    with pytest.raises(UnsafePathError) as err:
        pack(folder, io.BytesIO())
    assert err.value.message == (
        f"the symlink '{folder}/unet/leak' points outside the folder, to '{secret}'; "
        "copy the file into the folder or remove the link"
    )


def test_symlink_loop_is_refused(folder: Path) -> None:
    (folder / "unet" / "up").symlink_to("..", target_is_directory=True)

    with pytest.raises(UnsafePathError, match="loops back to its own parent folder"):
        pack(folder, io.BytesIO())


def test_missing_path_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=f"'{tmp_path}/nope' does not exist; check the path"):
        pack(tmp_path / "nope", io.BytesIO())
    with pytest.raises(NotFoundError, match="does not exist"):
        content_hash(tmp_path / "nope")


def test_fifo_in_folder_is_refused(folder: Path) -> None:
    os.mkfifo(folder / "pipe")

    with pytest.raises(InvalidInputError, match=r"'.*/pipe' is not a regular file or folder"):
        pack(folder, io.BytesIO())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("/etc/passwd", "the archive member '/etc/passwd' has an absolute path"),
        ("C:/Windows/x", "the archive member 'C:/Windows/x' has an absolute path"),
        ("top/../../escape", "the archive member 'top/../../escape' has a '..' component"),
        ("top/..\\..\\escape", r"the archive member 'top/..\\..\\escape' has a '..' component"),
    ],
)
def test_unsafe_member_names_are_refused(name: str, expected: str, tmp_path: Path) -> None:
    archive = malicious((member(name), b"x"))

    with pytest.raises(UnsafePathError, match=expected.replace("(", r"\(")):
        safe_extract(archive, tmp_path / "dest")
    assert list((tmp_path / "dest").iterdir()) == []
    assert not (tmp_path / "escape").exists()


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (
            member("top/link", tarfile.SYMTYPE, "/etc/passwd"),
            "the archive member 'top/link' is a symlink (to '/etc/passwd'); links are not allowed",
        ),
        (
            member("top/hard", tarfile.LNKTYPE, "top/a"),
            "the archive member 'top/hard' is a hard link (to 'top/a'); links are not allowed",
        ),
        (member("top/dev", tarfile.CHRTYPE), "the archive member 'top/dev' is a device or fifo"),
        (member("top/blk", tarfile.BLKTYPE), "the archive member 'top/blk' is a device or fifo"),
        (member("top/fifo", tarfile.FIFOTYPE), "the archive member 'top/fifo' is a device or fifo"),
    ],
)
def test_links_and_devices_are_refused(
    info: tarfile.TarInfo, expected: str, tmp_path: Path
) -> None:
    archive = malicious((member("top", tarfile.DIRTYPE), b""), (member("top/a"), b"a"), (info, b""))

    with pytest.raises(UnsafePathError) as err:
        safe_extract(archive, tmp_path / "dest")
    assert err.value.message.startswith(expected)
    assert list((tmp_path / "dest").iterdir()) == []  # the members before it are gone too


def test_more_than_one_top_level_entry_is_refused(tmp_path: Path) -> None:
    archive = malicious((member("one/a"), b"a"), (member("two/b"), b"b"))

    with pytest.raises(UnsafePathError) as err:
        safe_extract(archive, tmp_path / "dest")
    assert err.value.message == (
        "the archive has more than one top-level entry ('one' and 'two/b'); "
        "pack a single file or folder"
    )


def test_file_then_member_below_it_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError, match="more than one top-level entry"):
        safe_extract(malicious((member("a"), b"1"), (member("a/b"), b"2")), tmp_path / "d")
    with pytest.raises(InvalidInputError, match="'top/f/g' is inside an earlier member that is"):
        safe_extract(malicious((member("top/f"), b"1"), (member("top/f/g"), b"2")), tmp_path / "e")


def test_duplicate_member_is_refused(tmp_path: Path) -> None:
    archive = malicious((member("top/a"), b"1"), (member("top/./a"), b"2"))

    with pytest.raises(UnsafePathError, match=r"'top/\./a' appears twice"):
        safe_extract(archive, tmp_path / "dest")


def test_max_bytes(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(PayloadTooLargeError, match="unpacks to more than 1000 bytes"):
        safe_extract(packed(folder), tmp_path / "small", max_bytes=1000)
    assert list((tmp_path / "small").iterdir()) == []
    assert safe_extract(packed(folder), tmp_path / "big", max_bytes=10**6).is_dir()


def test_limits_cap_files_and_name_the_settings(folder: Path, tmp_path: Path) -> None:
    count = len(walk_tree(folder))
    limits = ExtractLimits(max_files=count - 1, files_setting="FERRY_MAX_UNPACKED_FILES")
    with pytest.raises(PayloadTooLargeError, match=f"more than {count - 1} files and folders"):
        safe_extract(packed(folder), tmp_path / "few", limits=limits)
    assert list((tmp_path / "few").iterdir()) == []
    limits = ExtractLimits(max_bytes=10, bytes_setting="FERRY_MAX_UNPACKED_BYTES")
    with pytest.raises(PayloadTooLargeError, match="raise FERRY_MAX_UNPACKED_BYTES"):
        safe_extract(packed(folder), tmp_path / "small", limits=limits)
    exact = ExtractLimits(max_files=count)
    assert safe_extract(packed(folder), tmp_path / "fits", limits=exact).is_dir()


def test_garbage_empty_and_existing(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"is not a valid tar\.gz archive"):
        safe_extract(io.BytesIO(b"this is not a tarball"), tmp_path / "a")
    with pytest.raises(InvalidInputError, match="the archive is empty"):
        safe_extract(malicious(), tmp_path / "b")
    safe_extract(packed(folder), tmp_path / "c")
    with pytest.raises(ConflictError, match="pipeline' already exists; extract into an empty"):
        safe_extract(packed(folder), tmp_path / "c")


def test_setuid_and_world_writable_modes_are_dropped(tmp_path: Path) -> None:
    info = member("tool")
    info.mode = 0o4777
    out = safe_extract(malicious((info, b"#!/bin/sh\n")), tmp_path / "dest")

    assert out.stat().st_mode & 0o7777 == 0o755


def test_content_hash_ignores_top_level_name_and_order(folder: Path, tmp_path: Path) -> None:
    digest = content_hash(folder)
    assert digest.startswith("sha256:")
    assert len(digest) == len("sha256:") + 64

    renamed = folder.rename(folder.with_name("renamed"))
    assert content_hash(renamed) == digest
    # Same content written in another order (another directory listing order): same hash.
    copy = tmp_path / "copy"
    for rel, data in sorted(tree(renamed).items(), reverse=True):
        target = copy / rel
        if data is None:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    assert content_hash(copy) == digest
    os.utime(copy / "run.sh", (0, 0))
    (copy / "run.sh").chmod(0o600)
    assert content_hash(copy) == digest  # times and modes do not count


def test_content_hash_sees_every_change(folder: Path) -> None:
    digest = content_hash(folder)
    changes = []
    (folder / "unet" / "config.json").write_bytes(b'{"a": 2}')
    changes.append(content_hash(folder))
    (folder / "unet" / "config.json").rename(folder / "unet" / "config2.json")
    changes.append(content_hash(folder))
    (folder / "empty" / "new").mkdir()
    changes.append(content_hash(folder))
    (folder / "model_index.json").write_bytes(b"")
    changes.append(content_hash(folder))
    assert len({digest, *changes}) == 5


def test_content_hash_of_a_file_ignores_its_name(tmp_path: Path) -> None:
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"same")
    b.write_bytes(b"same")
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "x").write_bytes(b"same")

    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash(folder)
