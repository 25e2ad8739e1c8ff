"""REST API v1: assess, saved assessments, follow-ups, knowledge, questionnaire, FHIR.

Every saved-assessment route needs `Authorization: Bearer TOKEN`; a missing or wrong
token and an unknown id all answer the same 404, so ids cannot be enumerated.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from functools import cache
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import CaseError
from ..settings import Settings
from ..web.app import BodyTooLarge
from . import schemas as S
from .errors import api_error, install_error_handlers

__all__ = ["install", "router"]

log = logging.getLogger("follicle.api")
router = APIRouter(prefix="/api/v1")

Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {
    404: {"model": S.ErrorResponse, "description": "Unknown id or wrong token"}}
INVALID: Responses = {
    400: {"model": S.ErrorResponse, "description": "The body is not JSON"},
    413: {"model": S.ErrorResponse, "description": "Request body too large"},
    415: {"model": S.ErrorResponse, "description": "The body is not declared as JSON"},
    422: {"model": S.ErrorResponse, "description": "Invalid input; names the field"}}
BAD_QUERY: Responses = {
    422: {"model": S.ErrorResponse, "description": "Invalid query parameter; names it"}}
AUTH_PARAM = [{"name": "Authorization", "in": "header", "required": False,
               "schema": {"type": "string"},
               "description": "`Bearer TOKEN` (the token returned when saving)"}]


class BodyError(CaseError):
    """The request body is not the JSON object expected."""

    code = "invalid_request"


class MalformedBody(BodyError):
    """The request body is not JSON at all (HTTP 400)."""

    code = "bad_request"
    http_status = 400


class UnsupportedBody(BodyError):
    """The request body is not declared as JSON (HTTP 415)."""

    code = "unsupported_media_type"
    http_status = 415


def _json_body(name: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}}


async def _read_raw(request: Request) -> bytes:
    raw = await request.body()
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if ctype and ctype != "application/json" and not ctype.endswith("+json"):
        raise UnsupportedBody("the request body must be JSON "
                              "(Content-Type: application/json)")
    return raw


def _parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MalformedBody("the request body is not valid JSON") from None


async def _read_json(request: Request) -> Any:
    return _parse_json(await _read_raw(request))


def _case_and_assessment(data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    from .. import assess
    from ..case import parse_case

    case = parse_case(data)
    clean = case.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    clean["format"] = case.format
    return clean, assess(case).to_dict()


_ASSESS_CACHE: OrderedDict[bytes, bytes] = OrderedDict()
_ASSESS_CACHE_SIZE = 256
_cache_lock = threading.Lock()


def _assessment_bytes(raw: bytes) -> bytes:
    """The serialised assessment of a request body, from a small per-process LRU cache.

    `assess` is a pure function of the case (and the knowledge base, which is fixed for
    the life of the process), and quiz answers repeat, so identical request bodies are
    answered from memory without parsing them again. Only valid bodies are cached;
    nothing is persisted.
    """
    from .. import assess
    from ..case import parse_case

    key = raw
    with _cache_lock:
        hit = _ASSESS_CACHE.get(key)
        if hit is not None:
            _ASSESS_CACHE.move_to_end(key)
            return hit
    out = assess(parse_case(_parse_json(raw))).to_json()
    with _cache_lock:
        _ASSESS_CACHE[key] = out
        while len(_ASSESS_CACHE) > _ASSESS_CACHE_SIZE:
            _ASSESS_CACHE.popitem(last=False)
    return out


def _token(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _store(request: Request) -> Any:
    store = getattr(request.app.state, "follicle_store", None)
    if store is None:
        from ..storage import get_store

        store = get_store(request.app.state.settings.database_url)
        request.app.state.follicle_store = store
    return store


def _not_found() -> JSONResponse:
    return api_error(404, "not found")


def _dumps(data: Any) -> bytes:
    return orjson.dumps(data)


def _json(data: Any, status: int = 200) -> Response:
    return Response(_dumps(data), status_code=status, media_type="application/json")


# -- assess --------------------------------------------------------------------------

@router.post("/assess", tags=["assess"], summary="Assess a case (stores nothing)",
             response_model=S.AssessmentOut, responses=INVALID,
             openapi_extra=_json_body("CaseIn"))
async def assess_case(request: Request) -> Response:
    """Body: a `follicle-case/1` document; answer: the `follicle-assessment/1` document."""
    raw = await _read_raw(request)
    return Response(_assessment_bytes(raw), media_type="application/json")


# -- saved assessments ----------------------------------------------------------------

@router.post("/assessments", status_code=201, tags=["saved"],
             summary="Assess and save; returns id and access token (shown once)",
             response_model=S.SavedOut, responses=INVALID,
             openapi_extra=_json_body("CaseIn"))
async def save_assessment(request: Request) -> Response:
    data = await _read_json(request)
    case, assessment = _case_and_assessment(data)
    id, token = await run_in_threadpool(_store(request).save_assessment, case, assessment)
    return _json({"id": id, "token": token, "assessment": assessment}, 201)


@router.get("/assessments/{id}", tags=["saved"], summary="A saved assessment",
            response_model=S.SavedAssessmentOut, responses=NOT_FOUND,
            openapi_extra={"parameters": AUTH_PARAM})
async def get_assessment(id: str, request: Request) -> Response:
    saved = await run_in_threadpool(_store(request).get_assessment, id, _token(request))
    if saved is None:
        return _not_found()
    return _json({"id": saved.id, "created_at": saved.created_at.isoformat(),
                  "case": saved.case, "assessment": saved.assessment,
                  "followups": saved.followups})


@router.delete("/assessments/{id}", status_code=204, tags=["saved"],
               summary="Delete a saved assessment and its follow-ups for good",
               responses={**NOT_FOUND, 204: {"description": "Deleted"}},
               openapi_extra={"parameters": AUTH_PARAM})
async def delete_assessment(id: str, request: Request) -> Response:
    ok = await run_in_threadpool(_store(request).delete_assessment, id, _token(request))
    return Response(status_code=204) if ok else _not_found()


@router.post("/assessments/{id}/followups", status_code=201, tags=["tracker"],
             summary="Log a dated follow-up (hair count, treatment change, new labs)",
             response_model=S.FollowupOut, responses={**NOT_FOUND, **INVALID},
             openapi_extra={**_json_body("FollowupIn"), "parameters": AUTH_PARAM})
async def add_followup(id: str, request: Request) -> Response:
    data = await _read_json(request)
    from ..tracker import parse_followup

    parse_followup(data)  # validate before touching the store (same answer for any id)
    clean = await run_in_threadpool(_store(request).add_followup, id, _token(request), data)
    return _not_found() if clean is None else _json(clean, 201)


@router.get("/assessments/{id}/timeline", tags=["tracker"],
            summary="Follow-ups in date order and the trend verdict",
            response_model=S.TimelineOut, responses=NOT_FOUND,
            openapi_extra={"parameters": AUTH_PARAM})
async def timeline(id: str, request: Request) -> Response:
    result = await run_in_threadpool(_store(request).timeline, id, _token(request))
    return _not_found() if result is None else _json(result)


@router.get("/assessments/{id}/chart.svg", tags=["tracker"],
            summary="SVG chart of hair counts over time, treatment start marked",
            responses={**NOT_FOUND, 200: {"content": {"image/svg+xml": {}}}},
            openapi_extra={"parameters": AUTH_PARAM})
async def chart(id: str, request: Request) -> Response:
    result = await run_in_threadpool(_store(request).timeline, id, _token(request))
    if result is None:
        return _not_found()
    from ..tracker import svg_chart

    return Response(svg_chart(result["followups"], result["verdict"]),
                    media_type="image/svg+xml")


@router.get("/assessments/{id}/fhir", tags=["fhir"],
            summary="Export as a FHIR R4B Bundle (QuestionnaireResponse, Observations, "
                    "RiskAssessment)",
            responses={**NOT_FOUND, 200: {"content": {"application/fhir+json": {}}}},
            openapi_extra={"parameters": AUTH_PARAM})
async def export_fhir(id: str, request: Request) -> Response:
    saved = await run_in_threadpool(_store(request).get_assessment, id, _token(request))
    if saved is None:
        return _not_found()
    from ..fhir import export_bundle

    bundle = await run_in_threadpool(export_bundle, saved)
    return Response(_dumps(bundle), media_type="application/fhir+json")


@router.post("/fhir/labs", tags=["fhir"],
             summary="Import lab results from a FHIR Bundle, Observation or list of them",
             response_model=S.FhirLabsOut, responses=INVALID,
             openapi_extra=_json_body("FhirLabsIn"))
async def import_fhir_labs(request: Request) -> Response:
    """Body `{"fhir": Bundle | Observation | [Observation], "case": optional case}`.

    Answers the lab lines found, what was skipped and why, and the case with the labs
    added (when a case was given).
    """
    data = await _read_json(request)
    if not isinstance(data, dict) or "fhir" not in data:
        raise BodyError("required field is missing", path="fhir")
    extra = set(data) - {"fhir", "case"}
    if extra:
        raise BodyError("unknown field", path=sorted(extra)[0])
    from ..fhir import FhirError, labs_from_fhir

    try:
        labs, skipped = labs_from_fhir(data["fhir"])
    except FhirError as exc:
        raise exc.located("fhir") from None
    merged = None
    if data.get("case") is not None:
        from ..case import parse_case

        base = data["case"]
        if not isinstance(base, dict):
            raise CaseError("must be a follicle-case/1 object", path="case")
        merged = {**base, "labs": list(base.get("labs") or []) + labs}
        try:
            case = parse_case(merged)
        except CaseError as exc:
            raise exc.located("case") from None
        merged = case.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        merged["format"] = case.format
    return _json({"labs": labs, "skipped": skipped, "case": merged})


# -- knowledge and questionnaire --------------------------------------------------------

@cache
def _knowledge(kind: str) -> bytes:
    from ..kb.loader import load_kb

    kb = load_kb()
    items: list[dict[str, Any]]
    if kind == "types":
        items = [t.model_dump(mode="json", exclude_none=True) for t in kb.types]
    elif kind == "causes":
        items = [c.model_dump(mode="json", exclude_none=True) for c in kb.causes]
    elif kind == "tests":
        items = [{"id": t, "name": lab.definition.name, "plain": lab.definition.plain,
                  "loinc": [lc.model_dump() for lc in lab.definition.loinc],
                  "canonical_unit": lab.definition.canonical,
                  "units": [{"unit": u.unit, "ucum": u.ucum} for u in lab.definition.units],
                  "plausible": {"min": lab.definition.plausible.min,
                                "max": lab.definition.plausible.max},
                  "guidelines": [{"id": g.id, "label": g.label, "ref": g.ref}
                                 for g in lab.definition.guidelines]}
                 for t, lab in kb.labs.items()]
    else:
        items = [r.model_dump(mode="json", exclude_none=True) for r in kb.references.values()]
    return _dumps({"kb_version": kb.version, kind: items})


for _kind in ("types", "causes", "tests", "references"):
    def _make(kind: str) -> None:
        @router.get(f"/knowledge/{kind}", tags=["knowledge"],
                    summary=f"Knowledge base: {kind}", response_model=S.KnowledgeOut,
                    name=f"knowledge_{kind}")
        async def knowledge() -> Response:
            return Response(_knowledge(kind), media_type="application/json")

    _make(_kind)


@cache
def _questionnaire(fmt: str) -> bytes:
    from ..fhir import questionnaire, quiz_json, quiz_questionnaire

    if fmt == "fhir":
        return _dumps(quiz_questionnaire())
    if fmt == "fhir-case":
        return _dumps(questionnaire())
    return _dumps(quiz_json())


@router.get("/questionnaire", tags=["knowledge"],
            summary="The quiz questions (format=fhir: as a FHIR R4B Questionnaire; "
                    "format=fhir-case: the case-field Questionnaire that exported "
                    "QuestionnaireResponses answer)",
            responses={200: {"content": {"application/json": {},
                                         "application/fhir+json": {}}}, **BAD_QUERY})
async def get_questionnaire(format: S.QuestionnaireFormat = "json") -> Response:
    if format == "json":
        return Response(_questionnaire("json"), media_type="application/json")
    return Response(_questionnaire(format), media_type="application/fhir+json")


# -- logging middleware and install ----------------------------------------------------

PRIVATE_PATHS = ("/api/v1/assess", "/api/v1/fhir")  # also /api/v1/assessments...


class AccessLog:
    """For /api paths: one structured (JSON) log line per request (route, status, time; never
    bodies, answers or lab values), and a last-resort catch of unexpected errors.

    The catch answers 500 in the one error shape and logs only the exception type, so no
    traceback (whose message might quote request data) reaches the server log.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0

        private = scope["path"].startswith(PRIVATE_PATHS)

        async def wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if private:  # health data and access tokens: never stored by a cache
                    message["headers"] = [*message.get("headers", []),
                                          (b"cache-control", b"no-store")]
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        except BodyTooLarge:
            raise  # BodyLimit answers 413
        except Exception as exc:
            log.error(json.dumps({"event": "unhandled_error", "type": type(exc).__name__,
                                  "route": getattr(scope.get("route"), "path", "unmatched")}))
            if status == 0:
                await api_error(500, "internal server error")(scope, receive, wrapped)
            status = status or 500
        if log.isEnabledFor(logging.INFO):
            log.info(orjson.dumps({
                "event": "api_request", "method": scope["method"],
                "route": getattr(scope.get("route"), "path", "unmatched"), "status": status,
                "ms": round((time.perf_counter() - start) * 1000, 2)}).decode())


