"""The engine's arithmetic, checked by hand on a tiny fake knowledge base."""

from __future__ import annotations

import math

import pytest

from follicle.engine.assess import assess
from follicle.engine.nexttests import expected_information_gain
from tests.helpers import case


def test_type_posterior_is_prior_times_likelihood(tiny_kb):
    a = assess(case(age=30, sex="female", hair={"pattern": "diffuse"}), kb=tiny_kb)
    probs = {t.id: t.probability for t in a.hair_loss_types}
    # priors 1:1:2, diffuse x4 for TE -> 1:4:2
    assert probs["telogen_effluvium"] == pytest.approx(4 / 7)
    assert probs["alopecia_areata"] == pytest.approx(2 / 7)
    assert sum(probs.values()) == pytest.approx(1.0)


def test_only_condition_limits_a_finding_to_its_sex(tiny_kb):
    man = assess(case(age=30, sex="male", hair={"pattern": "temples_crown"}), kb=tiny_kb)
    woman = assess(case(age=30, sex="female", hair={"pattern": "temples_crown"}), kb=tiny_kb)
    # adult_male priors 2:1:1, x8 for AGA -> 16:1:1; the female variant does not exist
    assert man.hair_loss_types[0].probability == pytest.approx(16 / 18)
    assert woman.hair_loss_types[0].id == "alopecia_areata"


def test_b12_pretest_multiplies_odds(tiny_kb):
    a = assess(case(age=30, sex="female", hair={"pattern": "diffuse"},
                    history={"diet": "vegan"}), kb=tiny_kb)
    odds = 0.1 / 0.9 * 2.0 * 10.0
    assert a.b12.probability == pytest.approx(odds / (1 + odds))
    assert a.b12.status == "untested"


def test_b12_screening_has_no_hair_loss_factor(tiny_kb):
    a = assess(case(age=30, sex="female"), kb=tiny_kb)
    assert a.b12.probability == pytest.approx(0.1)
    assert not a.features.hair


def test_the_shedding_study_does_not_apply_to_patches(tiny_kb):
    patches = assess(case(age=30, sex="female", hair={"pattern": "patches"}), kb=tiny_kb)
    assert patches.features.hair and patches.b12.probability == pytest.approx(0.1)
    assert all(c.source != "hair_loss" for c in patches.b12.contributions)


def test_metformin_duration_uses_per_year_odds_ratio(tiny_kb):
    known = assess(case(age=60, sex="male", history={
        "medications": [{"name": "Metformin", "months": 24}]}), kb=tiny_kb)
    unknown = assess(case(age=60, sex="male", history={
        "medications": [{"name": "metformin"}]}), kb=tiny_kb)
    def odds(p: float) -> float:
        return p / (1 - p)
    assert odds(known.b12.probability) == pytest.approx(0.1 / 0.9 * 1.5 ** 2)
    assert odds(unknown.b12.probability) == pytest.approx(0.1 / 0.9 * 3.0)


def test_lab_band_likelihood_ratio_and_status(tiny_kb):
    a = assess(case(age=30, sex="female", labs=[{"test": "b12", "value": 150,
                                                 "unit": "ng/L"}]), kb=tiny_kb)
    odds = 0.1 / 0.9 * 10.0
    assert a.b12.probability == pytest.approx(odds / (1 + odds))
    assert a.b12.status == "deficient"
    assert a.b12.decided_by is not None and a.b12.decided_by.test == "b12"


@pytest.mark.parametrize(("labs", "status"), [
    ([("b12", 250, "ng/L")], "indeterminate"),
    ([("b12", 350, "ng/L")], "indeterminate"),
    ([("b12", 351, "ng/L")], "not_deficient"),
    ([("b12", 179.9, "ng/L")], "deficient"),
    ([("b12", 250, "ng/L"), ("active_b12", 90, "pmol/L")], "not_deficient"),
    ([("b12", 150, "ng/L"), ("active_b12", 40, "pmol/L")], "indeterminate"),
    ([("b12", 250, "ng/L"), ("mma", 0.6, "umol/L")], "deficient"),
    ([("b12", 250, "ng/L"), ("mma", 150, "nmol/L")], "not_deficient"),
    ([("mma", 0.9, "umol/L")], "deficient"),
    ([], "untested"),
])
def test_status_follows_guideline_bands(tiny_kb, labs, status):
    lab_lines = [{"test": t, "value": v, "unit": u} for t, v, u in labs]
    a = assess(case(age=40, sex="female", labs=lab_lines), kb=tiny_kb)
    assert a.b12.status == status


