"""The human-readable Rich report of an assessment (terminal)."""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from .engine.b12 import B12_TESTS
from .engine.nexttests import NEEDED, REPEAT
from .engine.tables import tables

if TYPE_CHECKING:
    from rich.console import Console

    from .assessment import Assessment

__all__ = ["in_short", "normal_shedding", "percent", "print_report", "probability_words",
           "status_words", "times", "uk_numbers"]

STATUS_WORDS = {
    "deficient": "Your B12 result is in the deficient range",
    "indeterminate": "B12 result in the grey zone: a follow-up test is needed",
    "not_deficient": "B12 deficiency unlikely from your result",
    "untested": "No B12 test yet",
}
TRIAGE_WORDS = {
    "urgent": "See a doctor within days (sooner if a warning sign says so)",
    "soon": "Book a doctor's appointment within a few weeks",
    "routine": "No rush: self-care or a routine visit",
}

UK_NUMBERS = ("The phone numbers are the UK's (999 for emergencies, 111 for urgent advice); in "
              "the US call 911, or 988 in a mental-health crisis; elsewhere, use your local "
              "emergency number.")
NORMAL_SHEDDING = "normal_shedding"  # triage rule: no sign of more loss than normal
HAIR_BREAKAGE = "hair_breakage"  # triage rule: snapped hairs, not loss from the roots
USEFUL_BITS = 0.1  # expected information (bits) of a test worth naming in the summary
B12_EVIDENCE = "b12-and-hair-evidence"  # the learn article on B12 and hair loss


def status_words(b12: dict[str, Any], words: dict[str, str]) -> str:
    """The B12 headline: the status in words, saying so when a follow-up test (MMA,
    homocysteine) decided over a borderline or normal B12 level."""
    decided = (b12.get("guideline") or {}).get("test")
    total = next((i for i in b12.get("interpretations", ()) if i["test"] == "b12"
                  and i.get("primary")), None)
    if (b12["status"] == "deficient" and decided == "active_b12" and total is not None
            and total["status"] != "deficient"):
        was = "only borderline" if total["status"] == "indeterminate" else "not low"
        return (f"Your active B12 result shows a deficiency; total B12 was {was}, and active "
                "B12 is the more specific test")
    if b12["status"] == "deficient" and decided in ("mma", "homocysteine"):
        name = "MMA" if decided == "mma" else "homocysteine"
        if not any(i["test"] in ("b12", "active_b12") for i in b12.get("interpretations", ())):
            return (f"Your {name} test is raised, which points to a B12 deficiency (no B12 "
                    "level was given)")
        return (f"Your B12 level itself is not in the deficient range, but the {name} test is "
                "raised: together they show a B12 deficiency")
    if b12["status"] == "indeterminate" and _doubted_normal(b12):
        return DOUBTED_NORMAL
    return words[b12["status"]]


DOUBTED_NORMAL = ("Your B12 level is not low, but here a normal level cannot rule out a "
                  "deficiency (see the notes): a follow-up test settles it")


def _grey(b12: dict[str, Any]) -> str:
    if _doubted_normal(b12):
        return "your level is not low, but it cannot rule a deficiency out here, and a " \
               "follow-up test settles it"
    return "your result is in the grey zone, and a follow-up test settles it"


def _doubted_normal(b12: dict[str, Any]) -> bool:
    """Indeterminate although every guideline reading of the results is 'not deficient':
    something else doubts them (nitrous oxide inactivates B12 that the test still counts)."""
    primary = [i for i in b12.get("interpretations", ()) if i.get("primary")]
    return bool(primary) and all(i["status"] == "not_deficient" for i in primary)


def probability_words(p: float) -> str:
    """Plain words for a probability (as on the result page), chosen from the percentage
    shown, so that the same "5%" never reads "unlikely" in one row and "very unlikely" in
    the next."""
    p = round(p, 2)
    if p < 0.05:
        return "very unlikely"
    if p < 0.15:
        return "unlikely"
    if p < 0.4:
        return "possible"
    if p < 0.6:
        return "about as likely as not"
    if p < 0.85:
        return "likely"
    return "very likely"


NOT_A_CAUSE = ("it is not a known cause of this type of hair loss, so B12 alone is unlikely "
               "to stop it")


