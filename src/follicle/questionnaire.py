"""The questionnaire: one definition (knowledge/<version>/questionnaire.yaml) for the web quiz
and the terminal quiz.

It loads and validates the questions, applies skip logic (`show_if`), maps answers to a
`follicle-case/1` document, and picks the next question adaptively: after the essentials,
the shown question with the highest expected information gain over the current
assessment, computed by assessing the case with each hypothetical answer. The quiz stops
when no question would change the answer (gain below `min_gain`) or after `max_questions`.

Answers are a mapping ``question id -> value``: a string (single), a list of strings
(multi; ``[]`` means "none of these"), a number (number), or ``SKIP``.

>>> q = load_questionnaire()
>>> case = build_case({"age": 40, "sex": "male", "pattern": "temples_crown"})
>>> case["hair"]["pattern"]
['temples_crown']
"""

from __future__ import annotations

import copy
import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import CaseError, KnowledgeError

__all__ = [
    "SKIP",
    "Answers",
    "Option",
    "Question",
    "Questionnaire",
    "Step",
    "answer_from_form",
    "build_case",
    "expected_gains",
    "is_visible",
    "load_questionnaire",
    "next_step",
    "visible_options",
]

SKIP = "skip"
Answers = Mapping[str, Any]
TYPES = ("single", "multi", "number")
_COND_KEYS = ("sex", "age_below", "age_at_least", "answer", "not", "all_of", "any_of")
# Weights of the parts of the answer in the information measure (bits).
W_TYPES = 1.0
W_B12 = 2.0
W_CAUSES = 0.5
W_TRIAGE = 1.0


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    p: float | None = None
    show_if: Mapping[str, Any] | None = None
    set: Mapping[str, Any] = field(default_factory=dict)
    add: Mapping[str, Any] = field(default_factory=dict)
    months: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    help: str
    type: str
    skip: str
    options: tuple[Option, ...] = ()
    none: str | None = None
    show_if: Mapping[str, Any] | None = None
    must_ask_if: Mapping[str, Any] | None = None
    field: str | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    unit: str | None = None

    def option(self, value: str) -> Option | None:
        return next((o for o in self.options if o.value == value), None)


@dataclass(frozen=True)
class Questionnaire:
    version: str
    max_questions: int
    min_gain: float
    essentials: tuple[str, ...]
    questions: tuple[Question, ...]

    @functools.cached_property
    def by_id(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions}


@dataclass(frozen=True)
class Step:
    """What to ask next: a question (None when done) and at most how many more may follow."""

    question: Question | None
    asked: int
    remaining_at_most: int
    gains: dict[str, float] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.question is None


# --------------------------------------------------------------------------- loading


def _err(message: str, key: str = "") -> KnowledgeError:
    return KnowledgeError(message, path=f"questionnaire.yaml {key}".strip())


def _check_cond(cond: Any, key: str, ids: set[str]) -> None:
    if not isinstance(cond, dict) or not cond:
        raise _err("show_if must be a non-empty mapping", key)
    for k, v in cond.items():
        if k not in _COND_KEYS:
            raise KnowledgeError(f"unknown condition {k!r}", path=f"questionnaire.yaml {key}",
                                 allowed=_COND_KEYS)
        if k == "answer":
            if not isinstance(v, dict):
                raise _err("answer must map question ids to lists of values", key)
            for qid in v:
                if qid not in ids:
                    raise _err(f"answer refers to unknown question {qid!r}", key)
        elif k in ("all_of", "any_of"):
            for i, c in enumerate(v):
                _check_cond(c, f"{key}.{k}[{i}]", ids)
        elif k == "not":
            _check_cond(v, f"{key}.not", ids)