def test_nitrous_oxide_makes_a_normal_b12_indeterminate(tiny_kb):
    a = assess(case(age=22, sex="male", history={"recreational_nitrous_oxide": True},
                    labs=[{"test": "b12", "value": 500, "unit": "ng/L"}]), kb=tiny_kb)
    assert a.b12.status == "indeterminate"
    # the reassuring band counts only a fifth as much
    odds = 0.1 / 0.9 * math.exp(0.2 * math.log(0.2 / 0.7))
    assert a.b12.probability == pytest.approx(odds / (1 + odds))


def test_cause_odds_and_lab_band(tiny_kb):
    a = assess(case(age=30, sex="female", hair={"pattern": "diffuse"},
                    history={"heavy_periods": True},
                    labs=[{"test": "ferritin", "value": 10, "unit": "ug/L"}]), kb=tiny_kb)
    p = {c.id: c.probability for c in a.contributing_causes}
    odds = 0.25 * 4 * (0.75 / 0.02)
    assert p["iron_deficiency"] == pytest.approx(odds / (1 + odds))
    assert a.contributing_causes[0].id == "iron_deficiency"


def test_cause_from_type_is_noisy_or(tiny_kb):
    a = assess(case(age=30, sex="female", hair={"pattern": "patches"}), kb=tiny_kb)
    t = {x.id: x.probability for x in a.hair_loss_types}
    c = {x.id: x.probability for x in a.contributing_causes}
    assert c["autoimmune_disease"] == pytest.approx(1 - 0.9 * (1 - t["alopecia_areata"]))


def test_red_flag_supersedes_milder_one(tiny_kb):
    a = assess(case(age=30, sex="female", history={"diet": "vegan"},
                    symptoms=["numbness"]), kb=tiny_kb)
    assert a.triage == "urgent"
    assert [r.id for r in a.red_flags] == ["neuro"]
    assert "numb_rule" not in [r.id for r in a.rules]  # a red flag supersedes rules too


def test_triage_is_routine_without_rules(tiny_kb):
    assert assess(case(age=30, sex="female"), kb=tiny_kb).triage == "routine"


def test_information_gain_bounds():
    assert expected_information_gain(0.5, (1.0, 0.0), (0.0, 1.0)) == pytest.approx(1.0)
    assert expected_information_gain(0.5, (0.5, 0.5), (0.5, 0.5)) == pytest.approx(0.0)
    assert expected_information_gain(0.0, (1.0, 0.0), (0.0, 1.0)) == 0.0
    damped = expected_information_gain(0.5, (1.0, 0.0), (0.0, 1.0), damp=0.3)
    assert 0.0 < damped < 1.0


def test_second_line_test_waits_for_first_line(tiny_kb):
    untested = assess(case(age=40, sex="female", history={"diet": "vegan"}), kb=tiny_kb)
    names = [t.test for t in untested.next_tests]
    assert "mma" not in names and names[0] in ("b12", "active_b12")
    grey = assess(case(age=40, sex="female", labs=[{"test": "b12", "value": 250,
                                                    "unit": "ng/L"}]), kb=tiny_kb)
    names = [t.test for t in grey.next_tests]
    assert "b12" not in names and names[0] in ("active_b12", "mma")
    n2o = assess(case(age=22, sex="male", history={"recreational_nitrous_oxide": True}),
                 kb=tiny_kb)
    names = [t.test for t in n2o.next_tests]
    assert names[0] == "mma"


