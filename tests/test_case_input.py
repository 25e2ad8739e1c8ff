"""Bad input gets a clear error naming the field; nothing is silently ignored or guessed."""

from __future__ import annotations

import json

import pytest

from follicle.case import load_case, parse_case
from follicle.errors import CaseError, LabError
from tests.helpers import SHARED, case


def test_examples_parse():
    for path in sorted((SHARED / "cases").glob("*.yaml")):
        assert load_case(path).format == "follicle-case/1"


def test_missing_differs_from_false():
    c = parse_case(case(hair={"shedding": False}))
    assert c.hair is not None and c.hair.shedding is False and c.hair.broken_hairs is None
    assert parse_case(case()).hair is None


@pytest.mark.parametrize(("data", "path", "fragment"), [
    ({"format": "follicle-case/2"}, "format", "follicle-case/1"),
    ({}, "format", "missing"),
    (case(agee=30), "agee", "unknown field"),
    (case(age=-1), "age", "greater than or equal"),
    (case(age=130), "age", "less than or equal"),
    (case(sex="x"), "sex", "unknown code"),
    (case(hair={"pattern": "bald"}), "hair.pattern[0]", "unknown code 'bald'"),
    (case(hair={"scalp": ["itch", "flaky"]}), "hair.scalp[1]", "unknown code 'flaky'"),
    (case(history={"events": ["wedding"]}), "history.events[0]", "unknown code"),
    (case(symptoms=["headache"]), "symptoms[0]", "unknown code"),
    (case(history={"medications": [{"months": 3}]}), "history.medications[0].name", "missing"),
    # JSON types are kept: no "34" for 34, no "yes" or 1 for true, no true for a number
    (case(age="34"), "age", "valid number"),
    (case(age=True), "age", "valid number"),
    (case(hair={"shedding": "yes"}), "hair.shedding", "valid boolean"),
    (case(history={"pregnant": 1}), "history.pregnant", "valid boolean"),
])
def test_invalid_case_names_the_field(data, path, fragment):
    with pytest.raises(CaseError) as info:
        parse_case(data)
    details = info.value.details
    assert any(d.path == path and fragment in str(d) for d in details), details


def test_unknown_code_lists_allowed_values():
    with pytest.raises(CaseError) as info:
        parse_case(case(hair={"pattern": "bald"}))
    assert "diffuse" in info.value.details[0].allowed
    assert "allowed: diffuse" in str(info.value)


@pytest.mark.parametrize(("lab", "path", "fragment"), [
    ({"test": "b12", "value": 300, "unit": "mg/dL"}, "labs[0].unit", "does not fit"),
    ({"test": "b12", "value": -5, "unit": "pg/mL"}, "labs[0].value", "outside"),
    ({"test": "b12", "value": 9e9, "unit": "pg/mL"}, "labs[0].value", "outside"),
    ({"test": "ferritin", "value": 0, "unit": "ug/L"}, "labs[0].value", "outside"),
    ({"test": "vitamin_b12", "value": 1, "unit": "pg/mL"}, "labs[0].test", "unknown code"),
    ({"test": "b12", "value": 300}, "labs[0].unit", "missing"),
])
def test_invalid_lab_names_the_lab_line(lab, path, fragment):
    with pytest.raises(LabError) as info:
        parse_case(case(labs=[lab]))
    assert any(d.path == path and fragment in str(d) for d in info.value.details), \
        info.value.details


def test_unit_error_lists_valid_units():
    with pytest.raises(LabError) as info:
        parse_case(case(labs=[{"test": "b12", "value": 1, "unit": "nmol/L"}]))
    assert info.value.details[0].allowed == ("pg/mL", "ng/L", "pmol/L")


def test_error_json_shape():
    with pytest.raises(CaseError) as info:
        parse_case(case(sex="x"))
    body = info.value.to_dict()
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == "invalid_case"
    assert body["error"]["details"][0]["field"] == "sex"


def test_json_and_yaml_files(tmp_path):
    j = tmp_path / "c.json"
    j.write_text(json.dumps(case(age=40, labs=[{"test": "b12", "value": 300,
                                                "unit": "pg/mL"}])))
    assert load_case(j).labs[0].value == 300
    bad = tmp_path / "c.yaml"
    bad.write_text("format: follicle-case/1\nage: [unclosed\n")
    with pytest.raises(CaseError, match="not valid YAML"):
        load_case(bad)
    with pytest.raises(CaseError, match="cannot read"):
        load_case(tmp_path / "missing.yaml")


def test_reported_value_and_unit_are_kept():
    import follicle

    a = follicle.assess(case(labs=[{"test": "b12", "value": 100, "unit": "pmol/L"}]))
    lab = a.to_dict()["labs"][0]
    assert (lab["value"], lab["unit"]) == (100, "pmol/L")
    assert lab["canonical_value"] == pytest.approx(135.5, rel=1e-3)
    # the LOINC code of the result as reported: a molar unit takes the [Moles/volume] code
    assert lab["canonical_unit"] == "ng/L" and lab["loinc"] == "14685-2"


@pytest.mark.parametrize(("case", "path"), [
    ({"sex": "male", "history": {"pregnant": True}}, "history.pregnant"),
    ({"sex": "male", "history": {"events": ["covid19", "childbirth"]}}, "history.events[1]"),
    ({"age": 72, "sex": "female", "history": {"breastfeeding": True}},
     "history.breastfeeding"),
    ({"age": 20, "history": {"medications": [{"name": "metformin", "months": 600}]}},
     "history.medications[0].months"),
    ({"age": 0, "hair": {"duration_months": 30}}, "hair.duration_months"),
])
def test_answers_that_cannot_all_be_true_are_errors_naming_the_field(case, path) -> None:
    with pytest.raises(CaseError) as exc:
        parse_case({"format": "follicle-case/1", **case})
    assert [d.path for d in exc.value.details] == [path]


def test_an_infants_age_in_whole_years_allows_months_of_hair_loss() -> None:
    parse_case({"format": "follicle-case/1", "age": 0, "hair": {"duration_months": 3}})


def test_case_files_are_read_strictly(tmp_path) -> None:
    dup = tmp_path / "dup.yaml"
    dup.write_text("format: follicle-case/1\nage: 34\nage: 80\n", encoding="utf-8")
    with pytest.raises(CaseError, match="duplicate key 'age'"):
        load_case(dup)
    dup_json = tmp_path / "dup.json"
    dup_json.write_text('{"format": "follicle-case/1", "age": 34, "age": 80}')
    with pytest.raises(CaseError, match="duplicate key 'age'"):
        load_case(dup_json)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("format: follicle-case/1\nid: Lévothyrox\n".encode("latin-1"))
    with pytest.raises(CaseError, match="not UTF-8"):
        load_case(latin1)
    bom = tmp_path / "bom.json"
    bom.write_bytes(b'\xef\xbb\xbf{"format": "follicle-case/1", "age": 30}')
    assert load_case(bom).age == 30
