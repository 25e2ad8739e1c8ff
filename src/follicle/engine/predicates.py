"""The small predicate language of triage.yaml and of findings' `only` conditions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..kb.loader import KnowledgeBase

__all__ = ["Context", "compile_predicate", "compile_predicates", "compile_predicates_batch",
           "evaluate", "validate_predicate"]

_KEY_LISTS = ("any", "all", "none")
_OPS = {"any", "all", "none", "count", "sex", "age_below", "age_at_least", "hair",
        "b12_status", "b12_at_least", "type_at_least", "cause_at_least", "lab_below",
        "lab_above", "any_of", "all_of", "not"}


@dataclass(slots=True)
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
    `evaluate`), by generating one Python expression for the whole predicate."""
    return compile_predicates([pred])[0]


_ARGS = "keys, age, sex, hair, labs, b12_status, b12_p, types, causes"


def compile_predicates(preds: Sequence[Mapping[str, Any]]) -> list[Compiled]:
    """Compile several predicates at once (one generated module, shared constants)."""
    consts: dict[str, Any] = {}
    src = "".join(f"def _p{i}({_ARGS}):\n    return {_source(p, consts)}\n"
                  for i, p in enumerate(preds))
    namespace = _run(src, consts)
    return [_on_context(namespace[f"_p{i}"]) for i in range(len(preds))]


def _on_context(fn: Callable[..., Any]) -> Compiled:
    def test(ctx: Context) -> bool:
        return bool(fn(ctx.keys, ctx.age, ctx.sex, ctx.hair, ctx.labs, ctx.b12_status,
                       ctx.b12_p, ctx.types, ctx.causes))

    return test


def compile_predicates_batch(preds: Sequence[Mapping[str, Any]]) -> Callable[..., list[int]]:
    """One function of the Context fields returning the indices of the predicates that
    hold (triage evaluates every rule for every case)."""
    consts: dict[str, Any] = {}
    body = "".join(f"    if {_source(p, consts)}:\n        out.append({i})\n"
                   for i, p in enumerate(preds))
    fn: Callable[..., list[int]] = _run(
        f"def _batch({_ARGS}):\n    out = []\n{body}    return out\n", consts)["_batch"]
    return fn


def _run(src: str, consts: dict[str, Any]) -> dict[str, Any]:
    """Execute generated source (identifiers and operators only) with its constants."""
    namespace = dict(consts)
    exec(compile(src, "<follicle predicates>", "exec"), namespace)
    return namespace


def _const(consts: dict[str, Any], value: Any) -> str:
    name = f"_k{len(consts)}"
    consts[name] = value
    return name


def _source(pred: Mapping[str, Any], consts: dict[str, Any]) -> str:
    """A Python expression over the Context fields; constants go into `consts` so that
    nothing from the knowledge files is pasted into source text."""
    parts = [_clause_source(op, arg, consts) for op, arg in pred.items()]
    if not parts:
        return "True"
    return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"


def _clause_source(op: str, arg: Any, c: dict[str, Any]) -> str:
    if op in ("any", "all", "none"):
        keys = _const(c, frozenset(arg))
        return {"any": f"(not {keys}.isdisjoint(keys))", "all": f"({keys} <= keys)",
                "none": f"{keys}.isdisjoint(keys)"}[op]
    if op == "count":
        keys = _const(c, frozenset(arg["keys"]))
        return f"(len({keys} & keys) >= {_const(c, int(arg['at_least']))})"
    if op in ("any_of", "all_of"):
        subs = [_source(p, c) for p in arg]
        if not subs:
            return "False" if op == "any_of" else "True"
        return "(" + (" or " if op == "any_of" else " and ").join(subs) + ")"
    if op == "not":
        return f"(not {_source(arg, c)})"
    if op == "sex":
        return f"(sex == {_const(c, arg)})"
    if op == "hair":
        return f"(hair is {_const(c, bool(arg))})"
    if op == "age_below":
        return f"(age is not None and age < {_const(c, arg)})"
    if op == "age_at_least":
        return f"(age is not None and age >= {_const(c, arg)})"
    if op == "b12_status":
        return f"(b12_status in {_const(c, frozenset(arg))})"
    if op == "b12_at_least":
        return f"(b12_p >= {_const(c, arg)})"
    if op in ("type_at_least", "cause_at_least"):
        name = "types" if op == "type_at_least" else "causes"
        tests = " or ".join(f"{name}.get({_const(c, k)}, 0.0) >= {_const(c, v)}"
                            for k, v in arg.items())
        return f"({name} is not None and ({tests or 'False'}))"
    if op in ("lab_below", "lab_above"):
        cmp = "<" if op == "lab_below" else ">"
        tests = " or ".join(
            f"({(t := _const(c, k))} in labs and labs[{t}] {cmp} {_const(c, v)})"
            for k, v in arg.items())
        return f"({tests or 'False'})"
    raise ValueError(f"unknown predicate {op!r}")


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
    known_keys |= {f"med:{c}" for c in set(kb.medications.values())} | {
        "child", "macrocytic", "med:no_hair_loss_drug"}
    known_keys |= {f"lab:{t}" for t in kb.labs} | {f"{m}:yes" for m in kb.marks}
    known_keys |= {"med:started_long_before", "med:started_after", "minoxidil:started_recently"}
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
