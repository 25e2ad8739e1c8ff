"""The public API is small and deliberate."""

from __future__ import annotations

import follicle


def test_all():
    for name in follicle.__all__:
        assert getattr(follicle, name) is not None
    assert set(follicle.__all__) == {
        "Assessment", "Case", "CaseError", "FollicleError", "KnowledgeError", "LabError",
        "__version__", "assess", "load_case", "load_kb"}


def test_assess_accepts_mapping_or_case():
    from tests.helpers import SHARED

    c = follicle.load_case(SHARED / "cases" / "d01-male-pattern.yaml")
    assert follicle.assess(c).to_dict() == follicle.assess(c.model_dump(exclude_none=True)
                                                          ).to_dict()
