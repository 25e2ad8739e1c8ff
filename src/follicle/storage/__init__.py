"""Saved assessments and follow-ups: SQLite by default, PostgreSQL by URL.

`get_store(url)` gives one `Store` per database URL (migrated to the latest schema on first
use). Every read or write needs the record's access token; an unknown id and a wrong token
look the same (None), so nobody can probe which ids exist. Tokens come from `secrets` and
only their SHA-256 hash is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from .models import AssessmentRow, FollowupRow

__all__ = ["SavedAssessment", "Store", "get_store", "hash_token"]

_DUMMY_HASH = hashlib.sha256(b"follicle: no such record").hexdigest()


@dataclass(frozen=True)
class SavedAssessment:
    """A stored assessment with its case and follow-ups (in date order)."""

    id: str
    created_at: dt.datetime
    case: dict[str, Any]
    assessment: dict[str, Any]
    followups: list[dict[str, Any]]


def hash_token(token: str) -> str:
    """SHA-256 of the token; tokens carry 256 random bits, so no salt or stretching needed."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _followup_out(row: FollowupRow) -> dict[str, Any]:
    return {"date": row.date.isoformat(), **row.data}


class Store:
    """Access to one database. Thread-safe; each call is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    # -- helpers -----------------------------------------------------------------------
    def _load(self, session: Session, id: str, token: str,
              *, for_update: bool = False) -> AssessmentRow | None:
        """The row if the id exists and the token matches; same work either way."""
        if not isinstance(id, str) or not isinstance(token, str) or len(id) > 32:
            hmac.compare_digest(_DUMMY_HASH, hash_token(""))
            return None
        stmt = select(AssessmentRow).where(AssessmentRow.id == id)
        if for_update and self.engine.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        row = session.scalars(stmt).one_or_none()
        expected = row.token_hash if row is not None else _DUMMY_HASH
        ok = hmac.compare_digest(expected, hash_token(token))
        return row if (ok and row is not None) else None

    # -- API -------------------------------------------------------------------------
    def save_assessment(self, case: dict[str, Any], assessment: dict[str, Any],
                        ) -> tuple[str, str]:
        """Store a case and its assessment; return (id, token). The token is shown once."""
        id = secrets.token_hex(16)
        token = secrets.token_urlsafe(32)
        row = AssessmentRow(id=id, token_hash=hash_token(token), created_at=_now(),
                            kb_version=str(assessment.get("kb_version") or ""),
                            case=case, assessment=assessment)
        with self._sessions.begin() as session:
            session.add(row)
        return id, token

    def get_assessment(self, id: str, token: str) -> SavedAssessment | None:
        """The saved assessment, or None for an unknown id or a wrong token."""
        with self._sessions() as session:
            row = self._load(session, id, token)
            if row is None:
                return None
            created = row.created_at
            if created.tzinfo is None:  # SQLite drops the zone; we always store UTC
                created = created.replace(tzinfo=dt.UTC)
            return SavedAssessment(id=row.id, created_at=created, case=dict(row.case),
                                   assessment=dict(row.assessment),
                                   followups=[_followup_out(f) for f in row.followups])

    def delete_assessment(self, id: str, token: str) -> bool:
        """Remove an assessment and its follow-ups for good; False if not found."""
        with self._sessions.begin() as session:
            row = self._load(session, id, token, for_update=True)
            if row is None:
                return False
            session.delete(row)
        return True

    def add_followup(self, id: str, token: str, followup: dict[str, Any],
                     ) -> dict[str, Any] | None:
        """Validate and log a dated follow-up; None if not found. Raises FollowupError."""
        from ..tracker import parse_followup

        clean = parse_followup(followup)
        data = {k: v for k, v in clean.items() if k != "date"}
        with self._sessions.begin() as session:
            row = self._load(session, id, token)
            if row is None:
                return None
            fu = FollowupRow(assessment_id=row.id, date=dt.date.fromisoformat(clean["date"]),
                             created_at=_now(), data=data)
            session.add(fu)
        return clean

    def timeline(self, id: str, token: str) -> dict[str, Any] | None:
        """The follow-ups in date order and the trend verdict; None if not found."""
        saved = self.get_assessment(id, token)
        if saved is None:
            return None
        from ..tracker import timeline

        return timeline(saved, today=dt.date.today())

    def dispose(self) -> None:
        self.engine.dispose()


_stores: dict[str, Store] = {}
_lock = threading.Lock()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA secure_delete=ON")  # deleted records are overwritten, not left behind
    cur.close()


def make_engine(database_url: str) -> Engine:
    """An engine for the URL: SQLite with WAL and foreign keys, or PostgreSQL via psycopg 3."""
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, connect_args={"timeout": 30,
                                                           "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        if database_url not in ("sqlite://", "sqlite:///:memory:"):
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        return engine
    return create_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def migrate(engine: Engine) -> None:
    """Run `alembic upgrade head`, serialised across processes (workers start together)."""
    from importlib import resources

    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location",
                        str(resources.files("follicle.storage") / "migrations"))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7412093)")
        elif conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # one migrator at a time
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def get_store(database_url: str) -> Store:
    """The Store for a URL (cached per process); migrates the database on first use."""
    with _lock:
        store = _stores.get(database_url)
        if store is None:
            engine = make_engine(database_url)
            migrate(engine)
            store = Store(engine)
            _stores[database_url] = store
        return store
