"""Turn a validated case into finding keys (`pattern:diffuse`, `symptom:numbness`, ...).

Keys are the vocabulary the knowledge base reasons with (findings.yaml, b12.yaml,
triage.yaml); this module is the only place that knows how case fields map to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .case import CODES, Case, Medication
from .kb.loader import KnowledgeBase, medicine_names, nearest_medicine
from .kb.loader import unit_key as _unit
from .units import as_entered

__all__ = ["Features", "all_positive_keys", "extract"]

_HAIR_FLAGS = ("shedding", "broken_hairs", "exclamation_mark_hairs", "premature_greying",
               "family_history", "tension_hairstyles", "pulling_habit", "eyebrow_loss")
_HISTORY_FLAGS = ("pregnant", "breastfeeding", "recreational_nitrous_oxide", "heavy_periods",
                  "heavy_alcohol")
LATE_EVENT_MONTHS = 6.0
MINOXIDIL_EARLY_MONTHS = 4.0  # minoxidil's early shed: within its first 2-3 months of use
MACROCYTIC_MCV = 100.0  # fL: large red cells (Kaferle 2009)
AFTER_ONSET_MONTHS = 1.0  # started this long after the hair loss began: not its trigger
# medicine classes (medications.yaml) that can cause or worsen hair loss
_SHEDDING_CLASSES = frozenset({"hair_loss_drug", "retinoid", "anticoagulant", "antithyroid",
                               "androgen", "cytotoxic", "hormonal_contraception",
                               "endocrine_cancer_therapy", "glp1", "chemotherapy",
                               "checkpoint_inhibitor"})
# of those, the ones whose shedding starts within months of starting the medicine (not
# androgens, which worsen pattern loss at any time, nor the pill, whose trigger is stopping;
# nor hormone therapy for breast cancer, whose hair loss starts 1 to 91 months in
# (Freites-Martinez 2018), nor immunotherapy, whose patches can come at any time, nor
# methotrexate and other cell-suppressing medicines, whose thinning is dose-related and can
# come at any time on treatment, more so without folic acid (Kalb 2009))
_TIMED_CLASSES = _SHEDDING_CLASSES - {"androgen", "hormonal_contraception",
                                      "endocrine_cancer_therapy", "checkpoint_inhibitor",
                                      "cytotoxic"}


@dataclass(slots=True)
class Features:
    """What the engine knows about a case, in knowledge-base vocabulary."""

    keys: set[str]
    age: float | None
    sex: str | None
    hair: bool
    labs: dict[str, float] = field(default_factory=dict)  # canonical values, last one wins
    shown: dict[str, str] = field(default_factory=dict)  # test -> value as entered, for text
    med_months: dict[str, float | None] = field(default_factory=dict)  # class -> months
    med_names: dict[str, list[str]] = field(default_factory=dict)  # class -> names as typed
    unknown_medications: list[str] = field(default_factory=list)
    unused_labs: list[str] = field(default_factory=list)  # earlier results of a repeated test
    # (as typed, read as): a misspelt name taken to be the one known name a slip away
    guessed_medications: list[tuple[str, str]] = field(default_factory=list)
    group: str = "adult_female"


def _duration(months: float) -> str:
    if months < 3:
        return "short"
    if months < 6:
        return "medium"
    if months <= 12:
        return "long"
    return "very_long"


def _group(age: float | None, sex: str | None) -> str:
    if age is not None and age < 16:
        return "child"
    older = age is not None and age >= 50
    return f"{'older' if older else 'adult'}_{sex or 'female'}"


def extract(case: Case, kb: KnowledgeBase) -> Features:
    """Finding keys, lab values in canonical units, and medicine classes for a case."""
    keys: set[str] = set()
    add = keys.add
    hair = case.hair
    if hair is not None:
        if hair.onset:
            add(f"onset:{hair.onset}")
        if hair.duration_months is not None:
            add(f"duration:{_duration(hair.duration_months)}")
        for p in hair.pattern:
            add(f"pattern:{p}")
        if hair.pull_test:
            add(f"pull_test:{hair.pull_test}")
        for s in hair.scalp:
            add(f"scalp:{s}")
        for n in hair.nails:
            add(f"nails:{n}")
        for name in _HAIR_FLAGS:
            v = getattr(hair, name)
            if v is not None:
                add(f"{name}:{'yes' if v else 'no'}")
    h = case.history
    late = h.event_months_ago is not None and h.event_months_ago > LATE_EVENT_MONTHS
    for e in h.events:
        add(f"event_late:{e}" if late else f"event:{e}")
    if h.diet:
        add(f"diet:{h.diet}")
    for c in h.conditions:
        add(f"condition:{c}")
    for c in h.family_conditions:
        add(f"family_condition:{c}")
    for s in h.supplements:
        add(f"supplement:{s}")
    for name in _HISTORY_FLAGS:
        v = getattr(h, name)
        if v is not None:
            add(f"{name}:{'yes' if v else 'no'}")
    med_months: dict[str, float | None] = {}
    timed: list[float | None] = []  # months on each medicine of a timed class
    med_names: dict[str, list[str]] = {}
    unknown: list[str] = []
    guessed: list[tuple[str, str]] = []
    minoxidil_months: list[float | None] = []
    for m, known in _resolved(kb, h.medications, guessed, unknown):
        marked = kb.mark_keys.get(known, ())
        keys.update(marked)
        if "minoxidil:yes" in marked:
            minoxidil_months.append(m.months)
        classes = (kb.medications[known], *kb.medication_also.get(known, ()))
        if any(c in _TIMED_CLASSES for c in classes):
            timed.append(m.months)
        for cls in classes:
            if cls == "none":
                continue
            add(f"med:{cls}")
            med_names.setdefault(cls, []).append(m.name)
            prev = med_months.get(cls)
            med_months[cls] = m.months if prev is None else max(prev, m.months or 0)
    if minoxidil_months and (  # its early shed comes in the first months of use
            any(m is not None and m <= MINOXIDIL_EARLY_MONTHS for m in minoxidil_months)
            or ("event:started_new_medication" in keys
                and all(m is None for m in minoxidil_months))):
        add("minoxidil:started_recently")
    if (h.medications and not unknown and not (set(med_months) & _SHEDDING_CLASSES)
            and "minoxidil:yes" not in keys):  # minoxidil's early shed: its own finding
        add("med:no_hair_loss_drug")
    elif hair is not None and hair.duration_months is not None:
        # each medicine on its own: a new one is not hidden by an older one of its class
        if timed and all(m is not None and m - hair.duration_months > LATE_EVENT_MONTHS
                         for m in timed):
            add("med:started_long_before")
        elif timed and all(m is not None and hair.duration_months - m > AFTER_ONSET_MONTHS
                           for m in timed):
            add("med:started_after")
    for s in case.symptoms:
        add(f"symptom:{s}")
    labs: dict[str, float] = {}
    shown: dict[str, str] = {}
    unused_labs: list[str] = []
    for lab in case.labs:
        compiled = kb.labs[lab.test]
        key = _unit(lab.unit)
        if lab.test in shown:  # no dates: the last result listed is taken as the latest
            unused_labs.append(f"{compiled.definition.name} {shown[lab.test]}")
        labs[lab.test] = lab.value * compiled.factors[key]
        shown[lab.test] = as_entered(lab.value, lab.unit, labs[lab.test],
                                     compiled.definition.canonical)
        add(f"lab:{lab.test}")
    if case.age is not None and case.age < 16:
        add("child")
    if labs.get("mcv", 0.0) > MACROCYTIC_MCV:
        add("macrocytic")
    return Features(keys=keys, age=case.age, sex=case.sex, hair=hair is not None, labs=labs,
                    shown=shown,
                    med_months=med_months, med_names=med_names, unknown_medications=unknown,
                    unused_labs=unused_labs, guessed_medications=guessed,
                    group=_group(case.age, case.sex))




def _resolved(kb: KnowledgeBase, medications: tuple[Medication, ...],
              guessed: list[tuple[str, str]], unknown: list[str]
              ) -> list[tuple[Medication, str]]:
    """Each listed medicine with each known name it stands for (both parts of a
    combination); a near miss is read as the nearest name (into `guessed`), and a name
    not known at all goes to `unknown`."""
    out: list[tuple[Medication, str]] = []
    for m in medications:
        names = medicine_names(kb, m.name)
        if not names and (near := nearest_medicine(kb, m.name)) is not None:
            guessed.append((m.name, near))
            names = (near,)
        if not names:
            unknown.append(m.name)
        out += [(m, n) for n in names]
    return out


def all_positive_keys(kb: KnowledgeBase) -> list[str]:
    """Every key a case can produce that asserts something (used by `kb check`)."""
    keys = ["onset:sudden", "onset:gradual", "pull_test:positive", "pull_test:negative"]
    keys += [f"duration:{d}" for d in ("short", "medium", "long", "very_long")]
    keys += [f"pattern:{p}" for p in CODES["pattern"]]
    keys += [f"scalp:{s}" for s in CODES["scalp"]]
    keys += [f"nails:{n}" for n in CODES["nails"]]
    keys += [f"{f}:yes" for f in _HAIR_FLAGS + _HISTORY_FLAGS]
    keys += [f"event:{e}" for e in CODES["event"]]
    keys += [f"event_late:{e}" for e in CODES["event"]]
    keys += [f"diet:{d}" for d in CODES["diet"]]
    keys += [f"condition:{c}" for c in CODES["condition"]]
    keys += [f"family_condition:{c}" for c in CODES["condition"]]
    keys += [f"supplement:{s}" for s in CODES["supplement"]]
    keys += [f"symptom:{s}" for s in CODES["symptom"]]
    return keys
