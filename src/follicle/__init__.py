"""follicle: is my hair loss caused by vitamin B12 deficiency, and if not, what?

>>> import follicle
>>> a = follicle.assess({"format": "follicle-case/1", "age": 29, "sex": "female",
...                      "labs": [{"test": "b12", "value": 130, "unit": "ng/L"}]})
>>> a.b12.status
'deficient'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .assessment import Assessment
    from .case import Case

__all__ = [
    "Assessment",
    "Case",
    "CaseError",
    "FollicleError",
    "KnowledgeError",
    "LabError",
    "__version__",
    "assess",
    "load_case",
    "load_kb",
]


def assess(case: Any, **kwargs: Any) -> Assessment:
    """Assess a case: a `follicle-case/1` mapping or a parsed `Case`."""
    from .engine.assess import assess as _assess

    return _assess(case, **kwargs)


def __getattr__(name: str) -> Any:  # lazy imports keep `follicle --help` fast
    if name in ("CaseError", "FollicleError", "KnowledgeError", "LabError"):
        from . import errors

        return getattr(errors, name)
    if name in ("Case", "load_case"):
        from . import case

        return getattr(case, name)
    if name == "Assessment":
        from .assessment import Assessment

        return Assessment
    if name == "load_kb":
        from .kb.loader import load_kb

        return load_kb
    raise AttributeError(f"module 'follicle' has no attribute {name!r}")
