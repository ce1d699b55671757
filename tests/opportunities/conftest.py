"""Fixtures for the opportunities tests: a fresh data dir per test and a local feed server on 127.0.0.1."""
from __future__ import annotations

from pathlib import Path

import pytest

from opportunities_helpers import FeedServer


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "var"
    monkeypatch.setenv("DATA_DIR", str(directory))
    monkeypatch.setenv("OFFLINE", "1")
    return directory


@pytest.fixture
def db_path(data_dir) -> Path:
    return data_dir / "opportunities.db"


@pytest.fixture
def feed_server():
    server = FeedServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