def in_short(d: dict[str, Any], explains: Collection[str],
             work_up_here: Collection[str] = ()) -> list[str]:
    """The answer to the person's question in three plain sentences, from a
    follicle-assessment/1 document: what the hair loss looks like, whether B12 is behind
    it, and how soon to act. `explains`: the hair-loss types B12 deficiency can cause
    (b12.yaml explains_types); `work_up_here`: red flags whose work-up is among the ranked
    tests (triage.yaml work_up_here), after which the most useful test is named as usual."""
    out: list[str] = []
    b = d["b12"]
    p = float(b["probability"])
    normal = normal_shedding(d)
    top = (d["hair_loss_types"][0] if d["hair_complaint"] and d["hair_loss_types"]
           and not normal else None)  # no loss beyond normal: no type to name
    if normal:
        out.append("Nothing in your answers shows more hair loss than normal.")
    elif _has_rule(d, HAIR_BREAKAGE):
        out.append("Your answers fit breakage of the hair shaft (snapped hairs) more than "
                   "hair loss from the roots.")
    elif top is not None:
        tp = float(top["probability"])
        name = top["name"].lower() if not top["name"].isupper() else top["name"]
        out.append(f"Your hair loss looks most like {name} ({percent(tp)})." if tp >= 0.5 else
                   f"Your hair loss could be one of several types; the likeliest is {name} "
                   f"({percent(tp)}).")
    if b["status"] == "deficient":
        low = "Your B12 test shows a deficiency"
        if top is None:
            out.append(f"{low}: that needs treating.")
        elif top["id"] in explains:
            out.append(f"{low}: that needs treating, and it can add to shedding like this.")
        else:
            out.append(f"{low}: that needs treating for its own sake, but {NOT_A_CAUSE}.")
    elif p >= 0.5:  # likely, but no test has shown it yet: a test comes before treatment
        low = f"A B12 deficiency is {probability_words(p)} ({percent(p)})"
        settle = {"untested": "a blood test confirms it (blood taken before any B12 is "
                              "started)",
                  "indeterminate": _grey(b)}.get(b["status"], "a repeat test settles it")
        if top is None:
            out.append(f"{low}: {settle}.")
        elif top["id"] in explains:
            out.append(f"{low}: {settle}; a deficiency needs treating and can add to "
                       "shedding like this.")
        else:
            out.append(f"{low}: {settle}; a deficiency needs treating for its own sake, but "
                       f"{NOT_A_CAUSE}.")
    elif b["status"] == "indeterminate" or p >= 0.15:
        out.append(f"A B12 deficiency is {probability_words(p)} ({percent(p)}): "
                   + (f"{_grey(b)}." if b["status"] == "indeterminate"
                      else "a blood test settles it."))
    elif b["status"] == "untested" and any(
            t["test"] in B12_TESTS
            for t in d["next_test_details"][:3]):  # e.g. nerve symptoms: a test is advised
        out.append(f"A B12 deficiency is {probability_words(p)} ({percent(p)}) from your "
                   "answers, but only a blood test can rule it out.")
    else:
        out.append(f"A B12 deficiency is {probability_words(p)} ({percent(p)}), so B12 is "
                   + ("unlikely to be behind this hair loss." if top is not None
                      else "unlikely to be a problem."))
    act = TRIAGE_WORDS[d["triage"]]
    tests = d["next_test_details"]
    first = tests[0]["name"] if tests_worth_asking(d) else None
    # a warning sign whose work-up is not a test follicle knows (a biopsy, a scan, an HIV
    # test): the doctor's tests for it come first, not the most informative blood test
    own_work_up = bool(tests) and any(n.startswith((NEEDED, REPEAT))
                                      for n in tests[0].get("notes", ()))
    if not own_work_up and any(r["level"] == d["triage"] and r["id"] not in work_up_here
                               for r in d.get("red_flag_details", ())):
        out.append(f"What to do: {act[0].lower() + act[1:]}; the doctor's tests for the "
                   "warning sign come first"
                   + (f", and after those the most useful test here is "
                      f"{first[0].lower() + first[1:]}." if first else "."))
        return out
    out.append(f"What to do: {act[0].lower() + act[1:]}"
               + (f"; the most useful next test is {first[0].lower() + first[1:]}."
                  if first else "; no blood test would change much here." if tests
                  else "."))
    return out


