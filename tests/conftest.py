"""Shared fixtures: the tiny fake knowledge base for engine tests, and the real one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from follicle.kb.loader import KnowledgeBase, load_kb, load_kb_dir

# tests copy and edit knowledge files in temporary folders: keep them out of the user cache
os.environ["FOLLICLE_NO_KB_CACHE"] = "1"

TINY = Path(__file__).parent / "fixtures" / "tiny_kb"


@pytest.fixture(scope="session")
def tiny_kb() -> KnowledgeBase:
    return load_kb_dir(TINY, "tiny")


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_kb()
