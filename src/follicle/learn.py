"""Learn pages: evidence-graded articles kept as data in the knowledge base.

Each article is one Markdown file in ``knowledge/<version>/articles/<slug>.md`` with YAML
front matter::

    ---
    slug: krugluger-2011
    title: ...
    summary: >-            consumer summary (school grade 8-9)
    reviewed: 2026-11-25
    references: [krugluger2011, nice_ng239]
    grades:
      - {claim: ..., grade: high|moderate|low|very_low, reason: ..., refs: [ids]}
    related: [other-slug]
    applies_to: [b12_deficiency]      type, cause, red-flag or finding ids it explains
    ---
    ## A section
    Text with a citation [@krugluger2011] and a number from the knowledge base:
    {{ kb "labs/b12/guidelines/nice_ng239/bands/0/below" }} ng/L is
    {{ kb "labs/b12/guidelines/nice_ng239/bands/0/below" to="pmol/L" digits=0 }} pmol/L.

Placeholders keep numbers in one place, so an article can never drift from the data:

``{{ kb "PATH" [to="UNIT"] [digits=N] [sig=N] }}``
    A value from the raw YAML of a knowledge file. The first segment is the file stem
    (``labs``, ``studies``, ``b12_population``...). A list whose items have ``id`` is
    indexed by id, any other list by position. A mapping with a ``value`` key stands for
    that value. ``to`` converts a ``labs/<test>/...`` value from the test's canonical unit
    with the factors in ``labs.yaml``.
``{{ calc "NAME" [digits=N] [sig=N] }}``
    A fact computed here from knowledge-base numbers (see ``CALCULATIONS``).

Citations ``[@id]`` or ``[@a; @b]`` become numbered references in order of first use.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import html
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt
from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from follicle.errors import KnowledgeError, NotFoundError

__all__ = [
    "ARTICLES_DIR",
    "CALCULATIONS",
    "DISCLAIMER",
    "GRADES",
    "KB_DIR",
    "Article",
    "Grade",
    "LearnError",
    "Reference",
    "Rendered",
    "article_for",
    "calc",
    "convert_lab",
    "get_article",
    "kb_value",
    "list_articles",
    "load_article",
    "load_references",
    "print_learn",
    "render_article",
    "render_html",
    "render_markdown",
    "resolve_placeholders",
    "summary_of",
]

KB_VERSION = "2026.1"
KB_DIR = Path(__file__).resolve().parent / "knowledge" / KB_VERSION
ARTICLES_DIR = KB_DIR / "articles"
REFERENCES_DIR = KB_DIR / "references"

DISCLAIMER = (
    "This is education, not a diagnosis. Please talk to a doctor or pharmacist "
    "about your own situation."
)

#: Evidence grades (GRADE wording): label and a one-line plain explanation.
GRADES: dict[str, tuple[str, str]] = {
    "high": ("High", "Strong evidence: more research is very unlikely to change this."),
    "moderate": ("Moderate", "Fairly good evidence: more research may change the details."),
    "low": ("Low", "Limited evidence: more research could well change this."),
    "very_low": ("Very low", "Very uncertain: based on lab work, case reports or opinion."),
}
_GRADE_STYLE = {"high": "bold green", "moderate": "bold cyan", "low": "bold yellow",
                "very_low": "bold red"}

_REQUIRED = ("slug", "title", "summary", "reviewed", "references", "grades", "related",
             "applies_to")
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_PLACEHOLDER_RE = re.compile(
    r"\{\{\s*(?P<kind>\w+)\s+\"(?P<arg>[^\"]*)\"(?P<opts>(?:\s+\w+=(?:\"[^\"]*\"|[^\s}]+))*)\s*\}\}"
)
_OPTION_RE = re.compile(r"(\w+)=(?:\"([^\"]*)\"|([^\s}]+))")
_CITE_RE = re.compile(r"\[@([A-Za-z0-9_]+(?:\s*;\s*@[A-Za-z0-9_]+)*)\]")
_LEARN_LINK_RE = re.compile(r"/learn/([A-Za-z0-9_-]+)")

# SI prefixes for mass concentrations, as nanograms per litre (pure unit arithmetic).
_MASS_CONC_IN_NG_PER_L = {
    "ng/L": 1.0,
    "pg/mL": 1.0,
    "ng/mL": 1e3,
    "ug/L": 1e3,
    "ug/mL": 1e6,
    "mg/L": 1e6,
}


LearnError = KnowledgeError
"""Alias kept for callers written against the issue's wording."""


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Grade:
    """One key claim of an article with its evidence grade."""

    claim: str
    grade: str
    reason: str
    refs: tuple[str, ...]

    @property
    def label(self) -> str:
        return GRADES[self.grade][0]

    @property
    def explanation(self) -> str:
        return GRADES[self.grade][1]