def _option(raw: Any, key: str) -> Option:
    if not isinstance(raw, dict) or "value" not in raw or "label" not in raw:
        raise _err("each option needs value and label", key)
    unknown = set(raw) - {"value", "label", "p", "show_if", "set", "add", "months"}
    if unknown:
        raise _err(f"unknown option keys: {', '.join(sorted(unknown))}", key)
    return Option(value=str(raw["value"]), label=str(raw["label"]),
                  p=None if raw.get("p") is None else float(raw["p"]),
                  show_if=raw.get("show_if"), set=raw.get("set") or {},
                  add=raw.get("add") or {}, months=raw.get("months"))


def parse_questionnaire(data: Any, version: str = "custom") -> Questionnaire:
    """Validate a questionnaire document; raise `KnowledgeError` naming the problem."""
    if not isinstance(data, dict) or data.get("format") != "follicle-kb/questionnaire/1":
        raise _err("format must be follicle-kb/questionnaire/1", "format")
    raw_qs = data.get("questions")
    if not isinstance(raw_qs, list) or not raw_qs:
        raise _err("questions must be a non-empty list", "questions")
    ids = [q.get("id") for q in raw_qs if isinstance(q, dict)]
    if len(ids) != len(raw_qs) or len(set(ids)) != len(ids):
        raise _err("every question needs a unique id", "questions")
    idset = {str(i) for i in ids}
    questions: list[Question] = []
    allowed = {"id", "text", "help", "type", "skip", "options", "none", "show_if",
               "must_ask_if", "field", "min", "max", "step", "unit"}
    for i, raw in enumerate(raw_qs):
        key = f"questions[{i}] ({raw['id']})"
        unknown = set(raw) - allowed
        if unknown:
            raise _err(f"unknown keys: {', '.join(sorted(unknown))}", key)
        for need in ("text", "help", "type", "skip"):
            if not isinstance(raw.get(need), str) or not raw[need].strip():
                raise _err(f"'{need}' must be a non-empty string", key)
        if raw["type"] not in TYPES:
            raise KnowledgeError(f"unknown type {raw['type']!r}",
                                 path=f"questionnaire.yaml {key}", allowed=TYPES)
        for cond_key in ("show_if", "must_ask_if"):
            if raw.get(cond_key) is not None:
                _check_cond(raw[cond_key], f"{key}.{cond_key}", idset)
        options = tuple(_option(o, f"{key}.options[{j}]")
                        for j, o in enumerate(raw.get("options") or []))
        for j, o in enumerate(options):
            if o.show_if is not None:
                _check_cond(o.show_if, f"{key}.options[{j}].show_if", idset)
        values = [o.value for o in options]
        if len(set(values)) != len(values) or SKIP in values:
            raise _err(f"option values must be unique and not {SKIP!r}", key)
        if raw["type"] == "number":
            if not raw.get("field") or raw.get("min") is None or raw.get("max") is None:
                raise _err("a number question needs field, min and max", key)
        elif not options:
            raise _err("a choice question needs options", key)
        questions.append(Question(
            id=str(raw["id"]), text=raw["text"].strip(), help=raw["help"].strip(),
            type=raw["type"], skip=raw["skip"], options=options, none=raw.get("none"),
            show_if=raw.get("show_if"), must_ask_if=raw.get("must_ask_if"),
            field=raw.get("field"),
            min=None if raw.get("min") is None else float(raw["min"]),
            max=None if raw.get("max") is None else float(raw["max"]),
            step=None if raw.get("step") is None else float(raw["step"]),
            unit=raw.get("unit")))
    essentials = tuple(str(e) for e in data.get("essentials") or [])
    for e in essentials:
        if e not in idset:
            raise _err(f"essential {e!r} is not a question", "essentials")
    return Questionnaire(version=version, max_questions=int(data.get("max_questions", 15)),
                         min_gain=float(data.get("min_gain", 0.03)), essentials=essentials,
                         questions=tuple(questions))


@functools.cache
def load_questionnaire(version: str | None = None) -> Questionnaire:
    """The questionnaire of a knowledge-base version (cached)."""
    from .kb.loader import kb_dir

    directory = kb_dir(version)
    path = directory / "questionnaire.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _err(f"cannot read {path}: {exc.strerror}") from None
    return parse_questionnaire(data, directory.name)


