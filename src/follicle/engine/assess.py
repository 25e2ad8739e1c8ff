"""`assess`: a validated case in, an explained `Assessment` out. Pure; no I/O."""

from __future__ import annotations

from typing import Any

from ..assessment import Assessment
from ..case import Case, parse_case
from ..features import extract
from ..kb.loader import KnowledgeBase, load_kb
from .b12 import B12_TESTS, assess_b12
from .differential import differential
from .nexttests import rank_tests
from .predicates import Context
from .triage import triage

__all__ = ["assess"]


def assess(case: Case | dict[str, Any], *, kb: KnowledgeBase | None = None) -> Assessment:
    """Assess a case (a `Case` or a `follicle-case/1` mapping).

    Example:
        >>> a = assess({"format": "follicle-case/1", "age": 35, "sex": "male",
        ...             "hair": {"onset": "gradual", "pattern": "temples_crown"}})
        >>> a.hair_loss_types[0].id
        'androgenetic_alopecia'
    """
    kb = kb or load_kb()
    parsed = parse_case(case)
    f = extract(parsed, kb)
    upper: dict[str, float] = {lab.test: lab.reference_range[1] for lab in parsed.labs
             if lab.reference_range is not None}
    if "mma" in upper:
        unit_factor = kb.labs["mma"].factors
        from ..kb.loader import unit_key

        mma_lab = next(lab for lab in parsed.labs if lab.test == "mma")
        upper["mma"] *= unit_factor[unit_key(mma_lab.unit)]
    b12 = assess_b12(f, kb, upper)
    diff = differential(f, kb, b12.probability)
    cause_p = {cid: st.probability for cid, st in diff.causes.items()}
    type_p = dict(zip(diff.type_ids, diff.type_probs, strict=True)) if f.hair else {}
    ctx = Context(f.keys, f.age, f.sex, f.hair, f.labs, b12.status, b12.probability,
                  type_p, cause_p)
    level, flags, rules = triage(ctx, kb)
    no_tests = any(r.no_tests for r in (*flags, *rules))  # e.g. no more loss than normal
    if type_p and not no_tests and (b12.status == "deficient" or b12.probability >= 0.5):
        _b12_explains(b12.notes, type_p, kb)
    # a result that may be false (biotin) is repeated before a work-up builds on it
    first = [(test, r.reason, True) for r in (*flags, *rules) for test in r.retest
             if test in f.labs]
    first += [(test, r.reason, False) for r in (*flags, *rules) for test in r.tests
              if not any(k in f.keys for k in kb.labs[test].definition.not_when)]
    tests = rank_tests(f, kb, b12.probability, cause_p, b12.status, first, ctx)
    if no_tests:  # nothing about the hair calls for a test; the B12 question still may
        asked = {test for test, _, _ in first}
        tests = [t for t in tests if t.test in asked or t.test in B12_TESTS]
    return Assessment(case=parsed, kb=kb, features=f, b12=b12, diff=diff, triage=level,
                      red_flags=flags, rules=rules, next_tests=tests)


def _b12_explains(notes: list[str], type_p: dict[str, float], kb: KnowledgeBase) -> None:
    """When B12 deficiency is likely but the most likely hair-loss type is not one it
    causes, say so: the person's question is whether B12 explains their hair loss."""
    top = max(type_p, key=type_p.__getitem__)
    if type_p[top] >= 0.5 and top not in kb.b12.explains_types.types:
        name = next(t.name for t in kb.types if t.id == top)
        notes.append(f"A B12 deficiency needs treating for its own sake, but it is not a known "
                     f"cause of the most likely type here ({name}): treating B12 alone is "
                     "unlikely to stop this hair loss.")
