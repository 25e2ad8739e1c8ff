"""Where the parts of the web app plug in: each installer adds its routes to the app.

Keep this list short and in order; each part owns its own module.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from ..settings import Settings

Installer = Callable[[FastAPI, Settings], None]

INSTALLERS: list[Installer] = []

from ..api.routes import install as _install_api  # noqa: E402  (REST API v1, storage)

INSTALLERS.append(_install_api)

from .pages import install as _install_pages  # noqa: E402

INSTALLERS.append(_install_pages)