def check_questionnaire(q: Questionnaire | None = None) -> list[str]:
    """Every problem with the mappings: each option applied alone must give a valid case."""
    from .case import parse_case

    q = q or load_questionnaire()
    problems: list[str] = []
    for question in q.questions:
        samples: list[tuple[str, Any]] = []
        if question.type == "number":
            samples.append(("min", question.min))
            samples.append(("max", question.max))
        for o in question.options:
            samples.append((o.value, o.value if question.type == "single" else [o.value]))
        for label, value in samples:
            answers: dict[str, Any] = {question.id: value}
            for o in question.options:
                if o.months:
                    owner = _months_owner(q, str(o.months["medicine"]))
                    if owner:
                        answers[owner[0]] = [owner[1]]
            try:
                parse_case(_build(q, answers, check_visible=False))
            except CaseError as exc:
                problems.append(f"questionnaire.yaml {question.id}={label}: {exc}")
    return problems


def _months_owner(q: Questionnaire, medicine: str) -> tuple[str, str] | None:
    for question in q.questions:
        for o in question.options:
            meds = o.add.get("history.medications")
            if isinstance(meds, dict) and meds.get("name") == medicine:
                return question.id, o.value
    return None


# --------------------------------------------------------------------------- skip logic


def _context(q: Questionnaire, answers: Answers) -> tuple[float | None, str | None]:
    """Age and sex as answered (needed by `show_if`)."""
    age: float | None = None
    sex: str | None = None
    for question in q.questions:
        value = answers.get(question.id)
        if value is None or value == SKIP:
            continue
        if question.type == "number" and question.field == "age":
            age = float(value)
        elif question.type == "single":
            o = question.option(str(value))
            if o is not None and "sex" in o.set:
                sex = str(o.set["sex"])
    return age, sex


def _holds(cond: Mapping[str, Any], answers: Answers, age: float | None,
           sex: str | None) -> bool:
    for k, v in cond.items():
        if k == "sex" and sex != v:
            return False
        if k == "age_below" and (age is None or age >= float(v)):
            return False
        if k == "age_at_least" and (age is not None and age < float(v)):
            # unknown age: ask (better to ask than to miss)
            return False
        if k == "answer":
            for qid, wanted in v.items():
                got = answers.get(qid)
                given = got if isinstance(got, list) else [got]
                if not any(str(g) in {str(w) for w in wanted} for g in given):
                    return False
        if k == "not" and _holds(v, answers, age, sex):
            return False
        if k == "all_of" and not all(_holds(c, answers, age, sex) for c in v):
            return False
        if k == "any_of" and not any(_holds(c, answers, age, sex) for c in v):
            return False
    return True


def is_visible(question: Question, answers: Answers, q: Questionnaire | None = None) -> bool:
    """Whether the question applies, given the answers so far."""
    if question.show_if is None:
        return True
    age, sex = _context(q or load_questionnaire(), answers)
    return _holds(question.show_if, answers, age, sex)


def visible_options(question: Question, answers: Answers,
                    q: Questionnaire | None = None) -> tuple[Option, ...]:
    """The options shown for a question (some apply only to, e.g., women)."""
    if not any(o.show_if for o in question.options):
        return question.options
    age, sex = _context(q or load_questionnaire(), answers)
    return tuple(o for o in question.options
                 if o.show_if is None or _holds(o.show_if, answers, age, sex))


# --------------------------------------------------------------------------- answers -> case


def _put(case: dict[str, Any], path: str, value: Any, append: bool) -> None:
    parts = path.split(".")
    node = case
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    last = parts[-1]
    if append:
        items = node.setdefault(last, [])
        if value not in items:
            items.append(copy.deepcopy(value))
    else:
        node[last] = copy.deepcopy(value)


