"""FHIR R4B interoperability: export a saved assessment, import lab results.

`export_bundle(saved)` gives a `collection` Bundle with an anonymous Patient (no names or
identifiers), the QuestionnaireResponse of the case answers, one Observation per lab line
(LOINC code, UCUM unit), the follow-up hair counts (Observations) and treatment changes
(MedicationStatements), and a RiskAssessment with the probabilities. Every resource is
validated with `fhir.resources` (R4B) before it leaves. `labs_from_fhir(data)` turns a
Bundle, an Observation or a list of Observations into `follicle-case/1` lab lines.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
import uuid
from typing import TYPE_CHECKING, Any, Literal

from .errors import CaseError, ErrorDetail, join_path, loc_path

if TYPE_CHECKING:
    from .storage import SavedAssessment

__all__ = [
    "QUESTIONNAIRE_URL",
    "FhirError",
    "export_bundle",
    "labs_from_fhir",
    "questionnaire",
]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
CODES = "urn:follicle:codes"
QUESTIONNAIRE_URL = "urn:follicle:questionnaire:follicle-case-1"
QUIZ_URL = "urn:follicle:questionnaire:quiz"


class FhirError(CaseError):
    """A FHIR document to import is not valid FHIR R4B, or has nothing usable."""

    code = "invalid_fhir"


def _validate(resource: dict[str, Any]) -> dict[str, Any]:
    """Validate one resource with fhir.resources R4B; return its JSON form."""
    from fhir.resources.R4B import get_fhir_model_class

    cls = get_fhir_model_class(resource["resourceType"])
    model = cls.model_validate(resource)
    out: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return out


# -- the quiz questionnaire (follicle.questionnaire, the questions people are asked) ------

def quiz_json() -> dict[str, Any]:
    """The quiz questions as JSON: ids, wording, help, answer options, skip logic."""
    from .questionnaire import load_questionnaire

    q = load_questionnaire()
    questions = []
    for qu in q.questions:
        item: dict[str, Any] = {"id": qu.id, "text": qu.text, "help": qu.help,
                                "type": qu.type, "skip": qu.skip}
        if qu.options:
            item["options"] = [{"value": o.value, "label": o.label,
                                **({"show_if": dict(o.show_if)} if o.show_if else {})}
                               for o in qu.options]
        if qu.none:
            item["none"] = qu.none
        if qu.show_if:
            item["show_if"] = dict(qu.show_if)
        for key in ("field", "min", "max", "step", "unit"):
            if getattr(qu, key) is not None:
                item[key] = getattr(qu, key)
        questions.append(item)
    return {"format": "follicle-questionnaire/1", "version": q.version,
            "essentials": list(q.essentials), "max_questions": q.max_questions,
            "case_format": "follicle-case/1", "questions": questions}


def quiz_questionnaire() -> dict[str, Any]:
    """The quiz as a FHIR R4B Questionnaire (validated). Skip logic is left to the
    adaptive quiz (it is not expressible as enableWhen); every item is optional."""
    from ._version import __version__

    items = []
    for qu in quiz_json()["questions"]:
        item: dict[str, Any] = {"linkId": qu["id"], "text": qu["text"], "required": False}
        if qu["type"] == "number":
            item["type"] = "decimal"
        else:
            item["type"] = "choice"
            item["repeats"] = qu["type"] == "multi"
            item["answerOption"] = [{"valueCoding": {
                "system": f"{CODES}:quiz:{qu['id']}", "code": o["value"],
                "display": o["label"]}} for o in qu.get("options", [])]
        if qu.get("help"):
            item["item"] = [{"linkId": f"{qu['id']}.help", "type": "display",
                             "text": qu["help"]}]
        items.append(item)
    return _validate({
        "resourceType": "Questionnaire", "id": "follicle-quiz", "url": QUIZ_URL,
        "version": __version__, "name": "FollicleQuiz",
        "title": "follicle: is my hair loss caused by vitamin B12 deficiency?",
        "status": "active", "subjectType": ["Patient"], "item": items,
    })


# -- the case questionnaire (derived from the case format, linkId = case field path) ------

def _item_for(path: str, annotation: Any) -> dict[str, Any] | None:
    from pydantic import BaseModel

    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:  # e.g. strict numbers and yes/no fields
        return _item_for(path, args[0])
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _item_for(path, inner[0]) if len(inner) == 1 else None
    text = path.split(".")[-1].replace("_", " ")
    item: dict[str, Any] = {"linkId": path, "text": text}
    if origin is tuple or origin is list:
        inner_t = args[0]
        if isinstance(inner_t, type) and issubclass(inner_t, BaseModel):
            return None  # medications, labs: not part of the questionnaire
        sub = _item_for(path, inner_t)
        if sub is None:
            return None
        sub["repeats"] = True
        return sub
    if origin is Literal:
        item["type"] = "choice"
        item["answerOption"] = [{"valueCoding": {"system": f"{CODES}:{path}", "code": str(a)}}
                                for a in args]
        return item
    if annotation is bool:
        item["type"] = "boolean"
    elif annotation in (float, int):
        item["type"] = "decimal"
    elif annotation is str:
        item["type"] = "string"
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        children = [c for name, f in annotation.model_fields.items()
                    if (c := _item_for(f"{path}.{name}", f.annotation)) is not None]
        item["type"] = "group"
        item["item"] = children
    else:
        return None
    return item


def questionnaire() -> dict[str, Any]:
    """The case questions as a FHIR R4B Questionnaire (validated)."""
    from ._version import __version__
    from .case import Case

    items = [it for name, f in Case.model_fields.items() if name not in ("format", "id")
             if (it := _item_for(name, f.annotation)) is not None]
    return _validate({
        "resourceType": "Questionnaire", "id": "follicle-case-1", "url": QUESTIONNAIRE_URL,
        "version": __version__, "name": "FollicleCase", "title": "follicle hair-loss case",
        "status": "active", "subjectType": ["Patient"], "item": items,
    })


def _answers(path: str, value: Any, q: dict[str, Any]) -> list[dict[str, Any]]:
    values = value if isinstance(value, list) else [value]
    out: list[dict[str, Any]] = []
    for v in values:
        if q["type"] == "choice":
            out.append({"valueCoding": {"system": f"{CODES}:{path}", "code": str(v)}})
        elif q["type"] == "boolean":
            out.append({"valueBoolean": bool(v)})
        elif q["type"] == "decimal":
            out.append({"valueDecimal": float(v)})
        else:
            out.append({"valueString": str(v)})
    return out


def _qr_items(data: dict[str, Any], q_items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for q in q_items:
        key = q["linkId"].split(".")[-1]
        value = data.get(key)
        if value is None or value == [] or value == ():
            continue
        if q["type"] == "group":
            if isinstance(value, dict) and (children := _qr_items(value, q["item"])):
                out.append({"linkId": q["linkId"], "item": children})
            continue
        out.append({"linkId": q["linkId"], "answer": _answers(q["linkId"], value, q)})
    return out


# -- export --------------------------------------------------------------------------

def _lab_observation(lab: dict[str, Any], patient: str, when: str | None) -> dict[str, Any]:
    from .kb.loader import load_kb, unit_key

    compiled = load_kb().labs[lab["test"]]
    d = compiled.definition
    ucum = next((u.ucum for u in d.units if unit_key(u.unit) == unit_key(lab["unit"])),
                lab["unit"])
    loinc = compiled.loinc.get(unit_key(lab["unit"]), d.loinc[0])
    obs: dict[str, Any] = {
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "laboratory"}]}],
        # a test with no confirmed LOINC code (active B12) travels by its name only: an
        # empty code is not valid FHIR
        "code": ({"coding": [{"system": LOINC, "code": loinc.code, "display": loinc.display}],
                  "text": d.name} if loinc.code else {"text": d.name}),
        "subject": {"reference": patient},
        "valueQuantity": {"value": lab["value"], "unit": lab["unit"], "system": UCUM,
                          "code": ucum},
    }
    if when:
        obs["effectiveDateTime"] = when
    rr = lab.get("reference_range")
    if rr:
        obs["referenceRange"] = [{
            "low": {"value": rr[0], "unit": lab["unit"], "system": UCUM, "code": ucum},
            "high": {"value": rr[1], "unit": lab["unit"], "system": UCUM, "code": ucum}}]
    return obs


def _hair_count_observation(count: dict[str, Any], patient: str, when: str
                            ) -> dict[str, Any]:
    """A follow-up hair count (no LOINC code exists for it: follicle's own code)."""
    method = count["method"]
    text = ("Hairs shed in a 60-second comb count" if method == "comb_60s"
            else "Hairs collected after a shower")
    return {
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "exam"}]}],
        "code": {"coding": [{"system": f"{CODES}:followup", "code": f"hair_count_{method}",
                             "display": text}], "text": text},
        "subject": {"reference": patient}, "effectiveDateTime": when,
        "valueQuantity": {"value": count["count"], "unit": "hairs", "system": UCUM,
                          "code": "{hairs}"},
    }


