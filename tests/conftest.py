"""Shared pytest configuration. Fixtures for a subsystem live in tests/support/ and that subsystem's conftest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SAYSO_SHARED_DIR", REPO.parent / "shared"))
ARTIFACTS = Path(os.environ.get("SAYSO_TEST_ARTIFACTS", REPO / "test-artifacts"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"The shared folder with test audio is missing: {SHARED} (set SAYSO_SHARED_DIR)")
    return SHARED


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
