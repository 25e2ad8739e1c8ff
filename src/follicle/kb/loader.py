"""Load, validate and compile a knowledge-base version into fast, frozen structures.

`load_kb()` returns the compiled `KnowledgeBase` the engine uses (cached per version).
`check_kb()` runs every consistency check and returns the problems found, each naming the
file, line and key, so `follicle kb check` and the tests can report them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import ErrorDetail, KnowledgeError
from . import schema as S
from .source import LineDict, LineList, load_yaml_file, locate

__all__ = [
    "VERSIONS",
    "CompiledFinding",
    "CompiledInforms",
    "CompiledLab",
    "KnowledgeBase",
    "check_kb",
    "kb_dir",
    "load_kb",
    "load_kb_dir",
]

VERSIONS = ("2026.1",)
LATEST = VERSIONS[-1]

M = TypeVar("M", bound=BaseModel)


def kb_dir(version: str | None = None) -> Path:
    """Directory of a knowledge-base version (FOLLICLE_KB_DIR overrides, for tests)."""
    override = os.environ.get("FOLLICLE_KB_DIR")
    if override:
        return Path(override)
    version = version or LATEST
    if version not in VERSIONS:
        raise KnowledgeError(f"unknown knowledge-base version {version!r}",
                             allowed=VERSIONS)
    return Path(str(resources.files("follicle") / "knowledge" / version))


@dataclass(frozen=True)
class CompiledInforms:
    """Diagnostic bands of one lab test for one target (a cause id or 'b12')."""

    target: str
    sex: str | None
    ref: str
    evidence: str
    uppers: tuple[float, ...]  # upper bound of each band (last is +inf)
    lower_bounds: tuple[float, ...]
    p_present: tuple[float, ...]
    p_absent: tuple[float, ...]
    log_lr: tuple[float, ...]
    note: str | None
    closed: frozenset[float] = frozenset()  # uppers that belong to their band (see _bands)
    slope: float = 1.0  # InformsDef.pretest_slope
    centre_logit: float = 0.0  # logit of InformsDef.pretest_centre

    def log_lr_at(self, value: float, pretest_logit: float) -> float:
        """log(LR) of the result's band, for this pre-test log-odds."""
        ll = self.log_lr[self.band_index(value)]
        if self.slope != 1.0:
            ll += (self.slope - 1.0) * (pretest_logit - self.centre_logit)
        return ll

    def band_index(self, value: float) -> int:
        for i, hi in enumerate(self.uppers):
            if value < hi or (value == hi and hi in self.closed):
                return i
        return len(self.uppers) - 1


def _loinc_for(lab: S.LabDef, key: str) -> S.Loinc:
    """The LOINC code for a result in this unit: a molar unit (pmol/L) takes the
    [Moles/volume] code, a mass unit the [Mass/volume] one; the first code otherwise."""
    molar = "mol" in key
    same = [lc for lc in lab.loinc if ("mol" in unit_key(lc.unit)) == molar]
    return next((lc for lc in same if unit_key(lc.unit) == key), same[0] if same else
                lab.loinc[0])


@dataclass(frozen=True)
class CompiledLab:
    id: str
    definition: S.LabDef
    factors: dict[str, float]  # unit (as accepted, normalised key) -> factor to canonical
    informs: tuple[CompiledInforms, ...]
    caution: dict[str, S.CautionDef]
    loinc: dict[str, S.Loinc]  # unit key -> the LOINC code of that kind (mass or molar)

    def weakened(self, log_lr: float, keys: set[str] | frozenset[str],
                 notes: list[str] | None = None, value: float | None = None) -> float:
        """A result's log likelihood ratio, weakened by each caution the case triggers (e.g.
        biotin on a thyroid test); the cautions' notes go to `notes` when given. A caution
        with `doubts_from` leaves a result below that value (in the canonical unit) alone."""
        for c in self.caution.values():
            if c.when in keys and c.posterior and (
                    c.applies_to == "both" or (c.applies_to == "reassuring") == (log_lr < 0)
            ) and c.covers(value):
                log_lr *= c.factor
                if notes is not None:
                    notes.append(c.note)
        return log_lr


