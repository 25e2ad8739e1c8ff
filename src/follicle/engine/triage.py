"""Triage: the highest level of any red flag or rule that fires (triage.yaml)."""

from __future__ import annotations

from ..kb.loader import KnowledgeBase
from ..kb.schema import RuleDef
from .predicates import Context, evaluate

__all__ = ["LEVELS", "triage"]

LEVELS = ("routine", "soon", "urgent")


def triage(ctx: Context, kb: KnowledgeBase) -> tuple[str, list[RuleDef], list[RuleDef]]:
    """(level, red flags fired, other rules fired)."""
    flags = [r for r in kb.red_flags if evaluate(r.when, ctx)]
    rules = [r for r in kb.rules if evaluate(r.when, ctx)]
    level = 0
    for r in (*flags, *rules):
        level = max(level, LEVELS.index(r.level))
    dropped = {s for r in flags for s in r.supersedes}
    return LEVELS[level], [r for r in flags if r.id not in dropped], rules
