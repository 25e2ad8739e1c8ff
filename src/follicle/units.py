"""Lab units: convert any accepted unit to a test's canonical unit, and back.

Factors live in the knowledge base (labs.yaml), each with its source; the reported value
and unit are always kept as given for display.

>>> round(convert("b12", 180, "ng/L", "pmol/L"), 1)
132.8
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ErrorDetail, LabError
from .kb.loader import load_kb, unit_key

if TYPE_CHECKING:
    from .case import Case

__all__ = ["as_entered", "canonical_unit", "check_labs", "convert", "significant",
           "to_canonical", "units_for"]


def units_for(test: str) -> tuple[str, ...]:
    """The units accepted for a test, as written in the knowledge base."""
    kb = load_kb()
    return tuple(u.unit for u in kb.labs[test].definition.units)


def canonical_unit(test: str) -> str:
    return load_kb().labs[test].definition.canonical


def _factor(test: str, unit: str) -> float:
    kb = load_kb()
    lab = kb.labs.get(test)
    if lab is None:
        raise LabError(f"unknown lab test {test!r}", allowed=tuple(kb.labs))
    try:
        return lab.factors[unit_key(unit)]
    except KeyError:
        raise LabError(f"unit {unit!r} does not fit test {test!r}",
                       allowed=units_for(test)) from None


def to_canonical(test: str, value: float, unit: str) -> float:
    """A value in `unit` expressed in the test's canonical unit."""
    return value * _factor(test, unit)


def convert(test: str, value: float, from_unit: str, to_unit: str) -> float:
    """Convert a value of one test between two accepted units."""
    return value * _factor(test, from_unit) / _factor(test, to_unit)


def check_labs(case: Case) -> None:
    """Reject lab lines whose unit does not fit the test or whose value no lab reports."""
    kb = load_kb()
    problems: list[ErrorDetail] = []
    for i, lab in enumerate(case.labs):
        where = f"labs[{i}]"
        compiled = kb.labs[lab.test]
        factor = compiled.factors.get(unit_key(lab.unit))
        if factor is None:
            problems.append(ErrorDetail(f"unit {lab.unit!r} does not fit test {lab.test!r}",
                                        f"{where}.unit", units_for(lab.test)))
            continue
        value = lab.value * factor
        rng = compiled.definition.plausible
        if not (rng.min <= value <= rng.max):
            lo = rng.min / factor
            hi = rng.max / factor
            problems.append(ErrorDetail(
                f"{lab.test} value {lab.value:g} {lab.unit} is outside what a laboratory "
                f"reports ({_plain(lo)} to {_plain(hi)} {lab.unit})", f"{where}.value"))
    if problems:
        raise LabError(problems)


def significant(x: float) -> str:
    """A converted value to 3 significant figures, never in exponent form: 1100, 812, 0.45."""
    return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def as_entered(value: float, unit: str, canonical_value: float, canonical: str) -> str:
    """A result as the person typed it, with its value in the canonical unit when the unit
    differs: "150 pmol/L (203 ng/L)"."""
    text = f"{value:g} {unit}"
    if unit_key(unit) != unit_key(canonical):
        text += f" ({significant(canonical_value)} {canonical})"
    return text


def _plain(x: float) -> str:
    """A number as people write it: 7.4, 250, 22,000 (never 2.21e+04)."""
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.0f}"
    return f"{x:.2g}"
