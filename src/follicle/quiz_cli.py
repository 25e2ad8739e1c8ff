"""`follicle quiz`: the questionnaire in the terminal (questionary), the result as the Rich report.

Same questions, skip logic and adaptive order as the web quiz (`follicle.questionnaire`);
nothing is stored. Every question has a "don't know / skip" answer and a way back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .questionnaire import (
    SKIP,
    Question,
    build_case,
    is_visible,
    load_questionnaire,
    next_step,
    visible_options,
)

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["run_quiz"]

BACK = "__back__"
DONE = "__done__"


class _Quit(Exception):
    pass


def _ask(prompt: Any) -> Any:
    value = prompt.ask()
    if value is None:  # Ctrl-C / Ctrl-D
        raise _Quit
    return value


def _ask_question(question: Question, answers: dict[str, Any], can_go_back: bool) -> Any:
    import questionary
    from questionary import Choice

    previous: Any = answers.get(question.id)
    opts = visible_options(question, answers)
    if question.type == "number":
        def valid(text: str) -> bool | str:
            t = text.strip().lower()
            if t in ("", "skip", "back" if can_go_back else "skip"):
                return True
            try:
                v = float(t.replace(",", "."))
            except ValueError:
                return "Enter a number (or leave empty to skip)"
            assert question.min is not None and question.max is not None
            if not question.min <= v <= question.max:
                return f"Enter a number from {question.min:g} to {question.max:g}"
            return True

        hint = " (empty = skip" + (", 'back' = go back)" if can_go_back else ")")
        default = "" if previous in (None, SKIP) else f"{float(previous):g}"
        text = _ask(questionary.text(f"{question.text}{hint}", default=default,
                                     validate=valid, instruction=question.help))
        t = text.strip().lower()
        if t == "back" and can_go_back:
            return BACK
        if t in ("", "skip"):
            return SKIP
        return float(t.replace(",", "."))
    extra = [Choice(f"{question.skip} (skip)", value=SKIP)]
    if can_go_back:
        extra.append(Choice("← Back", value=BACK))
    if question.type == "single":
        choices = [Choice(o.label, value=o.value) for o in opts] + extra
        selected: str | None = previous if any(o.value == previous for o in opts) else None
        return _ask(questionary.select(question.text, choices=choices, default=selected,
                                       instruction=f"({question.help})"))
    chosen = previous if isinstance(previous, list) else []
    choices = [Choice(o.label, value=o.value, checked=o.value in chosen) for o in opts]
    choices += [Choice(f"{question.skip} (skip)", value=SKIP)]
    if can_go_back:
        choices.append(Choice("← Back", value=BACK))
    picked = _ask(questionary.checkbox(
        question.text, choices=choices,
        instruction=f"(space to tick, enter when done; nothing ticked = "
                    f"{(question.none or 'none of these').lower()}) {question.help}"))
    if BACK in picked:
        return BACK
    if SKIP in picked:
        return SKIP
    return [p for p in picked if p not in (SKIP, BACK)]


def _ask_labs(console: Console, answers: dict[str, Any]) -> list[dict[str, Any]]:
    import questionary
    from questionary import Choice

    from .case import parse_case
    from .errors import CaseError
    from .kb.loader import load_kb
    from .units import units_for

    kb = load_kb()
    labs: list[dict[str, Any]] = []
    if not _ask(questionary.confirm("Do you have blood test results to add?", default=False)):
        return labs
    while True:
        choices = [Choice(f"{kb.labs[t].definition.name}", value=t) for t in kb.labs]
        test = _ask(questionary.select(
            "Which test? (choose 'Done' when you have added them all)",
            choices=[Choice("Done", value=DONE), *choices]))
        if test == DONE:
            return labs
        raw = _ask(questionary.text(f"{kb.labs[test].definition.name}: the number on your "
                                    "report"))
        unit = _ask(questionary.select("Unit (as printed next to the result)",
                                       choices=list(units_for(test))))
        try:
            value = float(raw.strip().replace(",", "."))
        except ValueError:
            console.print(f"[red]“{raw}” is not a number; that result was not added.[/red]")
            continue
        lab = {"test": test, "value": value, "unit": unit}
        try:
            parse_case(build_case(answers, [*labs, lab]))
        except CaseError as exc:
            msg = "; ".join(d.message for d in exc.details)
            console.print(f"[red]{msg}. That result was not added; try again.[/red]")
            continue
        labs.append(lab)
        console.print(f"Added: {kb.labs[test].definition.name} {value:g} {unit}")


def run_quiz(console: Console) -> None:
    """Ask the questions adaptively, then labs, then print the report."""
    from . import assess
    from .report import print_report

    q = load_questionnaire()
    answers: dict[str, Any] = {}
    path: list[str] = []
    console.print("[bold]follicle quiz[/bold]: is my hair loss caused by vitamin B12 "
                  f"deficiency, and if not, what? At most {q.max_questions} questions; every "
                  "one can be skipped. Nothing is stored.")
    try:
        pending: str | None = None
        while True:
            if pending is not None and not is_visible(q.by_id[pending], answers):
                path.remove(pending)
                pending = None
            if pending is not None:
                question: Question | None = q.by_id[pending]
                number = path.index(pending) + 1
                at_most = max(0, q.max_questions - number)
            else:
                step = next_step(answers)
                question = step.question
                number = len(path) + 1
                at_most = max(0, step.remaining_at_most - 1)
            if question is None:
                break
            more = f"about {at_most} more" if at_most else "last question"
            console.print(f"[dim]Question {number} · {more}[/dim]")
            value = _ask_question(question, answers, can_go_back=number > 1)
            if value == BACK:
                idx = path.index(question.id) if question.id in path else len(path)
                pending = path[idx - 1]
                continue
            answers[question.id] = value
            if question.id not in path:
                path.append(question.id)
            idx = path.index(question.id)
            pending = path[idx + 1] if idx + 1 < len(path) else None
            if pending is not None and pending not in answers:
                pending = None
        labs = _ask_labs(console, answers)
    except _Quit:
        console.print("Stopped; nothing was stored.")
        return
    console.print()
    print_report(assess(build_case(answers, labs)), console)
