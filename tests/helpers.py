"""Small helpers shared by the tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def case(**fields: object) -> dict[str, object]:
    """A follicle-case/1 mapping with the given fields."""
    return {"format": "follicle-case/1", **fields}