def tests_worth_asking(d: dict[str, Any]) -> bool:
    """Whether the best next test is worth asking for: a test worth under a tenth of a bit
    that no point asks for (ferritin beside traction or alopecia areata) would barely move
    anything, so it is not called the most useful."""
    tests = d["next_test_details"]
    return bool(tests) and (float(tests[0].get("value_bits", USEFUL_BITS)) >= USEFUL_BITS
                            or bool(tests[0].get("notes")))


def b12_tests_to_ask(d: dict[str, Any]) -> list[dict[str, Any]]:
    """The B12 tests to ask for, best first (two at most): only while B12 is untested or in
    the grey zone, and only tests that bear on B12."""
    if d["b12"]["status"] not in ("untested", "indeterminate"):
        return []
    return [t for t in d["next_test_details"]
            if any(i["target"] == "b12" for i in t["informs"])][:2]


def tests_heading(d: dict[str, Any]) -> str:
    """The heading over the ranked tests, which does not oversell tests worth little."""
    return ("Tests worth asking for next" if tests_worth_asking(d)
            else "Tests that would add little here (none is clearly needed)")


def _what_to_do(rule: dict[str, Any], headline: str) -> str:
    """A point's action under it; when a more urgent point sets the timing, only its
    timing-free advice (stop biotin, keep taking iron), so the report gives one timing."""
    if rule["level"] == headline:
        return f"\n  → {rule['action']}"
    return f"\n  → {rule['advice']}" if rule.get("advice") else ""


NOT_RANKED = ("No type or cause of hair loss is ranked: nothing in your answers shows more "
              "hair loss than normal, and a ranking would suggest a problem that is not there.")


def normal_shedding(d: dict[str, Any]) -> bool:
    """Whether the answers show no more hair loss than normal (the normal_shedding rule)."""
    return _has_rule(d, NORMAL_SHEDDING)


def _has_rule(d: dict[str, Any], rule_id: str) -> bool:
    return any(r["id"] == rule_id for r in d.get("triage_reasons", ()))


def uk_numbers(d: dict[str, Any]) -> bool:
    """Whether any point shown gives a UK phone number (999, 111), which then needs saying."""
    shown = (f" {r['action']} {r.get('advice') or ''}"
             for r in (*d["red_flag_details"], *d["triage_reasons"]))
    return any(" 999" in text or " 111" in text for text in shown)


def percent(p: float) -> str:
    """A probability as a whole percentage, never a false 0% or 100%: the reasoning never
    makes anything impossible or certain, and a document rounds to 6 decimals."""
    if p < 0.01:
        return "<1%"
    if p > 0.99:
        return ">99%"
    return f"{p:.0%}"


def times(x: float) -> str:
    """An odds ratio or likelihood ratio for people: 0.31, 2.5, 12, 380."""
    return f"{x:.0f}" if x >= 10 else f"{x:.2g}"


def _bar(p: float, width: int = 24) -> str:
    n = round(p * width)
    return "█" * n + "·" * (width - n)


