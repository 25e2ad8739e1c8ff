"""Triage points of the real knowledge base that no vignette scores (they change no level)."""

from __future__ import annotations

from typing import Any

import pytest

import follicle


def _points(**fields: Any) -> set[str]:
    a = follicle.assess({"format": "follicle-case/1", "age": 40, "sex": "female", **fields})
    return {r.id for r in (*a.red_flags, *a.rules)}


SHEDDING = {"onset": "sudden", "pattern": ["diffuse"], "shedding": True, "duration_months": 3}


@pytest.mark.parametrize(("tsh", "fires"), [(8.0, True), (2.0, False)])
def test_iron_with_levothyroxine_is_named_when_the_tsh_is_raised(tsh, fires):
    points = _points(hair=SHEDDING, history={"medications": [
        {"name": "levothyroxine"}, {"name": "ferrous sulfate"}]},
        labs=[{"test": "tsh", "value": tsh, "unit": "mIU/L"}])
    assert ("levothyroxine_with_iron" in points) is fires


@pytest.mark.parametrize(("shedding", "fires"), [(False, True), (True, False)])
def test_shedding_that_has_stopped_is_said_to_settle(shedding, fires):
    hair = {**SHEDDING, "shedding": shedding, "pull_test": "negative", "duration_months": 6}
    points = _points(hair=hair, history={"events": ["childbirth"], "event_months_ago": 3})
    assert ("shedding_settling" in points) is fires


def test_a_widening_parting_during_shedding_is_looked_at_again_later():
    hair = {**SHEDDING, "pattern": ["diffuse", "part_widening"]}
    points = _points(hair=hair, history={"events": ["covid19"], "event_months_ago": 2})
    assert "pattern_loss_unmasked" in points
    assert "pattern_loss_unmasked" not in _points(
        hair=SHEDDING, history={"events": ["covid19"], "event_months_ago": 2})


@pytest.mark.parametrize(("tsh", "fires"), [(12.0, True), (0.1, True), (2.0, False)])
def test_amiodarone_with_an_abnormal_tsh_says_not_to_stop_it(tsh, fires):
    points = _points(hair=SHEDDING, history={"medications": [{"name": "amiodarone"}]},
                     labs=[{"test": "tsh", "value": tsh, "unit": "mIU/L"}])
    assert ("amiodarone_thyroid" in points) is fires


def test_weight_loss_on_a_glp1_medicine_is_not_an_unexplained_one():
    fields = {"hair": SHEDDING, "symptoms": ["weight_loss"]}
    assert "systemic" in _points(**fields)
    assert "systemic" not in _points(**fields, history={"medications": [
        {"name": "Wegovy", "months": 6}]})
