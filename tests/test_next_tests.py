"""Next tests with the real knowledge base: work-up and repeats asked for by triage rules."""

from __future__ import annotations

from typing import Any

import follicle

BASE: dict[str, Any] = {
    "format": "follicle-case/1", "age": 38, "sex": "male",
    "hair": {"onset": "gradual", "pattern": "temples_crown"},
    "labs": [{"test": "tsh", "value": 0.03, "unit": "mIU/L"}]}


def test_a_test_biotin_may_have_falsified_is_repeated_first() -> None:
    a = follicle.assess({**BASE, "history": {"supplements": ["biotin"]}})
    first = a.next_tests[0]
    assert first.test == "tsh"
    assert first.notes[0].startswith("A repeat, because: Biotin")
    # only tests that were done are repeated (testosterone is in the rule, not in the case)
    assert all(not n.startswith("A repeat") for t in a.next_tests[1:] if t.test != "free_t4"
               for n in t.notes)


def test_a_done_test_is_not_suggested_again_without_a_reason() -> None:
    a = follicle.assess(BASE)
    assert "tsh" not in [t.test for t in a.next_tests]


def test_a_normal_b12_on_biotin_is_repeated_and_settled_first() -> None:
    # biotin can make a B12 result falsely normal: with nerve symptoms the doubted result is
    # settled first (a repeat off biotin, or MMA), not the iron work-up
    a = follicle.assess({
        "format": "follicle-case/1", "age": 29, "sex": "female",
        "history": {"diet": "vegan", "supplements": ["biotin"]},
        "symptoms": ["numbness", "pins_and_needles", "sore_tongue"],
        "labs": [{"test": "b12", "value": 520, "unit": "ng/L"}]})
    assert a.b12.status == "not_deficient" and a.triage == "urgent"
    assert a.next_tests[0].test in ("b12", "mma", "active_b12")
    assert any(t.test == "b12" and t.notes and t.notes[0].startswith("A repeat")
               for t in a.next_tests)


def test_irregular_periods_ask_for_testosterone_only_before_the_menopause_years() -> None:
    # NICE NG23: from 45, irregular periods are the start of the menopause, not a sign of
    # androgen excess; younger, they are one of the signs of polycystic ovaries
    def tests_at(age: int) -> list[str]:
        a = follicle.assess({
            "format": "follicle-case/1", "age": age, "sex": "female",
            "hair": {"onset": "gradual", "pattern": "diffuse", "shedding": True},
            "symptoms": ["irregular_periods"]})
        return [t.test for t in a.next_tests]

    assert "testosterone" in tests_at(28)
    assert "testosterone" not in tests_at(49)


def test_no_sign_of_extra_hair_loss_is_called_normal_and_asks_for_no_test() -> None:
    # 50-100 hairs a day is normal; a pull test of 2 hairs or fewer is normal (McDonald 2017)
    worried = {"format": "follicle-case/1", "age": 24, "sex": "female",
               "hair": {"onset": "gradual", "duration_months": 2, "shedding": False,
                        "pull_test": "negative"}}
    a = follicle.assess(worried)
    assert a.triage == "routine" and [r.id for r in a.rules] == ["normal_shedding"]
    assert a.next_tests == []
    shedding = {**worried, "hair": {**worried["hair"], "shedding": True}}
    assert "normal_shedding" not in [r.id for r in follicle.assess(shedding).rules]


def test_normal_shedding_still_asks_for_the_b12_test_the_b12_question_needs() -> None:
    # NICE NG239: a B12 test for a symptom (a sore tongue) with a risk factor (coeliac
    # disease), whatever the hair; the hair gives no reason for any other test
    case = {"format": "follicle-case/1", "age": 31, "sex": "male",
            "hair": {"shedding": False},
            "history": {"conditions": ["coeliac"]}, "symptoms": ["fatigue", "sore_tongue"]}
    a = follicle.assess(case)
    assert [r.id for r in a.rules] == ["normal_shedding"]
    tests = [t.test for t in a.next_tests]
    assert tests and set(tests) <= {"b12", "active_b12", "mma", "homocysteine"}
    assert "b12" in tests[:3]
    assert not any("most likely type" in n for n in a.b12.notes)
