"""Rank lab tests by the value of the information they would give.

For each test not yet done and each target it informs (B12 deficiency or a cause), the
expected reduction in entropy of that target (in bits), weighted by the target's stake
(causes.yaml) and damped where the test misleads (labs.yaml `caution`). Second-line tests
are offered only after a first-line result, as NICE NG239 orders them.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import NamedTuple

from ..features import Features
from ..kb.loader import KnowledgeBase
from .b12 import B12_TESTS
from .predicates import Context
from .tables import tables

MIN_BITS = 0.05  # below this a test would hardly change anything: not suggested

__all__ = ["NEEDED", "REPEAT", "NextTest", "expected_information_gain", "rank_tests"]

# how a test that a fired rule asks for is marked in its notes (the summary looks for these)
NEEDED = "Needed because"
REPEAT = "A repeat, because"


class NextTest(NamedTuple):
    test: str
    value: float  # weighted expected information gain, bits
    targets: tuple[tuple[str, float], ...]  # (target, bits before weighting)
    notes: tuple[str, ...]


def _h(p: float) -> float:
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -(p * math.log2(p) + (1.0 - p) * math.log2(1.0 - p))


def expected_information_gain(p: float, p_present: tuple[float, ...],
                              p_absent: tuple[float, ...], damp: float = 1.0) -> float:
    """Expected entropy reduction (bits) about a binary target from a banded test."""
    gain = _h(p)
    q = 1.0 - p
    log2 = math.log2
    for pp, pa in zip(p_present, p_absent, strict=False):
        if damp != 1.0:  # a misleading test: pull its likelihoods towards each other
            pp = pa + damp * (pp - pa)
        pb = p * pp + q * pa
        if pb > 0.0:
            r = p * pp / pb  # P(target | this band)
            if 0.0 < r < 1.0:  # minus pb * H(r), H inlined (called for every band)
                gain += pb * (r * log2(r) + (1.0 - r) * log2(1.0 - r))
    return max(gain, 0.0)


def rank_tests(f: Features, kb: KnowledgeBase, b12_p: float,
               cause_p: dict[str, float], b12_status: str = "untested",
               first: Sequence[tuple[str, str, bool]] = (),
               ctx: Context | None = None) -> list[NextTest]:
    """Tests worth doing next, most valuable first.

    `first` holds (test, reason, repeat) from triage rules that fired with a work-up of their
    own (e.g. testosterone for virilisation): a warning sign decides the first test, not
    information value, since a likely cause still needs its confirming test before anyone
    can act on it. Those tests lead, in rule order, if not done yet; a repeat (a result
    that may be false, e.g. thyroid tests on biotin) leads because it was done. A B12 grey
    zone is settled first all the same: its follow-up test goes before a rule's work-up.

    When the B12 labs sit in a guideline's grey zone the treatment decision is open
    whatever the probability, so B12 is valued at maximal decision uncertainty (p = 0.5):
    that is what NICE NG239's "indeterminate" means. A test is suggested only when its
    `suggest_when` holds (NICE NG239: B12 with a symptom and a risk factor; NICE NG145: free
    T4 after an abnormal TSH). Once the guideline has decided
    (deficient or not deficient), further B12 tests change nothing: the next step is
    treatment or another cause, so B12 carries no value of information. Without a hair
    complaint only what a test tells about B12 counts: the question is B12 alone. What a
    test tells about another contributing cause is weighed by how likely the hair loss is of
    a type whose work-up includes blood tests (types.yaml `blood_workup`): ringworm needs a
    scalp sample and scarring a biopsy, not a ferritin.
    """
    raw_b12_p = b12_p
    # a grey zone, or a normal result the rest of the picture doubts (biotin), is open
    b12_open = b12_status == "indeterminate" or (b12_status == "not_deficient"
                                                  and b12_p >= 0.3)
    if b12_open:
        b12_p = 0.5
    elif b12_status in ("deficient", "not_deficient"):
        b12_p = 0.0
    t = tables(kb)
    stakes = t.stakes
    done = f.labs.keys()
    keys = f.keys
    relevance = 1.0  # how much blood tests for contributing causes help with this hair loss
    if ctx is not None and ctx.types:
        workup = t.workup_types[f.sex or "female"]  # sex unknown: the wider work-up
        relevance = 0.1 + 0.9 * sum(p for tid, p in ctx.types.items() if tid in workup)
    out: list[NextTest] = []
    for row in t.lab_rows:
        test = row.test
        if test in done or any(k in keys for k in row.not_when):
            continue
        if row.suggest_when is not None:
            if ctx is None:
                ctx = Context(keys, f.age, f.sex, f.hair, f.labs, b12_status, raw_b12_p,
                              None, cause_p)
            if not row.suggest_when(ctx):
                continue
        if row.follow_up_to and row.follow_up_to.isdisjoint(done) and not any(
                k in keys for k in row.first_line_when):
            continue
        damp = 1.0
        notes: list[str] = []
        for c in row.cautions:
            if c.when in keys:
                damp *= c.factor
                notes.append(c.note)
        total = 0.0
        targets: list[tuple[str, float]] = []
        for inf in row.informs:
            if inf.sex is not None and inf.sex != f.sex:
                continue
            if not f.hair and inf.target != "b12":
                continue  # no hair complaint: the question is B12 alone
            p = b12_p if inf.target == "b12" else cause_p.get(inf.target, 0.0)
            if p <= 0.0:
                continue
            bits = expected_information_gain(p, inf.p_present, inf.p_absent, damp)
            targets.append((inf.target, bits))
            weight = 1.0 if inf.target == "b12" else relevance
            total += bits * stakes.get(inf.target, 1.0) * weight
        if total > MIN_BITS:
            out.append(NextTest(test, total, tuple(targets), tuple(notes)))
    out.sort(key=lambda t: -t.value)
    if first:
        if b12_status in ("deficient", "not_deficient"):  # decided: no rule re-opens it,
            first = [f for f in first if f[0] not in B12_TESTS or f[2]]  # but a repeat may
        out = _lead_with(out, first, done)
        if b12_open:  # NICE NG239: a grey zone (or a doubted result) is settled first
            b12_next = next((i for i, t in enumerate(out)
                             if any(g == "b12" for g, _ in t.targets)), None)
            if b12_next is not None:
                out.insert(0, out.pop(b12_next))
    return out


def _lead_with(ranked: list[NextTest], first: Sequence[tuple[str, str, bool]],
               done: Collection[str]) -> list[NextTest]:
    by_test = {t.test: t for t in ranked}
    head: list[NextTest] = []
    for test, reason, repeat in first:
        if (test in done) is not repeat or any(h.test == test for h in head):
            continue
        t = by_test.pop(test, None) or NextTest(test, 0.0, (), ())
        why = REPEAT if repeat else NEEDED
        head.append(t._replace(notes=(f"{why}: {reason}", *t.notes)))
    return head + [t for t in ranked if t.test in by_test]
