"""The knowledge base: valid, every number sourced, errors that name file, line and key."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from follicle.errors import KnowledgeError
from follicle.kb.loader import check_kb, kb_dir, load_kb, load_kb_dir


def test_real_knowledge_base_is_clean():
    problems = check_kb()
    assert problems == [], "\n".join(str(p) for p in problems)


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(kb_dir(), target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_number_without_source_fails_naming_file_line_and_key(kb_copy):
    _edit(kb_copy / "findings.yaml", "    ref: phillips2017\n", "")
    with pytest.raises(KnowledgeError) as info:
        load_kb_dir(kb_copy)
    detail = info.value.details[0]
    assert detail.path.startswith("findings.yaml:")
    line = int(detail.path.split(":")[1].split()[0])
    assert line > 1 and "findings.0.ref" in detail.path
    assert "Field required" in detail.message


def test_typo_in_a_key_is_an_error(kb_copy):
    _edit(kb_copy / "labs.yaml", "    canonical: ng/L", "    canonicle: ng/L")
    with pytest.raises(KnowledgeError, match=r"labs\.yaml:\d+ tests\.0\.canonicle"):
        load_kb_dir(kb_copy)


def test_unresolved_reference_is_reported(kb_copy):
    _edit(kb_copy / "b12.yaml", "ref: aroda2016", "ref: aroda2099")
    problems = [str(p) for p in check_kb(directory=kb_copy)]
    assert any("'aroda2099' does not resolve" in p and "b12.yaml:" in p for p in problems)


def test_bands_must_be_probabilities_that_sum_to_one(kb_copy):
    _edit(kb_copy / "labs.yaml", "{below: 16, p_present: 0.74, p_absent: 0.02}",
          "{below: 16, p_present: 0.94, p_absent: 0.02}")
    problems = [str(p) for p in check_kb(directory=kb_copy)]
    assert any("p_present sums to" in p for p in problems)


def test_missing_code_coverage_is_reported(kb_copy):
    _edit(kb_copy / "findings.yaml", '  - {key: "symptom:tremor"', '  - {key: "symptom:tremors"')
    problems = [str(p) for p in check_kb(directory=kb_copy)]
    assert any("no finding covers case code 'symptom:tremor'" in p for p in problems)


def test_unknown_predicate_is_reported(kb_copy):
    _edit(kb_copy / "triage.yaml", "    when: {b12_status: [deficient]}",
          "    when: {b12_state: [deficient]}")
    problems = [str(p) for p in check_kb(directory=kb_copy)]
    assert any("unknown predicate" in p and "triage.yaml:" in p and "b12_deficient" in p
               for p in problems)



def test_unknown_test_in_a_rule_work_up_is_reported(kb_copy):
    _edit(kb_copy / "triage.yaml", "    tests: [testosterone]\n", "    tests: [dheas]\n")
    problems = [str(p) for p in check_kb(directory=kb_copy)]
    assert any("unknown test 'dheas'" in p and "triage.yaml:" in p for p in problems), problems

def test_expert_estimates_are_labelled():
    kb = load_kb_dir(kb_dir())
    assert kb.references["follicle_expert"].kind == "expert_estimate"
    for f in kb.findings:
        assert f.evidence in ("measured", "derived", "expert_estimate", "computed")


def test_compiled_cache_is_reused_and_invalidated(kb_copy, tmp_path, monkeypatch):
    monkeypatch.delenv("FOLLICLE_NO_KB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = load_kb_dir.__wrapped__(kb_copy, "t")
    files = list((tmp_path / "cache" / "follicle").glob("kb-t-*.pickle"))
    assert len(files) == 1
    again = load_kb_dir.__wrapped__(kb_copy, "t")
    assert again.type_ids == first.type_ids and again is not first
    _edit(kb_copy / "types.yaml", "name: Telogen effluvium", "name: TE")
    changed = load_kb_dir.__wrapped__(kb_copy, "t")
    assert any(t.name.startswith("TE ") for t in changed.types)
    assert len(list((tmp_path / "cache" / "follicle").glob("kb-t-*.pickle"))) == 2


def test_brand_names_take_their_generic_class():
    kb = load_kb()
    assert kb.medications["epilim chrono"] == kb.medications["valproate"] == "hair_loss_drug"
    assert kb.medications["roaccutane"] == "retinoid"
    assert kb.medications["glucophage"] == "metformin"


def test_brand_naming_an_unlisted_generic_is_reported(kb_copy):
    _edit(kb_copy / "medications.yaml", "  roaccutane: isotretinoin\n",
          "  roaccutane: isotretinion\n")
    problems = [str(p) for p in check_kb(directory=kb_copy)]
    assert any("brand 'roaccutane' names 'isotretinion'" in p for p in problems), problems


def test_an_unknown_further_class_of_a_medicine_is_reported(kb_copy):
    _edit(kb_copy / "medications.yaml", "  topiramate: [hair_loss_drug]\n",
          "  topiramate: [hair_loss_drugs]\n")
    problems = [str(p) for p in check_kb(directory=kb_copy)]
    assert any("topiramate': unknown class 'hair_loss_drugs'" in p for p in problems), problems


def test_a_duplicate_key_is_an_error_naming_file_and_line(tmp_path) -> None:
    # YAML keeps the last of two equal keys silently: once a rule's fields were overwritten
    # by the next rule's, and every check passed
    from follicle.errors import KnowledgeError
    from follicle.kb.source import load_yaml_file

    path = tmp_path / "triage.yaml"
    path.write_text("rules:\n  - id: a\n    level: soon\n    level: urgent\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as err:
        load_yaml_file(path)
    assert "duplicate key 'level' (first on line 3)" in str(err.value)
    assert "triage.yaml:4" in str(err.value)


def test_a_point_that_tells_people_to_stop_or_keep_something_says_so_without_timing():
    """A rule below the most urgent level can sit under a more urgent headline, which then
    sets the timing; its `advice` must still carry any stop/keep/do-not instruction."""
    import re

    kb = load_kb()
    missing = [r.id for r in (*kb.red_flags, *kb.rules) if r.level != "urgent"
               and re.search(r"\b(stop|keep|do not)\b", r.action, re.I) and not r.advice]
    assert missing == []


@pytest.mark.parametrize(("typed", "read_as"), [
    ("omeprazol", "omeprazole"), ("colchicene", "colchicine"),
    ("Epilem chrono 500 bd", "epilim"), ("Roacutane 20mg", "roaccutane"),
    ("amlodipine", None),  # known already: no guess needed
    ("xyzzyplugh", None), ("asp", None),  # nothing near, or too short to guess
])
def test_a_misspelt_medicine_is_read_as_the_one_name_a_slip_away(typed, read_as):
    from follicle.kb.loader import medicine_name, nearest_medicine

    kb = load_kb()
    guess = None if medicine_name(kb, typed) else nearest_medicine(kb, typed)
    assert guess == read_as


def test_a_guessed_medicine_is_said_and_used():
    import follicle

    a = follicle.assess({"format": "follicle-case/1", "age": 60, "sex": "male",
                         "history": {"medications": [{"name": "omeprazol", "months": 36}]}})
    assert "med:ppi" in a.features.keys
    assert any("'omeprazol' was read as 'omeprazole'" in m for m in a.to_dict()["not_used"])


@pytest.mark.parametrize(("name", "key"), [
    ("nitrous oxide (nangs) weekends", "recreational_nitrous_oxide:yes"),
    ("laughing gas", "recreational_nitrous_oxide:yes"),
    ("Biotin 10,000 mcg", "supplement:biotin"), ("Viviscal", "supplement:biotin"),
])
def test_a_medicine_name_can_stand_for_a_field_of_the_case(name, key):
    import follicle

    a = follicle.assess({"format": "follicle-case/1", "age": 25, "sex": "male",
                         "history": {"medications": [{"name": name}]}})
    assert key in a.features.keys


def test_unrecognised_medicines_are_named_beside_an_open_b12_question():
    import follicle

    a = follicle.assess({"format": "follicle-case/1", "age": 60, "sex": "female",
                         "history": {"medications": [{"name": "Zyxomedin"}]}})
    assert a.b12.status == "untested"
    assert any("did not recognise 'Zyxomedin'" in n for n in a.b12.notes)


def _cause(case: dict[str, Any], cause: str) -> float:
    import follicle

    a = follicle.assess({"format": "follicle-case/1", **case})
    return next(c.probability for c in a.contributing_causes if c.id == cause)


def test_an_anaemia_with_large_red_cells_counts_little_for_iron_deficiency() -> None:
    # large red cells point to B12 or folate (Kaferle 2009); the low haemoglobin alone used
    # to push iron deficiency above 60% beside a B12 of 98 pmol/L
    base = {"age": 64, "sex": "female", "hair": {"pattern": "diffuse", "shedding": True},
            "symptoms": ["fatigue", "pale_skin", "breathlessness"],
            "labs": [{"test": "hemoglobin", "value": 96, "unit": "g/L"}]}
    normal = _cause({**base, "labs": [*base["labs"],
                                      {"test": "mcv", "value": 90, "unit": "fL"}]},
                    "iron_deficiency")
    large = _cause({**base, "labs": [*base["labs"],
                                     {"test": "mcv", "value": 109, "unit": "fL"}]},
                   "iron_deficiency")
    assert large < 0.3 < normal


def test_brittle_nails_given_twice_count_once() -> None:
    base = {"age": 30, "sex": "female", "hair": {"pattern": "diffuse", "shedding": True}}
    once = _cause({**base, "hair": {**base["hair"], "nails": ["brittle"]}}, "iron_deficiency")
    twice = _cause({**base, "hair": {**base["hair"], "nails": ["brittle"]},
                    "symptoms": ["brittle_nails"]}, "iron_deficiency")
    assert twice == pytest.approx(once)


def test_hiv_and_the_pill_make_a_low_total_b12_less_certain_not_more() -> None:
    # BSH 2014: both lower total B12 without a true deficiency
    import follicle

    def p(**history: Any) -> float:
        return follicle.assess({"format": "follicle-case/1", "age": 30, "sex": "female",
                                "history": history,
                                "labs": [{"test": "b12", "value": 150, "unit": "ng/L"}]}
                               ).b12.probability

    plain = p()
    assert p(conditions=["hiv"]) < plain
    assert p(medications=[{"name": "ethinylestradiol"}]) < plain
