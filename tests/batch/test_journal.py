"""The journal and the ledger replayed from it."""

from __future__ import annotations

from pathlib import Path

from ferry.batch.journal import open_journal, read_events
from ferry.batch.ledger import FAILED, PARTIAL, PENDING, SUCCEEDED, Ledger


def test_events_append_and_replay(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with open_journal(path) as journal:
        journal.append({"ev": "start", "mb": 0, "file": "caf\udce9"})
        journal.append({"ev": "ok", "mb": 0})
    assert list(read_events(path)) == [
        {"ev": "start", "mb": 0, "file": "caf\udce9"},
        {"ev": "ok", "mb": 0},
    ]


def test_a_torn_tail_is_dropped_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"ev":"a"}\n{"ev":"b","x":')
    assert [e["ev"] for e in read_events(path)] == ["a"]
    with open_journal(path) as journal:
        journal.append({"ev": "c"})
    assert path.read_bytes() == b'{"ev":"a"}\n{"ev":"c"}\n'


def _ledger() -> Ledger:
    return Ledger(3, lambda mb: 2 if mb < 2 else 1)  # 5 items: 2 + 2 + 1


def test_ledger_counts_and_ignores_duplicate_verdicts() -> None:
    led = _ledger()
    led.apply({"ev": "ok", "mb": 0, "try": 1, "n": 2, "bytes": 10, "w": "process000"})
    led.apply({"ev": "ok", "mb": 0, "try": 2, "n": 2, "bytes": 10})  # redone after a crash
    led.apply({"ev": "fail", "mb": 1, "try": 1, "kind": "timeout", "final": False, "error": {}})
    led.apply(
        {
            "ev": "fail",
            "mb": 1,
            "try": 2,
            "kind": "too_few_rows",
            "final": True,
            "n": 1,
            "error": {},
        }
    )
    assert (led.items_succeeded, led.items_failed) == (3, 1)
    assert (led.mini_batches_done, led.mini_batches_failed) == (2, 1)
    assert list(led.status) == [SUCCEEDED, PARTIAL, PENDING]
    assert list(led.attempts) == [1, 2, 0]
    assert led.worker_of(0) == "process000"
    assert led.pending() == [2]


def test_reset_makes_failed_mini_batches_pending_with_fresh_attempts() -> None:
    led = _ledger()
    led.apply({"ev": "ok", "mb": 0, "n": 2})
    led.apply({"ev": "fail", "mb": 1, "try": 3, "kind": "script_error", "final": True, "error": {}})
    led.apply({"ev": "end", "state": "Completed"})
    assert led.status[1] == FAILED and led.items_failed == 2 and led.end is not None
    led.apply({"ev": "reset"})
    assert led.pending() == [1, 2]
    assert (led.attempts[1], led.items_failed, led.mini_batches_failed) == (0, 0, 0)
    assert led.items_succeeded == 2 and led.end is None


def test_lost_rows_make_a_settled_mini_batch_pending_again() -> None:
    led = _ledger()
    led.apply({"ev": "ok", "mb": 2, "try": 1, "n": 1})
    led.apply({"ev": "lost", "mb": 2})
    assert led.pending() == [0, 1, 2]
    assert (led.items_succeeded, led.mini_batches_done, led.attempts[2]) == (0, 0, 1)
