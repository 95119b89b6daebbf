"""The jobs table against the JSON bag it replaced (migration 0002), on SQLite.

Measures, for a workspace of N jobs over 50 endpoints:
* the in-place upgrade (0001 bag -> 0002 tables) of all N jobs;
* listing one endpoint's jobs: the indexed query against reading and filtering every job of
  the bag (what JobService.list did);
* job updates from 8 threads: one atomic UPDATE each, against the old read-modify-write under a
  lock (both on the same store, so the difference is the statement, not the database).

Usage: python bench/store/jobs_table.py [N]   (default 10000)
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session

from ferry.specs.states import JobState
from ferry.store import open_store
from ferry.store.engine import create_store_engine
from ferry.store.schema import MIGRATIONS_DIR
from ferry.store.tables import NamedResourceRow

ENDPOINTS = 50


def _old_workspace(url: str, n: int) -> None:
    engine, _ = create_store_engine(url)
    try:
        with engine.execution_options(ferry_write=True).begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS_DIR))
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
        t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
        with Session(engine) as session, session.begin():
            for i in range(n):
                spec = {
                    "name": f"job-{i}",
                    "type": "batch",
                    "endpoint_name": f"ep-{i % ENDPOINTS}",
                    "deployment_name": "blue",
                    "status": "Completed",
                    "input": {"path": f"azureml://datastores/ws/paths/in/{i}"},
                    "notices": ["python 3.11 chosen"],
                    "error": None,
                }
                stamp = t0 + timedelta(seconds=i)
                session.add(
                    NamedResourceRow(
                        kind="job", name=spec["name"], spec=spec, created_at=stamp, updated_at=stamp
                    )
                )
    finally:
        engine.dispose()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'ferry.db'}"
        _old_workspace(url, n)
        start = time.perf_counter()
        store = open_store(url)  # upgrades in place
        print(f"upgrade of {n} jobs from the bag: {time.perf_counter() - start:.2f} s")
        try:
            # The old listing: every job of the bag, filtered in Python. The bag is empty after
            # the upgrade, so time it on a copy of the rows put back in it.
            for record in store.jobs.list():
                store.resources.put("job", record.name, {**record.body, "e": record.endpoint})
            rounds = 20
            start = time.perf_counter()
            for _ in range(rounds):
                old = [r for r in store.resources.all("job") if r.spec["e"] == "ep-7"]
            scan = (time.perf_counter() - start) / rounds
            start = time.perf_counter()
            for _ in range(rounds):
                new = store.jobs.list(endpoint="ep-7")
            indexed = (time.perf_counter() - start) / rounds
            assert len(old) == len(new) == n // ENDPOINTS
            print(
                f"list one endpoint's {len(new)} jobs of {n}: indexed {indexed * 1000:.1f} ms, "
                f"bag scan {scan * 1000:.1f} ms ({scan / indexed:.0f}x)"
            )
            _updates(store)
        finally:
            store.close()


def _updates(store: object) -> None:
    from ferry.store.base import Store

    assert isinstance(store, Store)
    threads, each = 8, 50
    lock = threading.Lock()

    def atomic(t: int) -> None:
        for r in range(each):
            store.jobs.update("job-1", status=JobState.RUNNING, changes={f"k{t}": r})

    def read_modify_write(t: int) -> None:
        for r in range(each):
            with lock:
                record = store.resources.get("job", "job-1")
                store.resources.put("job", "job-1", {**record.spec, f"k{t}": r})

    for name, work in (("atomic UPDATE", atomic), ("locked read-modify-write", read_modify_write)):
        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        seconds = time.perf_counter() - start
        rate = threads * each / seconds
        print(f"{threads} threads x {each} job updates, {name}: {rate:.0f} updates/s")


if __name__ == "__main__":
    main()
