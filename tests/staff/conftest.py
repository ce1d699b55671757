"""Shared fixtures of the staff tests."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def default_report_timezone():
    """The report's default zone (America/Toronto) whatever the environment says; tests that need another
    zone set REPORT_TIMEZONE themselves."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("REPORT_TIMEZONE", raising=False)
        yield


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty DATA_DIR for this test, with no STAFF_PASSWORD from the environment."""
    directory = tmp_path / "data"
    directory.mkdir()
    monkeypatch.setenv("DATA_DIR", str(directory))
    monkeypatch.delenv("STAFF_PASSWORD", raising=False)
    return directory
