"""Read and write transactions of the SQL store, with retries and error translation."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ferry.errors import StoreError
from ferry.store.engine import db_error_reason

__all__ = ["WRITE_ATTEMPTS", "Transactions"]

T = TypeVar("T")

#: How often a write that lost a uniqueness race is run again (it re-reads what won).
WRITE_ATTEMPTS = 8


class Transactions:
    """Runs a function in a session that commits on success and rolls back on error.

    Args:
        engine: The store's engine (see :func:`ferry.store.engine.create_store_engine`).
        display_url: The store URL with its password masked, for messages.
    """

    def __init__(self, engine: Engine, display_url: str) -> None:
        self.engine = engine
        self.display_url = display_url
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(
            engine.execution_options(ferry_write=True), expire_on_commit=False
        )
        # SQLite has one writer at a time anyway; threads of this process queue here instead of
        # in SQLite's busy handler, whose sleeps (up to 100 ms) cost more than the writes. Other
        # processes still wait in the busy handler. PostgreSQL writers run in parallel.
        self._writers: contextlib.AbstractContextManager[object] = (
            threading.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )

    def read(self, work: Callable[[Session], T], *, doing: str) -> T:
        """Run ``work`` in a read transaction. ``doing`` describes it for error messages."""
        try:
            with self._read.begin() as session:
                return work(session)
        except SQLAlchemyError as exc:
            raise self._failed(doing, exc) from exc

    def write(self, work: Callable[[Session], T], *, doing: str) -> T:
        """Run ``work`` in a write transaction, again from the start if it hit a unique key.

        ``work`` must re-read whatever it decides on: a concurrent writer may have inserted the
        very row it tried to insert (the same next version, the same new name), and on the next
        attempt it sees that row and acts on it.

        Raises:
            StoreError: the database failed, or the race was lost ``WRITE_ATTEMPTS`` times.
        """
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self._writers, self._write.begin() as session:
                    return work(session)
            except IntegrityError as exc:
                if not _is_unique_violation(exc):
                    raise self._failed(doing, exc) from exc
                if attempt == WRITE_ATTEMPTS - 1:
                    raise StoreError(
                        f"gave up {doing} after {WRITE_ATTEMPTS} attempts: concurrent writers "
                        f"kept taking the same key ({db_error_reason(exc)}); try again",
                    ) from exc
                # Jittered exponential backoff so the losers of one race do not collide again.
                time.sleep(random.uniform(0, 0.005 * 2**attempt))
            except SQLAlchemyError as exc:
                raise self._failed(doing, exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _failed(self, doing: str, exc: SQLAlchemyError) -> StoreError:
        return StoreError(
            f"the store at {self.display_url} failed {doing}: {db_error_reason(exc)}",
        )


def _is_unique_violation(exc: IntegrityError) -> bool:
    """Whether a write lost a race on a unique key (rather than breaking another rule)."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == "23505":  # PostgreSQL unique_violation
        return True
    return "UNIQUE constraint failed" in str(orig)  # SQLite, for unique and primary keys
