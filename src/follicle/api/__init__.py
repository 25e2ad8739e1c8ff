"""REST API v1 of follicle, installed into the one FastAPI app by `routes.install`.

Endpoints (browsable reference at /api/docs, schema at /api/openapi.json):

- ``POST /api/v1/assess``: follicle-case/1 in, follicle-assessment/1 out; stores nothing.
- ``POST /api/v1/assessments``: assess and save; 201 ``{id, token, assessment}``.
- ``GET|DELETE /api/v1/assessments/{id}``: needs ``Authorization: Bearer TOKEN``; 404
  for an unknown id or a missing/wrong token alike.
- ``POST /api/v1/assessments/{id}/followups``; ``GET .../timeline``, ``.../chart.svg``.
- ``GET /api/v1/assessments/{id}/fhir``: FHIR R4B Bundle; ``POST /api/v1/fhir/labs``:
  lab lines from FHIR Observations.
- ``GET /api/v1/knowledge/{types,causes,tests,references}``, ``GET /api/v1/questionnaire``
  (``?format=fhir`` quiz Questionnaire, ``?format=fhir-case`` case-field Questionnaire).

Every 4xx/5xx on /api is ``{"error": {"code", "message", "details": [...]}}``.
"""
