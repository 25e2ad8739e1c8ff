"""Browser-test fixtures: the app under uvicorn on a free loopback port with a temporary
SQLite database, and Debian's chromium driven by Playwright (no browser download).

Screenshots and axe results go to test-artifacts/ (phone 360x740 and desktop 1280x900).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, PHONE, SHOTS, Watched

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a running `follicle` web app (uvicorn subprocess)."""
    port = _free_port()
    db = tmp_path_factory.mktemp("db") / "follicle.db"
    env = dict(os.environ, FOLLICLE_DATABASE_URL=f"sqlite:///{db}",
               FOLLICLE_SECRET_KEY="browser-test-secret")
    log = (tmp_path_factory.mktemp("log") / "uvicorn.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "follicle.web.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the app did not start; see {log.name}")
        time.sleep(0.1)
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _ensure_chromium() -> None:
    if CHROMIUM.exists():
        return
    script = ROOT / "scripts" / "ensure-chromium.sh"
    subprocess.run(["bash", str(script)], check=False)
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; run scripts/ensure-chromium.sh")
        pytest.skip(f"{CHROMIUM} is missing; run scripts/ensure-chromium.sh")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _ensure_chromium()
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                               headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser: Any, server: str) -> Iterator[Watched]:
    """A fresh phone-sized page (own context: no cookies) that records what it loads."""
    ctx = browser.new_context(viewport=PHONE, base_url=server, accept_downloads=True)
    p = ctx.new_page()
    w = Watched(p, server)
    try:
        yield w
    finally:
        ctx.close()
    assert not w.foreign, f"third-party requests: {w.foreign}"
    assert not [e for e in w.console_errors if "Content Security Policy" in e
                or "Refused" in e], w.console_errors