def test_explanations_name_findings_and_sources(tiny_kb):
    a = assess(case(age=30, sex="female", hair={"pattern": "diffuse"},
                    history={"heavy_periods": True}), kb=tiny_kb)
    ex = a.explanations
    te = ex["types"]["telogen_effluvium"]
    assert te[0]["finding"] == "pattern:diffuse" and te[0]["direction"] == "raised"
    assert te[0]["ref"] == "r1"
    iron = ex["causes"]["iron_deficiency"]
    assert iron[0] == {"finding": "heavy_periods:yes", "text": "heavy",
                       "likelihood_ratio": 4.0, "direction": "raised", "ref": "est",
                       "evidence": "expert_estimate"}
    assert any(m["finding"] == "baseline" for m in ex["b12"])


def test_unknown_medicine_is_reported_not_ignored(tiny_kb):
    a = assess(case(age=30, history={"medications": [{"name": "unobtainium"},
                                                      {"name": "paracetamol"}]}), kb=tiny_kb)
    assert a.to_dict()["not_used"] == [
        "medication 'unobtainium' is not in the knowledge base, so it was not taken into account"]


def test_no_more_b12_tests_once_the_guideline_has_decided(tiny_kb):
    for value in (120, 600):
        a = assess(case(age=40, sex="female", labs=[{"test": "b12", "value": value,
                                                     "unit": "ng/L"}]), kb=tiny_kb)
        assert not {"active_b12", "mma"} & {t.test for t in a.next_tests}


def test_a_rule_with_a_work_up_puts_its_tests_first(tiny_kb):
    """A fired rule's own tests lead the next tests, whatever their information value,
    and are left out once done."""
    plain = assess(case(age=40, sex="female", history={"diet": "vegan"}), kb=tiny_kb)
    assert plain.next_tests[0].test != "ferritin"
    heavy = assess(case(age=40, sex="female", history={"diet": "vegan",
                                                       "heavy_periods": True}), kb=tiny_kb)
    first = heavy.next_tests[0]
    assert first.test == "ferritin" and first.notes[0] == "Needed because: heavy periods"
    assert [t.test for t in heavy.next_tests[1:]] == [t.test for t in plain.next_tests
                                                       if t.test != "ferritin"]
    done = assess(case(age=40, sex="female", history={"heavy_periods": True},
                       labs=[{"test": "ferritin", "value": 40, "unit": "ug/L"}]), kb=tiny_kb)
    assert "ferritin" not in [t.test for t in done.next_tests]
    # a B12 grey zone is settled first even so (NICE NG239; the next-test rule)
    grey = assess(case(age=40, sex="female", history={"heavy_periods": True},
                       labs=[{"test": "b12", "value": 250, "unit": "ng/L"}]), kb=tiny_kb)
    assert grey.b12.status == "indeterminate"
    assert [t.test for t in grey.next_tests[:2]] in (["active_b12", "ferritin"],
                                                     ["mma", "ferritin"])


def test_findings_in_one_group_count_once_for_a_cause(tiny_kb):
    """Correlated findings (a diagnosis and its variants) move a cause by the strongest
    one alone, not by their product; the others are not listed as moves."""
    def iron(conditions: list[str]) -> tuple[float, list[str]]:
        a = assess(case(age=30, sex="female", hair={}, history={"conditions": conditions}),
                   kb=tiny_kb)
        p = next(c.probability for c in a.contributing_causes if c.id == "iron_deficiency")
        return p, [m["finding"] for m in a.explanations["causes"]["iron_deficiency"]]

    both, moves = iron(["anaemia", "iron_deficiency_anaemia"])
    assert both == pytest.approx(0.25 * 6 / (1 + 0.25 * 6))
    assert moves == ["condition:iron_deficiency_anaemia"]
    assert iron(["iron_deficiency_anaemia", "anaemia"])[0] == pytest.approx(both)
    assert iron(["anaemia"])[0] == pytest.approx(0.25 * 3 / (1 + 0.25 * 3))


@pytest.mark.parametrize(("value", "lr"), [(179.9, 10.0), (180, 1.2), (350, 1.2),
                                           (350.1, 0.2 / 0.7)])
