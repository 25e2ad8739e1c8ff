"""The web pages: home, the adaptive quiz, labs, result (HTML, print, PDF), saved results and
learn articles. Server-rendered Jinja2; works without JavaScript (forms post and redirect).

No clinical logic lives here: questions and their order come from `follicle.questionnaire`,
the answer from `follicle.assess`. Nothing is stored unless the person saves: the answers in
progress live in a signed cookie (HMAC-SHA256 with `settings.secret_key`), and every form
carries a CSRF token bound to a signed cookie (double submit).

Other page modules (e.g. the tracker) can reuse `render`, `check_csrf` and `base.html`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..engine.b12 import B12_TESTS
from ..engine.tables import tables
from ..errors import CaseError, FollicleError, NotFoundError
from ..learn import summary_of
from ..questionnaire import (
    SKIP,
    Question,
    answer_from_form,
    build_case,
    is_visible,
    load_questionnaire,
    next_step,
    visible_options,
)
from ..report import (
    B12_EVIDENCE,
    NOT_RANKED,
    TRIAGE_WORDS,
    UK_NUMBERS,
    b12_tests_to_ask,
    in_short,
    normal_shedding,
    percent,
    probability_words,
    status_words,
    tests_heading,
    times,
    uk_numbers,
)
from ..settings import Settings
from ..units import as_entered

__all__ = ["check_csrf", "install", "render", "templates"]

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATE_COOKIE = "follicle_quiz"
CSRF_COOKIE = "follicle_csrf"
CSRF_FIELD = "csrf"
LAB_ORDER = ("b12", "active_b12", "mma", "homocysteine", "folate", "ferritin", "hemoglobin",
             "mcv", "tsh", "free_t4", "vitamin_d", "zinc", "testosterone")
STATUS_WORDS = {
    "deficient": "Your B12 result shows a deficiency",
    "indeterminate": ("Your B12 result is in the grey zone: the guideline cannot decide from "
                      "it, so a follow-up test settles it"),
    "not_deficient": "Your B12 result makes a deficiency unlikely",
    "untested": "No B12 test yet",
}
DISCLAIMER = ("follicle is for education only. It does not diagnose or treat anything and "
              "does not replace a doctor. See a doctor about your hair loss or symptoms, and at "
              "once if a warning sign applies to you.")


# --------------------------------------------------------------------------- templates


@functools.cache
def templates() -> Environment:
    """The Jinja2 environment of all pages (autoescaped)."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(["html", "xml"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.globals["disclaimer"] = DISCLAIMER
    env.filters["pct"] = percent
    env.filters["times"] = times
    env.filters["words"] = probability_words
    env.filters["num"] = _num
    return env


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)




def _key(request: Request) -> bytes:
    settings: Settings = request.app.state.settings
    return settings.secret_key.encode()


def _sign(key: bytes, payload: bytes) -> str:
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    return (base64.urlsafe_b64encode(payload).decode().rstrip("=") + "."
            + base64.urlsafe_b64encode(mac).decode().rstrip("="))


def _unsign(key: bytes, value: str | None) -> bytes | None:
    if not value or "." not in value:
        return None
    data, mac = value.rsplit(".", 1)
    try:
        payload = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
        got = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
    except (ValueError, TypeError):
        return None
    want = hmac.new(key, payload, hashlib.sha256).digest()
    return payload if hmac.compare_digest(got, want) else None


def _csrf(request: Request) -> tuple[str, bool]:
    """The CSRF token of this browser (and whether it is new and must be set)."""
    raw = _unsign(_key(request), request.cookies.get(CSRF_COOKIE))
    if raw:
        return raw.decode(), False
    cached = getattr(request.state, "new_csrf", None)
    if cached:
        return str(cached), True
    token = secrets.token_urlsafe(24)
    request.state.new_csrf = token
    return token, True


def check_csrf(request: Request, form: Mapping[str, Any]) -> bool:
    """True when the form's CSRF field matches this browser's signed CSRF cookie."""
    raw = _unsign(_key(request), request.cookies.get(CSRF_COOKIE))
    sent = form.get(CSRF_FIELD)
    return bool(raw) and isinstance(sent, str) and hmac.compare_digest(raw or b"",
                                                                       sent.encode())


