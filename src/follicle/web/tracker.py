"""The follow-up tracker page: log hair counts, treatment changes and new labs; see the chart.

`/r/{id}/track?t=TOKEN` shows the chart of hair counts (server-rendered SVG, treatment
start marked), the plain-language verdict and when to retest B12, and a form to log a
follow-up (POST, CSRF-checked, then redirect). Like the saved result page, it needs the
saved record's token; an unknown id or wrong token is the same 404.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..settings import Settings
from ..tracker import TREATMENT_LABELS as TREATMENT_NAMES
from ..tracker import TREATMENTS, FollowupError, svg_chart

__all__ = ["install"]

LAB_TESTS = ("b12", "active_b12", "mma", "homocysteine", "folate", "ferritin", "hemoglobin",
             "tsh", "vitamin_d")


# form errors: field path -> (label shown, id of the form field)
_FIELDS = {"date": ("Date", "date"), "hair_count.count": ("Number of hairs", "count"),
           "hair_count.method": ("How you counted", "method"),
           "treatment": ("Treatment", "treatment_name"), "labs[0].test": ("Test", "lab_test"),
           "labs[0].value": ("Value", "lab_value"), "labs[0].unit": ("Unit", "lab_unit"),
           "labs": ("Test", "lab_test"), "note": ("Note", "note")}
_MESSAGES = {"Input should be greater than or equal to 0": "enter 0 or more",
             "Input should be less than or equal to 5000": "enter 5,000 or fewer",
             "Input should be a valid integer": "enter a whole number",
             "String should have at least 1 character": "this is needed",
             "Input should be a valid number": "enter a number",
             "give at least one of hair_count, treatment, labs or note":
                 "enter a hair count, a treatment change, a lab result or a note"}


_UNIT = re.compile(r"^unit '|' does not fit test .*$")
_VALUE = re.compile(r"^\w+ value ")


def _form_errors(details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The follow-up errors in the words of the form: its labels, not field paths."""
    out = []
    for d in details:
        path = d.get("field", "")
        key = next((k for k in _FIELDS if path == k or path.startswith(k + ".")), None)
        if key is None and path.startswith("labs["):
            key = "labs"
        label, anchor = _FIELDS.get(key or "", ("", ""))
        message = _MESSAGES.get(d["message"], d["message"])
        if path == "labs[0].unit" and message == "this is needed":
            message = "choose the unit printed on the lab report"
        elif path == "labs[0].unit" and d.get("allowed"):
            message = (f"this test is not reported in {_UNIT.sub('', message) or 'that unit'}:"
                       f" choose {' or '.join(d['allowed'])}")
        elif path == "labs[0].value":
            message = _VALUE.sub("this value ", message)
        out.append({**d, "label": label or path or "What to log", "anchor": anchor or "log-h",
                    "message": message})
    return out


def _followup_from_form(form: dict[str, str]) -> dict[str, Any]:
    """A follow-up document from the form fields (empty fields mean "not given")."""
    fu: dict[str, Any] = {"date": form.get("date", "").strip()}
    count = form.get("count", "").strip()
    if count:
        try:
            value: Any = int(count)
        except ValueError:
            value = count
        fu["hair_count"] = {"method": form.get("method", "comb_60s"), "count": value}
    if form.get("treatment_name"):
        fu["treatment"] = {"action": form.get("treatment_action", "started"),
                           "name": form["treatment_name"]}
    if form.get("lab_test") and form.get("lab_value", "").strip():
        try:
            lab_value: Any = float(form["lab_value"])
        except ValueError:
            lab_value = form["lab_value"]
        fu["labs"] = [{"test": form["lab_test"], "value": lab_value,
                       "unit": form.get("lab_unit", "").strip()}]
    if form.get("note", "").strip():
        fu["note"] = form["note"].strip()
    return fu


def install(app: FastAPI, settings: Settings) -> None:
    """Add the tracker page routes."""
    from ..kb.loader import load_kb
    from ..storage import get_store
    from ..units import units_for

    def store() -> Any:
        return get_store(settings.database_url)

    async def page(request: Request, rid: str, token: str,
                   errors: list[dict[str, Any]] | None = None,
                   form: dict[str, str] | None = None, status: int = 200) -> Response:
        from .pages import render

        if not token or len(token) > 200 or len(rid) > 100:
            raise StarletteHTTPException(404)
        result = await run_in_threadpool(store().timeline, rid, token)
        if result is None:
            raise StarletteHTTPException(404)
        verdict = result["verdict"]
        kb = load_kb()
        return render(request, "tracker.html", {
            "title": "Is it working? Follow-up tracker",
            "rid": rid, "token": token, "timeline": result, "verdict": verdict,
            "svg": svg_chart(result["followups"], verdict),
            "today": dt.date.today().isoformat(), "errors": errors or [],
            "form": form or {}, "treatments": [(t, TREATMENT_NAMES[t]) for t in TREATMENTS],
            "treatment_names": TREATMENT_NAMES,
            "lab_tests": [(t, kb.labs[t].definition.name, ", ".join(units_for(t)))
                          for t in LAB_TESTS],
            "all_units": sorted({u for t in LAB_TESTS for u in units_for(t)}),
        }, status)

    @app.get("/r/{rid}/track", include_in_schema=False)
    async def track(request: Request, rid: str, t: str = "") -> Response:
        return await page(request, rid, t)

    @app.post("/r/{rid}/track", include_in_schema=False)
    async def track_post(request: Request, rid: str) -> Response:
        from .pages import check_csrf, render

        raw = await request.form()
        form = {k: v for k, v in raw.items() if isinstance(v, str)}
        token = form.get("t", "")
        if not check_csrf(request, form):
            return render(request, "error.html", {
                "title": "This form has expired",
                "message": "For your safety the form could not be accepted. Please go back, "
                           "reload the page and try again."}, 403)
        if form.get("lab_value", "").strip() and not form.get("lab_test"):
            return await page(request, rid, token, [{
                "label": "Test", "anchor": "lab_test",
                "message": "choose which test this result is for"}], form, 422)
        try:
            done = await run_in_threadpool(store().add_followup, rid, token,
                                           _followup_from_form(form))
        except FollowupError as exc:
            details = _form_errors(exc.to_dict()["error"]["details"])
            return await page(request, rid, token, details, form, 422)
        if done is None:
            raise StarletteHTTPException(404)
        return RedirectResponse(f"/r/{rid}/track?t={token}#chart", status_code=303)
