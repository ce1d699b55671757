"""Shared fixtures of the staff tests."""
from __future__ import annotations

import pytest


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty DATA_DIR for this test, with no STAFF_PASSWORD from the environment."""
    directory = tmp_path / "data"
    directory.mkdir()
    monkeypatch.setenv("DATA_DIR", str(directory))
    monkeypatch.delenv("STAFF_PASSWORD", raising=False)
    return directory
