"""Rasa's own conversation tests (tests/stories/*.yml) pass with --fail-on-prediction-errors."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot import settings

pytestmark = pytest.mark.slow


def test_conversation_stories_pass(trained_model, tmp_path):
    root = settings.PROJECT_ROOT
    env = {**os.environ, "PYTHONPATH": str(root), "RASA_TELEMETRY_ENABLED": "false",
           "ACTION_ENDPOINT_URL": "http://127.0.0.1:9/webhook", "TRACKER_STORE_URL": f"sqlite:///{tmp_path}/t.db"}
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "test", "core", "--model", str(trained_model), "--stories", "tests/stories",
         "--endpoints", "endpoints.yml", "--out", str(tmp_path / "results"), "--fail-on-prediction-errors"],
        cwd=root, env=env, capture_output=True, text=True, timeout=900,
    )
    failed = (tmp_path / "results" / "failed_test_stories.yml")
    details = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, (result.stdout[-2000:] + result.stderr[-4000:] + details)[-6000:]
