"""The tracker page: token-protected, CSRF-checked form, chart and verdict rendered."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient

from follicle.settings import Settings
from follicle.web.app import create_app


@pytest.fixture
def client(database_url: str) -> TestClient:
    return TestClient(create_app(Settings(database_url=database_url, secret_key="t")))


def _csrf(html: str) -> tuple[str, str]:
    m = re.search(r'<input type="hidden" name="([^"]+)" value="([^"]+)">', html)
    assert m
    return m.group(1), m.group(2)


def test_tracker_page_flow(client: TestClient) -> None:
    r = client.post("/api/v1/assessments", json={
        "format": "follicle-case/1", "sex": "female",
        "labs": [{"test": "b12", "value": 120, "unit": "ng/L"}]})
    rid, token = r.json()["id"], r.json()["token"]
    page = client.get(f"/r/{rid}/track?t={token}")
    assert page.status_code == 200 and "<svg" in page.text
    assert "Not enough hair counts" in page.text and "NICE" in page.text
    field, csrf = _csrf(page.text)
    today = dt.date.today()
    posts = [{"date": (today - dt.timedelta(days=150)).isoformat(),
              "treatment_action": "started", "treatment_name": "b12_injections"}]
    posts += [{"date": (today - dt.timedelta(days=d)).isoformat(), "method": "comb_60s",
               "count": str(c)} for d, c in [(140, 100), (110, 80), (70, 60), (30, 40)]]
    for data in posts:
        done = client.post(f"/r/{rid}/track", data={**data, field: csrf, "t": token},
                           follow_redirects=False)
        assert done.status_code == 303, done.text
    page = client.get(f"/r/{rid}/track?t={token}")
    assert "Verdict: improving" in page.text and "B12 injections started" in page.text
    bad = client.post(f"/r/{rid}/track", data={"date": today.isoformat(), "count": "lots",
                                               field: csrf, "t": token})
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    # errors in the form's own words, each linked to its field (not "hair_count.count")
    assert '<a href="#count">Number of hairs</a>: enter a whole number' in bad.text
    assert "hair_count.count" not in bad.text
    no_unit = client.post(f"/r/{rid}/track", data={
        "date": today.isoformat(), "lab_test": "b12", "lab_value": "300", field: csrf,
        "t": token})
    assert no_unit.status_code == 422
    assert '<a href="#lab_unit">Unit</a>: choose the unit printed on the lab report' in no_unit.text
    no_test = client.post(f"/r/{rid}/track", data={
        "date": today.isoformat(), "lab_value": "300", field: csrf, "t": token})
    assert no_test.status_code == 422  # a value without its test is not silently dropped
    assert '<a href="#lab_test">Test</a>: choose which test this result is for' in no_test.text


def test_tracker_page_needs_token_and_csrf(client: TestClient) -> None:
    r = client.post("/api/v1/assessments", json={"format": "follicle-case/1"})
    rid, token = r.json()["id"], r.json()["token"]
    assert client.get(f"/r/{rid}/track").status_code == 404
    assert client.get(f"/r/{rid}/track?t=wrong").status_code == 404
    no_csrf = client.post(f"/r/{rid}/track", data={"t": token, "date": "2026-01-01",
                                                   "note": "x"})
    assert no_csrf.status_code == 403
