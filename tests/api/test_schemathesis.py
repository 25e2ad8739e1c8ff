"""Property-based run of every API operation in the OpenAPI schema: never a 5xx.

Bounded (max_examples=30 per operation), in-process over ASGI, on both databases. Uses
schemathesis's Python API with hypothesis directly (its pytest plugin does not support
lazily loaded schemas under this pytest version). Saved-assessment routes are also driven
with a real id and token, so the authorised code paths are exercised, not only 404s.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from follicle.settings import Settings
from follicle.web.app import create_app

OPERATIONS = [
    ("GET", "/healthz"),
    ("POST", "/api/v1/assess"),
    ("POST", "/api/v1/assessments"),
    ("GET", "/api/v1/assessments/{id}"),
    ("DELETE", "/api/v1/assessments/{id}"),
    ("POST", "/api/v1/assessments/{id}/followups"),
    ("GET", "/api/v1/assessments/{id}/timeline"),
    ("GET", "/api/v1/assessments/{id}/chart.svg"),
    ("GET", "/api/v1/assessments/{id}/fhir"),
    ("POST", "/api/v1/fhir/labs"),
    ("GET", "/api/v1/knowledge/types"),
    ("GET", "/api/v1/knowledge/causes"),
    ("GET", "/api/v1/knowledge/tests"),
    ("GET", "/api/v1/knowledge/references"),
    ("GET", "/api/v1/questionnaire"),
]


def _check(response: Any, path: str) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400 and path.startswith("/api/"):
        body = response.json()
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"code", "message", "details"}, body


def test_schema_lists_every_operation(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url, secret_key="t"))
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    found = {(r.ok().method.upper(), r.ok().path) for r in schema.get_all_operations()}
    assert found == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS,
                         ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_server_errors(database_url: str, method: str, path: str) -> None:
    app = create_app(Settings(database_url=database_url, secret_key="t"))
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operation = schema[path][method]
    real: dict[str, str] = {}
    if "{id}" in path:
        from fastapi.testclient import TestClient

        r = TestClient(app).post("/api/v1/assessments", json={"format": "follicle-case/1"})
        real = {"id": r.json()["id"], "token": r.json()["token"]}

    @given(case=operation.as_strategy(), use_real=st.booleans())
    @settings(max_examples=30, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case, use_real: bool) -> None:
        headers = None
        if real and use_real and method != "DELETE":
            case.path_parameters = {"id": real["id"]}
            headers = {"Authorization": f"Bearer {real['token']}"}
        response = case.call(headers=headers)
        _check(response, path)
        case.validate_response(response, checks=[
            response_schema_conformance, status_code_conformance, content_type_conformance])

    run()
