"""Triage: the highest level of any red flag or rule that fires (triage.yaml)."""

from __future__ import annotations

from ..kb.loader import KnowledgeBase
from ..kb.schema import RuleDef
from .predicates import Context
from .tables import tables

__all__ = ["LEVELS", "triage"]

LEVELS = ("routine", "soon", "urgent")
_RANK = {level: i for i, level in enumerate(LEVELS)}


def triage(ctx: Context, kb: KnowledgeBase) -> tuple[str, list[RuleDef], list[RuleDef]]:
    """(level, red flags fired (most urgent first), other rules fired)."""
    t = tables(kb)
    fired = t.triage(ctx.keys, ctx.age, ctx.sex, ctx.hair, ctx.labs, ctx.b12_status,
                     ctx.b12_p, ctx.types, ctx.causes)
    n = t.n_red_flags
    flags = [t.triage_rules[i] for i in fired if i < n]
    rules = [t.triage_rules[i] for i in fired if i >= n]
    level = 0
    for r in (*flags, *rules):
        level = max(level, _RANK[r.level])
    dropped = {s for r in (*flags, *rules) for s in r.supersedes}
    flags = sorted((r for r in flags if r.id not in dropped), key=lambda r: -_RANK[r.level])
    return (LEVELS[level], flags, [r for r in rules if r.id not in dropped])