class AssessFastPath:
    """Answers a valid `POST /api/v1/assess` without FastAPI's per-request machinery.

    The endpoint is the API's hot path, and outside the engine most of its cost is the
    framework (routing, request and response objects). This ASGI layer sits inside every
    other middleware (body limit, security headers, access log), reads the body and answers
    a valid JSON case itself; anything else (another content type, a body that is not a
    valid case, an error) goes to the normal route with the body replayed, so every answer
    is exactly the route's.
    """

    PATH = "/api/v1/assess"

    def __init__(self, app: ASGIApp, route: Any = None) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["path"] != self.PATH
                or scope["method"] != "POST" or not _json_content_type(scope)):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        out = None
        if message["type"] == "http.request":
            try:
                out = _assessment_bytes(body)
            except Exception:
                out = None
        if out is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        scope["route"] = self.route
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-length", str(len(out)).encode()),
            (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": out})


def _json_content_type(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";")[0].strip() == b"application/json")
    return True


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def install(app: FastAPI, settings: Settings) -> None:
    """Add the API routes, error handlers, access log and the tracker page to the app."""
    app.include_router(router)
    install_error_handlers(app)
    route = next(r for r in router.routes
                 if getattr(r, "path", None) == AssessFastPath.PATH)
    app.add_middleware(AssessFastPath, route=route)
    app.add_middleware(AccessLog)
    S.add_components(app)
    from .docs import install_docs

    install_docs(app)
    from ..web.tracker import install as install_tracker_page

    install_tracker_page(app, settings)
