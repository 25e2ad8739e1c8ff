"""The web pages without a browser: flow, CSRF, cookies, errors, headers, sizes, PDF."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from follicle.questionnaire import load_questionnaire
from follicle.settings import Settings
from follicle.web.app import create_app
from tests.web.personas import RECEDING, VEGAN, answer_for


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    return tmp_path / "pages.db"


@pytest.fixture()
def client(db: Path) -> TestClient:
    app = create_app(Settings(database_url=f"sqlite:///{db}", secret_key="test-secret"))
    return TestClient(app)


def _token(c: TestClient) -> str:
    r = c.get("/")
    m = re.search(r'name="csrf" value="([^"]+)"', r.text)
    assert m
    return m.group(1)


def _complete(c: TestClient, persona: dict[str, Any], labs: dict[str, str] | None = None,
              ) -> int:
    tok = _token(c)
    r = c.post("/quiz/start", data={"csrf": tok}, follow_redirects=False)
    url = r.headers["location"]
    q = load_questionnaire()
    n = 0
    while url.startswith("/quiz/q/"):
        assert c.get(url).status_code == 200
        question = q.by_id[url.rsplit("/", 1)[1]]
        ans = answer_for(persona, question)
        data: dict[str, Any] = {"csrf": tok, "action": "next"}
        if ans == "skip":
            data["action"] = "skip"
        elif isinstance(ans, list):
            data["value"] = ans or ["none"]
        else:
            data["value"] = f"{ans}"
        r = c.post(url, data=data, follow_redirects=False)
        assert r.status_code == 303, r.text[:500]
        url = r.headers["location"]
        n += 1
    assert url == "/quiz/labs"
    r = c.post("/quiz/labs", data={"csrf": tok, **(labs or {})}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/result"
    return n


def test_home_page_headers_and_no_inline_code(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert "<script" not in r.text and "style=" not in r.text
    assert "follicle_csrf" in r.headers["set-cookie"]


def test_post_without_csrf_is_refused(client: TestClient) -> None:
    client.get("/")
    r = client.post("/quiz/start", data={}, follow_redirects=False)
    assert r.status_code == 403
    r = client.post("/quiz/start", data={"csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    fresh = TestClient(client.app)
    assert fresh.post("/quiz/q/age", data={"csrf": "x", "value": "3"}).status_code == 403


def test_full_flow_result_pdf_and_sizes(client: TestClient, db: Path) -> None:
    n = _complete(client, VEGAN, {"b12_value": "120", "b12_unit": "pg/mL"})
    assert n <= 15
    r = client.get("/result")
    assert r.status_code == 200
    html = r.text
    assert html.index("red-flags") < html.index("b12-answer")
    assert html.index('id="short-h"') < html.index("red-flags")  # the answer comes first
    assert "that needs treating" in html  # B12 120 pg/mL: deficient, said in plain words
    assert "120 pg/mL" in html and "deficient (below 180 ng/L)" in html  # value and band
    assert "pubmed.ncbi.nlm.nih.gov" in html and "<svg" in html
    assert "style=" not in html
    assert "<script" not in html
    css = client.get("/static/follicle.css").content
    for page in ("/", "/quiz/labs", "/result", "/learn"):
        body = client.get(page).content
        assert len(body) + len(css) < 100_000, page
    pdf = client.get("/result.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # nothing was stored: saving is the person's choice
    with sqlite3.connect(db) as con:
        tables = {r[0] for r in con.execute("select name from sqlite_master")}
        if "assessments" in tables:
            assert con.execute("select count(*) from assessments").fetchone()[0] == 0


def test_save_gives_a_private_link(client: TestClient) -> None:
    _complete(client, RECEDING)
    tok = _token(client)
    r = client.post("/result/save", data={"csrf": tok}, follow_redirects=False)
    assert r.status_code == 303
    link = r.headers["location"]
    m = re.fullmatch(r"/r/([^?]+)\?t=(.+)", link)
    assert m and len(m.group(2)) >= 32
    other = TestClient(client.app)
    page = other.get(link)
    assert page.status_code == 200 and "Your saved answer" in page.text
    assert other.get(link[:-2] + "zz").status_code == 404
    assert other.get(f"/r/{m.group(1)}").status_code == 404
    pdf = other.get(f"/r/{m.group(1)}/summary.pdf?t={m.group(2)}")
    assert pdf.content.startswith(b"%PDF")
    # the owner can delete it; then the link is dead
    tok2 = _token(other)
    assert other.post(f"/r/{m.group(1)}/delete", data={"csrf": tok2, "t": "wrong"}
                      ).status_code == 404
    assert other.post(f"/r/{m.group(1)}/delete", data={"t": m.group(2)}).status_code == 403
    ask = other.post(f"/r/{m.group(1)}/delete", data={"csrf": tok2, "t": m.group(2)})
    assert ask.status_code == 200 and "Delete this saved result?" in ask.text
    assert other.get(link).status_code == 200  # asking deletes nothing
    gone = other.post(f"/r/{m.group(1)}/delete",
                      data={"csrf": tok2, "t": m.group(2), "confirm": "yes"})
    assert gone.status_code == 200 and "Deleted" in gone.text
    assert other.get(link).status_code == 404


def test_tampered_cookie_is_ignored(client: TestClient) -> None:
    _complete(client, RECEDING)
    value = client.cookies["follicle_quiz"]
    forged = TestClient(client.app, cookies={"follicle_quiz": "eyJhIjp7fX0" + value[-44:]})
    r = forged.get("/result", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_question_errors_are_announced(client: TestClient) -> None:
    tok = _token(client)
    client.post("/quiz/start", data={"csrf": tok})
    r = client.post("/quiz/q/age", data={"csrf": tok, "value": "abc"})
    assert r.status_code == 422
    assert 'role="alert"' in r.text and 'aria-invalid="true"' in r.text


def test_unknown_or_hidden_questions_redirect(client: TestClient) -> None:
    tok = _token(client)
    client.post("/quiz/start", data={"csrf": tok})
    r = client.get("/quiz/q/pregnant", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/quiz/q/age"
    r = client.get("/quiz/q/nope", follow_redirects=False)
    assert r.status_code == 303


def test_lab_errors(client: TestClient) -> None:
    tok = _token(client)
    client.post("/quiz/start", data={"csrf": tok})
    client.post("/quiz/q/age", data={"csrf": tok, "value": "30"})
    r = client.post("/quiz/labs", data={
        "csrf": tok, "b12_value": "250", "b12_unit": "mmol/L", "hemoglobin_value": "99",
        "hemoglobin_unit": "g/dL", "ferritin_value": "lots", "ferritin_unit": "ug/L"})
    assert r.status_code == 422
    assert "is not a unit for" in r.text and "not possible" in r.text
    assert "as a number" in r.text
    assert r.text.count('aria-invalid="true"') >= 3



def test_a_lab_value_without_a_chosen_unit_is_not_guessed(client: TestClient) -> None:
    """The unit list starts empty: 300 with no unit must not be read as 300 pg/mL."""
    tok = _token(client)
    client.post("/quiz/start", data={"csrf": tok})
    client.post("/quiz/q/age", data={"csrf": tok, "value": "30"})
    page = client.get("/quiz/labs").text
    assert '<option value="" selected>Choose the unit</option>' in page
    r = client.post("/quiz/labs", data={"csrf": tok, "b12_value": "300", "b12_unit": ""})
    assert r.status_code == 422
    assert "Choose the unit printed next to your" in r.text
    assert 'value="300"' in r.text

def test_learn_pages_and_errors(client: TestClient) -> None:
    r = client.get("/learn")
    assert r.status_code == 200 and "/learn/postpartum" in r.text
    r = client.get("/learn/postpartum")
    assert r.status_code == 200 and "<article" in r.text
    r = client.get("/learn/no-such-article")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    r = client.get("/api/v1/no-such-endpoint")
    assert r.status_code == 404 and "json" in r.headers["content-type"]


def test_save_failure_is_reported_not_crashed(db: Path) -> None:
    app = create_app(Settings(database_url="sqlite:////nonexistent-dir/x/y.db",
                              secret_key="test-secret"))
    c = TestClient(app)
    _complete(c, RECEDING)
    r = c.post("/result/save", data={"csrf": _token(c)}, follow_redirects=False)
    assert r.status_code == 503 and "not available" in r.text


def test_doctor_summary_lists_the_answers_in_plain_words() -> None:
    from follicle.web.pages import answers_given

    rows = dict(answers_given({
        "format": "follicle-case/1", "age": 58, "sex": "male",
        "hair": {"onset": "gradual", "pattern": ["diffuse"], "shedding": True},
        "history": {"medications": [{"name": "metformin", "months": 108}]},
        "labs": [{"test": "b12", "value": 190, "unit": "pmol/L",
                  "reference_range": [150, 600]}]}))
    assert rows["Age"] == "58 years" and rows["More hairs shedding"] == "yes"
    assert rows["Medicines"] == "metformin (108 months)"
    # values that came from the quiz read as the answer chosen, not the number behind it
    quiz = dict(answers_given({
        "format": "follicle-case/1", "hair": {"duration_months": 4.5,
                                              "pattern": ["temples_crown"]},
        "history": {"medications": [{"name": "metformin", "months": 72}]}}))
    assert quiz["Duration"] == "3 to 6 months"
    assert quiz["Pattern"] == "Receding at the temples or thin on the crown"
    assert quiz["Medicines"] == "metformin (4 to 7 years)"
    assert rows["Serum total vitamin B12 (cobalamin)"] == "190 pmol/L (laboratory range 150-600)"
    assert dict(answers_given({"format": "follicle-case/1", "age": 70}))["Hair loss"].startswith(
        "none reported")


def test_bars_carry_their_colours_for_pdf_renderers_without_css(client: TestClient) -> None:
    _complete(client, VEGAN, {})
    html = client.get("/result").text
    assert 'class="bar-fill" fill="#' in html and 'class="bar-track" fill="#' in html


def test_questions_for_a_child_say_who_to_answer_for(client: TestClient) -> None:
    tok = _token(client)
    url = client.post("/quiz/start", data={"csrf": tok}, follow_redirects=False
                      ).headers["location"]
    assert url == "/quiz/q/age" and "Answering for a child" not in client.get(url).text
    nxt = client.post(url, data={"csrf": tok, "action": "next", "value": "7"},
                      follow_redirects=False).headers["location"]
    assert "Answering for a child" in client.get(nxt).text


def test_the_b12_reading_matches_the_engine_on_a_cut_off() -> None:
    import follicle
    from follicle.web.pages import result_view

    case = {"format": "follicle-case/1",
            "labs": [{"test": "b12", "value": 180, "unit": "ng/L"},
                     {"test": "mma", "value": 450, "unit": "nmol/L",
                      "reference_range": [0, 500]}]}
    readings = result_view(follicle.assess(case).to_dict(), case)["b12_readings"]
    assert readings[0].endswith("indeterminate (180-350 ng/L)")  # 180 is in NICE's 180-350
    assert readings[1].endswith("Laboratory reference range (above its upper limit = "
                                "raised): not deficient")  # the laboratory's range decides
