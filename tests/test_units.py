"""Lab unit conversions: the spec's factors, round trips, and a cross-check with pint."""

from __future__ import annotations

import pint
import pytest
from hypothesis import given
from hypothesis import strategies as st

from follicle.case import LAB_UNITS
from follicle.units import convert, to_canonical, units_for


@pytest.mark.parametrize(("test", "value", "frm", "to", "expected"), [
    ("b12", 1, "pg/mL", "pmol/L", 0.738),
    ("b12", 180, "ng/L", "pmol/L", 132.84),
    ("b12", 350, "pg/mL", "pmol/L", 258.3),
    ("b12", 1, "pg/mL", "ng/L", 1),
    ("vitamin_d", 1, "ng/mL", "nmol/L", 2.496),
    ("vitamin_d", 30, "ng/mL", "nmol/L", 74.88),
    ("mma", 0.45, "umol/L", "nmol/L", 450),
    ("folate", 7.0, "ng/mL", "nmol/L", 15.862),
    ("ferritin", 30, "ng/mL", "ug/L", 30),
    ("hemoglobin", 13.5, "g/dL", "g/L", 135),
    ("tsh", 2.5, "uIU/mL", "mIU/L", 2.5),
    ("zinc", 80, "ug/dL", "umol/L", 12.236),
    ("testosterone", 500, "ng/dL", "nmol/L", 17.336),
    ("free_t4", 1.2, "ng/dL", "pmol/L", 15.446),
])
def test_known_conversions(test, value, frm, to, expected):
    assert convert(test, value, frm, to) == pytest.approx(expected, rel=1e-3)


def test_every_spec_unit_is_accepted():
    for test, units in LAB_UNITS.items():
        for unit in units:
            assert to_canonical(test, 1.0, unit) > 0
        assert set(units) <= set(units_for(test))


def test_unit_spelling_is_forgiving():
    assert convert("b12", 100, "PG/ML", "pg/mL") == 100
    assert convert("zinc", 80, "µg/dL", "umol/L") == pytest.approx(12.236, rel=1e-3)
    assert convert("mma", 0.3, "μmol/L", "nmol/L") == pytest.approx(300)
    assert convert("zinc", 80, "mcg/dL", "umol/L") == pytest.approx(12.236, rel=1e-3)


PAIRS = [(t, a, b) for t, units in LAB_UNITS.items() for a in units for b in units]


@given(pair=st.sampled_from(PAIRS), value=st.floats(min_value=1e-3, max_value=1e5))
def test_round_trip(pair, value):
    test, a, b = pair
    assert convert(test, convert(test, value, a, b), b, a) == pytest.approx(value, rel=1e-9)


MOLAR_MASS = {"b12": 1355.37, "folate": 441.4, "vitamin_d": 400.64, "zinc": 65.38,
              "testosterone": 288.42, "free_t4": 776.87}


@pytest.mark.parametrize(("test", "mass_unit", "molar_unit"), [
    ("b12", "pg/mL", "pmol/L"), ("folate", "ng/mL", "nmol/L"),
    ("vitamin_d", "ng/mL", "nmol/L"), ("zinc", "ug/dL", "umol/L"),
    ("testosterone", "ng/dL", "nmol/L"), ("free_t4", "ng/dL", "pmol/L"),
])
def test_mass_to_molar_agrees_with_pint(test, mass_unit, molar_unit):
    ureg = pint.UnitRegistry()
    q = ureg.Quantity(1.0, mass_unit.replace("u", "micro") if mass_unit.startswith("u")
                      else mass_unit)
    molar = (q / ureg.Quantity(MOLAR_MASS[test], "g/mol")).to(molar_unit.replace(
        "umol", "micromol")).magnitude
    ours = convert(test, 1.0, mass_unit, molar_unit)
    # labs round the B12 factor to 0.738 (NICE): allow 0.2%
    assert ours == pytest.approx(molar, rel=2e-3)


def test_a_converted_value_is_shown_without_an_exponent() -> None:
    from follicle.units import significant

    assert [significant(x) for x in (1100.0, 1558.2, 812.34, 45.67, 0.4567)] == [
        "1100", "1558", "812", "45.7", "0.457"]


@pytest.mark.parametrize("unit", ["mU/L", "uU/mL", "mIU/L", "uIU/mL"])
def test_tsh_is_read_in_the_units_uk_and_us_labs_print(unit):
    import follicle

    a = follicle.assess({"format": "follicle-case/1", "age": 40, "sex": "female",
                         "labs": [{"test": "tsh", "value": 12, "unit": unit}]})
    assert a.features.labs["tsh"] == pytest.approx(12.0)
