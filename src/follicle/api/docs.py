"""Browsable API docs at /api/docs, rendered on the server from the OpenAPI schema.

FastAPI's default Swagger UI loads scripts from a CDN and runs inline script, both of which
the app's Content-Security-Policy (script-src 'self') blocks; this page needs no script at
all, works offline, and is readable by screen readers.
"""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.routing import Route

__all__ = ["install_docs", "render_docs"]

METHODS = ("get", "post", "put", "patch", "delete")


def _ref_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else ""


def _type(schema: dict[str, Any]) -> str:
    if not schema:
        return "any"
    if "$ref" in schema:
        name = _ref_name(schema)
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_type(s) for s in schema[key])
    if "enum" in schema:
        return " | ".join(f"<code>{escape(json.dumps(v))}</code>" for v in schema["enum"])
    if "const" in schema:
        return f"<code>{escape(json.dumps(schema['const']))}</code>"
    t = schema.get("type", "object")
    if t == "array":
        return f"array of {_type(schema.get('items', {}))}"
    return escape(str(t))


def _md_code(text: str) -> str:
    """Escape text, turning `backticked` spans into <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    anchor = f"op-{method}-{path}".replace("/", "-").replace("{", "").replace("}", "")
    out = [f'<section class="api-op" aria-labelledby="{escape(anchor)}">',
           f'<h3 id="{escape(anchor)}"><code>{method.upper()} {escape(path)}</code></h3>']
    if op.get("summary"):
        out.append(f"<p>{_md_code(op['summary'])}</p>")
    if op.get("description"):
        out += [f"<p>{_md_code(p)}</p>" for p in op["description"].split("\n\n")]
    params = op.get("parameters", [])
    if params:
        out.append("<table><caption>Parameters</caption><thead><tr><th scope=col>Name</th>"
                   "<th scope=col>In</th><th scope=col>Type</th><th scope=col>Required</th>"
                   "<th scope=col>Description</th></tr></thead><tbody>")
        for p in params:
            out.append(f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}"
                       f"</td><td>{_type(p.get('schema', {}))}</td>"
                       f"<td>{'yes' if p.get('required') else 'no'}</td>"
                       f"<td>{_md_code(p.get('description', ''))}</td></tr>")
        out.append("</tbody></table>")
    body = op.get("requestBody", {}).get("content", {})
    for ctype, media in body.items():
        out.append(f"<p>Request body ({escape(ctype)}): {_type(media.get('schema', {}))}</p>")
    out.append("<p>Responses:</p><ul>")
    for code, resp in op.get("responses", {}).items():
        types = [f"{escape(c)}" + (f": {_type(m['schema'])}" if m.get("schema") else "")
                 for c, m in resp.get("content", {}).items()]
        out.append(f"<li><strong>{escape(str(code))}</strong> "
                   f"{escape(resp.get('description', ''))}"
                   f"{' — ' + ', '.join(types) if types else ''}</li>")
    out.append("</ul></section>")
    return "".join(out)


def _schema(name: str, schema: dict[str, Any]) -> str:
    out = [f'<section aria-labelledby="schema-{escape(name)}">'
           f'<h3 id="schema-{escape(name)}">{escape(name)}</h3>']
    if schema.get("description"):
        out.append(f"<p>{escape(schema['description'])}</p>")
    props = schema.get("properties", {})
    if props:
        required = set(schema.get("required", []))
        out.append("<table><thead><tr><th scope=col>Field</th><th scope=col>Type</th>"
                   "<th scope=col>Required</th></tr></thead><tbody>")
        for prop, sub in props.items():
            out.append(f"<tr><td><code>{escape(prop)}</code></td><td>{_type(sub)}</td>"
                       f"<td>{'yes' if prop in required else 'no'}</td></tr>")
        out.append("</tbody></table>")
    else:
        out.append(f"<p>{_type(schema)}</p>")
    out.append("</section>")
    return "".join(out)


def render_docs(spec: dict[str, Any]) -> str:
    """The whole reference page for an OpenAPI document."""
    info = spec.get("info", {})
    ops = [_operation(path, m, item[m]) for path, item in spec.get("paths", {}).items()
           for m in METHODS if m in item]
    schemas = [_schema(n, s) for n, s in
               sorted(spec.get("components", {}).get("schemas", {}).items())]
    title = f"{info.get('title', 'API')} {info.get('version', '')} — REST API reference"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        '<link rel="stylesheet" href="/static/follicle.css"></head><body>'
        f'<main id="main"><h1>{escape(title)}</h1>'
        '<p>Machine-readable schema: <a href="/api/openapi.json">/api/openapi.json</a>. '
        "Saved-assessment routes need <code>Authorization: Bearer TOKEN</code> (the token "
        "returned once when saving); an unknown id and a wrong token both answer 404. "
        "Every error has the shape <code>{\"error\": {\"code\", \"message\", \"details\": "
        "[{\"message\", \"field\", \"allowed\"}]}}</code>.</p>"
        '<h2>Operations</h2>' + "".join(ops) +
        '<h2>Schemas</h2>' + "".join(schemas) + "</main></body></html>")


def install_docs(app: FastAPI) -> None:
    """Serve the script-free reference at the app's docs URL (replacing Swagger UI)."""
    url = app.docs_url or "/api/docs"
    app.router.routes[:] = [r for r in app.router.routes
                            if not (isinstance(r, Route) and r.path == url)]

    @app.get(url, include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        cached = getattr(request.app.state, "api_docs_html", None)
        if cached is None:
            cached = render_docs(request.app.openapi())
            request.app.state.api_docs_html = cached
        return HTMLResponse(cached)
