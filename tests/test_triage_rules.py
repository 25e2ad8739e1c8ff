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


def test_a_likely_untested_b12_deficiency_puts_a_b12_test_first():
    a = follicle.assess({"format": "follicle-case/1", "age": 26, "sex": "female",
                         "hair": SHEDDING, "history": {"diet": "vegan"},
                         "symptoms": ["fatigue", "sore_tongue"]})
    assert a.b12.status == "untested" and a.b12.probability >= 0.4
    assert a.next_tests[0].test == "b12"


def test_in_pregnancy_total_b12_is_not_suggested():
    a = follicle.assess({"format": "follicle-case/1", "age": 30, "sex": "female",
                         "hair": SHEDDING, "symptoms": ["fatigue", "sore_tongue"],
                         "history": {"diet": "vegan", "pregnant": True}})
    tests = [t.test for t in a.next_tests]
    assert tests[0] == "active_b12" and "b12" not in tests


def test_a_medicine_that_can_stop_white_cells_names_the_signs_to_act_on():
    on = _points(hair=SHEDDING, history={"medications": [{"name": "carbimazole"}]})
    assert "white_cells_medicine" in on
    feverish = _points(hair=SHEDDING, symptoms=["fever"],
                       history={"medications": [{"name": "carbimazole"}]})
    assert "white_cells_medicine" not in feverish  # the fever warning says it, at once


def test_chemotherapy_hair_loss_does_not_ask_for_another_medicine():
    points = _points(hair={"onset": "sudden", "pattern": ["diffuse"], "duration_months": 1},
                     history={"events": ["chemotherapy"], "event_months_ago": 1,
                              "medications": [{"name": "docetaxel"}]})
    assert "medicine_may_cause" not in points


@pytest.mark.parametrize(("ferritin", "point"), [(22, "iron_stores_low"), (10, "iron_deficient")])
def test_a_ferritin_below_30_gets_iron_advice(ferritin, point):
    points = _points(hair=SHEDDING, labs=[{"test": "ferritin", "value": ferritin, "unit": "ug/L"}])
    assert point in points


def test_memory_problems_alone_with_b12_untested_are_not_a_two_day_warning():
    a = follicle.assess({"format": "follicle-case/1", "age": 72, "sex": "female",
                         "hair": SHEDDING, "symptoms": ["memory_problems"],
                         "history": {"medications": [{"name": "metformin", "months": 72}]}})
    assert a.b12.status == "untested" and a.b12.probability < 0.5
    assert "neuro_b12" not in {r.id for r in a.red_flags} and a.triage == "soon"
    tingling = follicle.assess({"format": "follicle-case/1", "age": 72, "sex": "female",
                                "hair": SHEDDING, "symptoms": ["pins_and_needles"],
                                "history": {"medications": [{"name": "metformin",
                                                             "months": 72}]}})
    assert "neuro_b12" in {r.id for r in tingling.red_flags}


def test_weight_loss_in_an_older_person_is_looked_into_even_as_an_event():
    fields = {"hair": SHEDDING, "history": {"events": ["rapid_weight_loss"],
                                            "event_months_ago": 3}}
    assert "systemic" not in _points(**fields)  # at 40: usually a diet
    old = follicle.assess({"format": "follicle-case/1", "age": 90, "sex": "female", **fields})
    assert "systemic" in {r.id for r in old.red_flags}


def test_nitrous_oxide_users_are_offered_homocysteine_or_mma_not_total_b12():
    a = follicle.assess({"format": "follicle-case/1", "age": 20, "sex": "female",
                         "hair": SHEDDING, "symptoms": ["numbness", "pins_and_needles"],
                         "history": {"recreational_nitrous_oxide": True}})
    tests = [t.test for t in a.next_tests]
    assert tests[0] in ("homocysteine", "mma") and "b12" not in tests


def test_a_vegan_deficiency_is_put_down_to_the_diet():
    a = follicle.assess({"format": "follicle-case/1", "age": 16, "sex": "female",
                         "hair": SHEDDING, "history": {"diet": "vegan"},
                         "labs": [{"test": "b12", "value": 120, "unit": "ng/L"}]})
    ids = {r.id for r in a.rules}
    assert "b12_deficient_diet" in ids and "b12_deficient" not in ids


def test_a_child_with_a_dietary_b12_deficiency_is_not_told_to_take_a_supplement_only():
    a = follicle.assess({"format": "follicle-case/1", "age": 1, "sex": "female",
                         "history": {"diet": "vegan"}, "symptoms": ["fatigue", "tremor"],
                         "labs": [{"test": "b12", "value": 90, "unit": "ng/L"}]})
    ids = {r.id for r in (*a.red_flags, *a.rules)}
    assert "b12_deficient_diet" not in ids and "child_b12" in ids and a.triage == "urgent"


def test_a_central_thyroid_pattern_after_a_birth_is_urgent():
    a = follicle.assess({"format": "follicle-case/1", "age": 32, "sex": "female",
                         "hair": SHEDDING, "history": {"events": ["childbirth"],
                                                       "event_months_ago": 2},
                         "labs": [{"test": "tsh", "value": 1.1, "unit": "mIU/L"},
                                  {"test": "free_t4", "value": 6, "unit": "pmol/L"}]})
    assert "pituitary_failure" in {r.id for r in (*a.red_flags, *a.rules)}
    assert a.triage == "urgent"


@pytest.mark.parametrize(("sex", "age", "pregnant", "point"), [
    ("female", 28, False, "pregnancy_prevention"),
    ("female", 28, True, "pregnancy_teratogen"),
    ("female", 55, False, None),
    ("male", 28, False, None)])
def test_spironolactone_needs_contraception_and_is_urgent_in_pregnancy(sex, age, pregnant,
                                                                      point):
    # anti-androgens are used with effective contraception (Teede 2023: male fetus)
    a = follicle.assess({"format": "follicle-case/1", "age": age, "sex": sex,
                         "hair": SHEDDING, "history": {
                             "pregnant": pregnant if sex == "female" else None,
                             "medications": [{"name": "spironolactone"}]}})
    points = {r.id for r in (*a.red_flags, *a.rules)}
    wanted = {"pregnancy_prevention", "pregnancy_teratogen"}
    assert points & wanted == ({point} if point else set())


@pytest.mark.parametrize(("medicine", "fires"), [
    ("Kaletra", True), ("lamivudine", True), ("dolutegravir", False)])
def test_hiv_medicines_reported_to_cause_hair_loss_are_not_to_be_stopped_alone(medicine,
                                                                               fires):
    a = follicle.assess({"format": "follicle-case/1", "age": 40, "sex": "male",
                         "hair": SHEDDING, "history": {"conditions": ["hiv"],
                                                       "medications": [{"name": medicine}]}})
    assert not a.features.unknown_medications
    assert ("antiretroviral_hair" in {r.id for r in a.rules}) is fires