@dataclass(frozen=True)
class CompiledFinding:
    id: str
    key: str
    only: dict[str, Any] | None
    text: str
    ref: str
    evidence: str
    article: str | None
    type_log: tuple[float, ...]  # per type (in KB type order)
    type_inv: tuple[float, ...]  # exp(-type_log): removes the finding's factor
    type_refs: dict[str, str]
    cause_log: dict[str, float]
    cause_refs: dict[str, str]
    group: str | None = None


@dataclass(frozen=True)
class KnowledgeBase:
    """A compiled knowledge-base version: everything the engine needs, nothing it computes."""

    version: str
    directory: Path
    references: dict[str, S.Reference]
    types: tuple[S.TypeDef, ...]
    type_ids: tuple[str, ...]
    type_priors_log: dict[str, tuple[float, ...]]
    type_priors_ref: str
    causes: tuple[S.CauseDef, ...]
    cause_ids: tuple[str, ...]
    findings_by_key: dict[str, tuple[CompiledFinding, ...]]
    findings: tuple[CompiledFinding, ...]
    labs: dict[str, CompiledLab]
    b12: S.B12File
    b12_factors: dict[str, S.OddsRatioDef]
    population: S.B12PopulationFile
    medications: dict[str, str]  # generic or brand name -> class
    medication_also: dict[str, tuple[str, ...]]  # generic or brand name -> further classes
    red_flags: tuple[S.RuleDef, ...]
    rules: tuple[S.RuleDef, ...]
    raw: dict[str, Any] = field(repr=False)
    brands: dict[str, str] = field(default_factory=dict)  # brand name -> generic name
    marks: dict[str, frozenset[str]] = field(default_factory=dict)  # mark -> generic names
    # name -> keys it adds ("<mark>:yes" and medications.yaml keys)
    mark_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # (keys, finding): the finding applies when none of the keys is present (TypeRequirement)
    requirements: tuple[tuple[frozenset[str], CompiledFinding], ...] = ()

    def reference(self, ref_id: str) -> S.Reference:
        return self.references[ref_id]


def _validate(model: type[M], data: Any, path: Path) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if isinstance(p, str | int))
            line, dotted = locate(data, loc)
            details.append(ErrorDetail(err["msg"], f"{path.name}:{line} {dotted}"))
        raise KnowledgeError(details) from None


def _read(directory: Path, name: str) -> tuple[Any, Path]:
    path = directory / name
    if not path.exists():
        raise KnowledgeError(f"missing knowledge file {name}", path=str(directory))
    return load_yaml_file(path), path


def _bands(informs: S.InformsDef, lab: S.LabDef) -> CompiledInforms:
    """Bands are half-open, [from, to), except where the lab's primary guideline prints a
    range "from X to Y" that includes Y (NICE NG239: total B12 350 ng/L is still the grey
    zone): there the likelihood band ending at Y includes Y too, so a value on the edge
    gets the probability of the status it is given."""
    closed = frozenset(b.to for g in lab.guidelines if g.primary for b in g.bands
                       if b.from_ is not None and b.to is not None)
    uppers: list[float] = []
    lowers: list[float] = []
    pp: list[float] = []
    pa: list[float] = []
    for band in informs.bands:
        lo, hi = band.bounds()
        lowers.append(lo)
        uppers.append(hi)
        pp.append(band.p_present or 0.0)
        pa.append(band.p_absent or 0.0)
    return CompiledInforms(
        target=informs.target, sex=informs.sex, ref=informs.ref, evidence=informs.evidence,
        uppers=tuple(uppers), lower_bounds=tuple(lowers), p_present=tuple(pp),
        p_absent=tuple(pa), log_lr=tuple(math.log(a / b) for a, b in zip(pp, pa, strict=True)),
        note=informs.note, closed=closed, slope=informs.pretest_slope or 1.0,
        centre_logit=0.0 if informs.pretest_centre is None else math.log(
            informs.pretest_centre / (1.0 - informs.pretest_centre)),
    )


