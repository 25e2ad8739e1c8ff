"""Helpers for the browser tests: a watched page, axe-core checks and screenshots."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("FOLLICLE_CHROMIUM", "/usr/bin/chromium"))
AXE = ROOT / "tests" / "vendor" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
SHOTS = ARTIFACTS / "screenshots"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


class Watched:
    """A page plus what it did: every request's host, console errors (CSP violations)."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.foreign: list[str] = []
        self.console_errors: list[str] = []
        page.on("request", self._request)
        page.on("console", self._console)
        page.route("**/__axe__.js", lambda route: route.fulfill(
            status=200, content_type="application/javascript", body=AXE.read_text()))

    def _request(self, request: Any) -> None:
        url = request.url
        if not (url.startswith(self.base) or url.startswith(("data:", "blob:", "about:"))):
            self.foreign.append(url)

    def _console(self, msg: Any) -> None:
        if msg.type == "error":
            self.console_errors.append(msg.text)


AXE_RESULTS: dict[str, Any] = {}


def axe_check(w: Watched, name: str) -> list[dict[str, Any]]:
    """Run the vendored axe-core on the current page; return serious/critical violations.

    axe is served from this origin by a Playwright route (so the page's CSP, which allows
    only 'self' scripts, stays on) and added as a <script src>.
    """
    page = w.page
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=f"{w.base}/__axe__.js")
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values:
          ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
          nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
    }""")
    AXE_RESULTS[name] = result
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "axe-results.json").write_text(json.dumps(AXE_RESULTS, indent=2))
    return [v for v in result if v["impact"] in ("serious", "critical")]


def snap(w: Watched, name: str, axe: bool = True) -> None:
    """Screenshots at phone and desktop width, and (by default) an axe check."""
    page = w.page
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=True)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name}: page is {width}px wide at phone width"
    if axe:
        bad = axe_check(w, name)
        assert not bad, f"{name}: serious/critical axe violations: {bad}"
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(SHOTS / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)

