"""The real knowledge base against the vignette corpus (shared examples + our own)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from follicle.evaluate import evaluate_files, load_vignette, score_one
from follicle.kb.loader import load_kb
from tests.helpers import ROOT, SHARED

OURS = sorted((ROOT / "tests" / "vignettes").glob("*.yaml"))
EXAMPLES = sorted((SHARED / "cases").glob("*.yaml"))
ALL = OURS + EXAMPLES


def test_corpus_size():
    assert len(OURS) >= 60


@pytest.fixture(scope="module")
def score():
    return evaluate_files(ALL)


def _rate(score, key):
    hits, n = score.rate(key)
    assert n > 0
    return hits / n


def test_type_accuracy(score):
    assert _rate(score, "type_top1") >= 0.90
    assert _rate(score, "type_top3") >= 0.98


def test_cause_accuracy(score):
    assert _rate(score, "cause_top3") >= 0.90


def test_b12_probability_bounds(score):
    assert _rate(score, "b12_probability") >= 0.90


def test_next_tests(score):
    assert _rate(score, "next_tests") >= 0.90


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_b12_status_and_no_under_triage(path: Path):
    """These two must hold for every vignette: status is guideline arithmetic, and a red
    flag must never be under-triaged."""
    result = score_one(path.stem, load_vignette(path), load_kb())
    for key in ("b12_status", "no_under_triage"):
        if key in result.hits:
            assert result.hits[key], result.misses


def test_corpus_covers_every_type_cause_and_status():
    types: Counter[str] = Counter()
    causes: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    screening = 0
    for p in OURS:
        data = yaml.safe_load(p.read_text())
        exp = data["expect"]
        if exp.get("type"):
            types[exp["type"][0]] += 1
        causes.update(exp.get("cause", []))
        if "b12_status" in exp:
            statuses[exp["b12_status"]] += 1
        screening += "hair" not in data["case"]
        assert data["case"]["id"] == p.stem
        assert p.read_text().startswith("# Source:"), f"{p.name} must cite its source"
    kb = load_kb()
    assert all(types[t] >= 4 for t in kb.type_ids), types
    assert all(causes[c] >= 2 for c in kb.cause_ids), causes
    assert all(statuses[s] >= 5 for s in ("deficient", "indeterminate", "not_deficient",
                                           "untested")), statuses
    assert screening >= 4


def test_every_red_flag_fires_in_some_vignette():
    import follicle

    fired: set[str] = set()
    for p in ALL:
        fired |= {r.id for r in follicle.assess(load_vignette(p)["case"]).red_flags}
    missing = {r.id for r in load_kb().red_flags} - fired
    assert not missing, f"red flags never exercised by a vignette: {sorted(missing)}"
