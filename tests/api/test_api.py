"""REST API v1: assess, saved assessments with tokens, follow-ups, errors, logs."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

import follicle
from follicle.settings import Settings
from follicle.web.app import create_app

CASE = {"format": "follicle-case/1", "age": 33, "sex": "female",
        "hair": {"onset": "sudden", "pattern": "diffuse", "shedding": True},
        "history": {"diet": "vegan", "events": ["childbirth"], "event_months_ago": 3},
        "symptoms": ["fatigue", "pins_and_needles"],
        "labs": [{"test": "b12", "value": 137.25, "unit": "ng/L"},
                 {"test": "ferritin", "value": 23.5, "unit": "ug/L"}]}


def _days_ago(n: int) -> str:
    return (dt.date.today() - dt.timedelta(days=n)).isoformat()


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=database_url, max_body_bytes=65536,
                              secret_key="test"))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _saved(client: TestClient, case: dict = CASE) -> tuple[str, str]:
    r = client.post("/api/v1/assessments", json=case)
    assert r.status_code == 201, r.text
    return r.json()["id"], r.json()["token"]


def _assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in r.text and 'File "' not in r.text
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def test_assess_matches_engine_and_stores_nothing(client: TestClient) -> None:
    from sqlalchemy import text

    from follicle.storage import get_store

    store = get_store(client.app.state.settings.database_url)  # type: ignore[attr-defined]

    with store.engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM assessments")).scalar_one()
    expected = json.loads(json.dumps(follicle.assess(CASE).to_dict()))
    for _ in range(2):  # the second answer may come from the per-process cache
        r = client.post("/api/v1/assess", json=CASE)
        assert r.status_code == 200
        assert r.json() == expected
    other = client.post("/api/v1/assess", json={**CASE, "age": 44}).json()
    assert other == json.loads(json.dumps(follicle.assess({**CASE, "age": 44}).to_dict()))
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM assessments")).scalar_one() == before


def _call_fast_path(body_chunks: list[bytes], headers: list[tuple[bytes, bytes]],
                    ) -> tuple[list[dict], list[dict] | None]:
    """Drive `AssessFastPath` around a recording inner app; returns (sent, inner got)."""
    from follicle.api.routes import AssessFastPath

    got: list[dict] | None = None

    async def inner(scope: dict, receive: object, send: object) -> None:
        nonlocal got
        got = []
        while True:
            m = await receive()  # type: ignore[operator]
            got.append(m)
            if not m.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 299, "headers": []})  # type: ignore[operator]

    incoming = [{"type": "http.request", "body": c, "more_body": i < len(body_chunks) - 1}
                for i, c in enumerate(body_chunks)]
    sent: list[dict] = []

    async def receive() -> dict:
        return incoming.pop(0)

    async def send(m: dict) -> None:
        sent.append(m)

    scope = {"type": "http", "method": "POST", "path": "/api/v1/assess", "headers": headers}
    asyncio.run(AssessFastPath(inner)(scope, receive, send))  # type: ignore[arg-type]
    return sent, got


def test_assess_fast_path_answers_valid_cases_and_hands_on_the_rest() -> None:
    """The hot path answers a valid case itself (body in chunks too); anything else reaches
    the normal route with every body chunk replayed unchanged."""
    body = json.dumps({**CASE, "age": 58}).encode()
    sent, got = _call_fast_path([body[:40], body[40:]], [(b"content-type", b"application/json")])
    assert got is None
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"]) == json.loads(
        json.dumps(follicle.assess({**CASE, "age": 58}).to_dict()))
    for chunks, headers in ([[b'{"format": "follicle-', b'case/1", "age": -4}'],
                             [(b"content-type", b"application/json")]],
                            [[body], [(b"content-type", b"text/plain")]],
                            [[b"{not json"], []]):
        sent, got = _call_fast_path(chunks, headers)
        assert sent[0]["status"] == 299
        assert got is not None and b"".join(m["body"] for m in got) == b"".join(chunks)


def test_assess_fast_path_keeps_headers_and_access_log(client: TestClient,
                                                       caplog: pytest.LogCaptureFixture,
                                                       ) -> None:
    caplog.set_level(logging.INFO, logger="follicle.api")
    r = client.post("/api/v1/assess", json={**CASE, "age": 44})
    assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-length"] == str(len(r.content))
    line = json.loads([x for x in caplog.records if x.name == "follicle.api"][-1].getMessage())
    assert line["route"] == "/api/v1/assess" and line["status"] == 200


def test_save_get_delete(client: TestClient) -> None:
    r = client.post("/api/v1/assessments", json=CASE)
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"id", "token", "assessment"}
    assert body["assessment"]["format"] == "follicle-assessment/1"
    assert r.headers["cache-control"] == "no-store"  # the token and health data
    got = client.get(f"/api/v1/assessments/{body['id']}", headers=_auth(body["token"]))
    assert got.status_code == 200 and got.headers["cache-control"] == "no-store"
    assert got.json()["assessment"] == body["assessment"]
    assert client.post("/api/v1/assess", json=CASE).headers["cache-control"] == "no-store"
    assert "cache-control" not in client.get("/api/v1/knowledge/types").headers
    assert got.json()["case"]["labs"][0]["value"] == 137.25
    assert client.delete(f"/api/v1/assessments/{body['id']}",
                         headers=_auth(body["token"])).status_code == 204
    _assert_error(client.get(f"/api/v1/assessments/{body['id']}",
                             headers=_auth(body["token"])), 404, "not_found")


def test_no_enumeration(client: TestClient) -> None:
    """Unknown id, missing token, wrong token and wrong scheme answer exactly the same."""
    id, token = _saved(client)
    answers = [
        client.get(f"/api/v1/assessments/{id}"),
        client.get(f"/api/v1/assessments/{id}",
                   headers=_auth(token[:-1] + ("B" if token.endswith("A") else "A"))),
        client.get(f"/api/v1/assessments/{id}", headers={"Authorization": f"Basic {token}"}),
        client.get("/api/v1/assessments/" + "0" * 32, headers=_auth(token)),
        client.get("/api/v1/assessments/x", headers=_auth(token)),
    ]
    assert {(r.status_code, r.text) for r in answers} == {(answers[0].status_code,
                                                           answers[0].text)}
    _assert_error(answers[0], 404, "not_found")
    for path in ("timeline", "fhir", "chart.svg"):
        _assert_error(client.get(f"/api/v1/assessments/{id}/{path}"), 404, "not_found")
    _assert_error(client.delete(f"/api/v1/assessments/{id}"), 404, "not_found")
    _assert_error(client.post(f"/api/v1/assessments/{id}/followups",
                              json={"date": _days_ago(1), "note": "x"}), 404, "not_found")


def test_followups_timeline_and_chart(client: TestClient) -> None:
    id, token = _saved(client)
    h = _auth(token)
    start = client.post(f"/api/v1/assessments/{id}/followups", headers=h, json={
        "date": _days_ago(160), "treatment": {"action": "started", "name": "b12_injections"}})
    assert start.status_code == 201, start.text
    for d, n in [(150, 120), (120, 95), (90, 80), (60, 70), (30, 50), (5, 35)]:
        r = client.post(f"/api/v1/assessments/{id}/followups", headers=h,
                        json={"date": _days_ago(d),
                              "hair_count": {"method": "comb_60s", "count": n}})
        assert r.status_code == 201
    r = client.post(f"/api/v1/assessments/{id}/followups", headers=h, json={
        "date": _days_ago(2), "labs": [{"test": "b12", "value": 420, "unit": "ng/L"}]})
    assert r.status_code == 201 and r.json()["labs"][0]["test"] == "b12"
    t = client.get(f"/api/v1/assessments/{id}/timeline", headers=h)
    assert t.status_code == 200
    tl = t.json()
    assert len(tl["followups"]) == 8
    assert [f["date"] for f in tl["followups"]] == sorted(f["date"] for f in tl["followups"])
    assert tl["verdict"]["verdict"] == "improving"
    assert tl["verdict"]["retest_b12"]["due"] is not None
    svg = client.get(f"/api/v1/assessments/{id}/chart.svg", headers=h)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "B12 injections started" in svg.text


def test_followup_errors_name_the_field(client: TestClient) -> None:
    id, token = _saved(client)
    r = client.post(f"/api/v1/assessments/{id}/followups", headers=_auth(token),
                    json={"date": _days_ago(1), "hair_count": {"method": "brush", "count": 1}})
    err = _assert_error(r, 422, "invalid_followup")
    assert err["details"][0]["field"] == "hair_count.method"
    assert err["details"][0]["allowed"] == ["comb_60s", "shower"]


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"format": "follicle-case/1", "sex": "other"}, 422, "invalid_case", "sex"),
    ({"format": "follicle-case/2"}, 422, "invalid_case", "format"),
    ({"format": "follicle-case/1", "name": "Jane Doe"}, 422, "invalid_case", "name"),
    ({"format": "follicle-case/1", "labs": [{"test": "b12", "value": 5, "unit": "mmol/L"}]},
     422, "invalid_lab", "labs[0].unit"),
    ([1, 2], 422, "invalid_case", None),
])
def test_case_errors(client: TestClient, body: object, status: int, code: str,
                     field: str | None) -> None:
    for path in ("/api/v1/assess", "/api/v1/assessments"):
        err = _assert_error(client.post(path, json=body), status, code)
        if field:
            assert err["details"][0]["field"] == field


def test_error_shape_everywhere(client: TestClient) -> None:
    _assert_error(client.post("/api/v1/assess", content=b"{not json",
                              headers={"content-type": "application/json"}),
                  400, "bad_request")
    _assert_error(client.post("/api/v1/assess", content=b"a=b",
                              headers={"content-type": "application/x-www-form-urlencoded"}),
                  415, "unsupported_media_type")
    _assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")
    _assert_error(client.put("/api/v1/assess", json=CASE), 405, "method_not_allowed")
    err = _assert_error(client.get("/api/v1/questionnaire?format=xml"), 422,
                        "invalid_request")
    assert err["details"][0]["field"] == "format"
    big = {"format": "follicle-case/1", "id": "x" * 70000}
    _assert_error(client.post("/api/v1/assess", json=big), 413, "payload_too_large")
    # the same body streamed without a Content-Length (chunked) is a 413 too, not a 500
    data = json.dumps(big).encode()
    chunks = (data[i:i + 8192] for i in range(0, len(data), 8192))
    for path in ("/api/v1/assess", "/api/v1/assessments"):
        r = client.post(path, content=chunks, headers={"content-type": "application/json"})
        _assert_error(r, 413, "payload_too_large")
        chunks = (data[i:i + 8192] for i in range(0, len(data), 8192))


def test_unexpected_error_is_500_in_the_shape(client: TestClient,
                                              monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("secret internal detail 137.25")

    monkeypatch.setattr(follicle, "assess", boom)
    unique = {**CASE, "id": f"boom-{id(client)}-{dt.datetime.now().isoformat()}"}
    err = _assert_error(client.post("/api/v1/assess", json=unique), 500, "internal_error")
    assert "secret" not in json.dumps(err)
    assert "secret" not in caplog.text and "137.25" not in caplog.text
    assert any("RuntimeError" in r.getMessage() for r in caplog.records)


def test_knowledge_and_questionnaire(client: TestClient) -> None:
    for kind in ("types", "causes", "tests", "references"):
        r = client.get(f"/api/v1/knowledge/{kind}")
        assert r.status_code == 200 and r.json()[kind], kind
    type_ids = {t["id"] for t in client.get("/api/v1/knowledge/types").json()["types"]}
    assert "telogen_effluvium" in type_ids
    tests = {t["id"]: t for t in client.get("/api/v1/knowledge/tests").json()["tests"]}
    assert tests["b12"]["loinc"][0]["code"] == "2132-9"
    q = client.get("/api/v1/questionnaire")
    assert q.status_code == 200
    ids = [x["id"] for x in q.json()["questions"]]
    assert ids[:2] == ["age", "sex"] and q.json()["essentials"][0] == "age"
    f = client.get("/api/v1/questionnaire?format=fhir")
    assert f.headers["content-type"].startswith("application/fhir+json")
    assert f.json()["resourceType"] == "Questionnaire"
    assert [i["linkId"] for i in f.json()["item"]] == ids
    case_q = client.get("/api/v1/questionnaire?format=fhir-case").json()
    assert case_q["url"] == "urn:follicle:questionnaire:follicle-case-1"


def test_openapi_and_docs(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    for path in ("/api/v1/assess", "/api/v1/assessments", "/api/v1/assessments/{id}",
                 "/api/v1/assessments/{id}/followups", "/api/v1/assessments/{id}/timeline",
                 "/api/v1/knowledge/types", "/api/v1/questionnaire", "/healthz"):
        assert path in spec["paths"], path
    assert "CaseIn" in spec["components"]["schemas"]
    assert "HTTPValidationError" not in json.dumps(spec)  # one error shape, documented
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not path.startswith("/api/"):
                continue
            errors = {code: r for code, r in op["responses"].items() if code[0] in "45"}
            assert "500" in errors, (method, path)
            for code, r in errors.items():  # every documented error has the one shape
                assert r["content"]["application/json"]["schema"] == error_ref, (path, code)
            if path.startswith("/api/v1/assessments/{id}"):
                assert "404" in errors, (method, path)
            if method == "post":
                assert {"400", "413", "415", "422"} <= set(errors), path
    questionnaire = spec["paths"]["/api/v1/questionnaire"]["get"]["responses"]
    assert "422" in questionnaire and "413" not in questionnaire  # a GET has no body
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert "POST /api/v1/assessments/{id}/followups" in docs.text
    assert "<script" not in docs.text and 'id="schema-CaseIn"' in docs.text
    assert client.get("/healthz").status_code == 200


def test_logs_never_contain_answers_or_lab_values(client: TestClient,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    id, token = _saved(client)
    client.post("/api/v1/assess", json=CASE)
    client.post(f"/api/v1/assessments/{id}/followups", headers=_auth(token),
                json={"date": _days_ago(1), "labs": [{"test": "b12", "value": 611.75,
                                                      "unit": "ng/L"}]})
    client.get(f"/api/v1/assessments/{id}", headers=_auth(token))
    client.post("/api/v1/assess", json={**CASE, "sex": "nonsense-answer"})
    text = "\n".join(r.getMessage() for r in caplog.records)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "follicle.api"]
    assert lines and all(set(x) == {"event", "method", "route", "status", "ms"}
                         for x in lines)
    for secret in ("137.25", "611.75", "23.5", "vegan", "pins_and_needles", "nonsense-answer",
                   token):
        assert secret not in text


def test_concurrent_api_writes_lose_nothing(database_url: str) -> None:
    """50 parallel saves and 50 parallel follow-ups through the app; all read back."""
    app = create_app(Settings(database_url=database_url, secret_key="t"))

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            saves = await asyncio.gather(*[
                c.post("/api/v1/assessments", json={**CASE, "id": f"p{i}"}) for i in range(50)])
            assert all(r.status_code == 201 for r in saves)
            pairs = [(r.json()["id"], r.json()["token"]) for r in saves]
            fus = await asyncio.gather(*[
                c.post(f"/api/v1/assessments/{id}/followups", headers=_auth(tok),
                       json={"date": _days_ago(i % 10),
                             "hair_count": {"method": "shower", "count": i}})
                for i, (id, tok) in enumerate(pairs)])
            assert all(r.status_code == 201 for r in fus)
            reads = await asyncio.gather(*[
                c.get(f"/api/v1/assessments/{id}", headers=_auth(tok)) for id, tok in pairs])
            for i, r in enumerate(reads):
                assert r.status_code == 200
                assert r.json()["case"]["id"] == f"p{i}"
                assert [f["hair_count"]["count"] for f in r.json()["followups"]] == [i]

    asyncio.run(run())
