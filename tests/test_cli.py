"""The command line: readable report, JSON, stdin, exit status 2 with one line on bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from follicle.cli import app
from tests.helpers import ROOT, SHARED

runner = CliRunner()
D04 = str(SHARED / "cases" / "d04-vegan-fatigue-low-b12.yaml")


def test_assess_report_puts_b12_first():
    r = runner.invoke(app, ["assess", D04])
    assert r.exit_code == 0, r.output
    out = r.output
    assert out.index("Is it vitamin B12?") < out.index("Hair-loss type")
    assert "Your B12 result is in the deficient range" in out and "NICE NG239" in out
    assert "References" in out


def test_assess_json_is_the_assessment_format():
    r = runner.invoke(app, ["assess", "--json", D04])
    d = json.loads(r.output)
    assert d["format"] == "follicle-assessment/1"
    assert d["b12"]["status"] == "deficient"
    assert {"hair_loss_types", "contributing_causes", "b12", "triage", "red_flags",
            "next_tests", "explanations"} <= set(d)


def test_assess_reads_stdin():
    text = (SHARED / "cases" / "d01-male-pattern.yaml").read_text()
    r = runner.invoke(app, ["assess", "--json", "-"], input=text)
    assert json.loads(r.output)["hair_loss_types"][0]["id"] == "androgenetic_alopecia"


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: follicle-case/1\nlabs:\n  - {test: b12, value: 300, unit: mg}\n")
    proc = subprocess.run([sys.executable, "-m", "follicle", "assess", str(bad)],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "labs[0].unit" in lines[0] and "pg/mL" in lines[0]
    assert proc.stdout == ""


def test_eval_prints_scores_and_misses():
    r = runner.invoke(app, ["eval", str(SHARED / "cases")])
    assert r.exit_code == 0
    assert "type_top1" in r.output and "no_under_triage" in r.output


def test_eval_missing_directory_exits_2(tmp_path):
    r = runner.invoke(app, ["eval", str(tmp_path / "nope")])
    assert r.exit_code == 2


def test_kb_check():
    r = runner.invoke(app, ["kb", "check"])
    assert r.exit_code == 0, r.output
    assert "OK" in r.output


def test_learn_lists_articles():
    r = runner.invoke(app, ["learn"])
    assert r.exit_code == 0 and "krugluger" in r.output.lower()
    r = runner.invoke(app, ["learn", "no-such-topic"])
    assert r.exit_code == 2


@pytest.mark.parametrize(("old", "new", "says"), [
    ("odds_ratio: 1.89,", "odds_ratio: banana,", "hair_loss.odds_ratio"),  # schema
    ("odds_ratio: 1.89,", "odds_ratio: 1.89 x: {", "not valid YAML"),  # syntax
])
def test_serve_with_a_broken_knowledge_base_exits_2_naming_file_and_line(
        tmp_path, old, new, says):
    kb = tmp_path / "kb"
    shutil.copytree(ROOT / "src" / "follicle" / "knowledge" / "2026.1", kb)
    text = (kb / "b12.yaml").read_text()
    line = next(i for i, t in enumerate(text.splitlines(), 1) if old in t)
    (kb / "b12.yaml").write_text(text.replace(old, new, 1))
    r = subprocess.run([sys.executable, "-m", "follicle", "serve", "--port", "1"],
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, "FOLLICLE_KB_DIR": str(kb)})
    assert r.returncode == 2
    assert f"b12.yaml:{line}" in r.stderr and says in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
