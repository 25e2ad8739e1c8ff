"""Database fixtures shared by tests/storage and tests/api: every test runs on both.

SQLite: a fresh file per test. PostgreSQL: a fresh database per session on the server in
FOLLICLE_TEST_POSTGRES_URL (start one with `eval "$(bash scripts/ensure-postgres.sh)"`).
Without that URL the PostgreSQL tests FAIL, unless FOLLICLE_NO_POSTGRES=1 says to skip.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

MISSING = ("FOLLICLE_TEST_POSTGRES_URL is not set: run `eval \"$(bash "
           "scripts/ensure-postgres.sh)\"` first (or set FOLLICLE_NO_POSTGRES=1 to skip the "
           "PostgreSQL half of the storage and API tests on purpose)")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session (dropped at the end)."""
    base = os.environ.get("FOLLICLE_TEST_POSTGRES_URL", "")
    if not base:
        if os.environ.get("FOLLICLE_NO_POSTGRES") == "1":
            pytest.skip("FOLLICLE_NO_POSTGRES=1: PostgreSQL tests skipped on request")
        pytest.fail(MISSING, pytrace=False)
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(base)
    name = f"follicle_t_{secrets.token_hex(4)}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        from follicle import storage

        for key in [k for k in storage._stores if name in k]:
            storage._stores.pop(key).dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                 ) -> Iterator[str]:
    """The URL of an empty-or-shared database: SQLite file per test, PostgreSQL per session."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "follicle.db"
        url = f"sqlite:///{path}"
        yield url
        from follicle import storage

        store = storage._stores.pop(url, None)
        if store is not None:
            store.dispose()
    else:
        yield request.getfixturevalue("postgres_url")
