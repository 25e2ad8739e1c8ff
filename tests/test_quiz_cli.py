"""`follicle quiz` driven through a pseudo-terminal (pexpect): a persona answers, with a
back step, a lab result, and the Rich report checks the answer."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from follicle.questionnaire import next_step, visible_options
from tests.web.personas import VEGAN, answer_for

pexpect = pytest.importorskip("pexpect")

DOWN = "\x1b[B"
ENTER = "\r"
FOLLICLE = Path(sys.executable).with_name("follicle")


def _planned(persona: dict[str, Any]) -> list[tuple[Any, Any, dict[str, Any]]]:
    """The questions the quiz will ask this persona, in order, with the answers."""
    answers: dict[str, Any] = {}
    plan: list[tuple[Any, Any, dict[str, Any]]] = []
    while not (step := next_step(answers)).done:
        question = step.question
        assert question is not None
        value = answer_for(persona, question)
        plan.append((question, value, dict(answers)))
        answers[question.id] = value
    return plan


def _select(child: Any, index: int) -> None:
    child.send(DOWN * index)
    child.send(ENTER)


@pytest.mark.skipif(not FOLLICLE.exists() and not shutil.which("follicle"),
                    reason="follicle command not installed")
def test_terminal_quiz_vegan_persona() -> None:
    cmd = str(FOLLICLE) if FOLLICLE.exists() else "follicle"
    env = dict(os.environ, PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm", COLUMNS="120",
               LINES="50", NO_COLOR="1")
    child = pexpect.spawn(cmd, ["quiz"], env=env, encoding="utf-8", timeout=30,
                          dimensions=(50, 120))
    log: list[str] = []
    child.logfile_read = type("L", (), {"write": lambda self, s: log.append(s),
                                        "flush": lambda self: None})()
    try:
        plan = _planned(VEGAN)
        assert len(plan) <= 15
        went_back = False
        for i, (question, value, before) in enumerate(plan):
            child.expect_exact(question.text[:40])
            if question.type == "number":
                child.sendline(f"{value:g}" if value != "skip" else "")
            elif question.type == "single":
                opts = visible_options(question, before)
                values = [o.value for o in opts]
                idx = values.index(value) if value != "skip" else len(values)
                _select(child, idx)
            else:
                opts = visible_options(question, before)
                values = [o.value for o in opts]
                pos = 0
                for v in value:
                    target = values.index(v)
                    child.send(DOWN * (target - pos) + " ")
                    pos = target
                child.send(ENTER)
            if i == 2 and not went_back:
                # go back once from the next question, then answer it again
                went_back = True
                nxt = plan[i + 1][0]
                child.expect_exact(nxt.text[:40])
                opts = visible_options(nxt, plan[i + 1][2])
                _select(child, len(opts) + 1)  # "← Back" comes after the skip choice
                child.expect_exact(question.text[:40])
                values = [o.value for o in visible_options(question, before)]
                # the kept answer is the default: just confirm it
                child.send(ENTER)
        child.expect_exact("blood test results")
        child.send("y")
        child.expect_exact("Which test?")
        _select(child, 1)  # b12 is the first test after "Done"
        child.expect_exact("the number on your report")
        child.sendline("120")
        child.expect_exact("Unit")
        _select(child, 0)  # pg/mL
        child.expect_exact("Added:")
        child.expect_exact("Which test?")
        _select(child, 0)  # Done
        child.expect(pexpect.EOF, timeout=60)
    finally:
        child.close()
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", "".join(log))
    assert "Red flags" in out
    assert "Your B12 result is in the deficient range" in out
    assert "URGENT" in out
    assert "Telogen effluvium" in out
