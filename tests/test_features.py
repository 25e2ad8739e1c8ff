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