@dataclass(frozen=True)
class Article:
    """One learn page as stored (placeholders and citation markers unresolved)."""

    slug: str
    title: str
    summary: str
    reviewed: dt.date
    references: tuple[str, ...]
    grades: tuple[Grade, ...]
    related: tuple[str, ...]
    applies_to: tuple[str, ...]
    body: str
    path: Path
    body_line: int  # 1-based line of the first body line in the file

    @property
    def url(self) -> str:
        return f"/learn/{self.slug}"

    def sections(self) -> list[tuple[str, str]]:
        """(heading, text) for every ``##`` section; text before the first is ``("", ...)``."""
        out: list[tuple[str, list[str]]] = [("", [])]
        for line in self.body.splitlines():
            if line.startswith("## "):
                out.append((line[3:].strip(), []))
            else:
                out[-1][1].append(line)
        return [(h, "\n".join(lines)) for h, lines in out if h or "".join(lines).strip()]

    def cited_ids(self) -> list[str]:
        """Reference ids cited in the body, in order of first use."""
        seen: list[str] = []
        for match in _CITE_RE.finditer(self.body):
            for ref_id in _split_cite(match.group(1)):
                if ref_id not in seen:
                    seen.append(ref_id)
        return seen

    def learn_links(self) -> list[str]:
        """Slugs named by ``/learn/<slug>`` links in the body."""
        return _LEARN_LINK_RE.findall(self.body)


@dataclass(frozen=True)
class Reference:
    """One entry of ``references/*.yaml``."""

    id: str
    kind: str
    citation: str
    verified: str
    pmid: str = ""
    doi: str = ""
    url: str = ""
    section: str = ""

    @property
    def link(self) -> str:
        if self.pmid:
            return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/"
        if self.doi:
            return f"https://doi.org/{self.doi}"
        return self.url


@dataclass(frozen=True)
class Rendered:
    """An article with placeholders resolved and citations numbered."""

    article: Article
    title: str
    summary: str
    body: str  # Markdown; citations as [1], [2, 3]
    html_body: str  # Markdown; citations as links to #ref-N
    references: tuple[Reference, ...]  # numbered 1..n in this order
    grades: tuple[Grade, ...]

    def number(self, ref_id: str) -> int:
        return [r.id for r in self.references].index(ref_id) + 1


# --------------------------------------------------------------------------- loading


def _split_cite(inner: str) -> list[str]:
    return [part.strip().lstrip("@").strip() for part in inner.split(";") if part.strip()]


def _err(path: Path | str, message: str, line: int = 0, key: str = "") -> KnowledgeError:
    name = path.name if isinstance(path, Path) else path
    where = f"{name}:{line}" if line else name
    if key:
        where += f" {key}"
    return KnowledgeError(message, path=where)


