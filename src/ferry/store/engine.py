"""SQLAlchemy engines for store URLs: SQLite tuned for concurrent writers, PostgreSQL on psycopg 3.

Every write transaction of the store runs on ``engine.execution_options(ferry_write=True)``.
On SQLite that emits ``BEGIN IMMEDIATE``, which takes the write lock up front: a transaction
that first reads and later writes would otherwise fail at once with "database is locked" when
another writer committed in between, instead of waiting out the busy timeout.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from ferry.errors import StoreError

__all__ = ["SQLITE_BUSY_TIMEOUT_S", "create_store_engine", "db_error_reason", "mask_url"]

#: How long a SQLite writer waits for another writer's lock before failing.
SQLITE_BUSY_TIMEOUT_S = 30.0

_PASSWORD_IN_URL = re.compile(r"(?P<head>://[^:/@]*:)[^@/]*(?P<at>@)")


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***``, safe for messages and logs."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return _PASSWORD_IN_URL.sub(r"\g<head>***\g<at>", url)


def db_error_reason(exc: SQLAlchemyError) -> str:
    """The driver's own message, without SQLAlchemy's SQL dump and documentation link."""
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def create_store_engine(url: str) -> tuple[Engine, str]:
    """Build the engine for a store URL and check that the database answers.

    Args:
        url: ``sqlite:///path/to/ferry.db`` or ``postgresql://user:password@host:port/db``
            (``postgres://`` and ``postgresql+psycopg://`` are accepted too).

    Returns:
        The engine and the URL with its password masked, for messages.

    Raises:
        StoreError: the URL is malformed or of an unsupported kind, or the database is
            unreachable.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            f"{mask_url(url)!r} is not a valid store URL; use sqlite:///path/to/ferry.db "
            "or postgresql://user:password@host:5432/database"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = _sqlite_engine(parsed)
    elif backend in ("postgresql", "postgres"):
        engine = _postgres_engine(parsed)
    else:
        raise StoreError(
            f"unsupported store URL scheme {parsed.drivername!r} in {mask_url(parsed)}; "
            "use sqlite:///path/to/ferry.db or postgresql://user:password@host:5432/database"
        )
    display = mask_url(parsed)
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(
            f"cannot open the store at {display}: {db_error_reason(exc)}; check that the "
            "database server is running, and the URL, user and password",
        ) from exc
    return engine, display


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        # Each pooled connection would get its own empty database.
        raise StoreError(
            f"in-memory SQLite ({mask_url(url)}) cannot hold a shared store; use a file, "
            "e.g. sqlite:///path/to/ferry.db (a temporary folder is fine for tests)"
        )
    if not database.startswith("file:"):
        _private_sqlite_files(Path(database).expanduser())
    engine = create_engine(
        url.set(drivername="sqlite+pysqlite"),
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _private_sqlite_files(path: Path) -> None:
    """Create the database file 0600 (SQLite gives its WAL and SHM files the database's mode)
    and tighten the files of a store created before that."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN; pysqlite's own implicit transactions
    # would start too late (at the first write) and commit DDL behind our back.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        _enable_wal(cursor)  # readers never block the writer
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    # Switching a new database to WAL needs an exclusive lock, and SQLite answers "database is
    # locked" at once, without its busy handler, while another connection opens the same new
    # file (seen: 4 in 60 runs of four threads opening one fresh store). Once a connection has
    # switched it, the mode is stored in the file and later connections pass at once.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _sqlite_on_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get("ferry_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _postgres_engine(url: URL) -> Engine:
    # psycopg 3 is the driver Ferry ships with (the postgres extra); psycopg2 is not needed.
    return create_engine(url.set(drivername="postgresql+psycopg"), pool_pre_ping=True)
