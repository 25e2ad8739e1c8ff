"""The follow-up tracker: validate dated follow-ups, test the trend of hair counts, draw it.

The article's advice is to correct the deficiency and then see whether the hair loss stops.
Shedding after a trigger takes about 3-6 months to settle, so the verdict says "too early"
in the first three months after treatment starts, and only calls a trend when a robust,
distribution-free test supports it: the Theil-Sen slope with its Mann-Kendall (Sen 1968)
confidence interval. Counts are hairs *shed* (60-second comb count or shower count), so a
falling count means improvement.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import CaseError, ErrorDetail, loc_path

if TYPE_CHECKING:
    from .storage import SavedAssessment

__all__ = ["FollowUp", "FollowupError", "Trend", "parse_followup", "svg_chart",
           "theil_sen", "timeline", "verdict"]

TREATMENTS = ("b12_injections", "oral_b12", "iron", "vitamin_d", "thyroid", "minoxidil",
              "other")
B12_TREATMENTS = ("b12_injections", "oral_b12")
TREATMENT_LABELS = {
    "b12_injections": "B12 injections", "oral_b12": "B12 tablets", "iron": "Iron",
    "vitamin_d": "Vitamin D", "thyroid": "Thyroid treatment", "minoxidil": "Minoxidil",
    "other": "Other treatment"}
MIN_COUNTS = 4
TOO_EARLY_DAYS = 91  # ~3 months: shedding after a trigger settles over 3-6 months
SETTLE_DAYS = 183  # ~6 months
NICE_NG239 = "NICE NG239 (2024), Vitamin B12 deficiency in over 16s"


class FollowupError(CaseError):
    """A follow-up entry is invalid; the path names the field, e.g. `hair_count.count`."""

    code = "invalid_followup"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class HairCount(_Strict):
    """Hairs shed in a 60-second standardised comb count, or collected after a shower."""

    method: Literal["comb_60s", "shower"]
    count: int = Field(strict=True, ge=0, le=5000)


class Treatment(_Strict):
    action: Literal["started", "stopped"]
    name: Literal[TREATMENTS]  # type: ignore[valid-type]


class FollowUp(_Strict):
    """One dated follow-up: a hair count, a treatment change and/or new lab results."""

    date: dt.date
    hair_count: HairCount | None = None
    treatment: Treatment | None = None
    labs: list[dict[str, Any]] | None = Field(default=None, max_length=50)
    note: str | None = Field(default=None, max_length=500)

    @field_validator("date", mode="before")
    @classmethod
    def _iso_date(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                return dt.date.fromisoformat(v)
            except ValueError:
                raise ValueError("must be a date as YYYY-MM-DD") from None
        if isinstance(v, dt.datetime) or not isinstance(v, dt.date):
            raise ValueError("must be a date as YYYY-MM-DD")
        return v

    @field_validator("date")
    @classmethod
    def _not_future(cls, v: dt.date) -> dt.date:
        if v < dt.date(1970, 1, 1) or v > dt.date.today() + dt.timedelta(days=1):
            raise ValueError("must not be in the future or before 1970")
        return v


def parse_followup(data: Any) -> dict[str, Any]:
    """Validate a follow-up mapping; return its clean JSON form. Raises FollowupError."""
    if not isinstance(data, dict):
        raise FollowupError("a follow-up must be a JSON object")
    try:
        fu = FollowUp.model_validate(data)
    except ValidationError as exc:
        details = []
        for e in exc.errors():
            path = loc_path(e["loc"])
            if e["type"] == "extra_forbidden":
                msg = "unknown field"
            elif e["type"] == "missing":
                msg = "required field is missing"
            elif e["type"] == "literal_error":
                msg = f"unknown code {e.get('input')!r}"
            else:
                msg = str(e["msg"]).removeprefix("Value error, ")
            allowed: tuple[str, ...] = ()
            if path.endswith("treatment.name"):
                allowed = TREATMENTS
            elif path.endswith("treatment.action"):
                allowed = ("started", "stopped")
            elif path.endswith("hair_count.method"):
                allowed = ("comb_60s", "shower")
            details.append(ErrorDetail(msg, path, allowed))
        raise FollowupError(details) from None
    if fu.hair_count is None and fu.treatment is None and not fu.labs and not fu.note:
        raise FollowupError("give at least one of hair_count, treatment, labs or note")
    labs: list[dict[str, Any]] | None = None
    if fu.labs is not None:
        from .case import parse_case

        try:
            case = parse_case({"format": "follicle-case/1", "labs": fu.labs})
        except CaseError as exc:
            raise FollowupError(exc.details) from None
        labs = [lab.model_dump(exclude_none=True) for lab in case.labs]
    return {
        "date": fu.date.isoformat(),
        "hair_count": fu.hair_count.model_dump() if fu.hair_count else None,
        "treatment": fu.treatment.model_dump() if fu.treatment else None,
        "labs": labs,
        "note": fu.note,
    }


# -- statistics ----------------------------------------------------------------------

@dataclass(frozen=True)
class Trend:
    """Theil-Sen slope (hairs per 30 days) with its confidence interval and Mann-Kendall."""

    n: int
    slope_per_30d: float
    intercept: float  # count at day 0 of the window
    ci_low: float
    ci_high: float
    mk_s: int
    mk_z: float
    p_value: float


def _norm_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _mk_var(xs: Sequence[float]) -> float:
    n = len(xs)
    ties: dict[float, int] = {}
    for x in xs:
        ties[x] = ties.get(x, 0) + 1
    t = sum(c * (c - 1) * (2 * c + 5) for c in ties.values() if c > 1)
    return (n * (n - 1) * (2 * n + 5) - t) / 18.0


def theil_sen(days: Sequence[float], counts: Sequence[float], alpha: float = 0.05) -> Trend:
    """Theil-Sen slope, Sen's (1968) distribution-free CI and the Mann-Kendall test.

    `days` are days since the start of the window (distinct days are not required; pairs
    on the same day are skipped). The CI uses the normal approximation of Kendall's S.
    """
    n = len(days)
    if n < 2 or n != len(counts):
        raise ValueError("need at least two paired points")
    order = sorted(range(n), key=lambda i: (days[i], i))
    xs = [float(days[i]) for i in order]
    ys = [float(counts[i]) for i in order]
    slopes: list[float] = []
    s = 0
    for i in range(n):
        for j in range(i + 1, n):
            dy = ys[j] - ys[i]
            s += (dy > 0) - (dy < 0)
            if xs[j] != xs[i]:
                slopes.append(dy / (xs[j] - xs[i]))
    if not slopes:
        raise ValueError("need counts on at least two different days")
    slopes.sort()
    m = len(slopes)
    med = _median(slopes)
    var_s = _mk_var(ys)
    z_crit = 1.959963984540054 if alpha == 0.05 else _z_for(alpha)
    c = z_crit * math.sqrt(var_s) if var_s > 0 else 0.0
    lo_rank = (m - c) / 2.0
    hi_rank = (m + c) / 2.0 + 1.0
    lo = slopes[max(0, min(m - 1, math.floor(lo_rank) - 1))] if lo_rank >= 1 else slopes[0]
    hi = slopes[max(0, min(m - 1, math.ceil(hi_rank) - 1))] if hi_rank <= m else slopes[-1]
    if var_s > 0:
        z = (s - 1) / math.sqrt(var_s) if s > 0 else (s + 1) / math.sqrt(var_s) if s < 0 else 0.0
    else:
        z = 0.0
    p = 2.0 * (1.0 - _norm_cdf(abs(z)))
    intercept = _median([y - med * x for x, y in zip(xs, ys, strict=True)])
    return Trend(n=n, slope_per_30d=med * 30, intercept=intercept, ci_low=lo * 30,
                 ci_high=hi * 30, mk_s=s, mk_z=z, p_value=min(1.0, p))


def _median(values: Sequence[float]) -> float:
    v = sorted(values)
    k = len(v)
    return v[k // 2] if k % 2 else (v[k // 2 - 1] + v[k // 2]) / 2.0


def _z_for(alpha: float) -> float:
    lo, hi = 0.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if 2 * (1 - _norm_cdf(mid)) > alpha:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


# -- verdict -------------------------------------------------------------------------

Verdict = Literal["not_enough_data", "too_early", "improving", "not_yet", "worsening"]


def _add_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    days_in = [31, 29 if (year % 4 == 0 and (year % 100 or year % 400 == 0)) else 28, 31, 30,
               31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    return dt.date(year, month, min(d.day, days_in))


def _treatment_start(followups: Sequence[dict[str, Any]]) -> tuple[dt.date | None, str | None]:
    """First B12 treatment start if any, else the first treatment start of any kind."""
    starts = [(dt.date.fromisoformat(f["date"]), f["treatment"]["name"]) for f in followups
              if f.get("treatment") and f["treatment"]["action"] == "started"]
    b12 = [s for s in starts if s[1] in B12_TREATMENTS]
    chosen = b12 or starts
    if not chosen:
        return None, None
    first = min(chosen)
    return first[0], first[1]


def verdict(followups: Sequence[dict[str, Any]], *, pregnant: bool = False,
            b12_status: str | None = None, today: dt.date | None = None) -> dict[str, Any]:
    """The plain-language verdict on the hair counts, and when to retest B12."""
    today = today or dt.date.today()
    start, start_name = _treatment_start(followups)
    counts = [(dt.date.fromisoformat(f["date"]), f["hair_count"]) for f in followups
              if f.get("hair_count")]
    methods = [c["method"] for _, c in counts]
    method = max(set(methods), key=lambda m: (methods.count(m), m == methods[-1])) \
        if methods else None
    series = [(d, c["count"]) for d, c in counts if c["method"] == method]
    window_start = start if start is not None else (series[0][0] if series else None)
    window = [(d, n) for d, n in series if window_start is None or d >= window_start]
    out: dict[str, Any] = {
        "verdict": "not_enough_data",
        "text": "",
        "method": method,
        "counts_used": len(window),
        "treatment_start": start.isoformat() if start else None,
        "treatment": start_name,
        "days_since_treatment": (today - start).days if start else None,
        "trend": None,
        "retest_b12": _retest(followups, start if start_name in B12_TREATMENTS else None,
                              pregnant=pregnant, b12_status=b12_status, today=today),
        "notes": [],
    }
    if start is not None:
        stops = [f["date"] for f in followups if f.get("treatment")
                 and f["treatment"]["action"] == "stopped"
                 and f["treatment"]["name"] == start_name and f["date"] >= start.isoformat()]
        if stops:
            out["notes"].append(
                f"{TREATMENT_LABELS[start_name or 'other']} was stopped on {stops[0]}; the "
                "trend still includes the counts after that. If the cause was a deficiency "
                "that is not yet corrected, shedding may return.")
    if len(set(methods)) > 1:
        out["notes"].append(
            f"Only the {_method_name(method)} counts are compared; comb and shower counts "
            "are on different scales.")
    since = "since treatment started" if start else "since your first count"
    if len(window) < MIN_COUNTS or len({d for d, _ in window}) < 2:
        need = MIN_COUNTS - len(window)
        out["text"] = (
            f"Not enough hair counts yet to judge a trend {since}: at least {MIN_COUNTS} "
            f"counts on different days are needed ({max(need, 1)} more). Count the same way "
            "each time, for example once a week.")
        return out
    day0 = window[0][0]
    trend = theil_sen([(d - day0).days for d, _ in window], [n for _, n in window])
    out["trend"] = {
        "test": "Theil-Sen slope with Sen's 95% confidence interval; Mann-Kendall test",
        "slope_per_30_days": round(trend.slope_per_30d, 3),
        "ci95": [round(trend.ci_low, 3), round(trend.ci_high, 3)],
        "mann_kendall_s": trend.mk_s,
        "mann_kendall_z": round(trend.mk_z, 3),
        "p_value": round(trend.p_value, 4),
        "n": trend.n,
        "window_start": day0.isoformat(),
        "intercept": round(trend.intercept, 3),
    }
    elapsed = (window[-1][0] - (start or day0)).days
    falling = trend.ci_high < 0
    # an alarm needs the Mann-Kendall test too: with few counts Sen's interval can collapse
    # to a point (4 rising counts over two weeks are not yet a worsening)
    rising_ci = trend.ci_low > 0
    rising = rising_ci and trend.p_value < 0.05
    per_month = abs(trend.slope_per_30d)
    if rising:
        out["verdict"] = "worsening"
        out["text"] = (
            f"Your hair counts are going up {since} (about {per_month:.1f} more hairs a month), "
            "so the shedding is getting worse. Please see your doctor: the cause may not be "
            "B12, the treatment may not be working, or something else may be going on.")
    elif elapsed < TOO_EARLY_DAYS:
        out["verdict"] = "too_early"
        direction = ("already falling" if falling else
                     "rising, but not yet clearly" if rising_ci else "not clearly changing")
        out["text"] = (
            f"It is too early to judge: only {elapsed} days of counts {since}. Shedding after "
            "a trigger usually takes 3 to 6 months to settle, even once the cause is "
            f"corrected. So far the counts are {direction}. Keep counting the same way.")
    elif falling:
        out["verdict"] = "improving"
        out["text"] = (
            f"Your hair counts are going down {since} (about {per_month:.1f} fewer hairs a "
            "month): the shedding is settling. Regrowth is slower than shedding; visible "
            "improvement can take several more months.")
    else:
        out["verdict"] = "not_yet"
        text = (f"No clear change in your hair counts yet {since}. Shedding can take up to "
                "6 months to settle, so keep counting.")
        if elapsed >= SETTLE_DAYS:
            text = (f"No clear improvement after {elapsed // 30} months {since}. That is "
                    "longer than shedding usually takes to settle; please see your doctor to "
                    "look for another cause.")
        out["text"] = text
    return out


def _method_name(method: str | None) -> str:
    return {"comb_60s": "60-second comb", "shower": "shower"}.get(method or "", "hair")


def _retest(followups: Sequence[dict[str, Any]], b12_start: dt.date | None, *,
            pregnant: bool, b12_status: str | None, today: dt.date) -> dict[str, Any]:
    """When to have B12 reviewed (NICE NG239: 3 months into treatment, 1 if pregnant)."""
    months = 1 if pregnant else 3
    if b12_start is None:
        if b12_status in ("deficient", "indeterminate"):
            text = ("No B12 treatment is logged yet. If your doctor starts treatment, log it "
                    "here: NICE advises a review after "
                    f"{'1 month' if pregnant else '3 months'} of treatment.")
        else:
            text = "No B12 treatment logged; no B12 retest is scheduled."
        return {"due": None, "text": text, "source": NICE_NG239}
    due = _add_months(b12_start, months)
    later = [f for f in followups if f.get("labs") and dt.date.fromisoformat(f["date"]) >= due
             and any(lab.get("test") in ("b12", "active_b12", "mma") for lab in f["labs"])]
    if later:
        text = f"B12 was rechecked on {later[0]['date']} after treatment started."
    elif due <= today:
        text = (f"A B12 review was due on {due.isoformat()} ({months} month"
                f"{'s' if months > 1 else ''} after treatment started): ask your doctor.")
    else:
        text = (f"Have your B12 reviewed around {due.isoformat()}, {months} month"
                f"{'s' if months > 1 else ''} after treatment started"
                f"{' (sooner because you are pregnant)' if pregnant else ''}.")
    return {"due": due.isoformat(), "text": text, "source": NICE_NG239}


def timeline(saved: SavedAssessment, today: dt.date | None = None) -> dict[str, Any]:
    """The `timeline` answer: follow-ups in date order and the verdict."""
    history = saved.case.get("history") or {}
    b12 = saved.assessment.get("b12") or {}
    return {
        "id": saved.id,
        "created_at": saved.created_at.isoformat(),
        "followups": saved.followups,
        "verdict": verdict(saved.followups, pregnant=bool(history.get("pregnant")),
                           b12_status=b12.get("status"), today=today),
    }


# -- chart ---------------------------------------------------------------------------

def _nice_step(raw: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is at least `raw` (and >= 2)."""
    raw = max(raw, 2.0)
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def svg_chart(followups: Sequence[dict[str, Any]], result: dict[str, Any] | None = None,
              *, width: int = 400, height: int = 260, font: int = 14) -> str:
    """An accessible, self-contained SVG of hair counts over time, treatment start marked.

    Presentation attributes only (no style attributes), so it passes a strict CSP.
    """
    result = result if result is not None else verdict(followups)
    method = result.get("method")
    points = [(dt.date.fromisoformat(f["date"]), int(f["hair_count"]["count"]))
              for f in followups if f.get("hair_count") and f["hair_count"]["method"] == method]
    events = [(dt.date.fromisoformat(f["date"]), f["treatment"]) for f in followups
              if f.get("treatment")]
    title = (f"{_method_name(method).capitalize()} hair counts over time" if method
             else "Hair counts over time")
    desc_parts = [f"{d.isoformat()}: {n} hairs" for d, n in points]
    desc_parts += [f"{TREATMENT_LABELS[t['name']]} {t['action']} on {d.isoformat()}"
                   for d, t in events]
    desc = "; ".join(desc_parts) or "No hair counts logged yet."
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-labelledby="tc-title tc-desc">'
            f'<title id="tc-title">{escape(title)}</title>'
            f'<desc id="tc-desc">{escape(desc)}</desc>')
    if not points:
        return (head + f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
                'font-size="16" fill="#333">No hair counts logged yet</text></svg>')
    left, right, top, bottom = 44, 10, 10, 44
    dates = [d for d, _ in points] + [d for d, _ in events]
    d0, d1 = min(dates), max(dates)
    span = max((d1 - d0).days, 1)
    step = _nice_step(max(n for _, n in points) * 1.1 / 5)
    ymax = step * 5
    pw, ph = width - left - right, height - top - bottom

    def x(d: dt.date) -> float:
        return round(left + pw * (d - d0).days / span, 1)

    def y(v: float) -> float:
        return round(top + ph * (1 - v / ymax), 1)

    parts = [head, f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" '
                   'stroke="#999"/>']
    for i in range(6):
        v = ymax * i / 5
        parts.append(f'<line x1="{left}" y1="{y(v)}" x2="{left + pw}" y2="{y(v)}" '
                     'stroke="#e5e5e5"/>')
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4}" text-anchor="end" font-size="{font}" '
                     f'fill="#333">{v:g}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 6}" text-anchor="middle" '
                 f'font-size="{font}" fill="#333">date</text>')
    parts.append(f'<text x="{left}" y="{height - 24}" font-size="{font}" fill="#333">'
                 f'{d0.isoformat()}</text>')
    parts.append(f'<text x="{left + pw}" y="{height - 24}" text-anchor="end" '
                 f'font-size="{font}" fill="#333">{d1.isoformat()}</text>')
    for d, t in events:
        colour = "#007a4a" if t["action"] == "started" else "#a40"
        label = f"{TREATMENT_LABELS[t['name']]} {t['action']}"
        parts.append(f'<line x1="{x(d)}" y1="{top}" x2="{x(d)}" y2="{top + ph}" '
                     f'stroke="{colour}" stroke-width="2" stroke-dasharray="6 4">'
                     f'<title>{escape(label)} {d.isoformat()}</title></line>')
        parts.append(f'<text x="{x(d) + 4}" y="{top + font + 2}" font-size="{font}" '
                     f'fill="{colour}">{escape(label)}</text>')
    trend = result.get("trend")
    if trend:
        w0 = dt.date.fromisoformat(trend["window_start"])
        wd = [d for d, _ in points if d >= w0]
        if wd:
            a, b = w0, max(wd)
            ya = trend["intercept"]
            yb = ya + trend["slope_per_30_days"] / 30 * (b - a).days
            parts.append(f'<line x1="{x(a)}" y1="{y(max(0, min(ymax, ya)))}" x2="{x(b)}" '
                         f'y2="{y(max(0, min(ymax, yb)))}" stroke="#555" stroke-width="2" '
                         'stroke-dasharray="2 3"><title>trend (Theil-Sen)</title></line>')
    path = " ".join(f"{x(d)},{y(n)}" for d, n in points)
    parts.append(f'<polyline points="{path}" fill="none" stroke="#1f4e9c" stroke-width="2"/>')
    for d, n in points:
        parts.append(f'<circle cx="{x(d)}" cy="{y(n)}" r="4" fill="#1f4e9c">'
                     f'<title>{d.isoformat()}: {n} hairs</title></circle>')
    parts.append("</svg>")
    return "".join(parts)