def _as_str_tuple(value: Any, path: Path, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _err(path, f"'{key}' must be a list of strings", key=key)
    return tuple(value)


def load_article(path: Path) -> Article:
    """Parse one article file; raise `KnowledgeError` naming the file on any problem."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        raise _err(path, "article must start with '---' YAML front matter", 1)
    end = text.find("\n---\n", 4)
    if end < 0:
        raise _err(path, "front matter is not closed by a '---' line", 1)
    try:
        meta = yaml.safe_load(text[4:end])
    except yaml.YAMLError as exc:
        raise _err(path, f"front matter is not valid YAML: {exc}", 1) from exc
    if not isinstance(meta, dict):
        raise _err(path, "front matter must be a mapping", 1)
    missing = [k for k in _REQUIRED if k not in meta]
    if missing:
        raise _err(path, f"front matter lacks {', '.join(missing)}", 1)
    unknown = sorted(set(meta) - set(_REQUIRED))
    if unknown:
        raise _err(path, f"unknown front-matter keys: {', '.join(unknown)}", 1)
    slug = meta["slug"]
    if not isinstance(slug, str) or not _SLUG_RE.match(slug) or slug != path.stem:
        raise _err(path, f"slug {slug!r} must be lower-case and equal the file name", 1, "slug")
    reviewed = meta["reviewed"]
    if isinstance(reviewed, str):
        try:
            reviewed = dt.date.fromisoformat(reviewed)
        except ValueError as exc:
            raise _err(path, "reviewed must be an ISO date", 1, "reviewed") from exc
    if not isinstance(reviewed, dt.date):
        raise _err(path, "reviewed must be an ISO date", 1, "reviewed")
    for key in ("title", "summary"):
        if not isinstance(meta[key], str) or not meta[key].strip():
            raise _err(path, f"'{key}' must be a non-empty string", 1, key)
    grades: list[Grade] = []
    raw_grades = meta["grades"]
    if not isinstance(raw_grades, list):
        raise _err(path, "'grades' must be a list", 1, "grades")
    for i, item in enumerate(raw_grades):
        if not isinstance(item, dict) or set(item) != {"claim", "grade", "reason", "refs"}:
            raise _err(path, "each grade needs exactly claim, grade, reason, refs", 1,
                       f"grades[{i}]")
        if item["grade"] not in GRADES:
            raise KnowledgeError(f"unknown grade {item['grade']!r}",
                                 path=f"{path.name}:1 grades[{i}]", allowed=tuple(GRADES))
        grades.append(Grade(str(item["claim"]), item["grade"], str(item["reason"]),
                            _as_str_tuple(item["refs"], path, f"grades[{i}].refs")))
    return Article(
        slug=slug,
        title=meta["title"].strip(),
        summary=" ".join(meta["summary"].split()),
        reviewed=reviewed,
        references=_as_str_tuple(meta["references"], path, "references"),
        grades=tuple(grades),
        related=_as_str_tuple(meta["related"], path, "related"),
        applies_to=_as_str_tuple(meta["applies_to"], path, "applies_to"),
        body=text[end + 5:],
        path=path,
        body_line=text[: end + 5].count("\n") + 1,
    )


@functools.cache
def _articles() -> dict[str, Article]:
    out: dict[str, Article] = {}
    for path in sorted(ARTICLES_DIR.glob("*.md")):
        article = load_article(path)
        out[article.slug] = article
    return out


def list_articles() -> list[Article]:
    """Every article, sorted by title."""
    return sorted(_articles().values(), key=lambda a: a.title.lower())


def get_article(slug: str) -> Article:
    """The article with this slug; `NotFoundError` (with suggestions) if there is none."""
    articles = _articles()
    key = slug.strip().lower().removeprefix("/learn/")
    if key in articles:
        return articles[key]
    alt = key.replace("-", "_")
    for candidate in (alt, key.replace("_", "-")):
        if candidate in articles:
            return articles[candidate]
    close = difflib.get_close_matches(key, list(articles), n=5, cutoff=0.5)
    raise NotFoundError(f"no learn article {slug!r}", path="topic",
                        allowed=tuple(close or sorted(articles)))


@functools.cache
def summary_of(slug: str) -> str:
    """One article's summary, reading only its own file (for reports, which need no other)."""
    return load_article(ARTICLES_DIR / f"{slug}.md").summary


def article_for(applies_to_id: str) -> list[Article]:
    """Articles that explain this type, cause, red flag or finding id."""
    return [a for a in list_articles() if applies_to_id in a.applies_to]


@functools.cache
def load_references() -> dict[str, Reference]:
    """All references of the knowledge base (core and learn), by id."""
    out: dict[str, Reference] = {}
    for path in sorted(REFERENCES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for i, item in enumerate(data.get("references") or []):
            ref_id = item.get("id")
            if not isinstance(ref_id, str):
                raise _err(path, "reference without an id", key=f"references[{i}]")
            if ref_id in out:
                raise _err(path, f"duplicate reference id {ref_id!r}", key=f"references[{i}]")
            out[ref_id] = Reference(
                id=ref_id,
                kind=str(item.get("kind", "")),
                citation=str(item.get("citation", "")),
                verified=str(item.get("verified", "")),
                pmid=str(item.get("pmid", "") or ""),
                doi=str(item.get("doi", "") or ""),
                url=str(item.get("url", "") or ""),
                section=str(item.get("section", "") or ""),
            )
    return out


# --------------------------------------------------------------------------- KB numbers


@functools.cache
def _kb_file(stem: str) -> Any:
    path = KB_DIR / f"{stem}.yaml"
    if not _SLUG_RE.match(stem) or not path.is_file():
        raise KnowledgeError(f"no knowledge file {stem}.yaml", path=stem)
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _step(node: Any, seg: str, root: bool = False) -> Any:
    if isinstance(node, Mapping):
        if seg in node:
            return node[seg]
        lists = [v for k, v in node.items() if k != "format" and isinstance(v, list)]
        if root and len(lists) == 1:  # `labs/b12` is short for `labs/tests/b12`
            return _step(lists[0], seg)
        raise KeyError(seg)
    if isinstance(node, list):
        if node and all(isinstance(i, Mapping) and "id" in i for i in node):
            for item in node:
                if str(item["id"]) == seg:
                    return item
            raise KeyError(seg)
        if seg.isdigit() and int(seg) < len(node):
            return node[int(seg)]
        raise KeyError(seg)
    raise KeyError(seg)


def kb_value(path: str) -> Any:
    """The raw value at ``stem/key/...`` in a knowledge file (``value`` of a mapping)."""
    segments = [s for s in path.strip("/").split("/") if s]
    if not segments:
        raise KnowledgeError("empty knowledge-base path", path=path)
    node = _kb_file(segments[0])
    for i, seg in enumerate(segments[1:], start=1):
        try:
            node = _step(node, seg, root=i == 1)
        except KeyError:
            done = "/".join(segments[:i])
            raise KnowledgeError(f"'{seg}' not found under '{done}'", path=path) from None
    if isinstance(node, Mapping) and "value" in node:
        node = node["value"]
    return node


def _number(path: str) -> float:
    value = kb_value(path)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise KnowledgeError(f"value at '{path}' is not a number: {value!r}", path=path)
    return float(value)


def _lab_test_of(path: str) -> str:
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) >= 3 and parts[0] == "labs":
        return parts[2] if parts[1] == "tests" else parts[1]
    raise KnowledgeError("to= works only on labs/<test>/... paths", path=path)


def convert_lab(test: str, value: float, unit: str) -> float:
    """Convert a value in the test's canonical unit to ``unit`` (factors from labs.yaml)."""
    entry = kb_value(f"labs/{test}")
    for item in entry.get("units", []):
        if item.get("unit") == unit:
            if "factor" in item:  # canonical = value * factor
                return value / float(item["factor"])
            return value * float(item["inverse_factor"])  # canonical = value / inverse
    allowed = tuple(str(u.get("unit")) for u in entry.get("units", []))
    raise KnowledgeError(f"test {test!r} has no unit {unit!r}", path=f"labs/{test}",
                         allowed=allowed)


def _mass_to_ng_per_l(value: float, unit: str) -> float:
    if unit not in _MASS_CONC_IN_NG_PER_L:
        raise KnowledgeError(f"cannot convert unit {unit!r} to ng/L", path=unit,
                             allowed=tuple(_MASS_CONC_IN_NG_PER_L))
    return value * _MASS_CONC_IN_NG_PER_L[unit]


def _resolve_node(path: str) -> Any:
    segments = [s for s in path.strip("/").split("/") if s]
    node = _kb_file(segments[0])
    for i, seg in enumerate(segments[1:], start=1):
        node = _step(node, seg, root=i == 1)
    return node


def _study(path: str) -> tuple[float, str]:
    """A study number and its unit (``{value, unit, ref}`` mapping or a bare number)."""
    try:
        node = _resolve_node(path)
    except KeyError as exc:
        raise KnowledgeError(f"'{exc.args[0]}' not found", path=path) from None
    unit = ""
    if isinstance(node, Mapping) and "value" in node:
        unit = str(node.get("unit", ""))
        node = node["value"]
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        raise KnowledgeError(f"value at '{path}' is not a number", path=path)
    return float(node), unit


def _band(test: str, guideline: str, status: str) -> float:
    """The threshold of a guideline band by status (``below`` or ``above``/``from``)."""
    bands = kb_value(f"labs/{test}/guidelines/{guideline}/bands")
    for band in bands:
        if band.get("status") == status:
            for key in ("below", "above", "from"):
                if key in band:
                    return float(band[key])
    raise KnowledgeError(f"no {status!r} band in {guideline}", path=f"labs/{test}")


def _krugluger_ng_per_l(dose: str) -> float:
    value, unit = _study(f"studies/krugluger2011/doses/{dose}")
    return _mass_to_ng_per_l(value, unit)


def _typical_b12_ng_per_l(which: str = "median") -> float:
    value, unit = _study(f"studies/serum_b12_adults/{which}")
    return _mass_to_ng_per_l(value, unit)


def _cifci_pct(group: str) -> float:
    deficient = _number(f"studies/cifci2019/{group}/deficient")
    total = _number(f"studies/cifci2019/{group}/n")
    return 100.0 * deficient / total


def _cifci_odds_ratio() -> float:
    a = _number("studies/cifci2019/cases/deficient")
    n1 = _number("studies/cifci2019/cases/n")
    c = _number("studies/cifci2019/controls/deficient")
    n0 = _number("studies/cifci2019/controls/n")
    return (a / (n1 - a)) / (c / (n0 - c))


def _biotin_fold() -> float:
    return _number("studies/fda_biotin/high_dose_pill_mg") / _number(
        "studies/fda_biotin/daily_intake_mg")


def _baricitinib_difference(trial: str, dose: str) -> float:
    return _number(f"studies/king2022/{trial}/{dose}") - _number(
        f"studies/king2022/{trial}/placebo")


def _dhurat_ratio() -> float:
    return _number("studies/dhurat2013/hair_count_change/microneedling") / _number(
        "studies/dhurat2013/hair_count_change/minoxidil_alone")


#: Named facts computed from knowledge-base numbers (no hand-typed copies).
CALCULATIONS: dict[str, Callable[[], float]] = {
    # Krugluger 2011 doses in serum units and against serum levels.
    "krugluger_low_ng_per_l": lambda: _krugluger_ng_per_l("low"),
    "krugluger_high_ng_per_l": lambda: _krugluger_ng_per_l("high"),
    "krugluger_low_pmol_per_l": lambda: convert_lab("b12", _krugluger_ng_per_l("low"),
                                                    "pmol/L"),
    "krugluger_fold_low_vs_nice": lambda: _krugluger_ng_per_l("low")
    / _band("b12", "nice_ng239", "not_deficient"),
    "krugluger_fold_high_vs_nice": lambda: _krugluger_ng_per_l("high")
    / _band("b12", "nice_ng239", "not_deficient"),
    "krugluger_fold_low_vs_typical": lambda: _krugluger_ng_per_l("low")
    / _typical_b12_ng_per_l("median"),
    "krugluger_fold_high_vs_typical": lambda: _krugluger_ng_per_l("high")
    / _typical_b12_ng_per_l("median"),
    "krugluger_fold_low_vs_upper_typical": lambda: _krugluger_ng_per_l("low")
    / _typical_b12_ng_per_l("p97_5"),
    "krugluger_dose_ratio": lambda: _krugluger_ng_per_l("high") / _krugluger_ng_per_l("low"),
    # Cifci 2019: proportions and odds ratio from the counts.
    "cifci_pct_cases": lambda: _cifci_pct("cases"),
    "cifci_pct_controls": lambda: _cifci_pct("controls"),
    "cifci_odds_ratio": _cifci_odds_ratio,
    # Others.
    "biotin_fold_over_daily_intake": _biotin_fold,
    "baricitinib_aa1_4mg_difference": lambda: _baricitinib_difference("aa1", "mg4"),
    "baricitinib_aa2_4mg_difference": lambda: _baricitinib_difference("aa2", "mg4"),
    "dhurat_ratio": _dhurat_ratio,
}


def calc(name: str) -> float:
    """Value of a named calculation; `KnowledgeError` if unknown."""
    if name not in CALCULATIONS:
        raise KnowledgeError(f"unknown calculation {name!r}", path=name,
                             allowed=tuple(sorted(CALCULATIONS)))
    return CALCULATIONS[name]()


def _format_number(value: float, digits: int | None, sig: int | None) -> str:
    if sig is not None and value != 0:
        places = sig - 1 - math.floor(math.log10(abs(value)))
        value = round(value, places)
        digits = max(places, 0)
    elif digits is not None:
        value = round(value, digits)
    if digits is None:
        text = repr(float(value))
        decimals = 0 if value == int(value) else len(text.split(".")[1])
        digits = decimals
    digits = max(digits, 0)
    return f"{value:,.{digits}f}"


def resolve_placeholders(text: str, source: str = "<text>", first_line: int = 1) -> str:
    """Replace every ``{{ kb ... }}`` / ``{{ calc ... }}``; errors name source and line."""

    def replace(match: re.Match[str]) -> str:
        line = first_line + text.count("\n", 0, match.start())
        where = f"{source}:{line}"
        kind, arg = match.group("kind"), match.group("arg")
        opts = {m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
                for m in _OPTION_RE.finditer(match.group("opts") or "")}
        bad = set(opts) - {"to", "digits", "sig"}
        if bad:
            raise KnowledgeError(f"unknown option {sorted(bad)[0]!r} in placeholder "
                                 f"{match.group(0)}", path=where,
                                 allowed=("to", "digits", "sig"))
        try:
            digits = int(opts["digits"]) if "digits" in opts else None
            sig = int(opts["sig"]) if "sig" in opts else None
            if kind == "kb":
                value = kb_value(arg)
                if isinstance(value, str) and not opts:
                    return value
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise KnowledgeError(f"value at '{arg}' is not a number: {value!r}")
                number = float(value)
                if "to" in opts:
                    number = convert_lab(_lab_test_of(arg), number, opts["to"])
            elif kind == "calc":
                number = calc(arg)
            else:
                raise KnowledgeError(f"unknown placeholder kind {kind!r}",
                                     allowed=("kb", "calc"))
            return _format_number(number, digits, sig)
        except (KnowledgeError, ValueError) as exc:
            raise KnowledgeError(f"unresolvable placeholder {match.group(0)}: {exc}",
                                 path=where) from exc

    out = _PLACEHOLDER_RE.sub(replace, text)
    leftover = out.find("{{")
    if leftover >= 0:
        line = first_line + out.count("\n", 0, leftover)
        snippet = out[leftover:leftover + 60].split("\n")[0]
        raise KnowledgeError(f"malformed placeholder {snippet!r}", path=f"{source}:{line}")
    return out


# --------------------------------------------------------------------------- rendering


def render_article(article: Article) -> Rendered:
    """Resolve placeholders, check references and number the citations."""
    refs = load_references()
    source = f"articles/{article.path.name}"
    body = resolve_placeholders(article.body, source, article.body_line)
    summary = resolve_placeholders(article.summary, source, 1)
    title = resolve_placeholders(article.title, source, 1)

    order: list[str] = []
    for match in _CITE_RE.finditer(body):
        for ref_id in _split_cite(match.group(1)):
            if ref_id not in order:
                order.append(ref_id)
    for ref_id in [*article.references, *(r for g in article.grades for r in g.refs)]:
        if ref_id not in order:
            order.append(ref_id)
    unknown = [r for r in order if r not in refs]
    if unknown:
        raise KnowledgeError(f"unknown reference id(s): {', '.join(unknown)}", path=source)
    numbers = {ref_id: i + 1 for i, ref_id in enumerate(order)}

    def plain(match: re.Match[str]) -> str:
        return "[" + ", ".join(str(numbers[r]) for r in _split_cite(match.group(1))) + "]"

    def linked(match: re.Match[str]) -> str:
        items = [f"[{numbers[r]}](#ref-{numbers[r]})" for r in _split_cite(match.group(1))]
        return "[" + ", ".join(items) + "]"

    grades = tuple(
        Grade(resolve_placeholders(g.claim, source, 1), g.grade,
              resolve_placeholders(g.reason, source, 1), g.refs)
        for g in article.grades
    )
    return Rendered(
        article=article,
        title=title,
        summary=summary,
        body=_CITE_RE.sub(plain, body).strip() + "\n",
        html_body=_CITE_RE.sub(linked, body).strip() + "\n",
        references=tuple(refs[r] for r in order),
        grades=grades,
    )


def _reference_line(ref: Reference) -> str:
    parts = [ref.citation]
    if ref.pmid:
        parts.append(f"PMID {ref.pmid}")
    if ref.doi:
        parts.append(f"doi:{ref.doi}")
    if ref.url and not (ref.pmid or ref.doi):
        parts.append(ref.url)
    if ref.verified and ref.verified != "primary":
        parts.append(f"(checked: {ref.verified})")
    return ". ".join(p.rstrip(".") for p in parts) + "."


def render_markdown(slug: str) -> str:
    """The article as Markdown for the terminal: resolved numbers, numbered references."""
    r = render_article(get_article(slug))
    lines = [f"# {r.title}", "", f"*{r.summary}*", "",
             f"Reviewed {r.article.reviewed.isoformat()}. {DISCLAIMER}", "",
             "## How sure are we?", ""]
    for g in r.grades:
        nums = ", ".join(str(r.number(x)) for x in g.refs)
        lines.append(f"- **{g.label}**: {g.claim} ({g.reason}) [{nums}]")
    lines += ["", r.body.rstrip(), "", "## References", ""]
    lines += [f"{i}. {_reference_line(ref)}" for i, ref in enumerate(r.references, 1)]
    return "\n".join(lines) + "\n"


@functools.cache
def _md() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_html(slug: str) -> str:
    """The article as an HTML fragment (``<article>``) for the web app."""
    r = render_article(get_article(slug))
    esc = html.escape
    out = [f'<article class="learn" id="learn-{esc(r.article.slug)}">',
           f"<h1>{esc(r.title)}</h1>",
           f'<p class="summary">{esc(r.summary)}</p>',
           f'<p class="reviewed">Reviewed <time datetime="{r.article.reviewed.isoformat()}">'
           f"{r.article.reviewed.isoformat()}</time></p>",
           '<section class="grades"><h2>How sure are we?</h2><ul>']
    for g in r.grades:
        cites = ", ".join(f'<a class="cite" href="#ref-{r.number(x)}">{r.number(x)}</a>'
                          for x in g.refs)
        out.append(f'<li><span class="grade grade-{g.grade}" title="{esc(g.explanation)}">'
                   f"{esc(g.label)}</span> {esc(g.claim)} "
                   f'<span class="grade-reason">{esc(g.reason)}</span> [{cites}]'
                   f'<br><small class="grade-explanation">{esc(g.explanation)}</small></li>')
    out.append("</ul></section>")
    body = _md().render(r.html_body).replace('<a href="#ref-', '<a class="cite" href="#ref-')
    out.append(f'<div class="learn-body">{body}</div>')
    out.append('<section class="references"><h2>References</h2><ol>')
    for i, ref in enumerate(r.references, 1):
        link = f' <a href="{esc(ref.link)}" rel="noopener">{esc(ref.link)}</a>' if ref.link else ""
        note = (f' <span class="verified">(checked: {esc(ref.verified)})</span>'
                if ref.verified and ref.verified != "primary" else "")
        out.append(f'<li id="ref-{i}">{esc(ref.citation)}{link}{note}</li>')
    out.append("</ol></section>")
    out.append(f'<p class="disclaimer">{esc(DISCLAIMER)}</p></article>')
    return "\n".join(out) + "\n"


def _grade_text(g: Grade, numbers: Iterable[int]) -> Text:
    text = Text()
    text.append(f" {g.label} ", style=f"reverse {_GRADE_STYLE[g.grade]}")
    text.append(f" {g.claim} ")
    text.append(f"[{', '.join(str(n) for n in numbers)}]", style="dim")
    text.append(f"\n   {g.reason}. {g.explanation}", style="dim")
    return text


def print_learn(topic: str | None, console: Console) -> None:
    """``follicle learn [TOPIC]``: list the articles, or print one with grades and references."""
    if not topic:
        table = Table(title="follicle learn: what the evidence says", show_lines=False)
        table.add_column("Topic (slug)", style="bold", no_wrap=True)
        table.add_column("Title")
        for article in list_articles():
            table.add_row(article.slug, article.title)
        console.print(table)
        console.print("Read one with [bold]follicle learn TOPIC[/bold]. "
                      f"{DISCLAIMER}", markup=True)
        return
    r = render_article(get_article(topic))
    console.print(Panel(Text(r.summary), title=Text(r.title, style="bold"),
                        subtitle=f"reviewed {r.article.reviewed.isoformat()}"))
    console.print(Text("How sure are we?", style="bold underline"))
    for g in r.grades:
        console.print(_grade_text(g, (r.number(x) for x in g.refs)))
    console.print()
    console.print(Markdown(r.body))
    console.print()
    console.print(Text("References", style="bold underline"))
    for i, ref in enumerate(r.references, 1):
        console.print(Text(f"{i}. {_reference_line(ref)}"), soft_wrap=False)
        if ref.link:
            console.print(Text(f"   {ref.link}", style="dim"))
    console.print()
    console.print(Text(DISCLAIMER, style="italic"))
