"""How likely a true vitamin B12 deficiency is, and what the labs say by guideline.

Pre-test: the NHANES-derived population probability for age and sex, times the odds
ratios of each risk factor present (b12.yaml), times the blood-count likelihood ratios.
Post-test: times the likelihood ratio of each B12 lab band (labs.yaml). The status comes
from the guideline bands alone (NICE NG239 first), never from the probability.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import NamedTuple

from ..features import Features
from ..kb.loader import KnowledgeBase
from ..kb.schema import LRPoint
from .tables import tables

__all__ = ["B12Result", "Contribution", "Interpretation", "assess_b12", "logit", "sigmoid"]

B12_TESTS = ("b12", "active_b12", "mma", "homocysteine")
N2O = "recreational_nitrous_oxide:yes"


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


class Contribution(NamedTuple):
    """One thing that moved a probability: its odds multiplier and its source."""

    source: str
    text: str
    factor: float
    ref: str
    evidence: str
    kind: str  # baseline | risk_factor | symptom | blood_count | lab | finding | prior


class Interpretation(NamedTuple):
    """One B12-related lab read against one guideline."""

    test: str
    guideline: str
    label: str
    status: str
    ref: str
    primary: bool


@dataclass(slots=True)
class B12Result:
    status: str
    probability: float
    pretest: float
    decided_by: Interpretation | None
    interpretations: list[Interpretation]
    contributions: list[Contribution]
    notes: list[str] = field(default_factory=list)


def _interp_points(points: list[LRPoint], x: float) -> float:
    """log(LR) interpolated linearly in x between points; clamped outside."""
    if x <= points[0].value:
        return math.log(points[0].lr)
    for a, b in itertools.pairwise(points):
        if x <= b.value:
            t = (x - a.value) / (b.value - a.value)
            return (1 - t) * math.log(a.lr) + t * math.log(b.lr)
    return math.log(points[-1].lr)


def baseline(kb: KnowledgeBase, age: float | None, sex: str | None) -> float:
    """Population probability of deficiency for an age and sex (logit-interpolated)."""
    t = tables(kb)
    ages = t.baseline_ages
    a = 45.0 if age is None else age

    def at(s: str) -> float:
        ys = t.baseline_logits[s]
        if a <= ages[0]:
            return ys[0]
        for i in range(1, len(ages)):
            if a <= ages[i]:
                x0, x1, y0 = ages[i - 1], ages[i], ys[i - 1]
                return y0 + (a - x0) / (x1 - x0) * (ys[i] - y0)
        return ys[-1]

    if sex in ("female", "male"):
        return sigmoid(at(sex))
    return sigmoid((at("female") + at("male")) / 2)


def _band_status(kb: KnowledgeBase, test: str, value: float) -> list[Interpretation]:
    out = []
    for g in kb.labs[test].definition.guidelines:
        for band in g.bands:
            if band.holds(value):
                out.append(Interpretation(test, g.id, g.label, band.status or "", g.ref,
                                          g.primary))
                break
    return out


def _mma_status(kb: KnowledgeBase, value: float, upper: float | None) -> Interpretation:
    g = kb.labs["mma"].definition.guidelines[0]
    if upper is not None:
        status = "deficient" if value > upper else "not_deficient"
        return Interpretation("mma", "lab_reference_range",
                              "Laboratory reference range (above its upper limit = raised)",
                              status, g.ref, True)
    return _band_status(kb, "mma", value)[0]


def _who(age: float | None, sex: str | None) -> str:
    if age is not None and age < 16:  # a parent may be reading
        young = "a teenager" if age >= 13 else "a child"
        return f"{young} of this age and sex" if sex else f"{young} of this age"
    if age is not None:
        return "your age and sex" if sex else "your age"
    return "adults of your sex (age not given)" if sex else "adults (age and sex not given)"


def assess_b12(f: Features, kb: KnowledgeBase,
               reference_upper: dict[str, float] | None = None) -> B12Result:
    """The B12 block of an assessment: status, probability and why."""
    contribs: list[Contribution] = []
    keys = f.keys
    p0 = baseline(kb, f.age, f.sex)
    contribs.append(Contribution(
        "baseline", f"Typical for {_who(f.age, f.sex)}: "
        f"{p0:.1%} of people have a B12 deficiency", p0, kb.population.ref,
        kb.population.evidence, "baseline"))
    x = logit(p0)
    b12 = kb.b12
    pop = kb.population.factors
    fits = ((not b12.hair_loss.when_any or any(k in keys for k in b12.hair_loss.when_any))
            and not any(k in keys for k in b12.hair_loss.unless_any))
    if f.hair and fits:
        x += math.log(b12.hair_loss.odds_ratio)
        contribs.append(Contribution("hair_loss", b12.hair_loss.why, b12.hair_loss.odds_ratio,
                                     b12.hair_loss.ref, b12.hair_loss.evidence,
                                     "risk_factor"))

    def add(source: str, text: str, factor: float, ref: str, evidence: str, kind: str) -> None:
        nonlocal x
        if factor == 1.0:
            return
        x += math.log(factor)
        contribs.append(Contribution(source, text, factor, ref, evidence, kind))

    months = f.med_months
    if "metformin" in months:
        m = months["metformin"]
        if m is not None:
            d = b12.durations.metformin
            years = min(m / 12.0, d.max_years)
            add("med:metformin", f"Metformin for {m:g} months lowers B12 absorption; "
                f"the odds rise {d.per_year_odds_ratio:g}-fold per year of use",
                max(1.0, d.per_year_odds_ratio ** years), d.ref, d.evidence, "risk_factor")
        else:
            add("med:metformin", "Metformin lowers B12 absorption",
                max(1.0, pop.metformin.odds_ratio), kb.population.ref,
                kb.population.evidence, "risk_factor")
    for cls, name in (("ppi", "A proton pump inhibitor"), ("h2ra", "An H2 blocker")):
        if cls in months:
            m = months[cls]
            t = getattr(b12.durations, cls)
            if m is not None:
                long_use = m >= t.at_least_months
                orv = t.odds_ratio if long_use else t.shorter_odds_ratio
                add(f"med:{cls}", f"{name} for {m:g} months reduces the stomach acid needed "
                    f"to absorb B12{' (2 years or more)' if long_use else ''}", orv, t.ref,
                    t.evidence, "risk_factor")
            else:
                add(f"med:{cls}", f"{name} reduces the stomach acid needed to absorb B12",
                    max(1.0, getattr(pop, cls).odds_ratio, t.shorter_odds_ratio),
                    t.ref, t.evidence, "risk_factor")
    # B12 treatment (injections, high-dose tablets) ticked as a supplement too: counted
    # once, as the treatment (b12.yaml), whose effect is the stronger
    if "supplement:b12" in keys and "med:b12_treatment" not in keys:
        add("supplement:b12", "Takes a B12 supplement", pop.b12_supplement.odds_ratio,
            kb.population.ref, kb.population.evidence, "risk_factor")
    for key in sorted(keys):
        fac = kb.b12_factors.get(key)
        if fac is not None:
            kind = "symptom" if key.startswith("symptom:") else "risk_factor"
            alt = next((i for i in fac.instead if any(k in keys for k in i.when_any)),
                       None) if fac.instead else None
            if alt is None:
                add(key, fac.why, fac.odds_ratio, fac.ref, fac.evidence, kind)
            else:  # e.g. a vegan taking B12; nitrous oxide with nerve symptoms
                add(key, f"{fac.why} ({alt.note})", alt.odds_ratio, alt.ref, alt.evidence,
                    kind)

    labs = f.labs
    curves = kb.population.labs
    notes: list[str] = []
    macro = b12.macrocytosis_explained
    folate_low = macro.folate_low and "folate" in labs and _folate_deficient(kb, labs["folate"])
    iron = b12.anaemia_explained
    if "mcv" in labs:
        lr = math.exp(_interp_points(curves.mcv.points, labs["mcv"]))
        if lr > 1.0 and (folate_low or any(k in keys for k in macro.keys)):
            notes.append(macro.note)
        elif lr < 1.0 and labs.get("ferritin", math.inf) < iron.ferritin_below:
            notes.append(MASKED_NOTE)  # low iron shrinks red cells, hiding B12's large ones
        else:
            add("lab:mcv", f"Red cell size (MCV) {f.shown['mcv']}", lr, kb.population.ref,
                kb.population.evidence, "blood_count")
    if "hemoglobin" in labs:
        pts = curves.hemoglobin.male if f.sex == "male" else curves.hemoglobin.female
        lr = math.exp(_interp_points(pts, labs["hemoglobin"]))
        explained = labs.get("ferritin", math.inf) < iron.ferritin_below or any(
            k in keys for k in iron.conditions)
        # red cells not measured: low iron stores explain an anaemia first, so as if not large
        if lr > 1.0 and explained and labs.get("mcv", iron.mcv_at_most) <= iron.mcv_at_most:
            notes.append(iron.note)
        elif lr > 1.0 and folate_low:  # a folate deficiency makes the same anaemia
            notes.append(macro.note)
        else:
            add("lab:hemoglobin", f"Haemoglobin {f.shown['hemoglobin']}", lr,
                kb.population.ref, kb.population.evidence, "blood_count")
    pretest = sigmoid(x)

    low_folate = _low_folate(kb, labs)
    x_pre = x
    for test in B12_TESTS:
        if test not in labs:
            continue
        lab = kb.labs[test]
        for inf in lab.informs:
            if inf.target != "b12":
                continue
            if test == "homocysteine" and low_folate:
                notes.append(FOLATE_NOTE)
                continue
            upper = (reference_upper or {}).get(test) if test == "mma" else None
            if upper is None:
                ll = inf.log_lr_at(labs[test], x_pre)
            else:  # the laboratory's own range decides normal or raised, as for the status
                ll = inf.log_lr[0] if labs[test] <= upper else inf.log_lr[-1]
            full = ll
            ll = lab.weakened(ll, keys, notes, labs[test])
            less = " (counted for less here: see the notes)" if abs(ll) < abs(full) else ""
            add(f"lab:{test}", f"{lab.definition.name} {f.shown[test]}{less}",
                math.exp(ll), inf.ref, inf.evidence, "lab")
    probability = sigmoid(x)

    status, decided, interps = _status(f, kb, reference_upper or {}, notes, low_folate)
    if f.unknown_medications and status in ("untested", "indeterminate"):
        names = ", ".join(repr(m) for m in f.unknown_medications)
        notes.append(f"follicle did not recognise {names}: if one of them is metformin, an "
                     "acid blocker (for heartburn or ulcers), colchicine or an epilepsy "
                     "medicine (phenobarbital, primidone, pregabalin, topiramate) under another "
                     "name, a B12 deficiency is more likely than shown here.")
    if f.age is not None and f.age < 16 and interps:
        notes.append("NICE NG239 covers people aged 16 and over: a child's B12 result is read "
                     "against children's ranges by their doctor, so treat this reading as a "
                     "rough guide.")
    return B12Result(status=status, probability=probability, pretest=pretest,
                     decided_by=decided, interpretations=interps, contributions=contribs,
                     notes=list(dict.fromkeys(notes)))


def _low_folate(kb: KnowledgeBase, labs: dict[str, float]) -> bool:
    """Folate deficiency raises homocysteine by itself, so a raised homocysteine then says
    nothing definite about B12."""
    if "folate" not in labs or "homocysteine" not in labs:
        return False
    return _folate_deficient(kb, labs["folate"])


def _folate_deficient(kb: KnowledgeBase, folate: float) -> bool:
    return any(i.primary and i.status == "deficient" for i in _band_status(kb, "folate", folate))


MASKED_NOTE = ("Low iron makes red cells small and can hide the large cells of a B12 "
               "deficiency, so small red cells are not counted against it here.")
FOLATE_NOTE = ("Folate is low, and low folate raises homocysteine by itself: the homocysteine "
               "result is not counted for or against B12 deficiency.")


def _status(f: Features, kb: KnowledgeBase, upper: dict[str, float], notes: list[str],
            low_folate: bool = False,
            ) -> tuple[str, Interpretation | None, list[Interpretation]]:
    labs = f.labs
    interps: list[Interpretation] = []
    by_test: dict[str, Interpretation] = {}
    for test in ("b12", "active_b12", "homocysteine"):
        if test in labs:
            found = _band_status(kb, test, labs[test])
            if test == "homocysteine" and low_folate:
                found = [i._replace(status="indeterminate") if i.status == "deficient" else i
                         for i in found]
            interps += found
            prim = [i for i in found if i.primary]
            if prim:
                by_test[test] = prim[0]
    if "mma" in labs:
        mma_i = _mma_status(kb, labs["mma"], upper.get("mma"))
        interps.append(mma_i)
        by_test["mma"] = mma_i
    n2o = N2O in f.keys
    primary = by_test.get("active_b12") or by_test.get("b12")
    mma = by_test.get("mma")
    if mma is not None and mma.status == "deficient":
        doubts = [c.note for c in kb.labs["mma"].caution.values()
                  if c.applies_to == "alarming" and c.when in f.keys]
        if doubts:  # e.g. kidney disease: a raised MMA cannot decide on its own
            if doubts[0] not in notes:
                notes.append(doubts[0])
            notes.append("So the raised MMA is not taken as proof of B12 deficiency here.")
            doubted = mma._replace(status="indeterminate")
            interps = [doubted if i is mma else i for i in interps]
            mma = by_test["mma"] = doubted
    hcy = by_test.get("homocysteine")
    if primary is None:
        if mma is not None:
            return mma.status, mma, interps
        if hcy is not None:
            if hcy.status == "deficient" and not n2o:
                notes.append("A raised homocysteine also occurs with folate deficiency and "
                             "kidney disease; MMA or B12 tests are more specific.")
                return "indeterminate", hcy, interps
            return hcy.status, hcy, interps
        return "untested", None, interps
    status, decided = primary.status, primary
    if primary.test == "b12" and status == "deficient":
        doubts = [c.note for c in kb.labs["b12"].caution.values()
                  if c.applies_to == "alarming" and c.when in f.keys
                  and c.covers(labs["b12"])]
        if doubts:  # e.g. pregnancy: total B12 falls by itself; active B12 decides (NG239)
            notes += [n for n in doubts if n not in notes]
            notes.append("So a low total B12 is not taken as proof of B12 deficiency here.")
            decided = primary._replace(status="indeterminate")
            interps = [decided if i is primary else i for i in interps]
            status = "indeterminate"
    on_b12 = "supplement:b12" in f.keys or "med:b12_treatment" in f.keys
    if on_b12 and status == "not_deficient" and mma is not None and mma.status == "deficient":
        reassuring = {c.note for t in ("b12", "active_b12") for c in kb.labs[t].caution.values()}
        notes[:] = [n for n in notes if n not in reassuring]
        notes.append("B12 taken as a supplement or treatment raises total and active B12 "
                     "whether or not it reaches the cells; a raised MMA says it does not "
                     + ("(nitrous oxide inactivates B12 in the body)" if n2o else
                        "(tablets may not be absorbed)") + ": the MMA decides here.")
        return mma.status, mma, interps
    if status == "not_deficient" and mma is not None and mma.status == "deficient" and not n2o:
        notes.append("The MMA is raised although B12 itself is not low: the results disagree. "
                     "Active B12 (or a repeat MMA) settles it; a result that conflicts with "
                     "the picture is not dismissed (BSH 2014).")
        return "indeterminate", mma._replace(status="indeterminate"), interps
    if n2o and status == "not_deficient":
        notes.append("With recreational nitrous oxide use a normal B12 does not rule out "
                     "deficiency (NICE NG239): homocysteine or MMA decide.")
        status = "indeterminate"
    if status == "indeterminate":
        if mma is not None and mma.status != "indeterminate":
            return mma.status, mma, interps
        if hcy is not None and n2o and hcy.status != "indeterminate":
            return hcy.status, hcy, interps
    return status, decided, interps
