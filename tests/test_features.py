"""Case -> features: the keys the knowledge base reasons with."""

from __future__ import annotations

from typing import Any

import pytest

from follicle.case import parse_case
from follicle.features import extract
from follicle.kb.loader import load_kb


def _keys(hair: dict[str, Any], meds: list[dict[str, Any]]) -> set[str]:
    case = parse_case({"format": "follicle-case/1", "age": 50, "sex": "male", "hair": hair,
                       "history": {"medications": meds}})
    return extract(case, load_kb()).keys


@pytest.mark.parametrize(("months", "duration", "long_before"), [
    (72, 60, True),    # started a year before the loss began: not its trigger
    (8, 5, False),     # started 3 months before: the usual delay of drug-induced shedding
    (None, 5, False),  # duration of the medicine unknown: timing says nothing
])
def test_shedding_medicine_started_long_before(months: float | None, duration: float,
                                               long_before: bool) -> None:
    med = {"name": "bisoprolol"} | ({} if months is None else {"months": months})
    keys = _keys({"duration_months": duration}, [med])
    assert "med:hair_loss_drug" in keys
    assert ("med:started_long_before" in keys) is long_before


def test_timing_needs_every_shedding_medicine_to_be_old() -> None:
    keys = _keys({"duration_months": 4}, [{"name": "bisoprolol", "months": 60},
                                          {"name": "isotretinoin", "months": 6}])
    assert "med:started_long_before" not in keys
    # androgens worsen pattern loss whenever they were started: no timing finding
    assert "med:started_long_before" not in _keys({"duration_months": 4},
                                                   [{"name": "testosterone", "months": 60}])


def test_chemotherapy_medicines_are_their_own_class() -> None:
    keys = _keys({"onset": "sudden"}, [{"name": "doxorubicin", "months": 1},
                                       {"name": "prednisolone", "months": 1}])
    assert "med:chemotherapy" in keys and "med:no_hair_loss_drug" not in keys


@pytest.mark.parametrize(("months", "duration", "after"), [
    (60, 240, True),   # started 15 years into the hair loss: it did not set it off
    (3, 4, False),     # started a month before the loss: could be the trigger
    (None, 240, False),
])
def test_shedding_medicine_started_after_the_loss_began(months: float | None, duration: float,
                                                        after: bool) -> None:
    med = {"name": "ramipril"} | ({} if months is None else {"months": months})
    keys = _keys({"duration_months": duration}, [med])
    assert ("med:started_after" in keys) is after


@pytest.mark.parametrize(("typed", "cls"), [
    ("Janumet 50/1000 bd", "med:metformin"),      # brand of a combination
    ("sitagliptin/metformin", "med:metformin"),   # the part that matters for B12
    ("metformin and sitagliptin", "med:metformin"),
    ("Eliquis 5 mg bd", "med:anticoagulant"),
    ("Risek 20mg", "med:ppi"),                    # Nigeria
    ("Dabex XR 750 mg", "med:metformin"),         # Mexico
    ("Gardenal 100mg", "med:b12_depleting"),      # Brazil
    ("Acitrom 2 mg", "med:anticoagulant"),        # India: acenocoumarol
    ("Famocid 40", "med:h2ra"),
])
def test_combinations_and_brands_are_recognised(typed: str, cls: str) -> None:
    assert cls in _keys({"duration_months": 3}, [{"name": typed}])


def test_a_medicine_in_two_classes_gives_both_keys() -> None:
    # topiramate: on NICE's B12 list and an anti-seizure medicine that can cause shedding;
    # its brand name takes both classes too
    for name in ("topiramate", "Topamax"):
        keys = _keys({"duration_months": 2}, [{"name": name, "months": 4}])
        assert {"med:b12_depleting", "med:hair_loss_drug"} <= keys
        assert "med:no_hair_loss_drug" not in keys


def test_a_new_shedding_medicine_is_not_hidden_by_an_older_one_of_its_class() -> None:
    # valproate started 2 months before the loss, lamotrigine years before: one of them is new
    keys = _keys({"duration_months": 1}, [{"name": "sodium valproate", "months": 3},
                                          {"name": "lamotrigine", "months": 34}])
    assert "med:hair_loss_drug" in keys
    assert "med:started_long_before" not in keys
    # both old: neither set it off
    keys = _keys({"duration_months": 1}, [{"name": "sodium valproate", "months": 30},
                                          {"name": "lamotrigine", "months": 34}])
    assert "med:started_long_before" in keys


def test_immunotherapy_counts_as_a_medicine_that_can_cause_hair_loss() -> None:
    keys = _keys({"duration_months": 2}, [{"name": "Keytruda", "months": 7}])
    assert "med:checkpoint_inhibitor" in keys and "med:no_hair_loss_drug" not in keys


@pytest.mark.parametrize(("months", "recent"), [(2, True), (4, True), (24, False)])
def test_minoxidil_started_in_the_last_months_is_marked_for_its_early_shed(months, recent):
    from follicle.case import parse_case
    from follicle.features import extract
    from follicle.kb.loader import load_kb

    c = parse_case({"format": "follicle-case/1", "age": 30, "sex": "male",
                    "history": {"medications": [{"name": "Regaine", "months": months}]}})
    assert ("minoxidil:started_recently" in extract(c, load_kb()).keys) is recent


def test_every_known_part_of_a_typed_combination_counts() -> None:
    # pregabalin (on NICE's B12 list) with methylcobalamin (B12 treatment): both count, so a
    # high B12 is not read as unexplained
    keys = _keys({"duration_months": 3}, [{"name": "pregabalin + methylcobalamin"}])
    assert {"med:b12_depleting", "med:b12_treatment"} <= keys