def render(request: Request, name: str, context: dict[str, Any] | None = None,
           status_code: int = 200) -> HTMLResponse:
    """Render a page template with the CSRF token; sets the CSRF cookie when new."""
    token, new = _csrf(request)
    ctx = {"request": request, "csrf_field": CSRF_FIELD, "csrf_token": token,
           "path": request.url.path}
    ctx.update(context or {})
    html = templates().get_template(name).render(ctx)
    response = HTMLResponse(html, status_code=status_code)
    response.headers["cache-control"] = "no-store"
    if new:
        response.set_cookie(CSRF_COOKIE, _sign(_key(request), token.encode()), httponly=True,
                            samesite="strict", path="/")
    return response


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --------------------------------------------------------------------------- quiz state


def _state(request: Request) -> dict[str, Any]:
    raw = _unsign(_key(request), request.cookies.get(STATE_COOKIE))
    if raw:
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return {"a": dict(data.get("a") or {}), "p": list(data.get("p") or []),
                    "l": list(data.get("l") or [])}
    return {"a": {}, "p": [], "l": []}


def _save_state(request: Request, response: Response, state: dict[str, Any]) -> None:
    payload = json.dumps(state, separators=(",", ":")).encode()
    response.set_cookie(STATE_COOKIE, _sign(_key(request), payload), httponly=True,
                        samesite="lax", path="/", max_age=60 * 60 * 24 * 7)


def _current_url(state: dict[str, Any]) -> str:
    step = next_step(state["a"], _labs_for_case(state["l"]))
    if step.done:
        return "/quiz/labs"
    assert step.question is not None
    return f"/quiz/q/{step.question.id}"


