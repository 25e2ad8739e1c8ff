"""Score vignette files against the engine, per shared/spec/vignettes.md."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import CaseError, NotFoundError
from .kb.loader import KnowledgeBase, load_kb

__all__ = ["Score", "VignetteResult", "evaluate_dir", "evaluate_files", "load_vignette"]

LEVELS = ("routine", "soon", "urgent")
SCORES = ("type_top1", "type_top3", "cause_top1", "cause_top3", "triage", "no_under_triage",
          "b12_status", "b12_probability", "next_tests")


@dataclass
class VignetteResult:
    name: str
    hits: dict[str, bool]
    misses: list[str] = field(default_factory=list)


@dataclass
class Score:
    results: list[VignetteResult]

    def rate(self, key: str) -> tuple[int, int]:
        vals = [r.hits[key] for r in self.results if key in r.hits]
        return sum(vals), len(vals)

    def table(self) -> list[tuple[str, int, int]]:
        return [(k, *self.rate(k)) for k in SCORES]


def load_vignette(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "case" not in data or "expect" not in data:
        raise CaseError(f"{path.name}: a vignette needs 'case' and 'expect'")
    return data


def score_one(name: str, data: dict[str, Any], kb: KnowledgeBase) -> VignetteResult:
    from .engine.assess import assess

    exp = data["expect"]
    a = assess(data["case"], kb=kb).to_dict()
    hits: dict[str, bool] = {}
    misses: list[str] = []
    types = [t["id"] for t in a["hair_loss_types"]]
    causes = [c["id"] for c in a["contributing_causes"]]
    tests = a["next_tests"]

    def check(key: str, ok: bool, why: str) -> None:
        hits[key] = ok
        if not ok:
            misses.append(f"{key}: {why}")

    if "type" in exp:
        check("type_top1", types[0] in exp["type"],
              f"expected {exp['type']}, got {types[0]}")
        check("type_top3", any(t in exp["type"] for t in types[:3]),
              f"expected {exp['type']} in top 3, got {types[:3]}")
    if exp.get("cause"):
        check("cause_top1", causes[0] in exp["cause"],
              f"expected {exp['cause']}, got {causes[0]}")
        check("cause_top3", all(c in causes[:3] for c in exp["cause"]),
              f"expected {exp['cause']} in top 3, got {causes[:3]}")
    if "triage" in exp:
        check("triage", a["triage"] in exp["triage"],
              f"expected {exp['triage']}, got {a['triage']}")
        lowest = min(LEVELS.index(t) for t in exp["triage"])
        check("no_under_triage", LEVELS.index(a["triage"]) >= lowest,
              f"UNDER-TRIAGE: expected at least {LEVELS[lowest]}, got {a['triage']}")
    if "b12_status" in exp:
        check("b12_status", a["b12"]["status"] == exp["b12_status"],
              f"expected {exp['b12_status']}, got {a['b12']['status']}")
    if "b12_min_probability" in exp or "b12_max_probability" in exp:
        p = a["b12"]["probability"]
        lo = exp.get("b12_min_probability", 0.0)
        hi = exp.get("b12_max_probability", 1.0)
        check("b12_probability", lo <= p <= hi, f"expected {lo}-{hi}, got {p:.3f}")
    if "next_tests_any" in exp or "next_tests_first2" in exp:
        ok = True
        why = []
        if "next_tests_any" in exp and not any(t in exp["next_tests_any"] for t in tests[:3]):
            ok = False
            why.append(f"one of {exp['next_tests_any']} in first 3")
        if "next_tests_first2" in exp and not any(
                t in exp["next_tests_first2"] for t in tests[:2]):
            ok = False
            why.append(f"one of {exp['next_tests_first2']} in first 2")
        check("next_tests", ok, f"expected {' and '.join(why)}, got {tests[:3]}")
    return VignetteResult(name, hits, misses)


def evaluate_files(paths: Iterable[Path], kb: KnowledgeBase | None = None) -> Score:
    kb = kb or load_kb()
    return Score([score_one(p.stem, load_vignette(p), kb) for p in paths])


def evaluate_dir(directory: Path, kb: KnowledgeBase | None = None) -> Score:
    if not directory.is_dir():
        raise NotFoundError(f"no such directory: {directory}")
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not paths:
        raise NotFoundError(f"no vignette files (*.yaml) in {directory}")
    return evaluate_files(paths, kb)
