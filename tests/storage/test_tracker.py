"""Trend statistics, the verdict, follow-up validation and the SVG chart."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from follicle.tracker import FollowupError, parse_followup, svg_chart, theil_sen, verdict

TODAY = dt.date(2026, 11, 25)


def _fu(days_ago: int, count: int | None = None, method: str = "comb_60s",
        treatment: tuple[str, str] | None = None, labs: list | None = None) -> dict:
    return {"date": (TODAY - dt.timedelta(days=days_ago)).isoformat(),
            "hair_count": None if count is None else {"method": method, "count": count},
            "treatment": None if treatment is None else
            {"action": treatment[0], "name": treatment[1]},
            "labs": labs, "note": None}


def test_theil_sen_matches_scipy() -> None:
    xs = [0, 7, 14, 21, 28, 42, 56, 70, 84]
    ys = [80, 85, 70, 66, 71, 60, 52, 55, 40]
    t = theil_sen(xs, ys)
    ref = stats.theilslopes(ys, xs)
    assert t.slope_per_30d == pytest.approx(ref.slope * 30)
    assert t.ci_low <= t.slope_per_30d <= t.ci_high < 0
    tau = stats.kendalltau(xs, ys)
    assert t.mk_s < 0 and tau.statistic < 0
    # Mann-Kendall with continuity correction: a little more conservative than scipy's
    p_scipy = stats.kendalltau(xs, ys, method="asymptotic").pvalue
    assert p_scipy <= t.p_value <= 2 * p_scipy


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 300), min_size=4, max_size=25),
       st.integers(-50, 50))
def test_theil_sen_shift_invariant_and_ci_brackets_slope(ys: list[int], shift: int) -> None:
    xs = [3 * i for i in range(len(ys))]
    a = theil_sen(xs, ys)
    b = theil_sen(xs, [y + shift for y in ys])
    assert a.slope_per_30d == pytest.approx(b.slope_per_30d)
    assert a.ci_low <= a.slope_per_30d <= a.ci_high


def test_not_enough_counts() -> None:
    v = verdict([_fu(30, 50), _fu(20, 40), _fu(10, 30)], today=TODAY)
    assert v["verdict"] == "not_enough_data" and "1 more" in v["text"]


def test_too_early_in_first_three_months() -> None:
    fus = [_fu(60, treatment=("started", "b12_injections"))] + \
        [_fu(d, c) for d, c in [(55, 90), (45, 80), (35, 70), (25, 60), (15, 50)]]
    v = verdict(fus, today=TODAY)
    assert v["verdict"] == "too_early"
    assert "3 to 6 months" in v["text"] and "already falling" in v["text"]


def test_improving_after_three_months() -> None:
    fus = [_fu(200, 95), _fu(190, 100), _fu(180, treatment=("started", "oral_b12"))] + \
        [_fu(d, c) for d, c in [(170, 90), (140, 80), (110, 60), (80, 50), (50, 30)]]
    v = verdict(fus, today=TODAY)
    assert v["verdict"] == "improving"
    assert v["counts_used"] == 5  # only counts since treatment started
    assert v["trend"]["ci95"][1] < 0


def test_not_yet_and_see_doctor_after_six_months() -> None:
    flat = [(d, c) for d, c in zip(range(200, 0, -20), [60, 62, 59, 61, 60, 63, 58, 61, 60, 62],
                                   strict=True)]
    fus = [_fu(210, treatment=("started", "b12_injections"))] + [_fu(d, c) for d, c in flat]
    v = verdict(fus, today=TODAY)
    assert v["verdict"] == "not_yet" and "see your doctor" in v["text"]


def test_worsening() -> None:
    fus = [_fu(d, c) for d, c in [(100, 20), (80, 30), (60, 45), (40, 60), (20, 80)]]
    v = verdict(fus, today=TODAY)
    assert v["verdict"] == "worsening" and "doctor" in v["text"]


def test_mixed_methods_compares_like_with_like() -> None:
    fus = [_fu(d, c) for d, c in [(100, 20), (80, 30), (60, 45), (40, 60)]]
    fus += [_fu(90, 150, "shower")]
    v = verdict(fus, today=TODAY)
    assert v["method"] == "comb_60s" and v["notes"]


def test_stopping_treatment_is_noted() -> None:
    fus = [_fu(200, treatment=("started", "oral_b12")), _fu(20, treatment=("stopped", "oral_b12"))]
    fus += [_fu(d, c) for d, c in [(190, 90), (150, 80), (110, 60), (70, 50)]]
    v = verdict(fus, today=TODAY)
    assert v["verdict"] == "improving" and any("stopped" in n for n in v["notes"])


@pytest.mark.parametrize(("pregnant", "due"), [(False, "2026-11-10"), (True, "2026-09-10")])
def test_retest_b12_nice_ng239(pregnant: bool, due: str) -> None:
    fus = [{"date": "2026-08-10", "hair_count": None, "labs": None, "note": None,
            "treatment": {"action": "started", "name": "b12_injections"}}]
    v = verdict(fus, pregnant=pregnant, today=dt.date(2026, 8, 20))
    assert v["retest_b12"]["due"] == due and "NG239" in v["retest_b12"]["source"]


def test_retest_without_treatment_mentions_logging() -> None:
    v = verdict([], b12_status="deficient", today=TODAY)
    assert v["retest_b12"]["due"] is None and "log it" in v["retest_b12"]["text"]


@pytest.mark.parametrize(("data", "field"), [
    ({"date": "2026-13-01", "note": "x"}, "date"),
    ({"date": "2026-11-01", "hair_count": {"method": "comb_60s", "count": -1}},
     "hair_count.count"),
    ({"date": "2026-11-01", "hair_count": {"method": "comb_60s", "count": 2.5}},
     "hair_count.count"),
    ({"date": "2026-11-01", "hair_count": {"method": "brush", "count": 3}},
     "hair_count.method"),
    ({"date": "2026-11-01", "labs": [{"test": "b12", "value": 200, "unit": "mg"}]},
     "labs[0].unit"),
    ({"date": "2026-11-01", "name": "Jane"}, "name"),
    ({"note": "x"}, "date"),
    ({"date": "2999-01-01", "note": "x"}, "date"),
])
def test_followup_validation_names_the_field(data: dict, field: str) -> None:
    with pytest.raises(FollowupError) as err:
        parse_followup(data)
    fields = [d.get("field") for d in err.value.to_dict()["error"]["details"]]
    assert field in fields


def test_followup_needs_some_content() -> None:
    with pytest.raises(FollowupError):
        parse_followup({"date": "2026-11-01"})


def test_svg_chart_is_accessible_and_csp_safe() -> None:
    fus = [_fu(200, 95), _fu(180, treatment=("started", "oral_b12"))] + \
        [_fu(d, c) for d, c in [(170, 90), (140, 80), (110, 60), (80, 50), (50, 30)]]
    svg = svg_chart(fus, verdict(fus, today=TODAY))
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img"
    assert root.find(f"{ns}title") is not None and root.find(f"{ns}desc") is not None
    assert "B12 tablets started" in svg and len(root.findall(f"{ns}circle")) == 6
    assert "style=" not in svg and "<script" not in svg


def test_svg_chart_escapes_and_handles_empty() -> None:
    root = ET.fromstring(svg_chart([]))
    assert "No hair counts" in "".join(root.itertext())


def test_four_rising_counts_in_two_weeks_are_not_yet_an_alarm() -> None:
    """Sen's interval alone collapses with few counts; worsening needs Mann-Kendall too."""
    fus = [_fu(25, treatment=("started", "b12_injections"))]
    fus += [_fu(d, c) for d, c in [(15, 300), (10, 310), (5, 320), (1, 330)]]
    v = verdict(fus, today=TODAY)
    assert v["verdict"] == "too_early" and "rising, but not yet clearly" in v["text"]