_FORM_WORDS = frozenset((
    "tablet", "tablets", "tab", "tabs", "capsule", "capsules", "caps", "gel", "cream",
    "ointment", "patch", "patches", "spray", "injection", "injections", "inj", "oral",
    "solution", "liquid", "sachet", "sachets", "drops", "pen", "sr", "mr", "xr", "xl", "er",
    "cr", "la", "ec", "modified", "release", "slow", "prolonged", "daily", "weekly", "mg",
    "mcg", "ug", "µg", "g", "ml", "iu", "unit", "units", "micrograms", "milligrams"))
_STRENGTH = re.compile(r"^[\d.,/]+(mg|mcg|ug|µg|g|ml|%|iu|units?)?$")


def nearest_medicine(kb: KnowledgeBase, name: str) -> str | None:
    """A misspelt medicine: the one known name (generic or brand, 6 letters or more) one
    typing slip away from the name or its first word ("omeprazol", "Epilem chrono 500"):
    a letter missing, added, changed or two swapped. None when there is none or more than
    one, so a guess is never a coin toss."""
    words = " ".join(name.lower().split()).replace("(", " ").replace(")", " ").split()
    for typed in dict.fromkeys((" ".join(words), words[0] if words else "")):
        if len(typed) < 6:
            continue
        found = {k for k in kb.medications if abs(len(k) - len(typed)) <= 1
                 and len(k) >= 6 and _one_slip(typed, k)}
        if len(found) == 1:
            return found.pop()
    return None


def _one_slip(a: str, b: str) -> bool:
    """Whether a and b differ by exactly one insertion, deletion, substitution or swap of
    neighbouring letters."""
    if a == b:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = next((i for i in range(len(short)) if short[i] != long[i]), len(short))
    return short[i:] == long[i + 1:]


_COMBINATION = re.compile(r"\s*(?:/|\+|&|\band\b)\s*")  # how combination tablets are typed


def medicine_name(kb: KnowledgeBase, name: str) -> str | None:
    """The name the knowledge base knows a medicine by, as people type it: the generic or
    brand name, also with its form, strength or how often after it ("testosterone gel",
    "Epilim 500mg bd", "sodium valproate 500 mg twice daily"); None when it is not known."""
    key = " ".join(name.lower().split())
    if key in kb.medications:
        return key
    words = key.replace("(", " ").replace(")", " ").replace(",", " ").split()
    for n in range(len(words), 0, -1):  # the longest known start: "epilim 500mg bd"
        if (start := " ".join(words[:n])) in kb.medications:
            return start
    kept = " ".join(w for w in words if w not in _FORM_WORDS and not _STRENGTH.match(w))
    return kept if kept in kb.medications else None


def medicine_names(kb: KnowledgeBase, name: str) -> tuple[str, ...]:
    """Every medicine a typed name stands for: one, or each known part of a combination
    typed with /, +, & or 'and' ("pregabalin + methylcobalamin": both count); () when none
    is known."""
    key = " ".join(name.lower().split())
    if key not in kb.medications:
        parts = [p for p in _COMBINATION.split(key) if p]
        if len(parts) > 1:  # "sitagliptin/metformin": each known part counts
            found = [n for n in (medicine_name(kb, p) for p in parts) if n is not None]
            if found:
                return tuple(dict.fromkeys(found))
    known = medicine_name(kb, name)
    return () if known is None else (known,)


@lru_cache(maxsize=1024)
def unit_key(unit: str) -> str:
    """Normalise how people type units: µ/μ/mc → u, case-insensitive, no spaces."""
    u = unit.strip().replace("µ", "u").replace("μ", "u").replace(" ", "")
    if u.lower().startswith("mcg"):
        u = "ug" + u[3:]
    return u.lower()