def _treatment_statement(treatment: dict[str, Any], patient: str, when: str
                         ) -> dict[str, Any]:
    """A follow-up treatment change: started (active) or stopped, from that date."""
    from .tracker import TREATMENT_LABELS

    started = treatment["action"] == "started"
    period = {"start": when} if started else {"end": when}
    return {
        "resourceType": "MedicationStatement", "status": "active" if started else "stopped",
        "medicationCodeableConcept": {
            "coding": [{"system": f"{CODES}:treatment", "code": treatment["name"]}],
            "text": TREATMENT_LABELS[treatment["name"]]},
        "subject": {"reference": patient}, "effectivePeriod": period, "dateAsserted": when,
    }


def export_bundle(saved: SavedAssessment) -> dict[str, Any]:
    """A FHIR R4B `collection` Bundle of a saved assessment (validated)."""
    from .kb.loader import load_kb

    kb = load_kb(saved.assessment.get("kb_version") or None)
    ns = uuid.UUID(int=int(saved.id, 16)) if len(saved.id) == 32 else uuid.uuid4()

    def urn(name: str) -> str:
        return f"urn:uuid:{uuid.uuid5(ns, name)}"

    case, a = saved.case, saved.assessment
    patient_ref = urn("patient")
    patient: dict[str, Any] = {"resourceType": "Patient"}
    if case.get("sex") in ("female", "male"):
        patient["gender"] = case["sex"]
    entries: list[tuple[str, dict[str, Any]]] = [(patient_ref, patient)]
    q = questionnaire()
    authored = saved.created_at.isoformat()
    qr_ref = urn("questionnaire-response")
    entries.append((qr_ref, {
        "resourceType": "QuestionnaireResponse", "questionnaire": QUESTIONNAIRE_URL,
        "status": "completed", "subject": {"reference": patient_ref}, "authored": authored,
        "item": _qr_items(case, q["item"]),
    }))
    basis = [{"reference": qr_ref}]
    for i, med in enumerate((case.get("history") or {}).get("medications") or []):
        ref = urn(f"medication-{i}")
        statement: dict[str, Any] = {
            "resourceType": "MedicationStatement", "status": "active",
            "medicationCodeableConcept": {"text": med["name"]},
            "subject": {"reference": patient_ref}, "dateAsserted": authored}
        if med.get("months") is not None:
            statement["note"] = [{"text": f"taken for {float(med['months']):g} months"}]
        entries.append((ref, statement))
        basis.append({"reference": ref})
    for i, lab in enumerate(case.get("labs") or []):
        ref = urn(f"lab-{i}")
        entries.append((ref, _lab_observation(lab, patient_ref, None)))
        basis.append({"reference": ref})
    for j, fu in enumerate(saved.followups):
        for i, lab in enumerate(fu.get("labs") or []):
            ref = urn(f"followup-{j}-lab-{i}")
            entries.append((ref, _lab_observation(lab, patient_ref, fu["date"])))
        if fu.get("hair_count"):
            entries.append((urn(f"followup-{j}-hair-count"),
                            _hair_count_observation(fu["hair_count"], patient_ref, fu["date"])))
        if fu.get("treatment"):
            entries.append((urn(f"followup-{j}-treatment"),
                            _treatment_statement(fu["treatment"], patient_ref, fu["date"])))
    snomed = {t.id: t.snomed for t in kb.types}
    predictions = []
    for t in a.get("hair_loss_types", []):
        coding = [{"system": f"{CODES}:type", "code": t["id"]}]
        if snomed.get(t["id"]):
            coding.insert(0, {"system": SNOMED, "code": snomed[t["id"]]})
        predictions.append({"outcome": {"coding": coding, "text": t.get("name", t["id"])},
                            "probabilityDecimal": t["probability"],
                            "rationale": "hair-loss type (probabilities sum to 1)"})
    for c in a.get("contributing_causes", []):
        predictions.append({
            "outcome": {"coding": [{"system": f"{CODES}:cause", "code": c["id"]}],
                        "text": c.get("name", c["id"])},
            "probabilityDecimal": c["probability"],
            "rationale": "contributing cause (not exclusive)"})
    b12 = a.get("b12") or {}
    if "probability" in b12:
        predictions.append({
            "outcome": {"coding": [{"system": f"{CODES}:b12", "code": "b12_deficiency"}],
                        "text": f"vitamin B12 deficiency (status: {b12.get('status')})"},
            "probabilityDecimal": b12["probability"]})
    entries.append((urn("risk-assessment"), {
        "resourceType": "RiskAssessment", "status": "final",
        "subject": {"reference": patient_ref}, "occurrenceDateTime": authored,
        "method": {"coding": [{"system": f"{CODES}:engine",
                               "code": f"follicle-kb-{a.get('kb_version', '')}"}],
                   "text": "follicle assessment engine"},
        "basis": basis, "prediction": predictions,
        "note": [{"text": "Decision support only; not a diagnosis."}],
    }))
    bundle = {
        "resourceType": "Bundle", "type": "collection",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "entry": [{"fullUrl": ref, "resource": res} for ref, res in entries],
    }
    return _validate(bundle)


