"""The periodic sync runs off the dispatch thread: a slow disk must not stall the hand-overs."""

from __future__ import annotations

import os
import threading
import time

import pytest

from ferry.batch.syncer import Syncer
from tests.batch.conftest import Jobs, events, output_lines


def test_a_request_returns_while_the_sync_runs_in_another_thread() -> None:
    release, started = threading.Event(), threading.Event()
    threads: list[str] = []

    def sync() -> None:
        threads.append(threading.current_thread().name)
        started.set()
        assert release.wait(30)

    syncer = Syncer(sync, name="test-sync")
    syncer.request()
    assert started.wait(30)
    syncer.request()  # asked again while the first one is still blocked: returns at once
    syncer.request()
    assert not release.is_set()
    release.set()
    syncer.close()
    # The two asks made during the first sync coalesce into (at most) one more.
    assert threads in (["test-sync"], ["test-sync", "test-sync"])


def test_close_waits_for_the_sync_in_progress() -> None:
    started, done = threading.Event(), threading.Event()

    def sync() -> None:
        started.set()
        threading.Event().wait(0.2)
        done.set()

    syncer = Syncer(sync)
    syncer.request()
    assert started.wait(30)
    syncer.close()
    assert done.is_set()


def test_a_failed_sync_is_raised_on_the_dispatch_thread() -> None:
    failed = threading.Event()

    def sync() -> None:
        failed.set()
        raise OSError(28, "No space left on device")

    syncer = Syncer(sync)
    syncer.request()
    assert failed.wait(30)
    syncer.close(check=False)  # stops without raising when another error is on its way
    with pytest.raises(OSError, match="No space left on device"):
        syncer.request()
    with pytest.raises(OSError, match="No space left on device"):
        syncer.close()


def test_a_stalled_fdatasync_does_not_stop_dispatching(
    jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first periodic fdatasync hangs until the worker has run the last mini-batch. On the
    # dispatch thread that would deadlock the job until the wait below gives up; off it, the
    # hand-overs go on and the last mini-batch releases it.
    data = jobs.files(20)
    last_ran = data / "f00019.txt.ran"
    stalls: list[bool] = []
    real_fdatasync = os.fdatasync

    def stalled_fdatasync(fd: int) -> None:
        if not stalls:
            deadline = time.monotonic() + 30
            while not last_ran.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            stalls.append(last_ran.exists())
        real_fdatasync(fd)

    script = jobs.script(
        """
        import os, time

        def run(mini_batch):
            time.sleep(0.06)
            for p in mini_batch:
                open(p + ".ran", "w").close()
            return [os.path.basename(p) for p in mini_batch]
        """
    )
    job = jobs.job(data, script, mini_batch_size=1)
    monkeypatch.setattr(os, "fdatasync", stalled_fdatasync)
    outcome = jobs.run(job)
    assert outcome.state == "Completed", outcome.message
    assert stalls == [True]  # a sync stalled, and the last mini-batch was dispatched meanwhile
    assert output_lines(job) == [f"f{i:05d}.txt" for i in range(20)]
    assert sorted(e["mb"] for e in events(job) if e["ev"] == "ok") == list(range(20))
