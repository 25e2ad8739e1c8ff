"""The generated predicate code means exactly what the reference interpreter means."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from follicle.engine.predicates import (
    Context,
    compile_predicate,
    compile_predicates_batch,
    evaluate,
)
from follicle.engine.tables import tables
from follicle.kb.loader import load_kb

KB = load_kb()
PREDICATES: list[dict[str, Any]] = [r.when for r in (*KB.red_flags, *KB.rules)]
PREDICATES += [cf.only for cf in KB.findings if cf.only]


def _mentioned(pred: Any, out: set[str]) -> set[str]:
    """Every finding key a predicate mentions (so random contexts hit them)."""
    if isinstance(pred, dict):
        for op, arg in pred.items():
            if op in ("any", "all", "none"):
                out.update(arg)
            elif op == "count":
                out.update(arg["keys"])
            else:
                _mentioned(arg, out)
    elif isinstance(pred, list):
        for p in pred:
            _mentioned(p, out)
    return out


KEYS = sorted(_mentioned(PREDICATES, set()))


@st.composite
def contexts(draw: Any) -> Context:
    return Context(
        keys=set(draw(st.lists(st.sampled_from(KEYS), max_size=6))),
        age=draw(st.one_of(st.none(), st.floats(0, 100))),
        sex=draw(st.sampled_from([None, "female", "male"])),
        hair=draw(st.booleans()),
        labs=draw(st.dictionaries(st.sampled_from(sorted(KB.labs)),
                                  st.floats(0.01, 2000), max_size=3)),
        b12_status=draw(st.sampled_from(["untested", "deficient", "indeterminate",
                                         "not_deficient"])),
        b12_p=draw(st.floats(0, 1)),
        types=draw(st.one_of(st.none(), st.fixed_dictionaries(
            {t: st.floats(0, 1) for t in KB.type_ids}))),
        causes=draw(st.one_of(st.none(), st.fixed_dictionaries(
            {c: st.floats(0, 1) for c in KB.cause_ids}))),
    )


@settings(max_examples=300, deadline=None)
@given(contexts())
def test_compiled_predicates_agree_with_the_interpreter(ctx: Context) -> None:
    batch = compile_predicates_batch(PREDICATES)
    fired = set(batch(ctx.keys, ctx.age, ctx.sex, ctx.hair, ctx.labs, ctx.b12_status,
                      ctx.b12_p, ctx.types, ctx.causes))
    for i, pred in enumerate(PREDICATES):
        expected = evaluate(pred, ctx)
        assert compile_predicate(pred)(ctx) is expected, pred
        assert (i in fired) is expected, pred


@pytest.mark.parametrize("pred", [
    {"any_of": [{"sex": "male"}, {"not": {"hair": True}}], "age_below": 16},
    {"count": {"keys": ["a", "b", "c"], "at_least": 2}, "lab_above": {"tsh": 4.5}},
    {"cause_at_least": {"iron_deficiency": 0.3}, "type_at_least": {"telogen_effluvium": 0.4}},
])
@settings(max_examples=100, deadline=None)
@given(ctx=contexts())
def test_operators_outside_the_kb_agree_too(pred: dict[str, Any], ctx: Context) -> None:
    ctx.keys |= {"a", "c"} if ctx.hair else set()
    assert compile_predicate(pred)(ctx) is evaluate(pred, ctx)


def test_knowledge_strings_are_constants_not_code() -> None:
    hostile = {"any": ["x') or True or ('"], "sex": "__import__('os')"}
    ctx = Context(keys=set(), age=None, sex="female", hair=True, labs={})
    assert compile_predicate(hostile)(ctx) is False


def test_tables_are_built_once_per_knowledge_base() -> None:
    assert tables(KB) is tables(KB)
