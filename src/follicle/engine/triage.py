"""Triage: the highest level of any red flag or rule that fires (triage.yaml)."""

from __future__ import annotations

from ..kb.loader import KnowledgeBase
from ..kb.schema import RuleDef
from .predicates import Compiled, Context, compile_predicate

__all__ = ["LEVELS", "triage"]

LEVELS = ("routine", "soon", "urgent")


_CACHE: dict[int, tuple[KnowledgeBase, list[tuple[RuleDef, Compiled]],
                        list[tuple[RuleDef, Compiled]]]] = {}


def _compiled(kb: KnowledgeBase) -> tuple[list[tuple[RuleDef, Compiled]],
                                          list[tuple[RuleDef, Compiled]]]:
    hit = _CACHE.get(id(kb))
    if hit is None or hit[0] is not kb:
        hit = (kb, [(r, compile_predicate(r.when)) for r in kb.red_flags],
               [(r, compile_predicate(r.when)) for r in kb.rules])
        _CACHE[id(kb)] = hit
    return hit[1], hit[2]


def triage(ctx: Context, kb: KnowledgeBase) -> tuple[str, list[RuleDef], list[RuleDef]]:
    """(level, red flags fired, other rules fired)."""
    compiled_flags, compiled_rules = _compiled(kb)
    flags = [r for r, test in compiled_flags if test(ctx)]
    rules = [r for r, test in compiled_rules if test(ctx)]
    level = 0
    for r in (*flags, *rules):
        level = max(level, LEVELS.index(r.level))
    dropped = {s for r in flags for s in r.supersedes}
    return LEVELS[level], [r for r in flags if r.id not in dropped], rules