def _labs_for_case(labs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for lab in labs:
        try:
            out.append({"test": lab["test"], "value": float(lab["value"]), "unit": lab["unit"]})
        except (KeyError, ValueError, TypeError):
            continue
    return out


def _case(state: dict[str, Any]) -> dict[str, Any]:
    return build_case(state["a"], _labs_for_case(state["l"]))


# --------------------------------------------------------------------------- result view


def _bars(items: list[dict[str, Any]], title: str, chart_id: str) -> dict[str, Any]:
    """Geometry for a server-rendered horizontal bar chart (SVG)."""
    rows = []
    for i, item in enumerate(items):
        p = float(item["probability"])
        rows.append({"name": item["name"], "id": item["id"], "p": p, "pct": percent(p),
                     "y": 8 + i * 44, "w": max(1.0, round(p * 100, 2))})
    return {"id": chart_id, "title": title, "rows": rows, "height": 16 + 44 * len(rows),
            "summary": "; ".join(f"{r['name']}: {r['pct']}" for r in rows)}


def _ref_link(ref: Mapping[str, Any]) -> str:
    if ref.get("pmid"):
        return f"https://pubmed.ncbi.nlm.nih.gov/{ref['pmid']}/"
    if ref.get("doi"):
        return f"https://doi.org/{ref['doi']}"
    return str(ref.get("url") or "")


def _articles_for(ids: list[str]) -> dict[str, list[dict[str, str]]]:
    try:
        from .. import learn
    except ImportError:  # pragma: no cover - learn module not installed
        return {}
    out: dict[str, list[dict[str, str]]] = {}
    for i in ids:
        try:
            out[i] = [{"slug": a.slug, "title": a.title} for a in learn.article_for(i)]
        except FollicleError:
            out[i] = []
    return out


def _article_title(slug: str | None) -> str | None:
    if not slug:
        return None
    try:
        from ..learn import get_article

        return get_article(slug).title
    except (ImportError, FollicleError):
        return None


def _article_slug(topic: str) -> str | None:
    """The learn page of a hair-loss type or contributing cause, when there is one."""
    from ..errors import NotFoundError
    from ..learn import get_article

    try:
        return get_article(topic).slug
    except NotFoundError:
        return None


def result_view(assessment: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """Everything the result page and the PDF show, from a follicle-assessment/1 document."""
    from ..kb.loader import load_kb

    kb = load_kb()
    d = assessment
    b = d["b12"]
    ref_index = {r["id"]: i + 1 for i, r in enumerate(d["references"])}
    refs = [{**r, "n": i + 1, "link": _ref_link(r)} for i, r in enumerate(d["references"])]
    ranked = d["hair_complaint"] and not normal_shedding(d)  # no loss beyond normal: no ranking
    types = d["hair_loss_types"][:5] if ranked else []
    causes = d["contributing_causes"][:6] if ranked else []
    ex = d["explanations"]
    why = []
    for t in types[:3]:
        moves = ex["types"].get(t["id"], [])
        why.append({"id": t["id"], "name": t["name"], "p": t["probability"],
                    "kind": "type", "moves": moves[:6], "article": _article_slug(t["id"])})
    for c in causes[:5]:
        moves = ex["causes"].get(c["id"], [])
        why.append({"id": c["id"], "name": c["name"], "p": c["probability"], "kind": "cause",
                    "moves": [m for m in moves if m.get("kind") != "baseline"][:6],
                    "article": _article_slug(c["id"])})
    b12_moves = ex["b12"]
    flags = [{**r, "article_title": _article_title(r.get("article"))}
             for r in d["red_flag_details"]]
    reasons = [r for r in d["triage_reasons"] if r["id"] not in {f["id"] for f in flags}]
    top_ids = [t["id"] for t in types[:2]] + [c["id"] for c in causes[:3]
                                               if c["probability"] >= 0.2]
    if "b12_deficiency" not in top_ids:
        top_ids.append("b12_deficiency")
    articles = _articles_for(top_ids)
    seen: set[str] = set()
    reading = []
    for i in top_ids:
        for a in articles.get(i, []):
            if a["slug"] not in seen:
                seen.add(a["slug"])
                reading.append(a)
    tests = [{**t, "plain": kb.labs[t["test"]].definition.plain} for t in d["next_test_details"]]
    b12_readings = [_reading(kb, lab, b) for lab in d["labs"]
                    if lab["test"] in B12_TESTS]
    return {
        "a": d, "b12": b, "b12_words": status_words(b, STATUS_WORDS),
        "in_short": in_short(d, kb.b12.explains_types.types, tables(kb).work_up_here),
        "triage_words": TRIAGE_WORDS[d["triage"]], "flags": flags, "reasons": reasons,
        "uk_numbers": UK_NUMBERS if uk_numbers(d) else None,
        "not_ranked": NOT_RANKED if d["hair_complaint"] and not ranked else None,
        "types_chart": _bars(types, "Type of hair loss", "types") if types else None,
        "causes_chart": _bars(causes, "Contributing causes (each on its own)", "causes")
        if causes else None,
        "why": why, "b12_moves": b12_moves, "refs": refs, "ref_index": ref_index,
        "tests": tests, "tests_heading": tests_heading(d),
        "ask_for": [{**t, "plain": kb.labs[t["test"]].definition.plain}
                    for t in b12_tests_to_ask(d)],
        "reading": reading[:6],
        "b12_readings": b12_readings,
        "b12_evidence": ({"slug": B12_EVIDENCE, "summary": summary_of(B12_EVIDENCE)}
                         if d["hair_complaint"] else None),
        "labs": [{**lab, "name": kb.labs[lab["test"]].definition.name} for lab in d["labs"]],
        "case": case,
    }


def _reading(kb: Any, lab: Mapping[str, Any], b12: Mapping[str, Any]) -> str:
    """A B12 result for a clinician: the value as entered, in the canonical unit, and how
    the assessment read it ("190 ng/L: NICE NG239 indeterminate (180-350 ng/L)")."""
    d = kb.labs[lab["test"]].definition
    canon = float(lab["canonical_value"])
    text = f"{d.name}: {as_entered(lab['value'], lab['unit'], canon, d.canonical)}"
    read = next((i for i in b12["interpretations"] if i["test"] == lab["test"]
                 and i["primary"]), None)
    if read is None:
        return text
    g = next((g for g in d.guidelines if g.id == read["guideline"]), None)
    band = next((b for b in g.bands if b.holds(canon)), None) if g is not None else None
    span = f" ({band.span()} {d.canonical})" if band is not None else ""
    return f"{text}; {read['label']}: {read['status'].replace('_', ' ')}{span}"


def _words(code: Any) -> str:
    return str(code).replace("_", " ")


@functools.lru_cache(maxsize=4)
def _answer_labels(version: str) -> dict[tuple[Any, ...], str]:
    """The quiz's own words for case values: (field, value) -> the answer's label, from
    the questionnaire's `set` and `add` mappings, and ("months", medicine, value) -> label."""
    from ..questionnaire import load_questionnaire

    out: dict[tuple[Any, ...], str] = {}
    for q in load_questionnaire(version).questions:
        for o in q.options:
            for fld, v in o.set.items():
                for item in v if isinstance(v, list) else [v]:
                    if isinstance(item, str | int | float) and not isinstance(item, bool):
                        out.setdefault((fld, item), o.label)
            for fld, item in o.add.items():
                if isinstance(item, str | int | float):
                    out.setdefault((fld, item), o.label)
            if o.months:
                out.setdefault(("months", o.months["medicine"], o.months["value"]), o.label)
    return out


def answers_given(case: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The case in plain words, one (question, answer) row each, for the doctor's summary:
    the probabilities mean little without the history behind them. Values that came from
    the quiz read as the answer the person chose ("3 to 6 months", not 4.5)."""
    from ..kb.loader import load_kb

    kb = load_kb()
    labels = _answer_labels(kb.version)
    rows: list[tuple[str, str]] = []

    def said(fld: str, v: Any) -> str:
        return labels.get((fld, v)) or (f"{v:g}" if isinstance(v, float | int) else _words(v))

    def yes_no(v: Any) -> str:
        return "yes" if v else "no"

    if case.get("age") is not None:
        rows.append(("Age", f"{case['age']:g} years"))
    if case.get("sex"):
        rows.append(("Sex", _words(case["sex"])))
    hair = case.get("hair")
    if hair is None:
        rows.append(("Hair loss", "none reported (B12 question only)"))
    else:
        for key, label in (("onset", "Onset"), ("duration_months", "Duration"),
                           ("pattern", "Pattern"), ("shedding", "More hairs shedding"),
                           ("pull_test", "Pull test"), ("scalp", "Scalp"), ("nails", "Nails"),
                           ("family_history", "Family history of hair loss"),
                           ("eyebrow_loss", "Eyebrow loss"), ("broken_hairs", "Broken hairs"),
                           ("tension_hairstyles", "Tight hairstyles"),
                           ("pulling_habit", "Pulls hair")):
            v = hair.get(key)
            if v is None or v == [] or v == ():
                continue
            if isinstance(v, bool):
                text = yes_no(v)
            elif isinstance(v, list | tuple):
                text = ", ".join(said(f"hair.{key}", x) for x in v)
            else:
                text = said(f"hair.{key}", v)
            rows.append((label, text))
    h = case.get("history") or {}
    if h.get("diet"):
        rows.append(("Diet", said("history.diet", h["diet"])))
    meds: list[str] = []
    for m in h.get("medications") or []:
        months = m.get("months")
        if months is None:
            meds.append(m["name"])
        else:
            took = labels.get(("months", m["name"], months)) or f"{months:g} months"
            meds.append(f"{m['name']} ({took.lower()})")
    if meds:
        rows.append(("Medicines", ", ".join(meds)))
    for key, label in (("supplements", "Supplements"), ("conditions", "Conditions"),
                       ("family_conditions", "Family conditions")):
        if h.get(key):
            rows.append((label, ", ".join(said(f"history.{key}", x) for x in h[key])))
    if h.get("events"):
        when = h.get("event_months_ago")
        rows.append(("Events before the hair loss", ", ".join(said("history.events", x)
                                                               for x in h["events"])
                     + (f" ({when:g} months before)" if when is not None else "")))
    for key, label in (("pregnant", "Pregnant"), ("breastfeeding", "Breastfeeding"),
                       ("heavy_periods", "Heavy periods"),
                       ("recreational_nitrous_oxide", "Recreational nitrous oxide"),
                       ("heavy_alcohol", "Heavy alcohol use")):
        if h.get(key) is not None:
            rows.append((label, yes_no(h[key])))
    if case.get("symptoms"):
        rows.append(("Symptoms", ", ".join(said("symptoms", x) for x in case["symptoms"])))
    for lab in case.get("labs") or []:
        name = kb.labs[lab["test"]].definition.name
        rng = lab.get("reference_range")
        rows.append((name, f"{lab['value']:g} {lab['unit']}"
                     + (f" (laboratory range {rng[0]:g}-{rng[1]:g})" if rng else "")))
    return rows


def _has_tracker(app: FastAPI) -> bool:
    return any(getattr(r, "path", "") == "/r/{rid}/track" for r in app.routes)


def _pdf(view: dict[str, Any]) -> bytes:
    import datetime as dt

    from weasyprint import HTML  # type: ignore[import-untyped,unused-ignore]

    css = (STATIC / "follicle.css").read_text(encoding="utf-8")
    html = templates().get_template("summary_pdf.html").render(
        css=css, answers=answers_given(view["case"]), made=dt.date.today().isoformat(),
        **view)
    pdf: bytes = HTML(string=html, base_url=str(STATIC)).write_pdf()
    return pdf


def _pdf_response(view: dict[str, Any]) -> Response:
    return Response(_pdf(view), media_type="application/pdf", headers={
        "content-disposition": 'attachment; filename="follicle-summary.pdf"',
        "cache-control": "no-store"})


# --------------------------------------------------------------------------- install


def install(app: FastAPI, settings: Settings) -> None:
    """Add the pages, the static files and HTML error pages to the app."""
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    q = load_questionnaire()
    store_holder: dict[str, Any] = {}

    def store() -> Any:
        if "store" not in store_holder:
            from ..storage import get_store

            store_holder["store"] = get_store(settings.database_url)
        return store_holder["store"]

    async def _form(request: Request) -> tuple[dict[str, Any], dict[str, list[str]]]:
        form = await request.form()
        single = {k: v for k, v in form.items() if isinstance(v, str)}
        multi: dict[str, list[str]] = {}
        for k, v in form.multi_items():
            if isinstance(v, str):
                multi.setdefault(k, []).append(v)
        return single, multi

    def _forbidden(request: Request) -> HTMLResponse:
        return render(request, "error.html", {
            "title": "This form has expired",
            "message": "For your safety the form could not be accepted. Please go back, "
                       "reload the page and try again."}, 403)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request) -> HTMLResponse:
        state = _state(request)
        return render(request, "home.html", {"in_progress": bool(state["a"]),
                                             "max_questions": q.max_questions})

    @app.post("/quiz/start", include_in_schema=False)
    async def quiz_start(request: Request) -> Response:
        form, _ = await _form(request)
        if not check_csrf(request, form):
            return _forbidden(request)
        state: dict[str, Any] = {"a": {}, "p": [], "l": []}
        response = _redirect(_current_url(state))
        _save_state(request, response, state)
        return response

    @app.get("/quiz", include_in_schema=False)
    async def quiz(request: Request) -> Response:
        return _redirect(_current_url(_state(request)))

    def _question_page(request: Request, question: Question, state: dict[str, Any],
                       error: str | None = None, given: Any = None,
                       status: int = 200) -> HTMLResponse:
        answers = state["a"]
        path = [p for p in state["p"] if p in q.by_id]
        if question.id in path:
            idx = path.index(question.id)
            back = path[idx - 1] if idx > 0 else None
            number = idx + 1
        else:
            back = path[-1] if path else None
            number = len(path) + 1
        rest = {k: v for k, v in answers.items() if k != question.id}
        step = next_step(rest, _labs_for_case(state["l"]))
        at_most = max(step.remaining_at_most - 1, 0) if step.question is not None and (
            step.question.id == question.id) else max(step.remaining_at_most, 0)
        value = given if given is not None else answers.get(question.id)
        chosen = value if isinstance(value, list) else ([] if value is None else [value])
        return render(request, "question.html", {
            "q": question, "options": visible_options(question, answers, q),
            "chosen": [str(c) for c in chosen], "value": value, "error": error,
            "back": f"/quiz/q/{back}" if back else "/", "number": number,
            "at_most": at_most, "total": number + at_most, "skip_value": SKIP,
            "none_chosen": isinstance(value, list) and not value,
            "for_child": question.id != "age" and isinstance(answers.get("age"), int | float)
            and answers["age"] < 16,
            "title": f"Question {number}"}, status)

    @app.get("/quiz/q/{qid}", include_in_schema=False)
    async def question_get(request: Request, qid: str) -> Response:
        state = _state(request)
        question = q.by_id.get(qid)
        if question is None or not is_visible(question, state["a"], q):
            return _redirect(_current_url(state))
        if qid not in state["p"] and qid not in state["a"]:
            current = _current_url(state)
            if current != f"/quiz/q/{qid}":
                return _redirect(current)
        return _question_page(request, question, state)

    @app.post("/quiz/q/{qid}", include_in_schema=False)
    async def question_post(request: Request, qid: str) -> Response:
        form, multi = await _form(request)
        if not check_csrf(request, form):
            return _forbidden(request)
        state = _state(request)
        question = q.by_id.get(qid)
        if question is None or not is_visible(question, state["a"], q):
            return _redirect(_current_url(state))
        values = multi.get("value", [])
        answer, error = answer_from_form(question, values, skip=form.get("action") == "skip")
        if error is not None:
            given = values if question.type == "multi" else (values[0] if values else None)
            return _question_page(request, question, state, error, given, 422)
        state["a"][qid] = answer
        if qid not in state["p"]:
            state["p"].append(qid)
        # answers to questions that no longer apply are kept but not used (build_case)
        response = _redirect(await run_in_threadpool(_current_url, state))
        _save_state(request, response, state)
        return response

    def _labs_page(request: Request, state: dict[str, Any], rows: list[dict[str, Any]],
                   errors: dict[str, str], status: int = 200) -> HTMLResponse:
        path = [p for p in state["p"] if p in q.by_id and p in state["a"]]
        back = f"/quiz/q/{path[-1]}" if path else "/"
        return render(request, "labs.html", {"rows": rows, "errors": errors, "back": back,
                                             "title": "Blood test results",
                                             "asked": len(path)}, status)

    def _lab_rows(labs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from ..kb.loader import load_kb

        kb = load_kb()
        given = {lab["test"]: lab for lab in labs}
        rows = []
        for test in LAB_ORDER:
            d = kb.labs[test].definition
            lab = given.get(test, {})
            rows.append({"test": test, "name": d.name, "plain": d.plain,
                         "units": [u.unit for u in d.units],
                         "value": str(lab.get("value", "")), "unit": lab.get("unit", "")})
        return rows

    @app.get("/quiz/labs", include_in_schema=False)
    async def labs_get(request: Request) -> Response:
        state = _state(request)
        if not state["a"]:
            return _redirect("/")
        return _labs_page(request, state, _lab_rows(state["l"]), {})

    @app.post("/quiz/labs", include_in_schema=False)
    async def labs_post(request: Request) -> Response:
        from ..case import parse_case
        from ..units import units_for

        form, _ = await _form(request)
        if not check_csrf(request, form):
            return _forbidden(request)
        state = _state(request)
        labs: list[dict[str, Any]] = []
        errors: dict[str, str] = {}
        rows = _lab_rows([])
        for row in rows:
            test = row["test"]
            raw = str(form.get(f"{test}_value", "")).strip().replace(",", ".")
            unit = str(form.get(f"{test}_unit", "")).strip()
            row["value"], row["unit"] = raw, unit
            if not raw:
                continue
            try:
                value = float(raw)
                if not math.isfinite(value):
                    raise ValueError(raw)
            except ValueError:
                errors[test] = f"Enter the {row['name']} result as a number, for example 250."
                continue
            if not unit:
                errors[test] = (f"Choose the unit printed next to your {row['name']} result "
                                f"({', '.join(units_for(test))}): the same number means "
                                "different amounts in different units.")
                continue
            if unit not in units_for(test):
                errors[test] = (f"“{unit}” is not a unit for {row['name']}. "
                                f"Choose one of: {', '.join(units_for(test))}.")
                continue
            labs.append({"test": test, "value": raw, "unit": unit})
        if labs:
            try:
                parse_case(build_case(state["a"], _labs_for_case(labs)))
            except CaseError as exc:
                for detail in exc.details:
                    if detail.path.startswith("labs["):
                        i = int(detail.path[5:detail.path.index("]")])
                        test = labs[i]["test"]
                        errors[test] = _lab_message(detail.message, rows, test)
        if errors:
            return _labs_page(request, state, rows, errors, 422)
        state["l"] = labs
        response = _redirect("/result")
        _save_state(request, response, state)
        return response

    def _lab_message(message: str, rows: list[dict[str, Any]], test: str) -> str:
        name = next(r["name"] for r in rows if r["test"] == test)
        if "outside what a laboratory reports" in message:
            rng = message.rsplit("(", 1)[-1].rstrip(")")
            return (f"This {name} value is not possible: a laboratory reports {rng}. "
                    "Check the number and the unit on your report.")
        return message

    def _assess_state(state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        from .. import assess

        case = _case(state)
        return case, assess(case).to_dict()

    @app.get("/result", include_in_schema=False)
    async def result(request: Request) -> Response:
        state = _state(request)
        if not state["a"]:
            return _redirect("/")
        case, a = _assess_state(state)
        view = result_view(a, case)
        path = [p for p in state["p"] if p in state["a"]]
        return render(request, "result.html", {**view, "saved": None, "title": "Your answer",
                                               "asked": len(path)})

    @app.get("/result.pdf", include_in_schema=False)
    async def result_pdf(request: Request) -> Response:
        state = _state(request)
        if not state["a"]:
            return _redirect("/")
        case, a = _assess_state(state)
        return await run_in_threadpool(_pdf_response, result_view(a, case))

    @app.post("/result/save", include_in_schema=False)
    async def result_save(request: Request) -> Response:
        form, _ = await _form(request)
        if not check_csrf(request, form):
            return _forbidden(request)
        state = _state(request)
        if not state["a"]:
            return _redirect("/")
        case, a = _assess_state(state)
        try:
            rid, token = await run_in_threadpool(store().save_assessment, case, a)
        except Exception:  # the database is down or misconfigured: say so, keep the answers
            import logging

            logging.getLogger("follicle.web").exception("saving a result failed")
            return render(request, "error.html", {
                "title": "Saving is not available right now",
                "message": "Your result could not be saved. Nothing was lost: go back to "
                           "your answer, download the PDF, or try again later."}, 503)
        return _redirect(f"/r/{rid}?t={token}")

    def _saved(rid: str, token: str) -> Any:
        if not token or len(token) > 200 or len(rid) > 100:
            return None
        return store().get_assessment(rid, token)

    @app.get("/r/{rid}", include_in_schema=False)
    async def saved(request: Request, rid: str, t: str = "") -> Response:
        item = await run_in_threadpool(_saved, rid, t)
        if item is None:
            raise StarletteHTTPException(404)
        view = result_view(item.assessment, item.case)
        return render(request, "result.html", {
            **view, "title": "Your saved answer",
            "saved": {"id": rid, "token": t, "created": item.created_at,
                      "link": f"{request.base_url}r/{rid}?t={t}",
                      "track": f"/r/{rid}/track?t={t}" if _has_tracker(app) else None}})

    @app.post("/r/{rid}/delete", include_in_schema=False)
    async def saved_delete(request: Request, rid: str) -> Response:
        form, _ = await _form(request)
        if not check_csrf(request, form):
            return _forbidden(request)
        token = str(form.get("t", ""))
        if form.get("confirm") != "yes":  # one tap next to "Download PDF" must not lose it all
            if _saved(rid, token) is None:
                raise StarletteHTTPException(404)
            return render(request, "confirm_delete.html", {
                "title": "Delete this saved result?", "rid": rid, "token": token})
        if _saved(rid, token) is None or not store().delete_assessment(rid, token):
            raise StarletteHTTPException(404)
        return render(request, "error.html", {
            "title": "Deleted", "message": "Your saved result has been deleted from this "
            "server. The private link no longer works."})

    @app.get("/r/{rid}/summary.pdf", include_in_schema=False)
    async def saved_pdf(request: Request, rid: str, t: str = "") -> Response:
        item = await run_in_threadpool(_saved, rid, t)
        if item is None:
            raise StarletteHTTPException(404)
        return await run_in_threadpool(_pdf_response,
                                       result_view(item.assessment, item.case))

    @app.get("/learn", include_in_schema=False)
    async def learn_index(request: Request) -> Response:
        from ..learn import list_articles

        return render(request, "learn_index.html", {
            "articles": list_articles(), "title": "Learn: what the evidence says"})

    @app.get("/learn/{slug}", include_in_schema=False)
    async def learn_article(request: Request, slug: str) -> Response:
        from ..learn import get_article, render_html

        try:
            article = get_article(slug)
        except NotFoundError:
            raise StarletteHTTPException(404) from None
        if article.slug != slug:
            return RedirectResponse(f"/learn/{article.slug}", status_code=301)
        return render(request, "learn_article.html", {
            "body": render_html(article.slug), "title": article.title, "article": article})

    async def _page_error(request: Request, exc: Exception) -> Response:
        """HTML error pages for non-API paths (the API's handlers call this for them)."""
        if isinstance(exc, RequestValidationError):
            return await request_validation_exception_handler(request, exc)
        if isinstance(exc, StarletteHTTPException):
            if exc.status_code == 404:
                return render(request, "error.html", {
                    "title": "Page not found",
                    "message": "There is no page here. If you followed a saved link, check "
                               "that it was copied in full."}, 404)
            return render(request, "error.html", {
                "title": "Something went wrong", "message": str(exc.detail)},
                exc.status_code)
        return render(request, "error.html", {
            "title": "Something went wrong",
            "message": "Sorry: follicle hit an unexpected error. Your answers are kept; "
                       "please go back and try again."}, 500)

    app.state.page_error_handler = _page_error
