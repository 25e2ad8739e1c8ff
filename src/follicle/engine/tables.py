"""Lookup tables derived from a knowledge base, built once and shared by every case.

The engine is a pure function of (case, knowledge base); anything that depends on the
knowledge base alone (logit baselines, compiled predicates, per-group cause priors, the
static parts of explanations and references) is computed here once per `KnowledgeBase`
object instead of once per case. Nothing here changes a result, only its cost.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..kb.loader import CompiledFinding, CompiledInforms, CompiledLab, KnowledgeBase
from ..kb.schema import CauseDef, CautionDef, RuleDef
from .predicates import (
    Compiled,
    compile_predicate,
    compile_predicates,
    compile_predicates_batch,
)

__all__ = ["CauseRow", "LabRow", "Tables", "tables"]

GROUPS = ("child", "adult_female", "adult_male", "older_female", "older_male")


@dataclass(frozen=True)
class CauseRow:
    """A cause with its prior and prior log-odds for one age/sex group."""

    cause: CauseDef
    prior: float
    log_odds: float
    from_types: tuple[tuple[int, float], ...] | None  # (type index, weight)


@dataclass(frozen=True)
class LabRow:
    """What ranking a lab test needs, beyond the case."""

    test: str
    lab: CompiledLab
    follow_up_to: frozenset[str]
    first_line_when: tuple[str, ...]
    not_when: tuple[str, ...]
    suggest_when: Compiled | None
    cautions: tuple[CautionDef, ...]
    informs: tuple[CompiledInforms, ...]


@dataclass(frozen=True)
class Tables:
    baseline_ages: tuple[float, ...]
    baseline_logits: dict[str, tuple[float, ...]]  # "female" / "male"
    only: dict[int, Compiled]  # id(CompiledFinding) -> its `only` condition
    triage: Callable[..., list[int]]  # Context fields -> indices of rules that hold
    triage_rules: tuple[RuleDef, ...]  # red flags first, then rules
    n_red_flags: int
    cause_rows: dict[str, tuple[CauseRow, ...]]  # group -> rows, in KB order
    stakes: dict[str, float]
    lab_rows: tuple[LabRow, ...]
    workup_types: dict[str, tuple[str, ...]]  # sex -> types whose work-up includes bloods
    type_names: dict[str, str]
    cause_names: dict[str, str]
    cause_order: dict[str, int]
    type_index: dict[str, int]
    finding_type_static: dict[int, tuple[tuple[float, str], ...]]  # per type: (LR, ref)
    article_by_key: dict[str, str]
    references: dict[str, dict[str, Any]]  # id -> its JSON form
    rules_json: dict[str, dict[str, Any]]  # rule id -> its JSON form
    work_up_here: frozenset[str]  # red flags whose work-up is among the ranked tests
    references_bytes: dict[str, orjson.Fragment]  # the same, serialised once
    rules_bytes: dict[str, orjson.Fragment]


_CACHE: dict[int, tuple[KnowledgeBase, Tables]] = {}
_LOCK = threading.Lock()


def tables(kb: KnowledgeBase) -> Tables:
    """The tables of a knowledge base (built on first use, then reused)."""
    hit = _CACHE.get(id(kb))
    if hit is not None and hit[0] is kb:
        return hit[1]
    with _LOCK:
        hit = _CACHE.get(id(kb))
        if hit is None or hit[0] is not kb:
            hit = (kb, _build(kb))
            _CACHE[id(kb)] = hit
    return hit[1]


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _build(kb: KnowledgeBase) -> Tables:
    pts = kb.population.baseline
    with_only = [cf for cf in kb.findings if cf.only]
    only_fns = compile_predicates([cf.only for cf in with_only if cf.only])
    rules = (*kb.red_flags, *kb.rules)
    type_index = {t: i for i, t in enumerate(kb.type_ids)}
    cause_rows: dict[str, tuple[CauseRow, ...]] = {}
    for group in GROUPS:
        rows = []
        for c in kb.causes:
            prior = getattr(c.prior, group) if c.prior is not None else 0.0
            log_odds = (-math.inf if prior <= 0.0 else math.log(prior / (1.0 - prior)))
            ft = None if c.from_types is None else tuple(
                (type_index[t], w) for t, w in c.from_types.weights().items())
            rows.append(CauseRow(c, prior, log_odds, ft))
        cause_rows[group] = tuple(rows)
    stakes = {c.id: (c.stake.value if c.stake else 0.0) for c in kb.causes}
    stakes["b12"] = stakes.get("b12_deficiency", 1.0)
    lab_rows = tuple(
        LabRow(test, lab, frozenset(lab.definition.follow_up_to or ()),
               tuple(lab.definition.first_line_when), tuple(lab.definition.not_when),
               None if lab.definition.suggest_when is None
               else compile_predicate(lab.definition.suggest_when),
               tuple(lab.caution.values()),
               lab.informs)
        for test, lab in kb.labs.items() if lab.informs)
    article_by_key: dict[str, str] = {}
    for key, found in kb.findings_by_key.items():
        article = next((f.article for f in found if f.article), None)
        if article:
            article_by_key[key] = article
    references = {rid: {"id": rid, "citation": r.citation, "pmid": r.pmid, "doi": r.doi,
                        "url": r.url, "verified": r.verified}
                  for rid, r in kb.references.items()}
    rules_json = {r.id: {"id": r.id, "level": r.level, "reason": r.reason,
                         "action": r.action, "ref": r.ref, "article": r.article,
                         **({"advice": r.advice} if r.advice else {})}
                  for r in rules}
    return Tables(
        baseline_ages=tuple(float(p.age) for p in pts),
        baseline_logits={s: tuple(_logit(getattr(p, s)) for p in pts)
                         for s in ("female", "male")},
        only={id(cf): fn for cf, fn in zip(with_only, only_fns, strict=True)},
        triage=compile_predicates_batch([r.when for r in rules]),
        triage_rules=rules,
        n_red_flags=len(kb.red_flags),
        cause_rows=cause_rows,
        stakes=stakes,
        lab_rows=lab_rows,
        workup_types={sex: tuple(t.id for t in kb.types if sex in t.blood_workup.sexes)
                      for sex in ("female", "male")},
        type_names={t.id: t.name for t in kb.types},
        cause_names={c.id: c.name for c in kb.causes},
        cause_order={c.id: i for i, c in enumerate(kb.causes)},
        type_index=type_index,
        finding_type_static={id(cf): _type_static(cf, kb)
                             for cf in (*kb.findings, *(cf for _, cf in kb.requirements))},
        article_by_key=article_by_key,
        references=references,
        rules_json=rules_json,
        work_up_here=frozenset(r.id for r in kb.red_flags if r.work_up_here),
        references_bytes={k: orjson.Fragment(orjson.dumps(v)) for k, v in references.items()},
        rules_bytes={k: orjson.Fragment(orjson.dumps(v)) for k, v in rules_json.items()},
    )


def _type_static(cf: CompiledFinding, kb: KnowledgeBase) -> tuple[tuple[float, str], ...]:
    return tuple((round(math.exp(cf.type_log[i]), 3), cf.type_refs.get(t, cf.ref))
                 for i, t in enumerate(kb.type_ids))
