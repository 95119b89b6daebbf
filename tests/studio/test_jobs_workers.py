"""The job page's worker table, folded from journal lines as the dispatcher writes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ferry.batch.worker_table import WorkerTable


def _append(journal: Path, *events: dict[str, Any]) -> None:
    with journal.open("a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(e) + "\n" for e in events)


def test_a_replacement_takes_the_lost_workers_slot_and_counts_a_restart(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    table = WorkerTable()
    assert table.feed(journal) is False  # no journal yet
    _append(
        journal,
        {"ev": "session", "n": 1},
        {"ev": "worker", "w": "process000", "pid": 10, "state": "started"},
        {"ev": "worker", "w": "process001", "pid": 11, "state": "started"},
        {"ev": "worker", "w": "process000", "state": "ready", "init_ms": 5},
        {"ev": "start", "mb": 0, "try": 1, "w": "process000"},
        {"ev": "start", "mb": 2, "try": 1, "w": "process000"},
    )
    assert table.feed(journal) is True
    first, second = table.slots
    assert (first.worker, first.state, first.current) == ("process000", "running", (0, 1))
    assert (second.worker, second.state, second.current) == ("process001", "starting", None)

    _append(journal, {"ev": "ok", "mb": 0, "try": 1, "w": "process000", "n": 3})
    table.feed(journal)
    assert first.current == (2, 1) and first.mini_batches_done == 1

    _append(
        journal,
        {
            "ev": "worker",
            "w": "process000",
            "state": "lost",
            "kind": "WorkerCrashed",
            "exit": "was killed by SIGKILL",
        },
        {"ev": "fail", "mb": 2, "try": 1, "w": "process000", "final": False},
        {"ev": "worker", "w": "process002", "pid": 12, "state": "started"},
        {"ev": "worker", "w": "process002", "state": "ready"},
        {"ev": "start", "mb": 2, "try": 2, "w": "process002"},
    )
    table.feed(journal)
    assert len(table.slots) == 2  # the replacement took slot 0
    assert (first.worker, first.restarts, first.last_exit) == (
        "process002",
        1,
        "was killed by SIGKILL",
    )
    assert first.current == (2, 2) and first.state == "running"
    assert first.mini_batches_done == 1  # the lost attempt is not counted as done

    # A worker stopped on purpose frees its slot without a restart.
    _append(
        journal,
        {"ev": "worker", "w": "process001", "state": "stopped"},
        {"ev": "worker", "w": "process003", "pid": 13, "state": "started"},
    )
    table.feed(journal)
    assert (second.worker, second.restarts) == ("process003", 0)


def test_a_torn_last_line_is_read_once_it_is_whole(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    line = json.dumps({"ev": "worker", "w": "process000", "pid": 1, "state": "started"})
    journal.write_text(line[:10], encoding="utf-8")
    table = WorkerTable()
    assert table.feed(journal) is False and table.slots == []
    journal.write_text(line + "\n", encoding="utf-8")
    assert table.feed(journal) is True
    assert [s.worker for s in table.slots] == ["process000"]


def test_a_new_session_stops_the_previous_sessions_workers(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    _append(
        journal,
        {"ev": "session", "n": 1},
        {"ev": "worker", "w": "process000", "pid": 10, "state": "started"},
        {"ev": "start", "mb": 0, "try": 1, "w": "process000"},
        {"ev": "session", "n": 2},  # the server restarted: process000 is gone
        {"ev": "worker", "w": "process001", "pid": 20, "state": "started"},
    )
    table = WorkerTable()
    table.feed(journal)
    (slot,) = table.slots
    assert (slot.worker, slot.state, slot.current, slot.restarts) == (
        "process001",
        "starting",
        None,
        0,
    )