def _group_log(priors: dict[str, float], type_ids: tuple[str, ...]) -> tuple[float, ...]:
    total = sum(priors.values())
    return tuple(math.log(priors[t] / total) for t in type_ids)


def _sourced(value: float | S.SourcedLR, ref: str) -> tuple[float, str]:
    if isinstance(value, S.SourcedLR):
        return value.lr, value.ref
    return float(value), ref


def load_kb(version: str | None = None) -> KnowledgeBase:
    """Load and compile a knowledge-base version; raises KnowledgeError naming file:line."""
    return _load_kb(version, os.environ.get("FOLLICLE_KB_DIR"))


@cache
def _load_kb(version: str | None, _override: str | None) -> KnowledgeBase:
    return load_kb_dir(kb_dir(version), version or LATEST)


def _signature(directory: Path) -> str:
    import hashlib

    h = hashlib.sha256(str(directory.resolve()).encode())
    for path in sorted(directory.rglob("*.yaml")):
        st = path.stat()
        h.update(f"{path.relative_to(directory)}:{st.st_mtime_ns}:{st.st_size}".encode())
    from .._version import __version__

    h.update(__version__.encode())
    h.update(Path(__file__).read_bytes())  # a change to the compiled structures
    h.update(Path(__file__).with_name("schema.py").read_bytes())  # or to the parsed ones
    return h.hexdigest()[:32]


def _cache_path(directory: Path, version: str) -> Path | None:
    if os.environ.get("FOLLICLE_NO_KB_CACHE"):
        return None
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "follicle"
    return base / f"kb-{version}-{_signature(directory)}.pickle"