def test_a_value_on_a_guideline_edge_gets_the_likelihood_of_its_status(tiny_kb, value, lr):
    """The guideline prints 180-350 as one range, both ends included; the likelihood
    bands follow it, so 350 counts as grey zone for the probability as for the status."""
    a = assess(case(age=30, sex="female", labs=[{"test": "b12", "value": value,
                                                 "unit": "ng/L"}]), kb=tiny_kb)
    odds = 0.1 / 0.9 * lr
    assert a.b12.probability == pytest.approx(odds / (1 + odds))


def test_a_raised_mma_does_not_decide_when_a_caution_doubts_it(tiny_kb):
    """Kidney disease raises MMA: a raised MMA then leaves the status open (with a note)
    instead of calling deficiency; without the caution the same MMA decides."""
    labs = [{"test": "b12", "value": 250, "unit": "ng/L"},
            {"test": "mma", "value": 0.6, "unit": "umol/L"}]
    plain = assess(case(age=60, sex="male", labs=labs), kb=tiny_kb)
    ckd = assess(case(age=60, sex="male", labs=labs,
                      history={"conditions": ["chronic_kidney_disease"]}), kb=tiny_kb)
    alone = assess(case(age=60, sex="male", labs=labs[1:],
                        history={"conditions": ["chronic_kidney_disease"]}), kb=tiny_kb)
    assert plain.b12.status == "deficient"
    assert ckd.b12.status == alone.b12.status == "indeterminate"
    assert any(n.startswith("Kidneys raise MMA.") for n in ckd.b12.notes)


@pytest.mark.parametrize(("upper", "lr", "status"), [(0.40, 0.1 / 0.8, "not_deficient"),
                                                     (0.30, 0.7 / 0.05, "deficient"),
                                                     (None, 0.2 / 0.15, "indeterminate")])
def test_the_laboratory_mma_range_sets_probability_and_status_alike(tiny_kb, upper, lr,
                                                                   status):
    mma: dict[str, object] = {"test": "mma", "value": 0.38, "unit": "umol/L"}
    if upper is not None:
        mma["reference_range"] = [0.1, upper]
    a = assess(case(age=30, sex="female", labs=[mma]), kb=tiny_kb)
    odds = 0.1 / 0.9 * lr
    assert a.b12.probability == pytest.approx(odds / (1 + odds))
    assert a.b12.status == status


def test_not_when_keeps_a_test_out_of_the_next_tests(tiny_kb):
    plain = assess(case(age=40, sex="female", history={"diet": "vegan"}), kb=tiny_kb)
    taking = assess(case(age=40, sex="female", history={"diet": "vegan",
                                                        "supplements": ["b12"]}), kb=tiny_kb)
    assert "active_b12" in [t.test for t in plain.next_tests]
    assert "active_b12" not in [t.test for t in taking.next_tests]


def test_a_lab_caution_weakens_the_result_for_contributing_causes_too(tiny_kb):
    def iron(history: dict[str, object]) -> float:
        a = assess(case(age=30, sex="female", history=history,
                        labs=[{"test": "ferritin", "value": 10, "unit": "ug/L"}]), kb=tiny_kb)
        return next(c.probability for c in a.contributing_causes if c.id == "iron_deficiency")

    odds = 0.25 * math.sqrt(0.75 / 0.02)
    assert iron({"supplements": ["iron"]}) == pytest.approx(odds / (1 + odds))
    assert iron({}) > iron({"supplements": ["iron"]})


def test_a_type_without_its_required_exposure_is_scaled_down_and_says_why(tiny_kb):
    a = assess(case(age=30, sex="female", hair={"shedding": True}), kb=tiny_kb)
    probs = {t.id: t.probability for t in a.hair_loss_types}
    # priors 1:1:2; no pattern that AA needs: AA x0.5 -> 1:1:1
    assert probs["alopecia_areata"] == pytest.approx(1 / 3)
    moves = a.explanations["types"]["alopecia_areata"]
    assert any(m["finding"] == "without:alopecia_areata" and m["text"] == "no patches"
               for m in moves)