def _apply(case: dict[str, Any], o: Option) -> None:
    for path, value in o.set.items():
        _put(case, path, value, append=False)
    for path, value in o.add.items():
        _put(case, path, value, append=True)
    if o.months:
        meds = case.get("history", {}).get("medications", [])
        for m in meds:
            if m.get("name") == o.months["medicine"]:
                m["months"] = o.months["value"]


def _build(q: Questionnaire, answers: Answers, labs: Sequence[Mapping[str, Any]] = (),
           check_visible: bool = True) -> dict[str, Any]:
    case: dict[str, Any] = {"format": "follicle-case/1", "hair": {}}
    if check_visible:
        age, sex = _context(q, answers)
    months_last: list[Option] = []
    for question in q.questions:
        value = answers.get(question.id)
        if value is None or value == SKIP:
            continue
        if check_visible and question.show_if is not None and not _holds(
                question.show_if, answers, age, sex):
            continue
        if question.type == "number":
            assert question.field is not None
            _put(case, question.field, float(value), append=False)
            continue
        chosen = value if isinstance(value, list) else [value]
        for v in chosen:
            o = question.option(str(v))
            if o is None:
                continue
            if check_visible and o.show_if is not None and not _holds(o.show_if, answers,
                                                                      age, sex):
                continue
            if o.months:
                months_last.append(o)
            else:
                _apply(case, o)
    for o in months_last:
        _apply(case, o)
    if labs:
        case["labs"] = [dict(lab) for lab in labs]
    return case


def build_case(answers: Answers, labs: Sequence[Mapping[str, Any]] = (),
               q: Questionnaire | None = None) -> dict[str, Any]:
    """The `follicle-case/1` document for these answers (hidden questions are ignored)."""
    return _build(q or load_questionnaire(), answers, labs)


def answer_from_form(question: Question, values: Sequence[str],
                     skip: bool = False) -> tuple[Any, str | None]:
    """Turn submitted form values into an answer, or an error message for the person."""
    if skip or (len(values) == 1 and values[0] == SKIP):
        return SKIP, None
    if question.type == "number":
        raw = (values[0] if values else "").strip().replace(",", ".")
        if not raw:
            return None, "Enter a number, or choose “" + question.skip + "”."
        try:
            num = float(raw)
        except ValueError:
            return None, "Enter a number, for example 34."
        if not math.isfinite(num) or (question.min is not None and num < question.min) or (
                question.max is not None and num > question.max):
            return None, f"Enter a number from {question.min:g} to {question.max:g}."
        return num, None
    known = {o.value for o in question.options}
    if question.type == "single":
        if not values or values[0] not in known:
            return None, "Choose one answer, or “" + question.skip + "”."
        return values[0], None
    chosen = [v for v in values if v in known]
    if "none" in values and not chosen:
        return [], None
    if "none" in values:
        return None, ("You ticked “" + (question.none or "None") + "” and other boxes: "
                      "untick one or the other.")
    if not chosen:
        return None, "Tick at least one box, “" + (question.none or "None") + "”, or skip."
    return chosen, None


# --------------------------------------------------------------------------- adaptive order


@dataclass(frozen=True)
class _Summary:
    types: tuple[float, ...]
    b12: float
    causes: tuple[float, ...]
    triage: str


@functools.lru_cache(maxsize=8192)
def _summary(case_json: str) -> _Summary:
    from .engine.assess import assess

    a = assess(json.loads(case_json))
    causes = tuple(a.diff.causes[c].probability for c in sorted(a.diff.causes))
    types = tuple(a.diff.type_probs) if a.features.hair else ()
    return _Summary(types, a.b12.probability, causes, a.triage)


def _summ(case: dict[str, Any]) -> _Summary:
    return _summary(json.dumps(case, sort_keys=True))


def _kl(p: Sequence[float], q: Sequence[float]) -> float:
    return sum(pi * math.log2(pi / max(qi, 1e-9)) for pi, qi in zip(p, q, strict=True)
               if pi > 1e-12)