def print_report(a: Assessment, console: Console) -> None:
    from rich.markup import escape as esc
    from rich.panel import Panel
    from rich.table import Table

    d: dict[str, Any] = a.to_dict()
    b = d["b12"]
    console.print(Panel("\n".join(esc(line) for line in in_short(
        d, a.kb.b12.explains_types.types, tables(a.kb).work_up_here)), title="In short"))
    style = {"urgent": "bold white on red", "soon": "bold black on yellow",
             "routine": "bold black on green"}[d["triage"]]
    if d["red_flag_details"]:
        lines = "\n".join(f"• {esc(r['reason'])}" + _what_to_do(r, d["triage"])
                          for r in d["red_flag_details"])
        console.print(Panel(lines, title="Red flags", border_style="red"))
    b12_text = (f"[bold]{status_words(b, STATUS_WORDS)}[/bold]\n"
                f"Chance of a true B12 deficiency: {probability_words(b['probability'])} "
                f"({percent(b['probability'])})")
    if b["guideline"]:
        b12_text += f"\nGuideline used: {b['guideline']['label']}"
    for i in b["interpretations"]:
        if not i["primary"]:
            b12_text += f"\nFor comparison, {i['label']}: {i['status'].replace('_', ' ')}"
    ask = [t["name"] for t in b12_tests_to_ask(d)]
    if ask:
        b12_text += f"\nWhat to ask your doctor for: {esc(' or '.join(ask))}"
    for note in b["notes"]:
        b12_text += f"\n[yellow]Note:[/yellow] {esc(note)}"
    if d["hair_complaint"]:
        from .learn import summary_of

        b12_text += (f"\nDoes low B12 cause hair loss? {esc(summary_of(B12_EVIDENCE))} "
                     f"(follicle learn {B12_EVIDENCE})")
    console.print(Panel(b12_text, title="Is it vitamin B12?", border_style="cyan"))
    console.print(f"[{style}] {d['triage'].upper()} [/] {TRIAGE_WORDS[d['triage']]}")
    flagged = {r["id"] for r in d["red_flag_details"]}
    for r in d["triage_reasons"]:
        if r["id"] not in flagged:
            console.print(f"  • {esc(r['reason'])}" + esc(_what_to_do(r, d["triage"]))
                          .replace("\n  →", "\n    →"))
    if uk_numbers(d):
        console.print(f"  [dim]{esc(UK_NUMBERS)}[/dim]")

    if d["hair_complaint"] and normal_shedding(d):
        console.print(NOT_RANKED)
    elif d["hair_complaint"]:
        t = Table(title="Hair-loss type", show_header=False, box=None)
        for item in d["hair_loss_types"][:5]:
            t.add_row(item["name"], _bar(item["probability"]), percent(item["probability"]))
        console.print(t)
        c = Table(title="Contributing causes (each on its own)", show_header=False, box=None)
        for item in d["contributing_causes"][:6]:
            c.add_row(item["name"], _bar(item["probability"]), percent(item["probability"]))
        console.print(c)

    console.print("[bold]Why[/bold]")
    ex = d["explanations"]
    if d["hair_complaint"]:
        top = d["hair_loss_types"][0]
        if ex["types"][top["id"]]:
            console.print(f"  {top['name']}:")
        for m in ex["types"][top["id"]][:5]:
            arrow = "▲" if m["direction"] == "raised" else "▼"
            console.print(f"    {arrow} {esc(m['text'])} (×{times(m['likelihood_ratio'])}, "
                          f"{m['change']:+.0%}) \\[{m['ref']}]")
        for cause in d["contributing_causes"][:2]:  # the likely ones name what moved them
            moves = ex["causes"].get(cause["id"], [])
            if cause["id"] == "b12_deficiency" or cause["probability"] < 0.3 or not moves:
                continue
            console.print(f"  {cause['name']}:")
            for m in moves[:4]:
                arrow = "▲" if m["direction"] == "raised" else "▼"
                console.print(f"    {arrow} {esc(m['text'])} "
                              f"(×{times(m['likelihood_ratio'])}) \\[{m['ref']}]")
    console.print("  Vitamin B12:")
    base = [m for m in ex["b12"] if m["kind"] == "baseline"]
    moves = sorted((m for m in ex["b12"] if m["kind"] != "baseline"),
                   key=lambda m: -abs(math.log(m["odds_ratio"])))
    for m in base + moves[:7]:  # the strongest, so a deciding lab result is never cut
        if m["kind"] == "baseline":
            console.print(f"    • {esc(m['text'])} \\[{m['ref']}]")
        else:
            arrow = "▲" if m["odds_ratio"] > 1 else "▼"
            ratio = times(m["odds_ratio"])
            console.print(f"    {arrow} {esc(m['text'])} (×{ratio}) \\[{m['ref']}]")
    if d["next_tests"]:
        console.print(f"[bold]{tests_heading(d)}[/bold]")
        for tdet in d["next_test_details"][:5]:
            console.print(f"  {tdet['test']}: {tdet['name']}")
            for note in tdet["notes"]:
                console.print(f"    [dim]{esc(note)}[/dim]")
    for msg in d["not_used"]:
        console.print(f"[yellow]{esc(msg)}[/yellow]")
    console.print("[bold]References[/bold]")
    for r in d["references"]:
        link = f" https://pubmed.ncbi.nlm.nih.gov/{r['pmid']}/" if r["pmid"] else (
            f" https://doi.org/{r['doi']}" if r["doi"] else (f" {r['url']}" if r["url"] else ""))
        console.print(f"  \\[{r['id']}] {esc(r['citation'])}{link}", highlight=False)
    about = ("your hair loss" if d["hair_complaint"] else "these symptoms"
             if a.case.symptoms else "vitamin B12")
    console.print(f"[dim]follicle is education, not a diagnosis. See a doctor about {about}, "
                  "and within the time a red flag gives if one applies.[/dim]")
