"""The plain-words summary ("In short") of an assessment document."""

from __future__ import annotations

from typing import Any

from follicle.report import in_short, probability_words


def _doc(top: str, p_top: float, b12_p: float, status: str = "untested",
         triage: str = "routine", hair: bool = True) -> dict[str, Any]:
    return {"hair_complaint": hair,
            "hair_loss_types": [{"id": top, "name": top.title(), "probability": p_top}],
            "b12": {"probability": b12_p, "status": status}, "triage": triage,
            "next_test_details": [{"test": "b12", "name": "Serum B12"}]}


def test_a_likely_deficiency_says_whether_it_explains_the_hair_loss() -> None:
    te = in_short(_doc("telogen_effluvium", 0.9, 0.8), {"telogen_effluvium"})
    aga = in_short(_doc("androgenetic_alopecia", 0.9, 0.8), {"telogen_effluvium"})
    assert "can add to shedding" in te[1]
    assert "not a known cause" in aga[1] and "unlikely to stop it" in aga[1]


def test_only_a_shown_deficiency_is_called_one() -> None:
    untested = in_short(_doc("telogen_effluvium", 0.9, 0.79), {"telogen_effluvium"})[1]
    assert untested.startswith("A B12 deficiency is likely (79%)")
    assert "a blood test confirms it (blood taken before any B12 is started)" in untested
    grey = in_short(_doc("telogen_effluvium", 0.9, 0.6, "indeterminate"), set())[1]
    assert "grey zone" in grey and "not a known cause" in grey
    shown = in_short(_doc("telogen_effluvium", 0.9, 0.999, "deficient"), {"telogen_effluvium"})
    assert shown[1] == ("Your B12 test shows a deficiency: that needs treating, and it can "
                        "add to shedding like this.")


def test_an_unlikely_deficiency_is_ruled_out_in_words() -> None:
    lines = in_short(_doc("telogen_effluvium", 0.9, 0.02), {"telogen_effluvium"})
    assert lines[1].startswith("A B12 deficiency is very unlikely (2%)")
    assert lines[2] == ("What to do: no rush: self-care or a routine visit; "
                        "the most useful next test is serum B12.")


def test_a_warning_sign_with_its_own_work_up_comes_before_the_best_test() -> None:
    d = _doc("telogen_effluvium", 0.9, 0.05, triage="urgent")
    d["red_flag_details"] = [{"id": "glands", "level": "urgent"}]
    assert "the doctor's tests for the warning sign come first" in in_short(d, set())[2]
    d["next_test_details"][0]["notes"] = ["Needed because: nerve symptoms"]  # its own test
    assert in_short(d, set())[2].endswith("the most useful next test is serum B12.")
    d["next_test_details"][0]["notes"] = []
    assert in_short(d, set(), {"glands"})[2].endswith("most useful next test is serum B12.")
    d["red_flag_details"] = [{"id": "milder", "level": "soon"}]
    d["next_test_details"][0]["notes"] = []  # a flag below the headline: no change
    assert in_short(d, set())[2].endswith("the most useful next test is serum B12.")


def test_without_hair_loss_only_b12_is_answered() -> None:
    lines = in_short(_doc("telogen_effluvium", 0.9, 0.3, "indeterminate", hair=False), set())
    assert len(lines) == 2 and "grey zone" in lines[0]


def test_words_follow_the_rounded_percentage() -> None:
    assert probability_words(0.0496) == probability_words(0.05) == "unlikely"  # both "5%"


def test_an_untested_deficiency_with_a_b12_test_advised_is_not_ruled_out() -> None:
    d = _doc("telogen_effluvium", 0.9, 0.12, triage="urgent")  # e.g. tingling, untested
    assert "only a blood test can rule it out" in in_short(d, {"telogen_effluvium"})[1]


def test_the_headline_names_the_test_that_decided() -> None:
    from follicle.report import STATUS_WORDS, status_words

    b12 = {"status": "deficient", "guideline": {"test": "active_b12"},
           "interpretations": [{"test": "b12", "primary": True, "status": "not_deficient"},
                               {"test": "active_b12", "primary": True, "status": "deficient"}]}
    assert status_words(b12, STATUS_WORDS).startswith("Your active B12 result shows")
    mma_only = {"status": "deficient", "guideline": {"test": "mma"},
                "interpretations": [{"test": "mma", "primary": True, "status": "deficient"}]}
    assert "no B12 level was given" in status_words(mma_only, STATUS_WORDS)


def test_in_short_reassures_when_nothing_shows_more_loss_than_normal() -> None:
    import follicle
    from follicle.report import in_short

    a = follicle.assess({"format": "follicle-case/1", "age": 25, "sex": "female",
                         "hair": {"duration_months": 1, "shedding": False,
                                  "pull_test": "negative"}})
    lines = in_short(a.to_dict(), a.kb.b12.explains_types.types)
    assert lines[0] == "Nothing in your answers shows more hair loss than normal."
    assert not any("looks most like" in line for line in lines)


