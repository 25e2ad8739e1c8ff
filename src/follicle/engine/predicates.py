"""The small predicate language of triage.yaml and of findings' `only` conditions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..kb.loader import KnowledgeBase

__all__ = ["Context", "compile_predicate", "evaluate", "validate_predicate"]

_KEY_LISTS = ("any", "all", "none")
_OPS = {"any", "all", "none", "count", "sex", "age_below", "age_at_least", "hair",
        "b12_status", "b12_at_least", "type_at_least", "cause_at_least", "lab_below",
        "lab_above", "any_of", "all_of", "not"}


@dataclass
class Context:
    """What a predicate can look at."""

    keys: set[str]
    age: float | None
    sex: str | None
    hair: bool
    labs: Mapping[str, float]
    b12_status: str = "untested"
    b12_p: float = 0.0
    types: Mapping[str, float] | None = None
    causes: Mapping[str, float] | None = None


Compiled = Callable[[Context], bool]


def compile_predicate(pred: Mapping[str, Any]) -> Compiled:
    """Turn a predicate mapping into a fast function of a Context (same meaning as
    `evaluate`)."""
    clauses = [_compile_clause(op, arg) for op, arg in pred.items()]
    if len(clauses) == 1:
        return clauses[0]
    return lambda ctx: all(c(ctx) for c in clauses)


def _compile_clause(op: str, arg: Any) -> Compiled:
    if op in ("any", "all", "none"):
        keys = frozenset(arg)
        if op == "any":
            return lambda ctx: not keys.isdisjoint(ctx.keys)
        if op == "all":
            return lambda ctx: keys <= ctx.keys
        return lambda ctx: keys.isdisjoint(ctx.keys)
    if op == "count":
        keys = frozenset(arg["keys"])
        n = int(arg["at_least"])
        return lambda ctx: len(keys & ctx.keys) >= n
    if op in ("any_of", "all_of"):
        subs = [compile_predicate(p) for p in arg]
        if op == "any_of":
            return lambda ctx: any(s(ctx) for s in subs)
        return lambda ctx: all(s(ctx) for s in subs)
    if op == "not":
        sub = compile_predicate(arg)
        return lambda ctx: not sub(ctx)
    if op == "sex":
        return lambda ctx: ctx.sex == arg
    if op == "hair":
        want = bool(arg)
        return lambda ctx: ctx.hair is want
    if op == "age_below":
        return lambda ctx: ctx.age is not None and ctx.age < arg
    if op == "age_at_least":
        return lambda ctx: ctx.age is not None and ctx.age >= arg
    if op == "b12_status":
        statuses = frozenset(arg)
        return lambda ctx: ctx.b12_status in statuses
    if op == "b12_at_least":
        return lambda ctx: ctx.b12_p >= arg
    if op in ("lab_below", "lab_above"):
        items = tuple(arg.items())
        if op == "lab_below":
            return lambda ctx: any(t in ctx.labs and ctx.labs[t] < v for t, v in items)
        return lambda ctx: any(t in ctx.labs and ctx.labs[t] > v for t, v in items)
    return lambda ctx: _clause(op, arg, ctx)


def evaluate(pred: Mapping[str, Any], ctx: Context) -> bool:
    """True when every clause of the predicate holds."""
    return all(_clause(op, arg, ctx) for op, arg in pred.items())


def _clause(op: str, arg: Any, ctx: Context) -> bool:
    keys = ctx.keys
    if op == "any":
        return any(k in keys for k in arg)
    if op == "all":
        return all(k in keys for k in arg)
    if op == "none":
        return not any(k in keys for k in arg)
    if op == "count":
        return sum(k in keys for k in arg["keys"]) >= int(arg["at_least"])
    if op == "sex":
        return bool(ctx.sex == arg)
    if op == "age_below":
        return ctx.age is not None and ctx.age < arg
    if op == "age_at_least":
        return ctx.age is not None and ctx.age >= arg
    if op == "hair":
        return ctx.hair is bool(arg)
    if op == "b12_status":
        return bool(ctx.b12_status in arg)
    if op == "b12_at_least":
        return bool(ctx.b12_p >= arg)
    if op == "type_at_least":
        return ctx.types is not None and any(ctx.types.get(t, 0.0) >= p for t, p in arg.items())
    if op == "cause_at_least":
        return ctx.causes is not None and any(
            ctx.causes.get(c, 0.0) >= p for c, p in arg.items())
    if op == "lab_below":
        return any(t in ctx.labs and ctx.labs[t] < v for t, v in arg.items())
    if op == "lab_above":
        return any(t in ctx.labs and ctx.labs[t] > v for t, v in arg.items())
    if op == "any_of":
        return any(evaluate(p, ctx) for p in arg)
    if op == "all_of":
        return all(evaluate(p, ctx) for p in arg)
    if op == "not":
        return not evaluate(arg, ctx)
    raise ValueError(f"unknown predicate {op!r}")


def validate_predicate(pred: Any, kb: KnowledgeBase, _path: str = "when") -> list[str]:
    """Problems with a predicate: unknown operators, types, causes or tests."""
    from ..features import all_positive_keys

    known_keys = set(all_positive_keys(kb)) | {
        k.replace(":yes", ":no") for k in all_positive_keys(kb) if k.endswith(":yes")}
    known_keys |= {f"med:{c}" for c in set(kb.medications.values())} | {"child",
                                                                          "med:no_hair_loss_drug"}
    known_keys |= {f"lab:{t}" for t in kb.labs}
    problems: list[str] = []
    if not isinstance(pred, Mapping):
        return [f"{_path}: a predicate must be a mapping"]
    for op, arg in pred.items():
        where = f"{_path}.{op}"
        if op not in _OPS:
            problems.append(f"{where}: unknown predicate (allowed: {', '.join(sorted(_OPS))})")
        elif op in _KEY_LISTS:
            for k in arg:
                if k not in known_keys:
                    problems.append(f"{where}: unknown finding key {k!r}")
        elif op == "count":
            for k in arg["keys"]:
                if k not in known_keys:
                    problems.append(f"{where}: unknown finding key {k!r}")
        elif op == "type_at_least":
            problems += [f"{where}: unknown type {t!r}" for t in arg if t not in kb.type_ids]
        elif op == "cause_at_least":
            problems += [f"{where}: unknown cause {c!r}" for c in arg if c not in kb.cause_ids]
        elif op in ("lab_below", "lab_above"):
            problems += [f"{where}: unknown lab {t!r}" for t in arg if t not in kb.labs]
        elif op in ("any_of", "all_of"):
            if not isinstance(arg, Sequence):
                problems.append(f"{where}: needs a list of predicates")
            else:
                for i, p in enumerate(arg):
                    problems += validate_predicate(p, kb, f"{where}[{i}]")
        elif op == "not":
            problems += validate_predicate(arg, kb, where)
    return problems
