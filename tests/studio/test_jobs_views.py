"""The job page's file readers on their own: where the log viewer opens, whole lines only,
CSV pages, and failed items that follow a rewritten manifest."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from ferry.studio.csv_pages import read_csv_page
from ferry.studio.job_views import failed_items
from ferry.studio.pages.jobs_logs import tail_start
from ferry.studio.sse import event, read_lines
from ferry.studio.thumbnails import thumbnail


def test_tail_start_is_a_line_start_with_its_real_line_number(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    lines = [f"line {i}\n" for i in range(1, 1001)]
    log.write_text("".join(lines))
    offset, number = tail_start(log, tail_bytes=100)
    assert log.read_bytes()[offset:].decode().splitlines()[0] == f"line {number}"
    assert log.stat().st_size - offset <= 100
    assert tail_start(log, tail_bytes=10**6) == (0, 1)


def test_read_lines_sends_whole_lines_until_the_writer_is_done(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    log.write_bytes(b"one\ntwo\nthr")
    assert read_lines(log, 0, final=False) == ("one\ntwo\n", 8)
    assert read_lines(log, 8, final=False) == ("", 8)  # "thr" waits for its newline
    assert read_lines(log, 8, final=True) == ("thr", 11)
    assert read_lines(tmp_path / "missing.txt", 0, final=False) == ("", 0)


def test_an_event_never_lets_a_carriage_return_end_a_data_line() -> None:
    assert event("a\r\nb\rc", name="lines", event_id="7") == (
        b"event: lines\nid: 7\ndata: a\ndata: b\ndata: c\n\n"
    )


def test_csv_pages_sniff_the_delimiter_and_say_when_more_follow(tmp_path: Path) -> None:
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("".join(f"img-{i}.png {i % 10}\n" for i in range(250)))
    first = read_csv_page(predictions, 0)
    assert (first.delimiter_name, first.columns, len(first.rows)) == ("space", 2, 100)
    assert first.rows[0] == ["img-0.png", "0"] and first.next_offset == 100
    last = read_csv_page(predictions, 200)
    assert last.rows[-1] == ["img-249.png", "9"] and last.next_offset is None
    assert last.previous_offset == 100


def test_failed_items_follow_a_rewritten_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    assert failed_items(manifest, 0).available is False
    header = "file,status,mini_batch,attempts,error,seconds\n"
    manifest.write_text(header + "a,failed,0,3,boom,0.1\nb,succeeded,1,1,,0.1\n")
    page = failed_items(manifest, 0)
    assert (page.total, page.rows[0]["file"], page.rows[0]["error"]) == (1, "a", "boom")
    # A resume rewrites the manifest when the job ends again.
    manifest.write_text(header + "a,succeeded,0,4,,0.1\nb,succeeded,1,1,,0.1\n")
    stat = manifest.stat()
    os.utime(manifest, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert failed_items(manifest, 0).total == 0


def test_thumbnails_are_small_pngs_made_once(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    Image.new("RGB", (1024, 512), (200, 30, 30)).save(big)
    cache = tmp_path / "cache"
    small = thumbnail(big, cache)
    assert small.parent == cache
    with Image.open(small) as image:
        assert (image.format, image.size) == ("PNG", (256, 128))
    made = small.stat().st_mtime_ns
    assert thumbnail(big, cache) == small and small.stat().st_mtime_ns == made  # cached


def test_small_or_unreadable_images_are_served_as_they_are(tmp_path: Path) -> None:
    tiny = tmp_path / "tiny.png"
    Image.new("L", (8, 8)).save(tiny)
    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert thumbnail(tiny, tmp_path / "cache") == tiny
    assert thumbnail(damaged, tmp_path / "cache") == damaged
