"""The `follicle-case/1` input contract: a person's answers, history and lab results.

`parse_case(data)` validates a mapping and returns a frozen `Case`; `load_case(path)` reads
YAML or JSON first. Every error names the field path and, for a code, the allowed values.
A missing field means "not asked / unknown"; `false` means "asked, and no".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import CaseError, ErrorDetail, LabError, loc_path

__all__ = [
    "CODES",
    "LAB_UNITS",
    "Case",
    "Hair",
    "History",
    "Lab",
    "Medication",
    "load_case",
    "parse_case",
]

PATTERNS = ("diffuse", "patches", "temples_crown", "part_widening", "frontal_band", "margins",
            "irregular_patches", "total_scalp", "universal")
EVENTS = ("childbirth", "high_fever", "severe_illness", "covid19", "surgery", "crash_diet",
          "rapid_weight_loss", "severe_stress", "stopped_hormonal_contraception",
          "started_new_medication", "chemotherapy", "radiotherapy_head")
CONDITIONS = ("pernicious_anaemia", "autoimmune_thyroid", "hypothyroidism", "hyperthyroidism",
              "type1_diabetes", "vitiligo", "addisons", "crohns", "coeliac", "gastrectomy",
              "bariatric_surgery", "ileal_resection", "pcos", "lupus", "hiv",
              "iron_deficiency_anaemia", "anaemia", "atopy", "psoriasis",
              "seborrhoeic_dermatitis", "eating_disorder", "chronic_kidney_disease")
SYMPTOMS = ("fatigue", "breathlessness", "palpitations", "pale_skin", "sore_tongue",
            "mouth_ulcers", "pins_and_needles", "numbness", "balance_problems",
            "memory_problems", "low_mood", "vision_problems", "cold_intolerance",
            "heat_intolerance", "weight_gain", "weight_loss", "constipation", "tremor",
            "hirsutism", "acne", "irregular_periods", "deepening_voice", "fever",
            "night_sweats", "joint_pain", "facial_rash", "genital_sore", "swollen_glands",
            "brittle_nails", "restless_legs", "skin_darkening")
SCALP = ("itch", "scaling", "redness", "pain", "burning", "pustules", "scarring")
NAILS = ("pitting", "ridges", "brittle")
SUPPLEMENTS = ("b12", "iron", "multivitamin", "biotin", "vitamin_d", "zinc")
DIETS = ("omnivore", "pescatarian", "vegetarian", "vegan")
LAB_UNITS: dict[str, tuple[str, ...]] = {
    "b12": ("pg/mL", "ng/L", "pmol/L"),
    "active_b12": ("pmol/L",),
    "mma": ("umol/L", "nmol/L"),
    "homocysteine": ("umol/L",),
    "folate": ("ng/mL", "ug/L", "nmol/L"),
    "ferritin": ("ng/mL", "ug/L", "pmol/L"),
    "hemoglobin": ("g/dL", "g/L", "mmol/L"),
    "mcv": ("fL",),
    "tsh": ("mIU/L", "uIU/mL"),
    "free_t4": ("pmol/L", "ng/dL"),
    "vitamin_d": ("nmol/L", "ng/mL"),
    "zinc": ("umol/L", "ug/dL"),
    "testosterone": ("nmol/L", "ng/dL"),
}
CODES: dict[str, tuple[str, ...]] = {
    "pattern": PATTERNS, "event": EVENTS, "condition": CONDITIONS, "symptom": SYMPTOMS,
    "scalp": SCALP, "nails": NAILS, "supplement": SUPPLEMENTS, "diet": DIETS,
    "lab": tuple(LAB_UNITS),
    "type": ("androgenetic_alopecia", "telogen_effluvium", "alopecia_areata",
             "traction_alopecia", "trichotillomania", "tinea_capitis", "scarring_alopecia",
             "anagen_effluvium"),
    "cause": ("b12_deficiency", "iron_deficiency", "thyroid_disease", "vitamin_d_deficiency",
              "zinc_deficiency", "androgen_excess", "medication", "postpartum",
              "illness_or_surgery", "calorie_restriction", "psychological_stress",
              "chemotherapy", "autoimmune_disease"),
}

Pattern = Literal[PATTERNS]  # type: ignore[valid-type]
Event = Literal[EVENTS]  # type: ignore[valid-type]
Condition = Literal[CONDITIONS]  # type: ignore[valid-type]
Symptom = Literal[SYMPTOMS]  # type: ignore[valid-type]
Scalp = Literal[SCALP]  # type: ignore[valid-type]
Nail = Literal[NAILS]  # type: ignore[valid-type]
Supplement = Literal[SUPPLEMENTS]  # type: ignore[valid-type]
Diet = Literal[DIETS]  # type: ignore[valid-type]
LabTest = Literal["b12", "active_b12", "mma", "homocysteine", "folate", "ferritin",
                  "hemoglobin", "mcv", "tsh", "free_t4", "vitamin_d", "zinc", "testosterone"]

_ALLOWED_BY_FIELD = {
    "pattern": PATTERNS, "events": EVENTS, "conditions": CONDITIONS,
    "family_conditions": CONDITIONS, "symptoms": SYMPTOMS, "scalp": SCALP, "nails": NAILS,
    "supplements": SUPPLEMENTS, "diet": DIETS, "test": tuple(LAB_UNITS),
    "sex": ("female", "male"), "onset": ("sudden", "gradual"),
    "pull_test": ("positive", "negative"),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# JSON types as the spec gives them: a number is a number (an int is fine) and a yes/no is
# true or false; "34", "yes" or 1 are errors that name the field, never silently converted.
Num = Annotated[float, Field(strict=True)]
Flag = Annotated[bool, Field(strict=True)]


def _as_list(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


class Hair(_Strict):
    """The hair complaint. Its absence means the person has no hair complaint (screening)."""

    onset: Literal["sudden", "gradual"] | None = None
    duration_months: Num | None = Field(default=None, ge=0, le=1200)
    pattern: tuple[Pattern, ...] = ()
    shedding: Flag | None = None
    pull_test: Literal["positive", "negative"] | None = None
    broken_hairs: Flag | None = None
    exclamation_mark_hairs: Flag | None = None
    scalp: tuple[Scalp, ...] = ()
    nails: tuple[Nail, ...] = ()
    premature_greying: Flag | None = None
    family_history: Flag | None = None
    tension_hairstyles: Flag | None = None
    pulling_habit: Flag | None = None
    eyebrow_loss: Flag | None = None

    _lists = field_validator("pattern", "scalp", "nails", mode="before")(_as_list)


class Medication(_Strict):
    """A medicine by generic name; `months` is how long it has been taken."""

    name: str = Field(min_length=1, max_length=100)
    months: Num | None = Field(default=None, ge=0, le=1200)


class History(_Strict):
    events: tuple[Event, ...] = ()
    event_months_ago: Num | None = Field(default=None, ge=0, le=1200)
    diet: Diet | None = None
    conditions: tuple[Condition, ...] = ()
    family_conditions: tuple[Condition, ...] = ()
    medications: tuple[Medication, ...] = ()
    supplements: tuple[Supplement, ...] = ()
    pregnant: Flag | None = None
    breastfeeding: Flag | None = None
    recreational_nitrous_oxide: Flag | None = None
    heavy_periods: Flag | None = None
    heavy_alcohol: Flag | None = None

    _lists = field_validator("events", "conditions", "family_conditions", "supplements",
                             mode="before")(_as_list)

    @field_validator("medications", mode="before")
    @classmethod
    def _meds(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"name": m} if isinstance(m, str) else m for m in v]
        return v


class Lab(_Strict):
    """One lab result as reported: test code, value and unit (kept as given)."""

    test: LabTest
    value: Num
    unit: str = Field(min_length=1, max_length=20)
    reference_range: tuple[Num, Num] | None = None


class Case(_Strict):
    """A validated `follicle-case/1` document."""

    format: Literal["follicle-case/1"]
    id: str | None = Field(default=None, max_length=200)
    age: Num | None = Field(default=None, ge=0, le=120)
    sex: Literal["female", "male"] | None = None
    hair: Hair | None = None
    history: History = Field(default_factory=History)
    symptoms: tuple[Symptom, ...] = ()
    labs: tuple[Lab, ...] = ()

    _lists = field_validator("symptoms", mode="before")(_as_list)


def _detail(err: Any) -> ErrorDetail:
    loc = tuple(err["loc"])
    path = loc_path(loc)
    kind = err["type"]
    named = [p for p in loc if isinstance(p, str)]
    field_name = named[-1] if named else ""
    if kind == "literal_error":
        allowed = _ALLOWED_BY_FIELD.get(field_name, ())
        if field_name == "format":
            return ErrorDetail("must be 'follicle-case/1'", path)
        value = err.get("input")
        return ErrorDetail(f"unknown code {value!r}", path, tuple(allowed))
    if kind == "extra_forbidden":
        return ErrorDetail("unknown field", path)
    if kind == "missing":
        return ErrorDetail("required field is missing", path)
    return ErrorDetail(err["msg"], path)


def parse_case(data: Any) -> Case:
    """Validate a `follicle-case/1` mapping (or pass through a Case); raise CaseError."""
    if isinstance(data, Case):
        return data
    if not isinstance(data, dict):
        raise CaseError("a case must be a mapping with 'format: follicle-case/1'")
    try:
        case = Case.model_validate(data)
    except ValidationError as exc:
        details = [_detail(e) for e in exc.errors()]
        if any(d.path.startswith("labs") for d in details):
            raise LabError(details) from None
        raise CaseError(details) from None
    problems = _contradictions(case)
    if problems:
        raise CaseError(problems)
    from .units import check_labs

    check_labs(case)
    return case


def _contradictions(case: Case) -> list[ErrorDetail]:
    """Answers that cannot all be true: a pregnancy, birth or breastfeeding with sex 'male'
    (sex at birth) or outside the ages of childbearing, and times longer than the person's
    life. Each would change the answer (pregnancy red flags, shedding after a birth), so
    they are errors that name the field, never silently used or dropped."""
    out: list[ErrorDetail] = []
    h = case.history
    births = [f"history.{k}" for k, v in (("pregnant", h.pregnant),
                                          ("breastfeeding", h.breastfeeding)) if v]
    births += [f"history.events[{i}]" for i, e in enumerate(h.events) if e == "childbirth"]
    for path in births:
        if case.sex == "male":
            out.append(ErrorDetail("not possible with sex 'male' (sex at birth)", path))
        elif case.age is not None and not 9 <= case.age <= 65:
            out.append(ErrorDetail(f"not possible at age {case.age:g}", path))
    if case.age is not None:
        life = (case.age + 1) * 12  # an age in whole years: up to the next birthday
        timed = [("hair.duration_months", case.hair.duration_months if case.hair else None),
                 ("history.event_months_ago", h.event_months_ago)]
        timed += [(f"history.medications[{i}].months", m.months)
                  for i, m in enumerate(h.medications)]
        for path, months in timed:
            if months is not None and months > life:
                out.append(ErrorDetail(f"{months:g} months is longer than the person's age "
                                       f"({case.age:g} years)", path))
    return out


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:  # JSON would keep the last silently
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def load_case(path: str | Path, text: str | None = None) -> Case:
    """Read a YAML or JSON case file (or the given text) and validate it."""
    import yaml

    from .kb.source import load_yaml_text

    p = Path(path)
    if text is None:
        try:
            text = p.read_text(encoding="utf-8-sig")  # a byte-order mark is fine
        except OSError as exc:
            raise CaseError(f"cannot read {p}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise CaseError(f"{p.name}: not UTF-8 text (save the file as UTF-8)") from None
    try:
        data = (json.loads(text, object_pairs_hook=_no_repeats) if p.suffix.lower() == ".json"
                else load_yaml_text(text))
    except (json.JSONDecodeError, yaml.YAMLError, ValueError) as exc:
        raise CaseError(f"{p.name}: not valid YAML/JSON: {exc}".splitlines()[0]) from None
    if isinstance(data, dict) and "case" in data and "format" not in data:
        data = data["case"]  # a vignette file: use its case
    return parse_case(data)