@cache
def load_kb_dir(directory: Path, version: str = "custom") -> KnowledgeBase:
    """Load and compile the knowledge files in one directory (cached per directory).

    The compiled result is also kept in a pickle under ~/.cache/follicle, keyed by the
    files' names, sizes and modification times, so the command line starts fast; any
    change to a file makes a new key.
    """
    import pickle

    cache_file = _cache_path(directory, version)
    if cache_file is not None and cache_file.exists():
        try:
            with cache_file.open("rb") as fh:
                kb = pickle.load(fh)
            if isinstance(kb, KnowledgeBase):
                return kb
        except Exception:
            pass
    kb = _compile_dir(directory, version)
    if cache_file is not None:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as fh:
                pickle.dump(kb, fh, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(cache_file)
        except OSError:
            pass
    return kb


def _compile_dir(directory: Path, version: str) -> KnowledgeBase:
    raw: dict[str, Any] = {}

    def read(name: str, model: type[M]) -> M:
        data, path = _read(directory, name)
        raw[path.stem] = data
        return _validate(model, data, path)

    refs: dict[str, S.Reference] = {}
    for path in sorted((directory / "references").glob("*.yaml")):
        data = load_yaml_file(path)
        raw[f"references/{path.stem}"] = data
        for ref in _validate(S.ReferencesFile, data, path).references:
            if ref.id in refs:
                raise KnowledgeError(f"duplicate reference id {ref.id!r}", path=path.name)
            refs[ref.id] = ref

    types_file = read("types.yaml", S.TypesFile)
    causes_file = read("causes.yaml", S.CausesFile)
    findings_file = read("findings.yaml", S.FindingsFile)
    labs_file = read("labs.yaml", S.LabsFile)
    b12_file = read("b12.yaml", S.B12File)
    pop_file = read("b12_population.yaml", S.B12PopulationFile)
    meds_file = read("medications.yaml", S.MedicationsFile)
    triage_file = read("triage.yaml", S.TriageFile)

    type_ids = tuple(t.id for t in types_file.types)
    cause_ids = tuple(c.id for c in causes_file.causes)
    type_index = {t: i for i, t in enumerate(type_ids)}

    compiled: list[CompiledFinding] = []
    by_key: dict[str, list[CompiledFinding]] = {}
    for f in findings_file.findings:
        logs = [0.0] * len(type_ids)
        type_refs: dict[str, str] = {}
        for tid, value in f.types.items():
            lr, source = _sourced(value, f.ref)
            if tid in type_index:
                logs[type_index[tid]] = math.log(lr)
            type_refs[tid] = source
        cause_log: dict[str, float] = {}
        cause_refs: dict[str, str] = {}
        for cid, value in f.causes.items():
            lr, source = _sourced(value, f.ref)
            cause_log[cid] = math.log(lr)
            cause_refs[cid] = source
        cf = CompiledFinding(
            id=f.id or f.key, key=f.key, only=f.only, text=f.text, ref=f.ref,
            evidence=f.evidence, article=f.article, type_log=tuple(logs),
            type_inv=tuple(math.exp(-x) for x in logs),
            type_refs=type_refs, cause_log=cause_log, cause_refs=cause_refs, group=f.group,
        )
        compiled.append(cf)
        by_key.setdefault(f.key, []).append(cf)

    requirements: list[tuple[frozenset[str], CompiledFinding]] = []
    for t in types_file.types:
        if t.requires is None:
            continue
        r = t.requires
        logs = [0.0] * len(type_ids)
        logs[type_index[t.id]] = math.log(r.otherwise)
        requirements.append((frozenset(r.any), CompiledFinding(
            id=f"without:{t.id}", key=f"without:{t.id}", only=None, text=r.text, ref=r.ref,
            evidence=r.evidence, article=None, type_log=tuple(logs),
            type_inv=tuple(math.exp(-x) for x in logs), type_refs={t.id: r.ref},
            cause_log={}, cause_refs={})))

    labs: dict[str, CompiledLab] = {}
    for lab in labs_file.tests:
        factors = {}
        for u in lab.units:
            factors[unit_key(u.unit)] = u.factor if u.factor is not None else 1.0 / (
                u.inverse_factor or 1.0)
            factors[unit_key(u.ucum)] = factors[unit_key(u.unit)]
        labs[lab.id] = CompiledLab(
            id=lab.id, definition=lab, factors=factors,
            informs=tuple(_bands(i, lab) for i in lab.informs),
            caution={c.when: c for c in lab.caution},
            loinc={key: _loinc_for(lab, key) for key in factors},
        )

    medications: dict[str, str] = {}
    for cls, names in meds_file.classes.items():
        for name in names:
            medications[name.lower()] = cls
    brands = {b.lower(): g.lower() for b, g in meds_file.brands.items()}
    for brand, generic in brands.items():
        if generic in medications:
            medications.setdefault(brand, medications[generic])
    also = {name.lower(): tuple(classes) for name, classes in meds_file.also.items()}
    also.update({b: also[g] for b, g in brands.items() if g in also and b not in also})

    marks = {m: frozenset(n.lower() for n in mark.names) for m, mark in meds_file.marks.items()}
    name_keys = {n.lower(): tuple(keys) for n, keys in meds_file.keys.items()}
    return KnowledgeBase(
        version=version,
        directory=directory,
        references=refs,
        types=tuple(types_file.types),
        type_ids=type_ids,
        type_priors_log={g: _group_log(types_file.priors.groups[g], type_ids)
                         for g in S.GROUPS},
        type_priors_ref=types_file.priors.ref,
        causes=tuple(causes_file.causes),
        cause_ids=cause_ids,
        findings_by_key={k: tuple(v) for k, v in by_key.items()},
        findings=tuple(compiled),
        requirements=tuple(requirements),
        labs=labs,
        b12=b12_file,
        b12_factors={f.key: f for f in b12_file.factors},
        population=pop_file,
        medications=medications,
        medication_also=also,
        brands=brands,
        marks=marks,
        mark_keys={name: keys for name in medications
                   if (keys := tuple(f"{m}:yes" for m, names in marks.items()
                                     if brands.get(name, name) in names)
                       + name_keys.get(brands.get(name, name), ()))},
        red_flags=tuple(triage_file.red_flags),
        rules=tuple(triage_file.rules),
        raw=raw,
    )


def _iter_refs(kb: KnowledgeBase) -> Iterable[tuple[str, str]]:
    """Every (where, ref id) pair cited anywhere in the knowledge base."""
    yield "types.yaml priors", kb.type_priors_ref
    for mark, spec in (kb.raw.get("medications", {}).get("marks") or {}).items():
        yield f"medications.yaml marks.{mark}", spec["ref"]
    for t in kb.types:
        if t.triage_soon_at:
            yield f"types.yaml {t.id}.triage_soon_at", t.triage_soon_at.ref
        yield f"types.yaml {t.id}.blood_workup", t.blood_workup.ref
    for cause in kb.causes:
        for part in (cause.prior, cause.from_types, cause.stake):
            if part is not None:
                yield f"causes.yaml {cause.id}", part.ref
    for f in kb.findings:
        yield f"findings.yaml {f.id}", f.ref
        for r in (*f.type_refs.values(), *f.cause_refs.values()):
            yield f"findings.yaml {f.id}", r
    for lab in kb.labs.values():
        d = lab.definition
        yield f"labs.yaml {d.id}.plausible", d.plausible.ref
        for u in d.units:
            yield f"labs.yaml {d.id}.units.{u.unit}", u.ref
        for g in d.guidelines:
            yield f"labs.yaml {d.id}.guidelines.{g.id}", g.ref
        for i in d.informs:
            yield f"labs.yaml {d.id}.informs.{i.target}", i.ref
        for caution in d.caution:
            yield f"labs.yaml {d.id}.caution.{caution.when}", caution.ref
    yield "b12.yaml hair_loss", kb.b12.hair_loss.ref
    yield "b12.yaml explains_types", kb.b12.explains_types.ref
    yield "b12.yaml anaemia_explained", kb.b12.anaemia_explained.ref
    yield "b12.yaml macrocytosis_explained", kb.b12.macrocytosis_explained.ref
    yield "b12.yaml durations.metformin", kb.b12.durations.metformin.ref
    yield "b12.yaml durations.ppi", kb.b12.durations.ppi.ref
    yield "b12.yaml durations.h2ra", kb.b12.durations.h2ra.ref
    for f2 in kb.b12.factors:
        yield f"b12.yaml {f2.key}", f2.ref
        for alt in f2.instead:
            yield f"b12.yaml {f2.key}.instead", alt.ref
    yield "b12_population.yaml", kb.population.ref
    for rule in (*kb.red_flags, *kb.rules):
        yield f"triage.yaml {rule.id}", rule.ref


def check_kb(version: str | None = None, directory: Path | None = None,
             ) -> list[ErrorDetail]:
    """Every consistency problem in a knowledge-base version (empty list: all good)."""
    from ..case import CODES  # the spec's codes, for coverage

    try:
        kb = load_kb_dir(directory) if directory is not None else load_kb(version)
    except KnowledgeError as exc:
        return list(exc.details)
    problems: list[ErrorDetail] = []

    def bad(message: str, where: str) -> None:
        problems.append(ErrorDetail(message, where))

    for where, ref_id in _iter_refs(kb):
        if ref_id not in kb.references:
            bad(f"reference {ref_id!r} does not resolve", where)

    spec_types = set(CODES["type"])
    if set(kb.type_ids) != spec_types:
        bad(f"types must be exactly {sorted(spec_types)}", "types.yaml")
    spec_causes = set(CODES["cause"])
    if set(kb.cause_ids) != spec_causes:
        bad(f"causes must be exactly {sorted(spec_causes)}", "causes.yaml")
    for g, probs in kb.raw["types"]["priors"]["groups"].items():
        if set(probs) != set(kb.type_ids):
            bad("every type needs a prior", f"types.yaml priors.{g}")
    for cause in kb.causes:
        if cause.id != "b12_deficiency" and cause.prior is None:
            bad("a cause needs a prior", f"causes.yaml {cause.id}")
        if cause.from_types:
            for t in cause.from_types.weights():
                if t not in kb.type_ids:
                    bad(f"unknown type {t!r}", f"causes.yaml {cause.id}.from_types")

    for f in kb.findings:
        for t in f.type_refs:
            if t not in kb.type_ids:
                bad(f"unknown type {t!r}", f"findings.yaml {f.id}")
        for cid in f.cause_log:
            if cid not in kb.cause_ids:
                bad(f"unknown cause {cid!r}", f"findings.yaml {f.id}")
    ids = [f.id for f in kb.findings]
    for dup in {i for i in ids if ids.count(i) > 1}:
        bad(f"duplicate finding id {dup!r} (give variants an id)", "findings.yaml")

    from ..features import all_positive_keys

    for key in all_positive_keys(kb):
        if key not in kb.findings_by_key and key not in kb.b12_factors:
            bad(f"no finding covers case code {key!r}", "findings.yaml")

    spec_labs = set(CODES["lab"])
    if set(kb.labs) != spec_labs:
        bad(f"lab tests must be exactly {sorted(spec_labs)}", "labs.yaml")
    from ..case import LAB_UNITS

    for test, units in LAB_UNITS.items():
        lab = kb.labs.get(test)
        if lab is None:
            continue
        for u in units:
            if unit_key(u) not in lab.factors:
                bad(f"spec unit {u!r} not accepted", f"labs.yaml {test}.units")
        for inf in lab.informs:
            if inf.target != "b12" and inf.target not in kb.cause_ids:
                bad(f"unknown target {inf.target!r}", f"labs.yaml {test}.informs")
            for col, name in ((inf.p_present, "p_present"), (inf.p_absent, "p_absent")):
                if abs(sum(col) - 1.0) > 0.011:
                    bad(f"{name} sums to {sum(col):.3f}, not 1",
                        f"labs.yaml {test}.informs.{inf.target}")
            if any(lo != hi for lo, hi in zip(inf.lower_bounds[1:], inf.uppers[:-1],
                                              strict=True)):
                bad("bands must be contiguous", f"labs.yaml {test}.informs.{inf.target}")
        for band_list in (g.bands for g in lab.definition.guidelines):
            for b in band_list:
                if b.status is None:
                    bad("a guideline band needs a status", f"labs.yaml {test}.guidelines")

    for cls in set(kb.medications.values()):
        if cls != "none" and f"med:{cls}" not in kb.findings_by_key:
            bad(f"no finding for medicine class {cls!r}", "medications.yaml")
    for tid in kb.b12.explains_types.types:
        if tid not in kb.type_ids:
            bad(f"unknown hair-loss type {tid!r}", "b12.yaml explains_types")
    for key in kb.b12.hair_loss.when_any:
        if key not in kb.findings_by_key:
            bad(f"unknown finding key {key!r}", "b12.yaml hair_loss.when_any")
    for keys, cf in kb.requirements:
        for key in sorted(keys - set(kb.findings_by_key)):
            bad(f"requirement key {key!r} is not a finding key", f"types.yaml {cf.id}")
    for mark, names in kb.marks.items():
        for n in sorted(names - set(kb.medications)):
            bad(f"{mark} medicine {n!r} is in no class", "medications.yaml marks")
    known_classes = set(kb.medications.values())
    for name, classes in kb.medication_also.items():
        if name not in kb.medications:
            bad(f"medicine {name!r} in 'also' is in no class", "medications.yaml also")
        for cls in sorted(set(classes) - known_classes - {"none"}):
            bad(f"medicine {name!r}: unknown class {cls!r}", "medications.yaml also")
    from ..features import all_positive_keys

    positive = set(all_positive_keys(kb))
    for name, keys in (kb.raw.get("medications", {}).get("keys") or {}).items():
        if name.lower() not in kb.medications:
            bad(f"medicine {name!r} in 'keys' is in no class", "medications.yaml keys")
        for key in keys:
            if key not in positive:
                bad(f"medicine {name!r}: unknown finding key {key!r}", "medications.yaml keys")
    for brand, generic in kb.brands.items():
        if generic not in kb.medications:
            bad(f"brand {brand!r} names {generic!r}, which no class lists", "medications.yaml")
    for key, factor in kb.b12_factors.items():
        risk = key.startswith(("symptom:", "condition:", "diet:", "family_condition:")) or \
            key.endswith(":yes")
        if risk and factor.odds_ratio < 1:
            bad("a risk factor's odds ratio must be >= 1", f"b12.yaml {key}")
        for alt in factor.instead:
            if risk and alt.odds_ratio < 1:
                bad("a risk factor's odds ratio must be >= 1", f"b12.yaml {key}.instead")
            for k in alt.when_any:
                if k not in kb.findings_by_key and k not in kb.b12_factors:
                    bad(f"unknown finding key {k!r}", f"b12.yaml {key}.instead")
    pop = kb.population.factors
    for name in ("metformin", "ppi", "h2ra"):
        if getattr(pop, name).odds_ratio < 1:
            bad(f"the population odds ratio for a risk factor ({name}) must be >= 1; "
                "a protective estimate is confounding", "b12_population.yaml factors")
    articles = kb.directory / "articles"
    if articles.exists():
        slugs = {p.stem for p in articles.glob("*.md")}
        for rule in (*kb.red_flags, *kb.rules):
            if rule.article and rule.article not in slugs:
                bad(f"article {rule.article!r} does not exist", f"triage.yaml {rule.id}")
        for f in kb.findings:
            if f.article and f.article not in slugs:
                bad(f"article {f.article!r} does not exist", f"findings.yaml {f.id}")
    for rule in (*kb.red_flags, *kb.rules):
        from ..engine.predicates import validate_predicate

        for msg in validate_predicate(rule.when, kb):
            bad(msg, f"triage.yaml {rule.id}")
        for attr in ("tests", "retest"):
            for test in getattr(rule, attr):
                if test not in kb.labs:
                    bad(f"unknown test {test!r}", f"triage.yaml {rule.id}.{attr}")
    for test, lab in kb.labs.items():
        if lab.definition.suggest_when is not None:
            from ..engine.predicates import validate_predicate

            for msg in validate_predicate(lab.definition.suggest_when, kb):
                bad(msg, f"labs.yaml {test}.suggest_when")
    for f in kb.findings:
        if f.only:
            from ..engine.predicates import validate_predicate

            for msg in validate_predicate(f.only, kb):
                bad(msg, f"findings.yaml {f.id}.only")
    if directory is None and (kb.directory / "questionnaire.yaml").exists():
        from ..questionnaire import check_questionnaire

        try:
            problems += [ErrorDetail(m, "questionnaire.yaml") for m in check_questionnaire()]
        except KnowledgeError as exc:
            problems += exc.details
    return [_with_line(kb, p) for p in problems]


def _entry_lines(data: Any) -> dict[str, int]:
    """Line of every list entry that has an `id` or `key` (and of mapping keys)."""
    out: dict[str, int] = {}
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, LineDict):
            for k, v in node.items():
                out.setdefault(k, node.lines.get(k, 0))
                stack.append(v)
        elif isinstance(node, LineList):
            for item, line in zip(node, node.lines, strict=True):
                if isinstance(item, dict):
                    for name in ("id", "key"):
                        if isinstance(item.get(name), str):
                            out.setdefault(item[name], line)
                stack.append(item)
    return out


def _with_line(kb: KnowledgeBase, problem: ErrorDetail) -> ErrorDetail:
    """Add the line number to a `file.yaml ident` location when the entry can be found."""
    file, _, rest = problem.path.partition(" ")
    stem = file.removesuffix(".yaml")
    if not rest or stem not in kb.raw or ":" in file:
        return problem
    ident = rest.split(".")[0]
    line = _entry_lines(kb.raw[stem]).get(ident) or _entry_lines(kb.raw[stem]).get(rest)
    if not line:
        return problem
    return ErrorDetail(problem.message, f"{file}:{line} {rest}", problem.allowed)
