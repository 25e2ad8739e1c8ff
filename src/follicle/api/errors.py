"""One JSON error shape for every 4xx/5xx of /api paths; no stack traces.

``{"error": {"code", "message", "details": [{"message", "field"?, "allowed"?}]}}``.
These are the app's only handlers for validation, HTTP and unexpected errors. Non-API
paths go to ``app.state.page_error_handler`` (the web pages' HTML error pages) when a part
of the app has set one, else to FastAPI's defaults.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["api_error", "install_error_handlers"]

log = logging.getLogger("follicle.api")

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 406: "not_acceptable", 409: "conflict",
         413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_request",
         429: "too_many_requests", 500: "internal_error", 503: "unavailable"}
MESSAGES = {404: "not found", 405: "method not allowed", 500: "internal server error"}


def api_error(status: int, message: str, details: list[dict[str, Any]] | None = None,
              code: str | None = None, headers: Mapping[str, str] | None = None,
              ) -> JSONResponse:
    """A JSON error response in the one shape."""
    body = {"error": {"code": code or CODES.get(status, "error"), "message": message,
                      "details": details or []}}
    return JSONResponse(body, status_code=status, headers=headers)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + str(p)
    return out


PageHandler = Callable[[Request, Exception], Awaitable[Response]]


async def _outside_api(request: Request, exc: Exception,
                       default: Callable[[Request, Any], Awaitable[Response]]) -> Response:
    """Errors on non-API paths: the web pages' HTML handler when installed, else
    FastAPI's default."""
    page: PageHandler | None = getattr(request.app.state, "page_error_handler", None)
    if page is not None:
        return await page(request, exc)
    return await default(request, exc)


async def _internal_error(request: Request, exc: Exception) -> Response:
    return api_error(500, "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Map validation, HTTP and unexpected errors on /api paths to the one shape."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if not _is_api(request):
            return await _outside_api(request, exc, request_validation_exception_handler)
        details = []
        for e in exc.errors():
            d: dict[str, Any] = {"message": str(e.get("msg", "invalid"))}
            f = _field(e.get("loc", ()))
            if f:
                d["field"] = f
            details.append(d)
        message = details[0]["message"] if len(details) == 1 else \
            f"{len(details)} problems in the request"
        return api_error(422, message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if not _is_api(request):
            return await _outside_api(request, exc, http_exception_handler)
        message = exc.detail if isinstance(exc.detail, str) else MESSAGES.get(
            exc.status_code, "error")
        return api_error(exc.status_code, message, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # The exception type only: messages may echo request data.
        route = getattr(request.scope.get("route"), "path", "unmatched")
        log.error('{"event": "unhandled_error", "route": "%s", "type": "%s"}',
                  route, type(exc).__name__)
        if not _is_api(request):
            return await _outside_api(request, exc, _internal_error)
        return await _internal_error(request, exc)