def test_an_untested_b12_test_needs_a_floor_of_probability(tiny_kb):
    low = assess(case(age=40, sex="female"), kb=tiny_kb)
    vegan = assess(case(age=40, sex="female", history={"diet": "vegan"}), kb=tiny_kb)
    assert low.b12.probability < 0.15 <= vegan.b12.probability
    assert "active_b12" not in [t.test for t in low.next_tests]
    assert "active_b12" in [t.test for t in vegan.next_tests]
    assert "b12" in [t.test for t in low.next_tests]  # no floor on this one


def test_a_likely_deficiency_says_when_it_does_not_explain_the_hair_loss(tiny_kb):
    low = [{"test": "b12", "value": 150, "unit": "ng/L"}]
    patches = assess(case(age=30, sex="female", hair={"pattern": "patches"},
                          history={"diet": "vegan"}, labs=low), kb=tiny_kb)
    assert patches.hair_loss_types[0].id == "alopecia_areata"
    assert any("not a known cause of the most likely type here (AA)" in n
               for n in patches.b12.notes)
    # diffuse shedding is the type B12 deficiency can cause: no such note
    diffuse = assess(case(age=30, sex="female", hair={"pattern": "diffuse"},
                          history={"diet": "vegan"}, labs=low), kb=tiny_kb)
    assert diffuse.hair_loss_types[0].id == "telogen_effluvium"
    assert not any("not a known cause" in n for n in diffuse.b12.notes)


def test_cause_tests_count_by_how_much_bloods_help_with_the_likely_type(tiny_kb):
    def ferritin(pattern: str) -> tuple[float, float, float]:
        a = assess(case(age=30, sex="male", hair={"pattern": pattern}), kb=tiny_kb)
        t = next(t for t in a.next_tests if t.test == "ferritin")
        share = sum(r.probability for r in a.hair_loss_types if r.id == "telogen_effluvium")
        return t.value, dict(t.targets)["iron_deficiency"], share

    for pattern in ("diffuse", "patches"):
        value, bits, share = ferritin(pattern)
        # men: only telogen effluvium has a blood work-up (AGA is for women, AA none)
        assert value == pytest.approx(bits * 1.0 * (0.1 + 0.9 * share))
    assert ferritin("patches")[0] < ferritin("diffuse")[0] / 2


def test_a_risk_factor_takes_its_instead_odds_ratio_when_the_other_key_is_there(tiny_kb):
    def odds(a) -> float:
        return a.b12.probability / (1 - a.b12.probability)

    plain = assess(case(age=30, sex="female", history={"diet": "vegan"}), kb=tiny_kb)
    numb = assess(case(age=30, sex="female", history={"diet": "vegan"},
                       symptoms=["numbness"]), kb=tiny_kb)
    assert odds(plain) == pytest.approx(0.1 / 0.9 * 10)
    assert odds(numb) == pytest.approx(0.1 / 0.9 * 30 * 2)  # instead of 10, and numbness x2
    assert any(c.text == "vegan (with numbness)" for c in numb.b12.contributions)


def test_a_b12_result_moves_a_pretest_away_from_its_centre_by_the_slope(tiny_kb):
    def logit(p: float) -> float:
        return math.log(p / (1 - p))

    labs = [{"test": "b12", "value": 150, "unit": "ng/L"}]
    at_centre = assess(case(age=30, sex="female", labs=labs), kb=tiny_kb)
    assert logit(at_centre.b12.probability) == pytest.approx(logit(0.1) + math.log(10))
    vegan = assess(case(age=30, sex="female", labs=labs, history={"diet": "vegan"}),
                   kb=tiny_kb)
    pre = logit(vegan.b12.pretest)  # vegan x10: the result then moves the odds less
    assert pre == pytest.approx(logit(0.1) + math.log(10))
    expected = pre + math.log(10) + (0.5 - 1) * (pre - logit(0.1))
    assert logit(vegan.b12.probability) == pytest.approx(expected)


