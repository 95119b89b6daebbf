"""The one PostgreSQL setting of the suite: ``FERRY_TEST_POSTGRES_URL``.

It names a database the tests may create schemas and databases from. An unreachable server fails
the tests that need it (a skip would hide that they did not run); deselect them with
``-m "not postgres"``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import psycopg

POSTGRES_URL = os.environ.get(
    "FERRY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def postgres_admin() -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection to :data:`POSTGRES_URL`; fails the test when it is unreachable."""
    import psycopg

    try:
        return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL at {POSTGRES_URL} is not reachable ({exc}); start it, point "
            "FERRY_TEST_POSTGRES_URL at one, or deselect these tests with -m 'not postgres'"
        )
