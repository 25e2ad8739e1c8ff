"""Checks on the learn pages (knowledge/<version>/articles/*.md) and their renderer."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import textstat  # type: ignore[import-untyped]
import yaml
from rich.console import Console

from follicle import learn
from follicle.errors import KnowledgeError, NotFoundError

ARTICLES = learn.list_articles()
SLUGS = [a.slug for a in ARTICLES]
REFS = learn.load_references()

HAIR_LOSS_TYPES = [
    "androgenetic_alopecia", "telogen_effluvium", "alopecia_areata", "traction_alopecia",
    "trichotillomania", "tinea_capitis", "scarring_alopecia", "anagen_effluvium",
]
CAUSES = [
    "b12_deficiency", "iron_deficiency", "thyroid_disease", "vitamin_d_deficiency",
    "zinc_deficiency", "androgen_excess", "medication", "postpartum", "illness_or_surgery",
    "calorie_restriction", "psychological_stress", "chemotherapy", "autoimmune_disease",
]
TOPICS = [
    "what-is-b12", "b12-and-hair-evidence", "krugluger-2011", "how-deficiency-happens",
    "testing-b12", "treating-b12", "treatments", "minoxidil", "finasteride", "microneedling",
    "supplements-biotin", "metformin", "acid-blockers", "nitrous-oxide", "b12-nerve-symptoms",
    "pregnancy-b12", "virilisation", "when-to-see-a-doctor",
]
MAX_GRADE_LEVEL = 9.0


def by_slug(slug: str) -> learn.Article:
    return learn.get_article(slug)


# ------------------------------------------------------------------ coverage


@pytest.mark.parametrize("slug", HAIR_LOSS_TYPES + CAUSES + TOPICS)
def test_required_article_exists(slug: str) -> None:
    assert slug in SLUGS


@pytest.mark.parametrize("type_or_cause", HAIR_LOSS_TYPES + CAUSES)
def test_every_type_and_cause_has_an_article_that_applies_to_it(type_or_cause: str) -> None:
    assert by_slug(type_or_cause) in learn.article_for(type_or_cause)


# ------------------------------------------------------------------ front matter


@pytest.mark.parametrize("slug", SLUGS)
def test_front_matter_is_complete(slug: str) -> None:
    article = by_slug(slug)
    assert article.summary.strip()
    assert article.reviewed.isoformat() == "2026-11-25"
    assert article.references, "at least one reference"
    assert article.grades, "at least one graded key claim"
    assert article.applies_to, "say which findings the article explains"
    for grade in article.grades:
        assert grade.grade in learn.GRADES
        assert grade.reason.strip() and grade.claim.strip()
        assert grade.refs, f"grade {grade.claim!r} cites nothing"


@pytest.mark.parametrize("slug", SLUGS)
def test_every_reference_id_resolves(slug: str) -> None:
    article = by_slug(slug)
    ids = {*article.references, *article.cited_ids(), *(r for g in article.grades for r in g.refs)}
    assert not ids - set(REFS), f"unknown reference ids: {sorted(ids - set(REFS))}"


@pytest.mark.parametrize("slug", SLUGS)
def test_cited_and_graded_refs_are_listed_in_front_matter(slug: str) -> None:
    article = by_slug(slug)
    used = {*article.cited_ids(), *(r for g in article.grades for r in g.refs)}
    assert not used - set(article.references), sorted(used - set(article.references))


@pytest.mark.parametrize("slug", SLUGS)
def test_every_section_cites_a_reference(slug: str) -> None:
    sections = by_slug(slug).sections()
    assert sections and all(heading for heading, _ in sections), "body must start with '## '"
    for heading, text in sections:
        assert "[@" in text, f"section {heading!r} has no citation"


def test_reference_files_have_unique_ids_and_a_locator() -> None:
    seen: set[str] = set()
    for path in sorted(learn.REFERENCES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert data["format"] == "follicle-kb/references/1"
        for ref in data["references"]:
            assert ref["id"] not in seen, f"duplicate id {ref['id']} in {path.name}"
            seen.add(ref["id"])
            assert ref["verified"] in {"primary", "secondary", "unverified"}
            if ref["kind"] not in {"expert_estimate"}:
                assert any(ref.get(k) for k in ("pmid", "doi", "url")), ref["id"]
            if ref.get("pmid"):
                assert re.fullmatch(r"\d{6,9}", str(ref["pmid"])), ref["id"]


# ------------------------------------------------------------------ links


@pytest.mark.parametrize("slug", SLUGS)
def test_internal_learn_links_name_existing_articles(slug: str) -> None:
    article = by_slug(slug)
    missing = sorted({s for s in [*article.learn_links(), *article.related] if s not in SLUGS})
    assert not missing, f"links to missing articles: {missing}"


# ------------------------------------------------------------------ readability


@pytest.mark.parametrize("slug", SLUGS)
def test_consumer_summary_reads_at_about_grade_8(slug: str) -> None:
    summary = learn.render_article(by_slug(slug)).summary
    grade = textstat.flesch_kincaid_grade(summary)
    assert grade <= MAX_GRADE_LEVEL, f"Flesch-Kincaid grade {grade:.1f}: {summary}"


# ------------------------------------------------------------------ numbers come from the KB

# Subtrees that hold model parameters (priors, likelihoods), not facts an article would quote.
_MODEL_KEYS = {"informs", "caution", "plausible", "priors", "prior", "stake", "from_types",
               "baseline", "factors", "labs", "triage_soon_at", "p_present", "p_absent",
               "lr", "points"}
_UNIT_AFTER = re.compile(
    r"\s?(%|-fold|\s?times|pg/mL|ng/L|pmol/L|nmol/L|µmol/L|umol/L|µg/mL|ug/mL|µg/L|ug/L|"
    r"ng/mL|µg/dL|ug/dL|mIU/L|g/L|g/dL|fL|hairs)"
)
_TRIVIAL = {0.0, 1.0, 10.0, 95.0, 100.0, 1000.0}  # round numbers of ordinary prose ("95% CI")
_NUMBER = re.compile(r"(?<![\w.,/@-])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w])")


def _fact_numbers() -> set[float]:
    out: set[float] = set()

    def walk(node: Any, key: str = "") -> None:
        if key in _MODEL_KEYS:
            return
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k))
        elif isinstance(node, list):
            for item in node:
                walk(item, key)
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            out.add(float(node))

    for path in sorted(learn.KB_DIR.glob("*.yaml")):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return out


FACTS = _fact_numbers()


def copied_kb_numbers(text: str) -> list[str]:
    """Numbers typed into text that also live in the KB (they must be placeholders)."""
    text = re.sub(r"\{\{.*?\}\}", " ", text, flags=re.S)  # placeholders are fine
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    found = []
    for m in _NUMBER.finditer(text):
        value = float(m.group(1).replace(",", "") + (m.group(2) or ""))
        if value not in FACTS or value in _TRIVIAL:
            continue
        has_unit = bool(_UNIT_AFTER.match(text, m.end()))
        is_year = m.group(2) is None and 1900 <= value <= 2100
        distinctive = m.group(2) is not None or (value >= 100 and not is_year)
        if has_unit or distinctive:
            found.append(text[max(0, m.start() - 30):m.end() + 12].replace("\n", " "))
    return found


def test_copy_detector_catches_hand_typed_numbers() -> None:
    assert {2.5, 25.0, 180.0, 350.0, 0.738} <= FACTS
    assert copied_kb_numbers("cultured with 2.5 µg/mL of B12")
    assert copied_kb_numbers("below 180 ng/L")
    assert copied_kb_numbers("an odds ratio of 1.65")
    assert not copied_kb_numbers('at {{ kb "studies/krugluger2011/doses/low" }} µg/mL')
    assert not copied_kb_numbers("Dhurat 2013 treated men for 3 months")
    assert not copied_kb_numbers("95 in 100 people; 1 pg/mL is 1 ng/L")


@pytest.mark.parametrize("slug", SLUGS)
def test_numbers_that_live_in_the_kb_are_rendered_from_it(slug: str) -> None:
    article = by_slug(slug)
    texts = [article.body, article.summary, article.title]
    texts += [f"{g.claim} {g.reason}" for g in article.grades]
    copies = [c for t in texts for c in copied_kb_numbers(t)]
    assert not copies, f"type these as {{{{ kb ... }}}} placeholders: {copies}"


# ------------------------------------------------------------------ placeholders and calcs


@pytest.mark.parametrize("slug", SLUGS)
def test_article_renders_to_markdown_and_html(slug: str) -> None:
    md = learn.render_markdown(slug)
    assert "{{" not in md and "[@" not in md
    assert "## References" in md
    page = learn.render_html(slug)
    assert page.startswith('<article class="learn"')
    assert '<li id="ref-1">' in page
    assert "education, not a diagnosis" in page


def _raw(path: str) -> Any:
    stem, *rest = path.split("/")
    node: Any = yaml.safe_load((learn.KB_DIR / f"{stem}.yaml").read_text(encoding="utf-8"))
    for seg in rest:
        if isinstance(node, list):
            node = next(i for i in node if str(i.get("id")) == seg) if node and "id" in node[0] \
                else node[int(seg)]
        else:
            node = node[seg]
    return node["value"] if isinstance(node, dict) and "value" in node else node


def test_krugluger_doses_are_compared_with_serum_levels_from_the_kb() -> None:
    low = _raw("studies/krugluger2011/doses/low")
    high = _raw("studies/krugluger2011/doses/high")
    unlikely = next(b["above"] for b in _raw("labs/tests/b12/guidelines/nice_ng239/bands")
                    if b["status"] == "not_deficient")
    median = _raw("studies/serum_b12_adults/median")
    # 1 ug/mL = 1,000,000 pg/mL = 1,000,000 ng/L
    assert learn.calc("krugluger_fold_low_vs_nice") == pytest.approx(low * 1e6 / unlikely)
    assert learn.calc("krugluger_fold_high_vs_nice") == pytest.approx(high * 1e6 / unlikely)
    assert learn.calc("krugluger_fold_low_vs_typical") == pytest.approx(low * 1e6 / median)
    assert learn.calc("krugluger_fold_low_vs_nice") > 1000  # "thousands of times normal"
    assert "thousands of times" in by_slug("krugluger-2011").summary


def test_unit_conversion_uses_labs_yaml_factors() -> None:
    units = _raw("labs/tests/b12/units")
    inverse = next(u["inverse_factor"] for u in units if u["unit"] == "pmol/L")
    assert learn.convert_lab("b12", 180, "pmol/L") == pytest.approx(180 * inverse)
    text = learn.resolve_placeholders(
        '{{ kb "labs/b12/guidelines/nice_ng239/bands/0/below" to="pmol/L" digits=0 }}')
    assert text == str(round(180 * inverse))
    assert learn.convert_lab("mma", 0.45, "nmol/L") == pytest.approx(450)


def test_cifci_percentages_and_odds_ratio_are_computed_from_counts() -> None:
    assert learn.calc("cifci_pct_cases") == pytest.approx(100 * 38 / 317)
    assert learn.calc("cifci_odds_ratio") == pytest.approx((38 / 279) / (22 / 305))


def test_every_studies_number_has_a_resolving_ref() -> None:
    data = yaml.safe_load((learn.KB_DIR / "studies.yaml").read_text(encoding="utf-8"))
    assert data.pop("format") == "follicle-kb/studies/1"

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict) and "value" in node:
            assert node.get("ref") in REFS, f"{where}: ref {node.get('ref')!r}"
        elif isinstance(node, dict):
            for k, v in node.items():
                if k not in {"ref", "about"}:
                    walk(v, f"{where}/{k}")
        elif isinstance(node, list):
            for item in node:
                walk(item, f"{where}/{item.get('id')}")
        else:
            raise AssertionError(f"{where}: bare number {node!r} without a ref")

    for study_id, study in data.items():
        assert study["ref"] in REFS, study_id
        walk(study, study_id)


def test_every_calculation_evaluates() -> None:
    for name in learn.CALCULATIONS:
        assert learn.calc(name) > 0, name


def test_unresolvable_placeholder_names_file_and_placeholder(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError) as info:
        learn.resolve_placeholders('x\n{{ kb "labs/b12/nope" }}', source="articles/x.md")
    message = str(info.value)
    assert "articles/x.md:2" in message and 'labs/b12/nope' in message

    bad = tmp_path / "broken.md"
    bad.write_text(
        "---\nslug: broken\ntitle: T\nsummary: S.\nreviewed: 2026-11-25\n"
        "references: [lam2013]\ngrades: []\nrelated: []\napplies_to: []\n---\n"
        '## A\nText [@lam2013].\n\nValue {{ calc "no_such_thing" }}.\n',
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeError) as info:
        learn.render_article(learn.load_article(bad))
    message = str(info.value)
    assert "broken.md:14" in message and "no_such_thing" in message


def test_malformed_placeholder_is_an_error() -> None:
    with pytest.raises(KnowledgeError, match="malformed placeholder"):
        learn.resolve_placeholders("{{ kb labs/b12 }}", source="a.md")


def test_unknown_slug_is_not_found_with_suggestions() -> None:
    with pytest.raises(NotFoundError) as info:
        learn.get_article("krugluger")
    assert "krugluger-2011" in str(info.value)
    assert learn.get_article("/learn/krugluger-2011").slug == "krugluger-2011"


# ------------------------------------------------------------------ result-page hooks and CLI


def test_article_for_finds_explanations_of_findings() -> None:
    assert "metformin" in [a.slug for a in learn.article_for("metformin")]
    assert "b12-nerve-symptoms" in [a.slug for a in learn.article_for("neuro_b12")]
    assert learn.article_for("no_such_finding") == []


def test_print_learn_lists_articles() -> None:
    console = Console(record=True, width=120)
    learn.print_learn(None, console)
    out = console.export_text()
    for article in ARTICLES:
        assert article.slug in out


def test_print_learn_shows_article_with_grades_and_references() -> None:
    console = Console(record=True, width=100)
    learn.print_learn("krugluger-2011", console)
    out = console.export_text()
    assert "How sure are we?" in out and "Very low" in out
    assert "References" in out and "1. Krugluger W" in out
    assert "education, not a diagnosis" in out
    assert "{{" not in out and "[@" not in out
