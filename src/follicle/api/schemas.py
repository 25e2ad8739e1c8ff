"""Pydantic models that document the API in its OpenAPI schema.

Request bodies are parsed by the engine's own validators (which name the field and the
allowed codes); these models only describe them, and the answers, for /api/openapi.json.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["add_components"]

QuestionnaireFormat = Literal["json", "fhir", "fhir-case"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetailOut(BaseModel):
    message: str
    field: str | None = Field(default=None, description="Field path, e.g. labs[0].unit")
    allowed: list[str] | None = None


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[ErrorDetailOut]


class ErrorResponse(BaseModel):
    """The one JSON error shape of every 4xx/5xx answer."""

    error: ErrorBody


class Ranked(_Open):
    id: str
    probability: float


class B12Out(_Open):
    status: Literal["deficient", "indeterminate", "not_deficient", "untested"]
    probability: float


class AssessmentOut(_Open):
    """A `follicle-assessment/1` document (more fields than these may be present)."""

    format: Literal["follicle-assessment/1"]
    id: str | None
    kb_version: str
    hair_loss_types: list[Ranked]
    contributing_causes: list[Ranked]
    b12: B12Out
    triage: Literal["urgent", "soon", "routine"]
    red_flags: list[str]
    next_tests: list[str]


class SavedOut(BaseModel):
    id: str
    token: str = Field(description="Access token; shown only once, stored hashed")
    assessment: AssessmentOut


class HairCountOut(BaseModel):
    method: Literal["comb_60s", "shower"]
    count: int


class TreatmentOut(BaseModel):
    action: Literal["started", "stopped"]
    name: str


class FollowupOut(BaseModel):
    date: str
    hair_count: HairCountOut | None
    treatment: TreatmentOut | None
    labs: list[dict[str, Any]] | None
    note: str | None


class SavedAssessmentOut(BaseModel):
    id: str
    created_at: str
    case: dict[str, Any]
    assessment: AssessmentOut
    followups: list[FollowupOut]


class VerdictOut(_Open):
    verdict: Literal["not_enough_data", "too_early", "improving", "not_yet", "worsening"]
    text: str
    retest_b12: dict[str, Any]


class TimelineOut(BaseModel):
    id: str
    created_at: str
    followups: list[FollowupOut]
    verdict: VerdictOut


class FhirLabsIn(BaseModel):
    """A FHIR R4B Bundle, Observation or list of Observations, and optionally a case."""

    model_config = ConfigDict(extra="forbid")
    fhir: dict[str, Any] | list[dict[str, Any]]
    case: dict[str, Any] | None = None


class FhirLabsOut(BaseModel):
    labs: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    case: dict[str, Any] | None


class KnowledgeOut(_Open):
    kb_version: str


def _component_schemas() -> dict[str, Any]:
    from ..case import Case
    from ..tracker import FollowUp

    out: dict[str, Any] = {}
    for name, model in (("CaseIn", Case), ("FollowupIn", FollowUp),
                        ("FhirLabsIn", FhirLabsIn)):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[name] = schema
    return out


def _one_error_shape(schema: dict[str, Any]) -> None:
    """Document FastAPI's automatic 422 answers with the shape they really have, and the
    500 every /api operation can answer (the same shape, never a traceback)."""
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    components = schema["components"]["schemas"]
    if "ErrorResponse" not in components:
        components["ErrorResponse"] = ErrorResponse.model_json_schema(
            ref_template="#/components/schemas/{model}")
        components.update(components["ErrorResponse"].pop("$defs", {}))
    for path, item in schema.get("paths", {}).items():
        for op in item.values():
            if isinstance(op, dict) and path.startswith("/api/"):
                op.setdefault("responses", {}).setdefault("500", {
                    "description": "Unexpected server error (the one error shape, no "
                                   "details)",
                    "content": {"application/json": {"schema": error_ref}}})
            resp = op.get("responses", {}).get("422") if isinstance(op, dict) else None
            if resp and "HTTPValidationError" in str(resp):
                resp["description"] = "Invalid request; names the field"
                resp["content"] = {"application/json": {"schema": error_ref}}
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    health = schema.get("paths", {}).get("/healthz", {}).get("get")
    if health:  # it answers text/plain "ok"
        health["responses"]["200"]["content"] = {"text/plain": {"schema": {"type": "string"}}}


def add_components(app: FastAPI) -> None:
    """Add the request-body schemas (referenced by the routes) to the OpenAPI document."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(_component_schemas())
            _one_error_shape(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
