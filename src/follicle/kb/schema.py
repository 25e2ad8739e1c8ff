"""Pydantic schemas of the knowledge files: strict, so a typo is an error, never ignored."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Evidence = Literal["measured", "derived", "expert_estimate", "computed"]
TriageLevel = Literal["routine", "soon", "urgent"]
B12Status = Literal["deficient", "indeterminate", "not_deficient", "untested"]
GROUPS = ("child", "adult_female", "adult_male", "older_female", "older_male")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Reference(Strict):
    id: str
    kind: Literal["guideline", "article", "review", "dataset", "book", "expert_estimate",
                  "computed"]
    citation: str
    pmid: str | None = None
    doi: str | None = None
    url: str | None = None
    section: str | None = None
    verified: Literal["primary", "secondary", "unverified"]

    @model_validator(mode="after")
    def _locatable(self) -> Reference:
        if self.kind != "expert_estimate" and not (self.pmid or self.doi or self.url):
            raise ValueError("a reference needs a pmid, doi or url")
        return self


class ReferencesFile(Strict):
    format: Literal["follicle-kb/references/1"]
    references: list[Reference]


class Sourced(Strict):
    """A number with its source."""

    ref: str
    evidence: Evidence = "expert_estimate"


class Prob(Sourced):
    p: float = Field(ge=0, le=1)


class Weight(Sourced):
    value: float = Field(gt=0)


class TypeRequirement(Strict):
    """A type that (almost) needs an exposure: without any of `any`, its likelihood is
    multiplied by `otherwise`, shown in explanations as `text`."""

    any: list[str]
    otherwise: float = Field(gt=0, lt=1)
    text: str
    ref: str
    evidence: Evidence


class BloodWorkup(Strict):
    """For whom blood tests for contributing causes (iron, thyroid, ...) help with a type."""

    sexes: list[Literal["female", "male"]]
    ref: str
    evidence: Evidence = "expert_estimate"


class TypeDef(Strict):
    id: str
    name: str
    plain: str
    snomed: str | None = None
    triage_soon_at: Prob | None = None
    requires: TypeRequirement | None = None
    blood_workup: BloodWorkup


class Priors(Sourced):
    groups: dict[str, dict[str, float]]

    @field_validator("groups")
    @classmethod
    def _groups(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        missing = set(GROUPS) - set(v)
        if missing:
            raise ValueError(f"missing groups: {', '.join(sorted(missing))}")
        for name, probs in v.items():
            if name not in GROUPS:
                raise ValueError(f"unknown group {name!r} (allowed: {', '.join(GROUPS)})")
            if any(p <= 0 for p in probs.values()):
                raise ValueError(f"group {name}: priors must be > 0")
        return v


class TypesFile(Strict):
    format: Literal["follicle-kb/types/1"]
    types: list[TypeDef]
    priors: Priors


class CausePrior(Sourced):
    child: float = Field(ge=0, lt=1)
    adult_female: float = Field(ge=0, lt=1)
    adult_male: float = Field(ge=0, lt=1)
    older_female: float = Field(ge=0, lt=1)
    older_male: float = Field(ge=0, lt=1)


class FromTypes(Sourced):
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    def weights(self) -> dict[str, float]:
        return {k: float(v) for k, v in (self.model_extra or {}).items()}


class CauseDef(Strict):
    id: str
    name: str
    plain: str
    prior: CausePrior | None = None
    from_types: FromTypes | None = None
    stake: Weight | None = None


class CausesFile(Strict):
    format: Literal["follicle-kb/causes/1"]
    causes: list[CauseDef]


class SourcedLR(Sourced):
    lr: float = Field(gt=0)


class FindingDef(Strict):
    key: str
    id: str | None = None
    only: dict[str, Any] | None = None
    text: str
    ref: str
    evidence: Evidence
    types: dict[str, float | SourcedLR] = Field(default_factory=dict)
    causes: dict[str, float | SourcedLR] = Field(default_factory=dict)
    article: str | None = None
    group: str | None = None  # findings that tell the same thing: only the strongest counts

    @field_validator("types", "causes")
    @classmethod
    def _positive(cls, v: dict[str, float | SourcedLR]) -> dict[str, float | SourcedLR]:
        for k, x in v.items():
            if isinstance(x, float | int) and x <= 0:
                raise ValueError(f"{k}: a likelihood ratio must be > 0")
        return v


class FindingsFile(Strict):
    format: Literal["follicle-kb/findings/1"]
    findings: list[FindingDef]


class Loinc(Strict):
    code: str
    display: str
    unit: str


class UnitDef(Strict):
    unit: str
    ucum: str
    factor: float | None = Field(default=None, gt=0)
    inverse_factor: float | None = Field(default=None, gt=0)
    ref: str

    @model_validator(mode="after")
    def _one_factor(self) -> UnitDef:
        if (self.factor is None) == (self.inverse_factor is None):
            raise ValueError("give exactly one of factor or inverse_factor")
        return self


class Range(Strict):
    min: float
    max: float
    ref: str


class Band(Strict):
    status: Literal["deficient", "indeterminate", "not_deficient"] | None = None
    below: float | None = None
    above: float | None = None
    from_: float | None = Field(default=None, alias="from")
    to: float | None = None
    p_present: float | None = Field(default=None, gt=0, le=1)
    p_absent: float | None = Field(default=None, gt=0, le=1)

    def bounds(self) -> tuple[float, float]:
        lo = self.from_ if self.from_ is not None else self.above
        hi = self.to if self.to is not None else self.below
        return (float("-inf") if lo is None else lo, float("inf") if hi is None else hi)

    def holds(self, value: float) -> bool:
        """Whether a guideline band contains the value: `below` and `above` are strict,
        `from`-`to` includes both ends, as NICE NG239 Table 1 prints its ranges."""
        if self.from_ is not None:
            lo, hi = self.bounds()
            return lo <= value <= hi
        if self.below is not None:
            return value < self.below
        return self.above is not None and value > self.above

    def span(self) -> str:
        """The band as printed: "below 180", "180-350", "above 350"."""
        if self.from_ is not None:
            lo, hi = self.bounds()
            return f"{lo:g}-{hi:g}"
        return f"below {self.below:g}" if self.below is not None else f"above {self.above:g}"


class GuidelineDef(Strict):
    id: str
    label: str
    primary: bool = False
    ref: str
    note: str | None = None
    bands: list[Band]


class InformsDef(Strict):
    target: str
    sex: Literal["female", "male"] | None = None
    ref: str
    evidence: Evidence
    note: str | None = None
    # the bands' likelihood ratios hold at this pre-test probability; away from it the
    # log-odds after the result follow the log-odds before it with this slope (a slope
    # below 1: a result moves a high pre-test less than the ratio says, as fitted in data)
    pretest_centre: float | None = Field(default=None, gt=0, lt=1)
    pretest_slope: float | None = Field(default=None, gt=0, le=1)
    bands: list[Band]


class CautionDef(Strict):
    when: str
    applies_to: Literal["reassuring", "alarming", "both"] = "both"
    posterior: bool = True
    # doubts an alarming status only for results at or above this (canonical unit): a
    # result far past the cut-off stands whatever the caution
    doubts_from: float | None = None
    factor: float = Field(gt=0, le=1)
    ref: str
    evidence: Evidence = "expert_estimate"  # the guideline gives the direction, not the size
    note: str

    def covers(self, value: float | None) -> bool:
        """Whether the caution applies to this result (canonical unit): every result, or
        with `doubts_from` only those at or above it (an unknown value: it applies)."""
        return self.doubts_from is None or value is None or value >= self.doubts_from


class LabDef(Strict):
    id: str
    follow_up_to: list[str] = Field(default_factory=list)
    first_line_when: list[str] = Field(default_factory=list)
    not_when: list[str] = Field(default_factory=list)  # not suggested when any is present
    suggest_when: dict[str, Any] | None = None  # with B12 untested: suggested only if it holds
    name: str
    plain: str
    loinc: list[Loinc]
    canonical: str
    units: list[UnitDef]
    plausible: Range
    guidelines: list[GuidelineDef]
    informs: list[InformsDef]
    caution: list[CautionDef] = Field(default_factory=list)


class LabsFile(Strict):
    format: Literal["follicle-kb/labs/1"]
    tests: list[LabDef]


class InsteadDef(Strict):
    """Another odds ratio for a risk factor when any of the keys is present too."""

    when_any: list[str]
    odds_ratio: float = Field(gt=0)
    ref: str
    evidence: Evidence
    note: str


class OddsRatioDef(Strict):
    key: str
    odds_ratio: float = Field(gt=0)
    instead: list[InsteadDef] = Field(default_factory=list)  # the first that applies wins
    ref: str
    evidence: Evidence
    why: str


class HairLossOR(Sourced):
    odds_ratio: float = Field(gt=0)
    why: str
    when_any: list[str] = Field(default_factory=list)  # applies only with one of these keys
    unless_any: list[str] = Field(default_factory=list)  # and none of these (other types)


class PerYear(Sourced):
    per_year_odds_ratio: float = Field(ge=1)
    max_years: float = Field(gt=0)


class Threshold(Sourced):
    at_least_months: float = Field(gt=0)
    odds_ratio: float = Field(ge=1)
    shorter_odds_ratio: float = Field(ge=1)


class Durations(Strict):
    metformin: PerYear
    ppi: Threshold
    h2ra: Threshold


class ExplainsTypes(Strict):
    """The hair-loss types a B12 deficiency can cause; for any other top type the answer
    says that treating B12 is unlikely to stop the hair loss."""

    types: list[str]
    ref: str
    evidence: Evidence = "expert_estimate"


class AnaemiaExplained(Strict):
    """When a low haemoglobin is explained by iron deficiency (low ferritin, red cells not
    large), it is not counted as a sign of B12 deficiency."""

    ferritin_below: float = Field(gt=0)  # ug/L
    mcv_at_most: float = Field(gt=0)  # fL
    conditions: list[str] = Field(default_factory=list)  # keys that explain it too (CKD)
    ref: str
    evidence: Evidence = "expert_estimate"
    note: str


class MacrocytosisExplained(Strict):
    """When large red cells have another cause (a measured folate deficiency, a medicine that
    enlarges them), the MCV (and with low folate the haemoglobin) is not counted for B12."""

    keys: list[str] = Field(default_factory=list)  # finding keys that explain them
    folate_low: bool = True  # a measured folate deficiency explains them (and the anaemia)
    ref: str
    evidence: Evidence = "expert_estimate"
    note: str


class B12File(Strict):
    format: Literal["follicle-kb/b12/1"]
    hair_loss: HairLossOR
    explains_types: ExplainsTypes
    anaemia_explained: AnaemiaExplained
    macrocytosis_explained: MacrocytosisExplained
    durations: Durations
    factors: list[OddsRatioDef]


class AgePoint(Strict):
    age: float
    female: float = Field(gt=0, lt=1)
    male: float = Field(gt=0, lt=1)


class PopFactor(Strict):
    odds_ratio: float = Field(gt=0)
    ci95: tuple[float, float]


class LRPoint(Strict):
    value: float
    lr: float = Field(gt=0)


class MCVCurve(Strict):
    unit: Literal["fL"]
    points: list[LRPoint]


class HbCurve(Strict):
    unit: Literal["g/L"]
    female: list[LRPoint]
    male: list[LRPoint]


class PopLabs(Strict):
    mcv: MCVCurve
    hemoglobin: HbCurve


class PopFactors(Strict):
    metformin: PopFactor
    ppi: PopFactor
    h2ra: PopFactor
    b12_supplement: PopFactor


class B12PopulationFile(Strict):
    format: Literal["follicle-kb/b12-population/1"]
    outcome: str
    ref: str
    evidence: Evidence
    n: int
    cases: int
    baseline: list[AgePoint]
    factors: PopFactors
    labs: PopLabs


class MedicineMark(Strict):
    names: list[str]
    ref: str


class MedicationsFile(Strict):
    format: Literal["follicle-kb/medications/1"]
    ref: str
    classes: dict[str, list[str]]
    brands: dict[str, str] = Field(default_factory=dict)  # brand name -> generic name
    # a medicine that belongs to further classes too: {generic name: [class, ...]}
    also: dict[str, list[str]] = Field(default_factory=dict)
    # marks across classes: {mark: {names, ref}}, e.g. medicines that harm an unborn baby
    marks: dict[str, MedicineMark] = Field(default_factory=dict)
    # finding keys a medicine name stands for: {generic name: [key, ...]}, e.g. nitrous
    # oxide listed as a medicine is recreational use
    keys: dict[str, list[str]] = Field(default_factory=dict)


class RuleDef(Strict):
    id: str
    level: TriageLevel
    when: dict[str, Any]
    reason: str
    action: str
    # what to do about this point without its timing: shown when a more urgent point sets
    # the timing (e.g. "Stop biotin before a repeat test"), where the action would clash
    advice: str | None = None
    ref: str
    evidence: Evidence = "expert_estimate"
    article: str | None = None
    supersedes: list[str] = Field(default_factory=list)
    tests: list[str] = Field(default_factory=list)  # work-up that comes first when it fires
    retest: list[str] = Field(default_factory=list)  # done tests to repeat first (unreliable)
    # nothing here calls for a test: only the tests another fired rule asks for are suggested
    no_tests: bool = False
    # its work-up is among the tests follicle ranks (B12, thyroid, blood count): the summary
    # can name the most useful next test; otherwise the doctor's own tests come first
    work_up_here: bool = False


class TriageFile(Strict):
    format: Literal["follicle-kb/triage/1"]
    red_flags: list[RuleDef]
    rules: list[RuleDef]