# -- import --------------------------------------------------------------------------

def _observations(data: Any) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(data, list):
        return [(f"[{i}]", r) for i, r in enumerate(data)]
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        return [(f"entry[{i}].resource", e.get("resource") or {})
                for i, e in enumerate(data.get("entry") or []) if isinstance(e, dict)]
    return [("", data)]


def labs_from_fhir(data: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Lab lines from a Bundle, an Observation or a list of Observations.

    Returns (labs, skipped); each skipped item names where it was and why. Raises
    FhirError when the input is not valid FHIR R4B.
    """
    from pydantic import ValidationError

    from .kb.loader import load_kb, unit_key

    kb = load_kb()
    by_loinc = {lc.code: test for test, lab in kb.labs.items() for lc in lab.definition.loinc
                if lc.code}
    by_name = {lab.definition.name.lower(): test for test, lab in kb.labs.items()}
    problems: list[ErrorDetail] = []
    resources = _observations(data)
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        targets: list[tuple[str, Any]] = [("", data)]
    else:
        targets = list(resources)
    for where, res in targets:
        if not isinstance(res, dict) or "resourceType" not in res:
            problems.append(ErrorDetail("not a FHIR resource (no resourceType)", where))
            continue
        try:
            _validate(res)
        except ValidationError as exc:
            problems += [ErrorDetail(f"not valid FHIR R4B: {e['msg']}"[:300],
                                     join_path(where, loc_path(e["loc"])))
                         for e in exc.errors(include_url=False)[:20]]
        except (ValueError, KeyError, LookupError) as exc:
            msg = str(exc).splitlines()
            problems.append(ErrorDetail(f"not valid FHIR R4B: {msg[0] if msg else exc}"[:300],
                                        where))
    if problems:
        raise FhirError(problems)
    labs: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    latest: dict[str, tuple[str, int]] = {}  # test -> (effective date, index in labs)
    for where, res in resources:
        if res.get("resourceType") != "Observation":
            skipped.append({"where": where,
                            "reason": f"not an Observation ({res.get('resourceType')})"})
            continue
        if res.get("status") in ("entered-in-error", "cancelled"):
            skipped.append({"where": where, "reason": f"status is {res['status']}"})
            continue
        codes = [c.get("code") for c in (res.get("code") or {}).get("coding") or []
                 if c.get("system") == LOINC]
        test = next((by_loinc[c] for c in codes if c in by_loinc), None)
        if test is None and not codes:  # no LOINC code at all: the name follicle exports
            test = by_name.get(str((res.get("code") or {}).get("text") or "").lower())
        if test is None:
            skipped.append({"where": where, "reason": "no LOINC code follicle knows"})
            continue
        q = res.get("valueQuantity")
        if not q or q.get("value") is None:
            skipped.append({"where": where, "reason": "no valueQuantity"})
            continue
        if q.get("comparator"):
            skipped.append({"where": where, "reason": f"value is a limit ({q['comparator']} "
                            f"{q['value']}), not a measured result"})
            continue
        units = kb.labs[test].definition.units
        unit = next((u.unit for u in units if q.get("system") == UCUM
                     and q.get("code") == u.ucum), None)
        if unit is None:
            unit = next((u.unit for u in units
                         if unit_key(u.unit) == unit_key(str(q.get("unit") or q.get("code")))),
                        None)
        if unit is None:
            skipped.append({"where": where, "reason": f"unit not accepted for {test}"})
            continue
        line: dict[str, Any] = {"test": test, "value": float(q["value"]), "unit": unit}
        rr = (res.get("referenceRange") or [{}])[0]
        low, high = (rr.get("low") or {}).get("value"), (rr.get("high") or {}).get("value")
        if low is not None and high is not None and (rr.get("high") or {}).get(
                "code", q.get("code")) == q.get("code"):  # the laboratory's range, same unit
            line["reference_range"] = [float(low), float(high)]
        from .units import to_canonical

        rng = kb.labs[test].definition.plausible
        if not rng.min <= to_canonical(test, line["value"], unit) <= rng.max:
            skipped.append({"where": where, "reason": "value outside what a lab reports"})
            continue
        when = str(res.get("effectiveDateTime") or res.get("issued") or "")
        if test in latest:  # one result per test: the most recent one counts
            prev_when, i = latest[test]
            if when and (not prev_when or when > prev_when):
                skipped.append({"where": labs[i]["_where"],
                                "reason": f"an older {test} result; the newer one is used"})
                labs[i] = {**line, "_where": where}
                latest[test] = (when, i)
            else:
                skipped.append({"where": where,
                                "reason": f"another {test} result is newer or equally recent"})
            continue
        latest[test] = (when, len(labs))
        labs.append({**line, "_where": where})
    for lab in labs:
        del lab["_where"]
    return labs, skipped
