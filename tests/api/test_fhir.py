"""FHIR R4B export validated against the FHIR R4 JSON schema; lab import."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from follicle.settings import Settings
from follicle.web.app import create_app

SCHEMA = Path(__file__).parents[1] / "data" / "fhir-r4.schema.json.gz"
CASE = {"format": "follicle-case/1", "age": 52, "sex": "male",
        "hair": {"onset": "gradual", "pattern": ["diffuse", "temples_crown"]},
        "history": {"medications": [{"name": "metformin", "months": 40}], "diet": "omnivore"},
        "symptoms": ["numbness"],
        "labs": [{"test": "b12", "value": 180, "unit": "pmol/L", "reference_range": [150, 600]},
                 {"test": "mma", "value": 0.5, "unit": "umol/L"},
                 {"test": "tsh", "value": 2.1, "unit": "uIU/mL"},
                 {"test": "active_b12", "value": 30, "unit": "pmol/L"}]}


@cache
def _validator() -> jsonschema.Draft6Validator:
    return jsonschema.Draft6Validator(json.loads(gzip.decompress(SCHEMA.read_bytes())))


def _valid(resource: dict[str, Any]) -> None:
    errors = [f"{list(e.path)}: {e.message[:200]}" for e in _validator().iter_errors(resource)]
    assert not errors, errors


@pytest.fixture
def client(database_url: str) -> TestClient:
    return TestClient(create_app(Settings(database_url=database_url, secret_key="t")))


def _export(client: TestClient) -> dict[str, Any]:
    r = client.post("/api/v1/assessments", json=CASE)
    id, token = r.json()["id"], r.json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    client.post(f"/api/v1/assessments/{id}/followups", headers=h, json={
        "date": "2026-10-01", "labs": [{"test": "b12", "value": 520, "unit": "ng/L"}]})
    client.post(f"/api/v1/assessments/{id}/followups", headers=h, json={
        "date": "2026-10-08", "hair_count": {"method": "comb_60s", "count": 85},
        "treatment": {"action": "started", "name": "b12_injections"}})
    b = client.get(f"/api/v1/assessments/{id}/fhir", headers=h)
    assert b.status_code == 200
    assert b.headers["content-type"].startswith("application/fhir+json")
    bundle: dict[str, Any] = b.json()
    return bundle


def test_export_is_valid_fhir_r4(client: TestClient) -> None:
    bundle = _export(client)
    _valid(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("Observation") == 6
    assert {"Patient", "QuestionnaireResponse", "RiskAssessment"} <= set(kinds)
    patient = next(e["resource"] for e in bundle["entry"]
                   if e["resource"]["resourceType"] == "Patient")
    assert set(patient) <= {"resourceType", "gender"}  # anonymous: no names or identifiers
    # medicines (B12 risk factors the RiskAssessment rests on) travel as MedicationStatements
    meds = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationStatement"
            and "dateAsserted" in e["resource"] and "effectivePeriod" not in e["resource"]]
    assert [m["resource"]["medicationCodeableConcept"]["text"] for m in meds] == ["metformin"]
    assert meds[0]["resource"]["note"][0]["text"] == "taken for 40 months"
    risk = next(e["resource"] for e in bundle["entry"]
                if e["resource"]["resourceType"] == "RiskAssessment")
    assert {"reference": meds[0]["fullUrl"]} in risk["basis"]


def test_observations_have_loinc_and_ucum(client: TestClient) -> None:
    obs = [e["resource"] for e in _export(client)["entry"]
           if e["resource"]["resourceType"] == "Observation"]
    b12 = obs[0]
    assert b12["code"]["coding"][0] == {
        "system": "http://loinc.org", "code": "14685-2",
        "display": b12["code"]["coding"][0]["display"]}
    assert b12["valueQuantity"] == {"value": 180, "unit": "pmol/L",
                                    "system": "http://unitsofmeasure.org", "code": "pmol/L"}
    tsh = obs[2]["valueQuantity"]
    assert tsh["system"] == "http://unitsofmeasure.org" and tsh["code"] in ("u[IU]/mL",
                                                                            "m[IU]/L", "uIU/mL")
    # no confirmed LOINC code for active B12: it travels by name (an empty code is invalid)
    assert obs[3]["code"] == {"text": "Active vitamin B12 (holotranscobalamin)"}
    assert obs[4]["effectiveDateTime"] == "2026-10-01"


def test_follow_up_counts_and_treatments_are_exported(client: TestClient) -> None:
    res = [e["resource"] for e in _export(client)["entry"]]
    count = next(r for r in res if r["resourceType"] == "Observation"
                 and r["code"].get("coding", [{}])[0].get("code") == "hair_count_comb_60s")
    assert count["effectiveDateTime"] == "2026-10-08"
    assert count["valueQuantity"] == {"value": 85, "unit": "hairs",
                                      "system": "http://unitsofmeasure.org", "code": "{hairs}"}
    started = next(r for r in res if r["resourceType"] == "MedicationStatement"
                   and "effectivePeriod" in r)
    assert started["status"] == "active"
    assert started["effectivePeriod"] == {"start": "2026-10-08"}
    assert started["medicationCodeableConcept"]["text"] == "B12 injections"


@pytest.mark.parametrize(("unit", "code"), [("pmol/L", "14920-3"), ("ng/dL", "3024-7")])
def test_lab_loinc_follows_the_unit(client: TestClient, unit: str, code: str) -> None:
    # a molar result carries the [Moles/volume] code, a mass result the [Mass/volume] one
    case = {"format": "follicle-case/1", "age": 40, "sex": "female",
            "labs": [{"test": "free_t4", "value": 1.1 if unit == "ng/dL" else 14, "unit": unit}]}
    assert client.post("/api/v1/assess", json=case).json()["labs"][0]["loinc"] == code
    r = client.post("/api/v1/assessments", json=case).json()
    b = client.get(f"/api/v1/assessments/{r['id']}/fhir",
                   headers={"Authorization": f"Bearer {r['token']}"}).json()
    obs = next(e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Observation")
    assert obs["code"]["coding"][0]["code"] == code
    back = client.post("/api/v1/fhir/labs", json={"fhir": b}).json()
    assert back["labs"] == [{"test": "free_t4", "value": case["labs"][0]["value"], "unit": unit}]


def test_risk_assessment_probabilities(client: TestClient) -> None:
    bundle = _export(client)
    risk = next(e["resource"] for e in bundle["entry"]
                if e["resource"]["resourceType"] == "RiskAssessment")
    types = [p for p in risk["prediction"] if p.get("rationale", "").startswith("hair-loss")]
    assert len(types) == 8
    assert sum(p["probabilityDecimal"] for p in types) == pytest.approx(1, abs=1e-4)
    assert any(c["system"] == "http://snomed.info/sct"
               for p in types for c in p["outcome"]["coding"])


@pytest.mark.parametrize("fmt", ["fhir", "fhir-case"])
def test_questionnaires_are_valid_fhir_r4(client: TestClient, fmt: str) -> None:
    _valid(client.get(f"/api/v1/questionnaire?format={fmt}").json())


def test_exported_answers_match_the_case_questionnaire(client: TestClient) -> None:
    q = client.get("/api/v1/questionnaire?format=fhir-case").json()

    def link_ids(items: list[dict[str, Any]]) -> set[str]:
        return {i["linkId"] for i in items} | {x for i in items
                                               for x in link_ids(i.get("item", []))}

    known = link_ids(q["item"])
    qr = next(e["resource"] for e in _export(client)["entry"]
              if e["resource"]["resourceType"] == "QuestionnaireResponse")
    assert qr["questionnaire"] == q["url"]
    assert link_ids(qr["item"]) <= known and "hair.pattern" in link_ids(qr["item"])
    # every kind of case field is a question: numbers, yes/no, codes (a strict-typed field
    # once vanished from the Questionnaire unnoticed)
    assert {"age", "hair.duration_months", "hair.shedding", "history.pregnant",
            "history.event_months_ago", "history.diet"} <= known
    assert "age" in link_ids(qr["item"])


def test_round_trip_import_of_exported_labs(client: TestClient) -> None:
    bundle = _export(client)
    r = client.post("/api/v1/fhir/labs", json={
        "fhir": bundle, "case": {"format": "follicle-case/1", "sex": "male"}})
    assert r.status_code == 200, r.text
    body = r.json()
    # one result per test: the dated follow-up B12 replaces the undated baseline one
    assert [(x["test"], x["value"], x["unit"]) for x in body["labs"]] == [
        ("b12", 520, "ng/L"), ("mma", 0.5, "umol/L"), ("tsh", 2.1, "uIU/mL"),
        ("active_b12", 30, "pmol/L")]  # by name: it has no LOINC code
    assert any("older b12" in x["reason"] for x in body["skipped"])
    assert body["case"]["sex"] == "male" and len(body["case"]["labs"]) == 4
    assert client.post("/api/v1/assess", json=body["case"]).status_code == 200


def test_import_observations_list_and_skips(client: TestClient) -> None:
    obs = [
        {"resourceType": "Observation", "status": "final",
         "code": {"coding": [{"system": "http://loinc.org", "code": "2132-9"}]},
         "valueQuantity": {"value": 250, "system": "http://unitsofmeasure.org",
                           "code": "pg/mL"}},
        {"resourceType": "Observation", "status": "final",
         "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
         "valueQuantity": {"value": 70, "unit": "/min"}},
        {"resourceType": "Observation", "status": "final",
         "code": {"coding": [{"system": "http://loinc.org", "code": "2132-9"}]},
         "valueString": "low"},
    ]
    r = client.post("/api/v1/fhir/labs", json={"fhir": obs})
    assert r.status_code == 200
    assert r.json()["labs"] == [{"test": "b12", "value": 250, "unit": "pg/mL"}]
    assert [s["where"] for s in r.json()["skipped"]] == ["[1]", "[2]"]
    single = client.post("/api/v1/fhir/labs", json={"fhir": obs[0]})
    assert single.json()["labs"][0]["test"] == "b12"



def _b12_obs(value: float, **extra: Any) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2132-9"}]},
        "valueQuantity": {"value": value, "system": "http://unitsofmeasure.org",
                          "code": "pg/mL"}}
    for k, v in extra.items():
        if k == "comparator":
            obs["valueQuantity"]["comparator"] = v
        else:
            obs[k] = v
    return obs


def test_import_skips_retracted_results_limits_and_older_duplicates(client: TestClient
                                                                    ) -> None:
    obs = [_b12_obs(160, status="entered-in-error"),
           _b12_obs(150, comparator="<"),
           _b12_obs(600, effectiveDateTime="2025-01-01"),
           _b12_obs(150, effectiveDateTime="2026-05-01"),
           {"resourceType": "Patient"}]
    r = client.post("/api/v1/fhir/labs", json={"fhir": obs})
    assert r.status_code == 200, r.text
    assert r.json()["labs"] == [{"test": "b12", "value": 150, "unit": "pg/mL"}]
    reasons = {s["where"]: s["reason"] for s in r.json()["skipped"]}
    assert reasons["[0]"] == "status is entered-in-error"
    assert reasons["[1]"].startswith("value is a limit (< 150)")
    assert "older" in reasons["[2]"] and "Patient" in reasons["[4]"]

@pytest.mark.parametrize("bad", [
    {"resourceType": "Observation", "status": "final", "code": {"coding": "x"}},
    {"resourceType": "Observation", "status": "final", "code": {},
     "valueQuantity": {"value": "abc"}},
    {"resourceType": "NotAThing"},
    {"status": "final"},
])
def test_import_rejects_invalid_fhir(client: TestClient, bad: dict[str, Any]) -> None:
    r = client.post("/api/v1/fhir/labs", json={"fhir": bad})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_fhir"


def test_import_errors_name_the_full_field_path(client: TestClient) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": _b12_obs(200)}, {"resource": _b12_obs(210)}]}
    bundle["entry"][1]["resource"]["valueQuantity"]["value"] = "abc"
    r = client.post("/api/v1/fhir/labs", json={"fhir": bundle})
    assert r.status_code == 422, r.text
    fields = [d.get("field") for d in r.json()["error"]["details"]]
    assert fields == ["fhir.entry[1].resource.valueQuantity.value"]
    # a list of Observations: the index in the list, then the field inside the resource
    r = client.post("/api/v1/fhir/labs", json={"fhir": [_b12_obs(200), _b12_obs(200) | {
        "subject": {"reference": 7}}]})
    assert [d.get("field") for d in r.json()["error"]["details"]] == [
        "fhir[1].subject.reference"]
    # the merged case's errors are under `case`
    r = client.post("/api/v1/fhir/labs", json={"fhir": [_b12_obs(200)], "case": {
        "format": "follicle-case/1", "age": -3}})
    assert r.status_code == 422
    assert [d.get("field") for d in r.json()["error"]["details"]] == ["case.age"]


def test_import_keeps_the_laboratory_reference_range(client: TestClient) -> None:
    """For MMA the laboratory's own range is the reading NICE supports: it must survive."""
    obs = {"resourceType": "Observation", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "13964-2"}]},
           "valueQuantity": {"value": 350, "unit": "nmol/L",
                             "system": "http://unitsofmeasure.org", "code": "nmol/L"},
           "referenceRange": [{"low": {"value": 0, "unit": "nmol/L", "code": "nmol/L"},
                               "high": {"value": 280, "unit": "nmol/L", "code": "nmol/L"}}]}
    r = client.post("/api/v1/fhir/labs", json={"fhir": obs})
    assert r.status_code == 200, r.text
    assert r.json()["labs"] == [{"test": "mma", "value": 350, "unit": "nmol/L",
                                 "reference_range": [0, 280]}]
