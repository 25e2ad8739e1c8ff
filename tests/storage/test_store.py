"""The Store: round trips, tokens, no enumeration, deletion, migrations, concurrency."""

from __future__ import annotations

import datetime as dt
import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

import follicle
from follicle.storage import SavedAssessment, Store, get_store, migrate
from follicle.tracker import FollowupError

CASE = {"format": "follicle-case/1", "age": 41, "sex": "female",
        "hair": {"onset": "sudden", "pattern": ["diffuse"], "shedding": True},
        "labs": [{"test": "b12", "value": 150, "unit": "ng/L"}]}


def _days_ago(n: int) -> str:
    return (dt.date.today() - dt.timedelta(days=n)).isoformat()


@pytest.fixture
def store(database_url: str) -> Store:
    return get_store(database_url)


def _save(store: Store) -> tuple[str, str]:
    return store.save_assessment(CASE, follicle.assess(CASE).to_dict())


def test_round_trip(store: Store) -> None:
    assessment = follicle.assess(CASE).to_dict()
    id, token = store.save_assessment(CASE, assessment)
    saved = store.get_assessment(id, token)
    assert isinstance(saved, SavedAssessment)
    assert saved.id == id and saved.case == CASE and saved.assessment == assessment
    assert saved.followups == []
    assert saved.created_at.tzinfo is not None
    assert abs((dt.datetime.now(dt.UTC) - saved.created_at).total_seconds()) < 60


def test_wrong_token_and_unknown_id_look_the_same(store: Store) -> None:
    id, token = _save(store)
    assert store.get_assessment(id, token + "x") is None
    assert store.get_assessment(id, "") is None
    assert store.get_assessment("0" * 32, token) is None
    assert store.get_assessment("x" * 500, token) is None
    assert store.timeline(id, "nope") is None
    assert store.add_followup(id, "nope", {"date": _days_ago(1), "note": "n"}) is None
    assert store.delete_assessment(id, "nope") is False
    assert store.get_assessment(id, token) is not None


def test_tokens_are_random_and_stored_hashed(store: Store) -> None:
    pairs = [_save(store) for _ in range(5)]
    ids = {i for i, _ in pairs}
    tokens = {t for _, t in pairs}
    assert len(ids) == 5 and len(tokens) == 5
    assert all(len(t) >= 43 for t in tokens)  # 32 random bytes, urlsafe base64
    with store.engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, token_hash FROM assessments")).all())
    for id, token in pairs:
        assert rows[id] == hashlib.sha256(token.encode()).hexdigest()
        assert token not in rows.values()


def test_delete_removes_followups_for_good(store: Store) -> None:
    id, token = _save(store)
    store.add_followup(id, token, {"date": _days_ago(3),
                                   "hair_count": {"method": "comb_60s", "count": 40}})
    assert store.delete_assessment(id, token) is True
    assert store.get_assessment(id, token) is None
    assert store.delete_assessment(id, token) is False
    with store.engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM followups WHERE assessment_id = :i"),
                         {"i": id}).scalar_one()
    assert n == 0


def test_followups_in_date_order(store: Store) -> None:
    id, token = _save(store)
    for d, n in [(10, 50), (30, 70), (20, 60)]:
        store.add_followup(id, token, {"date": _days_ago(d),
                                       "hair_count": {"method": "shower", "count": n}})
    saved = store.get_assessment(id, token)
    assert saved is not None
    assert [f["hair_count"]["count"] for f in saved.followups] == [70, 60, 50]
    assert list(saved.followups[0]) == ["date", "hair_count", "treatment", "labs", "note"]


def test_invalid_followup_names_the_field(store: Store) -> None:
    id, token = _save(store)
    with pytest.raises(FollowupError) as err:
        store.add_followup(id, token, {"date": _days_ago(1),
                                       "treatment": {"action": "started", "name": "magic"}})
    detail = err.value.to_dict()["error"]["details"][0]
    assert detail["field"] == "treatment.name" and "b12_injections" in detail["allowed"]


def test_migrations_are_idempotent_and_at_head(store: Store) -> None:
    migrate(store.engine)  # a second run (another worker starting) changes nothing
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() \
            == "0001"


def test_sqlite_uses_wal_and_foreign_keys(tmp_path) -> None:
    store = get_store(f"sqlite:///{tmp_path / 'x.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar_one() == 1
    store.dispose()


def test_get_store_is_cached(database_url: str) -> None:
    assert get_store(database_url) is get_store(database_url)


def test_concurrent_saves_and_followups_lose_nothing(store: Store) -> None:
    """50 parallel saves, then 50 parallel follow-ups on them; every one reads back."""
    assessment = follicle.assess(CASE).to_dict()

    def save(i: int) -> tuple[str, str]:
        return store.save_assessment({**CASE, "id": f"c{i}"}, assessment)

    with ThreadPoolExecutor(max_workers=16) as pool:
        saved = list(pool.map(save, range(50)))

        def follow(arg: tuple[int, tuple[str, str]]) -> object:
            i, (id, token) = arg
            return store.add_followup(id, token, {
                "date": _days_ago(i % 20),
                "hair_count": {"method": "comb_60s", "count": i}})

        results = list(pool.map(follow, enumerate(saved)))
        # and 50 follow-ups on one record at once
        one_id, one_token = saved[0]
        many = list(pool.map(lambda n: store.add_followup(
            one_id, one_token, {"date": _days_ago(n % 30), "note": f"n{n}"}), range(50)))
    assert all(r is not None for r in results + many)
    for i, (id, token) in enumerate(saved):
        got = store.get_assessment(id, token)
        assert got is not None and got.case["id"] == f"c{i}"
        counts = [f["hair_count"]["count"] for f in got.followups if f["hair_count"]]
        assert counts == [i]
    first = store.get_assessment(one_id, one_token)
    assert first is not None
    assert sorted(f["note"] for f in first.followups if f["note"]) == \
        sorted(f"n{n}" for n in range(50))



WORKER = """
import json, sys
from follicle.storage import get_store
store = get_store(sys.argv[1])
case = {"format": "follicle-case/1"}
pairs = [store.save_assessment({**case, "id": f"w{i}"}, {"kb_version": "x"})
         for i in range(int(sys.argv[2]))]
print(json.dumps(pairs))
"""


def test_processes_racing_on_a_fresh_database(tmp_path, database_url: str) -> None:
    """Four worker processes start together on a new database (like `serve --workers 4`):
    the migration runs once, and all their writes land."""
    import json
    import subprocess
    import sys

    url = database_url
    if url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'race.db'}"
    else:  # a brand-new PostgreSQL database, so the migration itself is raced
        import secrets

        import psycopg
        from sqlalchemy.engine import make_url

        base = make_url(database_url)
        name = f"follicle_race_{secrets.token_hex(4)}"
        admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = base.set(database=name).render_as_string(hide_password=False)
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, "10"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    pairs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        pairs += json.loads(out)
    store = get_store(url)
    assert len({i for i, _ in pairs}) == 40
    assert all(store.get_assessment(i, t) is not None for i, t in pairs)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    from follicle import storage

    storage._stores.pop(url).dispose()
    if not url.startswith("sqlite"):
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
