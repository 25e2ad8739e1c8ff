"""Every internal link works (crawled), and the result page links the articles that explain
its top causes and its red flags (issue 5)."""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from urllib.parse import urldefrag, urlparse

from fastapi.testclient import TestClient

import follicle
from follicle.learn import get_article
from follicle.settings import Settings
from follicle.web.app import create_app
from tests.web.personas import VEGAN
from tests.web.test_pages import _complete

HREF = re.compile(r'href="([^"]+)"')


def _crawl(c: TestClient, starts: list[str], limit: int = 400) -> dict[str, int]:
    seen: dict[str, int] = {}
    todo = deque(starts)
    while todo and len(seen) < limit:
        url = todo.popleft()
        if url in seen:
            continue
        r = c.get(url)
        seen[url] = r.status_code
        if "text/html" not in r.headers.get("content-type", ""):
            continue
        for href in HREF.findall(r.text):
            href = urldefrag(href.replace("&amp;", "&"))[0]
            parsed = urlparse(href)
            if parsed.scheme or parsed.netloc or not href.startswith("/"):
                continue
            if href.startswith("/api/") or href.endswith(".pdf"):
                continue
            if href not in seen:
                todo.append(href)
    return seen


def test_no_internal_link_is_broken(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'l.db'}",
                              secret_key="s"))
    c = TestClient(app)
    _complete(c, VEGAN, {"b12_value": "120", "b12_unit": "pg/mL"})
    seen = _crawl(c, ["/", "/learn", "/result"])
    assert len([u for u in seen if u.startswith("/learn/")]) >= 30
    broken = {u: s for u, s in seen.items() if s >= 400}
    assert not broken, broken


def test_result_page_links_articles_for_top_causes_and_red_flags(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'l.db'}",
                              secret_key="s"))
    c = TestClient(app)
    _complete(c, VEGAN, {"b12_value": "120", "b12_unit": "pg/mL"})
    html = c.get("/result").text
    links = {h.split("#")[0] for h in HREF.findall(html) if h.startswith("/learn/")}
    slugs = {h.rsplit("/", 1)[1] for h in links}
    # the same case through the engine: which causes are on top, which flags fired
    case = _case_from_cookie(c)
    a = follicle.assess(case)
    assert a.red_flags, "the vegan persona should raise a red flag"
    for flag in a.red_flags:
        assert flag.article and get_article(flag.article).slug in slugs, flag.id
    for cause in a.contributing_causes[:3]:
        assert get_article(cause.id).slug in slugs, cause.id


def _case_from_cookie(c: TestClient) -> dict[str, object]:
    """The case the page assessed, read back from the signed quiz-state cookie."""
    import json

    from follicle.web import pages

    raw = pages._unsign(b"s", c.cookies.get(pages.STATE_COOKIE))
    assert raw is not None
    data = json.loads(raw)
    state = {"a": data.get("a") or {}, "p": data.get("p") or [], "l": data.get("l") or []}
    return pages._case(state)


def test_head_and_server_error_pages(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'l.db'}",
                              secret_key="s"))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail")

    c = TestClient(app, raise_server_exceptions=False)
    head = c.head("/learn")
    assert head.status_code == 200 and head.content == b""
    assert c.head("/healthz").status_code == 200
    r = c.get("/boom")
    assert r.status_code == 500 and "text/html" in r.headers["content-type"]
    assert "Something went wrong" in r.text and "secret detail" not in r.text
    api = c.get("/api/v1/knowledge/nope")
    assert api.status_code == 404 and api.json()["error"]["code"]


def test_result_explains_why_metformin_matters(tmp_path: Path) -> None:
    import follicle

    a = follicle.assess({"format": "follicle-case/1", "age": 60, "sex": "male",
                         "history": {"medications": [{"name": "metformin", "months": 60}]}})
    moves = {m["finding"]: m for m in a.to_dict()["explanations"]["b12"]}
    assert moves["med:metformin"]["article"] == "metformin"
    from follicle.web.pages import result_view, templates

    view = result_view(a.to_dict(), {})
    html = templates().get_template("_result_body.html").render(
        cite=lambda ref: "", **view)
    assert 'href="/learn/metformin">Why does this matter?' in html
