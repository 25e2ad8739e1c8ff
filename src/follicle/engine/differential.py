"""Hair-loss types (exclusive, naive Bayes over findings) and contributing causes
(each its own odds, updated by findings and lab bands)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from operator import add

from ..features import Features
from ..kb.loader import CompiledFinding, KnowledgeBase
from .b12 import sigmoid
from .predicates import Context
from .tables import tables

__all__ = ["CauseState", "Differential", "active_findings", "differential"]


@dataclass(slots=True)
class CauseState:
    """One cause's log-odds and what moved it (finding id or lab, log LR, ref, text)."""

    id: str
    prior: float
    log_odds: float
    moves: list[tuple[str, str, float, str, str]]
    probability: float = 0.0


@dataclass(slots=True)
class Differential:
    type_ids: tuple[str, ...]
    type_scores: list[float]  # unnormalised log scores
    type_probs: list[float]
    findings: list[CompiledFinding]  # active findings, in evaluation order
    causes: dict[str, CauseState]


def active_findings(f: Features, kb: KnowledgeBase) -> list[CompiledFinding]:
    """The knowledge-base findings this case triggers (their `only` conditions hold)."""
    out: list[CompiledFinding] = []
    ctx: Context | None = None
    only = tables(kb).only
    by_key = kb.findings_by_key
    for key in sorted(f.keys):
        for cf in by_key.get(key, ()):
            if cf.only:
                if ctx is None:
                    ctx = Context(f.keys, f.age, f.sex, f.hair, f.labs)
                if not only[id(cf)](ctx):
                    continue
            out.append(cf)
    for needed, cf in kb.requirements:
        if needed.isdisjoint(f.keys):
            out.append(cf)
    return out


def differential(f: Features, kb: KnowledgeBase, b12_probability: float) -> Differential:
    findings = active_findings(f, kb)
    scores = list(kb.type_priors_log[f.group])
    if f.hair:
        for cf in findings:
            scores = list(map(add, scores, cf.type_log))
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    probs = [e / total for e in exps]

    causes: dict[str, CauseState] = {}
    labs = f.labs
    rows = tables(kb).cause_rows[f.group]
    for row in rows:
        cid = row.cause.id
        if cid == "b12_deficiency":
            causes[cid] = CauseState(cid, b12_probability, 0.0, [], b12_probability)
        elif row.prior <= 0.0:
            causes[cid] = CauseState(cid, 0.0, -math.inf, [], 0.0)
        else:
            causes[cid] = CauseState(cid, row.prior, row.log_odds, [])
    strongest: dict[tuple[str, str], tuple[float, CompiledFinding]] = {}
    for cf in findings:
        for cid, ll in cf.cause_log.items():
            st = causes[cid]
            if st.prior > 0.0 and cid != "b12_deficiency":
                if cf.group is not None:  # correlated findings: keep the strongest only
                    best = strongest.get((cf.group, cid))
                    if best is None or abs(ll) > abs(best[0]):
                        strongest[(cf.group, cid)] = (ll, cf)
                    continue
                st.log_odds += ll
                st.moves.append((cf.id, cf.text, ll, cf.cause_refs[cid], cf.evidence))
    for (_, cid), (ll, cf) in strongest.items():
        st = causes[cid]
        st.log_odds += ll
        st.moves.append((cf.id, cf.text, ll, cf.cause_refs[cid], cf.evidence))
    for test, value in labs.items():
        lab = kb.labs[test]
        for inf in lab.informs:
            if inf.target == "b12" or (inf.sex is not None and inf.sex != f.sex):
                continue
            st = causes[inf.target]
            if st.prior <= 0.0:
                continue
            ll = lab.weakened(inf.log_lr[inf.band_index(value)], f.keys)
            st.log_odds += ll
            st.moves.append((f"lab:{test}", f"{lab.definition.name} {f.shown[test]}", ll,
                             inf.ref, inf.evidence))
    for row in rows:
        cid = row.cause.id
        st = causes[cid]
        if cid != "b12_deficiency":
            st.probability = 0.0 if st.prior <= 0.0 else sigmoid(st.log_odds)
        if row.from_types is not None and f.hair:
            keep = 1.0 - st.probability
            for ti, w in row.from_types:
                keep *= 1.0 - w * probs[ti]
            st.probability = 1.0 - keep
    return Differential(kb.type_ids, scores, probs, findings, causes)
