"""The one exception hierarchy of follicle.

::

    FollicleError
    ├── KnowledgeError        a knowledge-base file is malformed or inconsistent
    ├── CaseError             a case document is invalid (wrong field, code, unit or value)
    │   └── LabError          one lab line is invalid (unit does not fit, impossible value)
    └── NotFoundError         a named thing (article, vignette directory, ...) does not exist

Every error carries structured fields so the CLI, the API and the web pages can render
it the same way (`to_dict()` gives the one JSON error shape).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Self

__all__ = [
    "CaseError",
    "ErrorDetail",
    "FollicleError",
    "KnowledgeError",
    "LabError",
    "NotFoundError",
    "join_path",
    "loc_path",
]


def loc_path(loc: Sequence[Any]) -> str:
    """A pydantic error location as a field path: `labs[2].unit`. Validator and union
    tags (`function-...`, `literal[...]`) are not field names and are left out."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in str(part) or str(part).startswith("function-"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def join_path(prefix: str, path: str) -> str:
    """`prefix` and a path inside it: ("fhir", "entry[0]") -> "fhir.entry[0]"."""
    if not prefix or not path:
        return prefix or path
    return prefix + path if path.startswith("[") else f"{prefix}.{path}"


@dataclass(frozen=True)
class ErrorDetail:
    """One problem: where it is (a field path or file:line) and what is wrong."""

    message: str
    path: str = ""
    allowed: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        if self.allowed:
            text += f" (allowed: {', '.join(self.allowed)})"
        return text

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.path:
            out["field"] = self.path
        if self.allowed:
            out["allowed"] = list(self.allowed)
        return out


class FollicleError(Exception):
    """Root of every error follicle raises on purpose."""

    code: str = "error"
    http_status: int = 422  # what the API and the web app answer; subclasses override
    details: list[ErrorDetail]

    def __init__(self, message: str | list[ErrorDetail], *, path: str = "",
                 allowed: tuple[str, ...] = ()) -> None:
        if isinstance(message, list):
            self.details = message
        else:
            self.details = [ErrorDetail(message, path, allowed)]
        super().__init__(str(self))

    def __str__(self) -> str:
        if len(self.details) == 1:
            return str(self.details[0])
        return f"{len(self.details)} problems: " + "; ".join(str(d) for d in self.details)

    def located(self, prefix: str) -> Self:
        """The same error with every field path put under `prefix`, for a document
        nested in a larger request (e.g. the `fhir` member of an import)."""
        return type(self)([replace(d, path=join_path(prefix, d.path)) for d in self.details])

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.details,))

    def to_dict(self) -> dict[str, Any]:
        """The one JSON error shape: code, message, and each problem with its field."""
        return {
            "error": {
                "code": self.code,
                "message": str(self),
                "details": [d.to_dict() for d in self.details],
            }
        }


class KnowledgeError(FollicleError):
    """A knowledge-base file is malformed or inconsistent (path is `file:line key`)."""

    code = "knowledge_error"


class CaseError(FollicleError):
    """A case document is invalid; path is the field path, e.g. `hair.pattern`."""

    code = "invalid_case"


class LabError(CaseError):
    """A lab line is invalid: unknown test, a unit that does not fit, or an impossible value."""

    code = "invalid_lab"


class NotFoundError(FollicleError):
    """A named thing does not exist (an article slug, a directory)."""

    code = "not_found"
    http_status = 404