def test_a_low_total_b12_doubted_by_a_caution_is_indeterminate(tiny_kb):
    labs = [{"test": "b12", "value": 150, "unit": "ng/L"}]
    plain = assess(case(age=30, sex="female", labs=labs), kb=tiny_kb)
    pregnant = assess(case(age=30, sex="female", labs=labs,
                           history={"pregnant": True}), kb=tiny_kb)
    assert plain.b12.status == "deficient"
    assert pregnant.b12.status == "indeterminate"
    assert "falls in pregnancy" in pregnant.b12.notes
    assert pregnant.b12.decided_by is not None
    assert pregnant.b12.decided_by.status == "indeterminate"
    very_low = assess(case(age=30, sex="female", history={"pregnant": True},
                           labs=[{"test": "b12", "value": 50, "unit": "ng/L"}]), kb=tiny_kb)
    assert very_low.b12.status == "deficient"  # far below the cut-off: stands (doubts_from)


def test_b12_treatment_ticked_as_a_supplement_too_counts_once_as_the_treatment(tiny_kb):
    def odds(history) -> float:
        p = assess(case(age=30, sex="female", history=history), kb=tiny_kb).b12.probability
        return p / (1 - p)

    injections = {"medications": [{"name": "hydroxocobalamin", "months": 96}]}
    assert odds({"supplements": ["b12"]}) == pytest.approx(0.1 / 0.9 * 0.5)
    assert odds(injections) == pytest.approx(0.1 / 0.9 * 0.05)
    assert odds({**injections, "supplements": ["b12"]}) == pytest.approx(0.1 / 0.9 * 0.05)


@pytest.mark.parametrize(("ferritin", "mcv", "counted"), [
    (12, 82, False),   # low ferritin, small cells: iron-deficiency anaemia
    (12, 104, True),   # large cells: B12 deficiency still fits
    (80, 82, True),    # ferritin normal: the anaemia is unexplained
])
def test_a_low_haemoglobin_explained_by_iron_does_not_count_for_b12(tiny_kb, ferritin, mcv,
                                                                    counted):
    labs = [{"test": "hemoglobin", "value": 100, "unit": "g/L"},
            {"test": "ferritin", "value": ferritin, "unit": "ug/L"},
            {"test": "mcv", "value": mcv, "unit": "fL"}]
    a = assess(case(age=30, sex="female", labs=labs), kb=tiny_kb)
    assert any(c.source == "lab:hemoglobin" for c in a.b12.contributions) is counted
    assert ("iron explains it" in a.b12.notes) is not counted


@pytest.mark.parametrize(("medicine", "counted"), [("paracetamol", True),
                                                  ("methotrexate", False)])
def test_large_red_cells_from_a_medicine_do_not_count_for_b12(tiny_kb, medicine, counted):
    labs = [{"test": "mcv", "value": 106, "unit": "fL"}]
    a = assess(case(age=50, sex="female", labs=labs,
                    history={"medications": [{"name": medicine}]}), kb=tiny_kb)
    assert any(c.source == "lab:mcv" for c in a.b12.contributions) is counted
    assert ("other causes of large cells" in a.b12.notes) is not counted


def test_on_b12_a_raised_mma_decides_over_a_normal_total_b12(tiny_kb):
    labs = [{"test": "b12", "value": 500, "unit": "ng/L"},
            {"test": "mma", "value": 0.9, "unit": "umol/L"}]
    plain = assess(case(age=50, sex="female", labs=labs), kb=tiny_kb)
    assert plain.b12.status == "indeterminate"  # the tests disagree: not dismissed (BSH)
    assert any("the results disagree" in n for n in plain.b12.notes)
    on_b12 = assess(case(age=50, sex="female", labs=labs,
                         history={"supplements": ["b12"]}), kb=tiny_kb)
    assert on_b12.b12.status == "deficient"
    assert on_b12.b12.decided_by is not None and on_b12.b12.decided_by.test == "mma"
    assert any("the MMA decides here" in n for n in on_b12.b12.notes)


def test_without_a_hair_complaint_only_b12_is_explained(tiny_kb):
    a = assess(case(age=30, sex="female", history={"diet": "vegan"}), kb=tiny_kb)
    assert a.explanations["types"] == {} and a.explanations["causes"] == {}
    assert a.explanations["b12"]
