"""The answer: `Assessment`, and its JSON form `follicle-assessment/1` (`to_dict()`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from operator import mul
from typing import Any, NamedTuple

import orjson

from .case import Case
from .engine.b12 import B12Result
from .engine.differential import Differential
from .engine.nexttests import NextTest
from .engine.tables import Tables, tables
from .features import Features
from .kb.loader import KnowledgeBase, unit_key
from .kb.schema import RuleDef

__all__ = ["Assessment", "Ranked"]


class Ranked(NamedTuple):
    id: str
    probability: float
    name: str


def _round(p: float) -> float:
    return round(p, 6)


@dataclass
class Assessment:
    """An explained assessment of one case. Build it with `follicle.assess(case)`."""

    case: Case
    kb: KnowledgeBase
    features: Features
    b12: B12Result
    diff: Differential
    triage: str
    red_flags: list[RuleDef]
    rules: list[RuleDef]
    next_tests: list[NextTest]
    _extra: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def _tables(self) -> Tables:
        return tables(self.kb)

    @cached_property
    def hair_loss_types(self) -> list[Ranked]:
        names = self._tables.type_names
        pairs = sorted(zip(self.diff.type_ids, self.diff.type_probs, strict=True),
                       key=lambda x: -x[1])
        return [Ranked(t, p, names[t]) for t, p in pairs]

    @cached_property
    def contributing_causes(self) -> list[Ranked]:
        names = self._tables.cause_names
        order = self._tables.cause_order
        states = sorted(self.diff.causes.values(),
                        key=lambda s: (-s.probability, order[s.id]))
        return [Ranked(s.id, s.probability, names[s.id]) for s in states]

    @property
    def red_flag_reasons(self) -> list[str]:
        return [r.reason for r in self.red_flags]

    # --- explanations ---------------------------------------------------------------------

    @cached_property
    def _leave_one_out(self) -> tuple[list[float], list[tuple[Any, float]]]:
        """exp(score - max) per type, and for each finding that moves types the
        normaliser without it (shared by every type's explanation)."""
        scores = self.diff.type_scores
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        out = []
        for cf in self.diff.findings:
            if any(cf.type_log):
                out.append((cf, sum(map(mul, exps, cf.type_inv))))
        return exps, out

    def _type_moves(self, type_id: str) -> list[dict[str, Any]]:
        """Each finding's effect on one type: probability with and without it."""
        i = self.diff.type_ids.index(type_id)
        p = self.diff.type_probs[i]
        exps, findings = self._leave_one_out
        ei = exps[i]
        static = self._tables.finding_type_static
        out: list[dict[str, Any]] = []
        small: list[tuple[float, dict[str, Any]]] = []  # for a near-certain type, see below
        for cf, total in findings:
            delta = p - ei * cf.type_inv[i] / total
            lr, ref = static[id(cf)][i]
            if lr == 1 or (delta != 0 and (lr > 1) != (delta > 0)):
                continue  # moved only through other types: "sudden onset lowered TE" misleads
            near_zero = -0.005 < delta < 0.005
            if near_zero and lr < 2:
                continue
            item = {
                "finding": cf.id, "text": self._named(cf.id, cf.text), "likelihood_ratio": lr,
                "change": round(delta, 4),
                "direction": "raised" if delta > 0 else "lowered",
                "ref": ref, "evidence": cf.evidence, "article": cf.article,
            }
            if near_zero:
                small.append((lr, item))
            else:
                out.append(item)
        out.sort(key=lambda m: -abs(float(m["change"])))
        if not out and p >= 0.5:  # so sure that no one finding moves it: its strongest ones
            out = [m for _, m in sorted(small, key=lambda x: -x[0])[:5]]
        return out

    def _named(self, finding: str, text: str) -> str:
        """A medicine class's text with the medicines the person listed in it."""
        names = self.features.med_names.get(finding[4:]) if finding[:4] == "med:" else None
        return f"{text} (you listed: {', '.join(names)})" if names else text

    def _cause_moves(self, cause_id: str) -> list[dict[str, Any]]:
        st = self.diff.causes[cause_id]
        out: list[dict[str, Any]] = []
        if cause_id == "b12_deficiency":
            return self._b12_moves
        for source, text, ll, ref, evidence in st.moves:
            out.append({"finding": source, "text": self._named(source, text),
                        "likelihood_ratio": round(math.exp(ll), 3),
                        "direction": "raised" if ll > 0 else "lowered",
                        "ref": ref, "evidence": evidence})
        out.sort(key=lambda m: -abs(math.log(float(m["likelihood_ratio"]))))
        return out

    @cached_property
    def _b12_moves(self) -> list[dict[str, Any]]:
        out = []
        articles = self._tables.article_by_key
        for c in self.b12.contributions:
            item: dict[str, Any] = {"finding": c.source, "text": self._named(c.source, c.text),
                                    "kind": c.kind,
                                    "ref": c.ref, "evidence": c.evidence}
            article = articles.get(c.source)
            if article:
                item["article"] = article
            if c.kind == "baseline":
                item["probability"] = round(c.factor, 4)
            else:
                item["odds_ratio"] = round(c.factor, 3)
                item["direction"] = "raised" if c.factor > 1 else "lowered"
            out.append(item)
        return out

    @cached_property
    def explanations(self) -> dict[str, Any]:
        if not self.features.hair:  # the question is B12 alone: no hair-loss reasoning shown
            return {"b12": self._b12_moves, "types": {}, "causes": {}}
        types = {t.id: self._type_moves(t.id) for t in self.hair_loss_types[:3]}
        causes = {c.id: self._cause_moves(c.id) for c in self.contributing_causes[:5]}
        return {"b12": self._b12_moves, "types": types, "causes": causes}

    # --- JSON --------------------------------------------------------------------------------

    def references_used(self) -> list[str]:
        refs: list[str] = []
        ex = self.explanations
        for item in ex["b12"]:
            refs.append(item["ref"])
        for moves in (*ex["types"].values(), *ex["causes"].values()):
            refs += [m["ref"] for m in moves]
        for r in (*self.red_flags, *self.rules):
            refs.append(r.ref)
        if self.b12.decided_by is not None:
            refs.append(self.b12.decided_by.ref)
        refs += [i.ref for i in self.b12.interpretations]
        return list(dict.fromkeys(refs))

    def to_dict(self) -> dict[str, Any]:
        """The `follicle-assessment/1` document (required fields plus explanations)."""
        return self._document(serialised=False)

    def to_json(self) -> bytes:
        """`to_dict()` as compact JSON bytes, the same bytes as `orjson.dumps(to_dict())`,
        built faster: the knowledge base's references and rules go in pre-serialised."""
        return orjson.dumps(self._document(serialised=True))

    def _document(self, serialised: bool) -> dict[str, Any]:
        kb = self.kb
        b = self.b12
        decided = b.decided_by
        labs = []
        for lab in self.case.labs:
            compiled = kb.labs[lab.test]
            key = unit_key(lab.unit)
            labs.append({
                "test": lab.test, "value": lab.value, "unit": lab.unit,
                "canonical_value": round(lab.value * compiled.factors[key], 6),
                "canonical_unit": compiled.definition.canonical,
                "loinc": compiled.loinc[key].code or None,
            })
        t = self._tables
        refs: list[Any]
        rules: list[Any]
        flags: list[Any]
        if serialised:
            ref_bytes, rule_bytes = t.references_bytes, t.rules_bytes
            refs = [ref_bytes[rid] for rid in self.references_used()]
            flags = [rule_bytes[r.id] for r in self.red_flags]
            rules = [rule_bytes[r.id] for r in self.rules]
        else:
            ref_json, rule_json = t.references, t.rules_json
            refs = [dict(ref_json[rid]) for rid in self.references_used()]
            flags = [dict(rule_json[r.id]) for r in self.red_flags]
            rules = [dict(rule_json[r.id]) for r in self.rules]
        return {
            "format": "follicle-assessment/1",
            "id": self.case.id,
            "kb_version": kb.version,
            "hair_complaint": self.features.hair,
            "hair_loss_types": [{"id": t.id, "probability": round(t.probability, 6),
                                 "name": t.name} for t in self.hair_loss_types],
            "contributing_causes": [{"id": c.id, "probability": round(c.probability, 6),
                                     "name": c.name} for c in self.contributing_causes],
            "b12": {
                "status": b.status,
                "probability": _round(b.probability),
                "pretest_probability": _round(b.pretest),
                "guideline": None if decided is None else {
                    "id": decided.guideline, "label": decided.label, "test": decided.test,
                    "ref": decided.ref},
                "interpretations": [
                    {"test": i.test, "guideline": i.guideline, "label": i.label,
                     "status": i.status, "primary": i.primary, "ref": i.ref}
                    for i in b.interpretations],
                "notes": b.notes,
            },
            "triage": self.triage,
            "red_flags": self.red_flag_reasons,
            "red_flag_details": flags,
            "triage_reasons": rules,
            "next_tests": [t.test for t in self.next_tests],
            "next_test_details": [
                {"test": t.test, "name": kb.labs[t.test].definition.name,
                 "value_bits": round(t.value, 4),
                 "informs": [{"target": g, "bits": round(v, 4)} for g, v in t.targets],
                 "notes": list(t.notes)} for t in self.next_tests],
            "explanations": self.explanations,
            "labs": labs,
            "not_used": [f"medication {m!r} is not in the knowledge base, so it was not "
                         "taken into account" for m in self.features.unknown_medications]
                        + [f"medication {m!r} was read as {k!r}, the nearest name follicle "
                           "knows: correct it if that is wrong"
                           for m, k in self.features.guessed_medications]
                        + [f"the earlier result {r} was not used: only the last result listed "
                           "for a test counts" for r in self.features.unused_labs],
            "references": refs,
        }