def _kl_bin(p: float, q: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    q = min(max(q, 1e-9), 1 - 1e-9)
    return p * math.log2(p / q) + (1 - p) * math.log2((1 - p) / (1 - q))


def _gain(cur: _Summary, new: _Summary) -> float:
    """Information (bits) the answer adds: divergence of the new assessment from the current."""
    g = W_B12 * _kl_bin(new.b12, cur.b12)
    if cur.types and new.types:
        g += W_TYPES * _kl(new.types, cur.types)
    g += W_CAUSES * sum(_kl_bin(n, c) for n, c in zip(new.causes, cur.causes, strict=True))
    if new.triage != cur.triage:
        g += W_TRIAGE
    return g


def _expected_gain(q: Questionnaire, question: Question, answers: Answers,
                   cur: _Summary, labs: Sequence[Mapping[str, Any]]) -> float:
    opts = visible_options(question, answers, q)
    if question.type == "number" or not opts:
        return 0.0
    total = 0.0
    if question.type == "single":
        given = [o.p for o in opts if o.p is not None]
        rest = max(0.0, 1.0 - sum(given))
        n_free = sum(1 for o in opts if o.p is None)
        weights = [o.p if o.p is not None else rest / n_free for o in opts]
        norm = sum(weights) or 1.0
        for o, w in zip(opts, weights, strict=True):
            if w <= 0:
                continue
            hyp = dict(answers)
            hyp[question.id] = o.value
            total += (w / norm) * _gain(cur, _summ(_build(q, hyp, labs)))
        return total
    for o in opts:
        w = 0.08 if o.p is None else o.p
        hyp = dict(answers)
        hyp[question.id] = [o.value]
        total += w * _gain(cur, _summ(_build(q, hyp, labs)))
    return total


def expected_gains(answers: Answers, labs: Sequence[Mapping[str, Any]] = (),
                   q: Questionnaire | None = None) -> dict[str, float]:
    """Expected information gain (bits) of every question still to ask that applies."""
    q = q or load_questionnaire()
    cur = _summ(_build(q, answers, labs))
    out: dict[str, float] = {}
    for question in q.questions:
        if question.id in answers or question.id in q.essentials:
            continue
        if not is_visible(question, answers, q):
            continue
        out[question.id] = _expected_gain(q, question, answers, cur, labs)
    return out


def next_step(answers: Answers, labs: Sequence[Mapping[str, Any]] = (),
              q: Questionnaire | None = None) -> Step:
    """The next question to ask (essentials first, then the most informative), or done."""
    q = q or load_questionnaire()
    asked = sum(1 for question in q.questions if question.id in answers
                and is_visible(question, answers, q))
    room = max(0, q.max_questions - asked)
    for qid in q.essentials:
        question = q.by_id[qid]
        if qid not in answers and is_visible(question, answers, q):
            todo = sum(1 for e in q.essentials
                       if e not in answers and is_visible(q.by_id[e], answers, q))
            return Step(question, asked, min(room, max(todo, q.max_questions - asked)))
    for question in q.questions:  # questions an earlier answer makes necessary: asked
        if (question.must_ask_if is not None and question.id not in answers  # even past
                and is_visible(question, answers, q) and _must_ask(question, answers, q)):
            return Step(question, asked, max(room, 1))  # the limit (metformin's duration)
    if room == 0:
        return Step(None, asked, 0)
    gains = expected_gains(answers, labs, q)
    useful = {k: v for k, v in gains.items() if v >= q.min_gain}
    if not useful:
        return Step(None, asked, 0, gains)
    best = max(useful, key=lambda k: (useful[k], -_order(q, k)))
    return Step(q.by_id[best], asked, min(room, len(useful)), gains)


def _must_ask(question: Question, answers: Answers, q: Questionnaire) -> bool:
    assert question.must_ask_if is not None
    age, sex = _context(q, answers)
    return _holds(question.must_ask_if, answers, age, sex)


def _order(q: Questionnaire, qid: str) -> int:
    return next(i for i, question in enumerate(q.questions) if question.id == qid)