def test_a_point_below_the_headline_keeps_its_advice_but_not_its_timing() -> None:
    from rich.console import Console

    from follicle import assess
    from follicle.report import print_report

    a = assess({"format": "follicle-case/1", "age": 45, "sex": "female",
                "hair": {"onset": "gradual", "pattern": "diffuse", "shedding": True,
                         "duration_months": 4},
                "history": {"supplements": ["biotin"]},
                "labs": [{"test": "tsh", "value": 12, "unit": "mIU/L"}]})
    levels = {r.id: r.level for r in (*a.red_flags, *a.rules)}
    assert levels["biotin_lab_interference"] == "routine" and a.triage == "soon"
    console = Console(width=200, record=True)
    print_report(a, console)
    out = console.export_text()
    advice = next(r.advice for r in a.rules if r.id == "biotin_lab_interference")
    assert advice and advice in out  # stop biotin before the repeat: not lost
    biotin_action = next(r.action for r in a.rules if r.id == "biotin_lab_interference")
    assert biotin_action not in out or biotin_action == advice


def test_uk_phone_numbers_are_said_to_be_the_uks() -> None:
    from follicle.report import uk_numbers

    point = {"id": "x", "level": "soon", "reason": "r", "action": "Call 999 or 111 now."}
    assert uk_numbers({"red_flag_details": [point], "triage_reasons": []})
    calm = {**point, "action": "Book within a few weeks."}
    assert not uk_numbers({"red_flag_details": [], "triage_reasons": [calm]})


def test_no_ranking_is_shown_when_nothing_shows_more_loss_than_normal() -> None:
    from rich.console import Console

    from follicle import assess
    from follicle.report import NOT_RANKED, in_short, print_report
    from follicle.web.pages import result_view

    case = {"format": "follicle-case/1", "age": 30, "sex": "female",
            "hair": {"shedding": False, "pull_test": "negative"}}
    a = assess(case)
    d = a.to_dict()
    assert any(r["id"] == "normal_shedding" for r in d["triage_reasons"])
    console = Console(width=200, record=True)
    print_report(a, console)
    out = console.export_text()
    assert NOT_RANKED in out and "Hair-loss type" not in out
    view = result_view(d, case)
    assert view["types_chart"] is None and view["not_ranked"] == NOT_RANKED
    assert "behind this hair loss" not in " ".join(in_short(d, ()))


def test_percentages_are_never_a_false_zero_or_hundred() -> None:
    from follicle.report import percent

    assert [percent(p) for p in (0.0, 0.004, 0.01, 0.5, 0.994, 1.0)] == [
        "<1%", "<1%", "1%", "50%", ">99%", ">99%"]


def test_a_test_worth_almost_nothing_is_not_called_the_most_useful() -> None:
    from follicle import assess
    from follicle.report import USEFUL_BITS, in_short

    # traction loss from braids: no blood test bears on it (ferritin used to be named)
    d = assess({"format": "follicle-case/1", "age": 28, "sex": "female",
                "hair": {"onset": "gradual", "duration_months": 24, "pattern": "margins",
                         "tension_hairstyles": True, "shedding": False}}).to_dict()
    assert d["next_test_details"] and all(
        t["value_bits"] < USEFUL_BITS and not t["notes"] for t in d["next_test_details"])
    assert in_short(d, ())[-1].endswith("no blood test would change much here.")


def test_tests_worth_little_are_not_sold_on_the_page_or_in_the_b12_box() -> None:
    from follicle import assess
    from follicle.report import b12_tests_to_ask, tests_heading
    from follicle.web.pages import result_view

    case = {"format": "follicle-case/1", "age": 28, "sex": "female",
            "hair": {"onset": "gradual", "duration_months": 24, "pattern": "margins",
                     "tension_hairstyles": True, "shedding": False}}
    d = assess(case).to_dict()
    view = result_view(d, case)
    assert view["tests_heading"].startswith("Tests that would add little here")
    assert view["ask_for"] == [] == b12_tests_to_ask(d)
    grey = assess({"format": "follicle-case/1", "age": 50, "sex": "female",
                   "labs": [{"test": "b12", "value": 250, "unit": "ng/L"}]}).to_dict()
    assert tests_heading(grey) == "Tests worth asking for next"
    assert next(t["test"] for t in b12_tests_to_ask(grey)) in {"mma", "active_b12"}


def test_snapped_hairs_without_shedding_are_called_breakage() -> None:
    from follicle import assess
    from follicle.report import in_short

    # Osório and Tosti 2011: weathering from heat and bleach breaks the shaft
    d = assess({"format": "follicle-case/1", "age": 29, "sex": "male",
                "hair": {"onset": "gradual", "duration_months": 3, "shedding": False,
                         "pull_test": "negative", "broken_hairs": True,
                         "pulling_habit": False}}).to_dict()
    ids = {r["id"] for r in d["triage_reasons"]}
    assert "hair_breakage" in ids and "pattern_loss_treatment" not in ids
    assert d["next_tests"] == []
    assert "breakage of the hair shaft" in in_short(d, ())[0]
