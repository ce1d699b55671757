"""Shared fixtures.

- `tracker_factory` and `dispatcher`: a fresh rasa-sdk Tracker (from tests/data/initial_tracker.json) and
  CollectingDispatcher per test, for action tests.
- `trained_model`: the model for the current training data, trained at most once per run and reused
  across runs from DATA_DIR/models (the same cache `make run` uses).
- `stack`: the real action server, Rasa server and web page on free loopback ports, with a temporary
  data directory, started once per session; `chat` sends REST messages to it.
"""
from __future__ import annotations

import copy
import json
import os
import socket
from pathlib import Path
from typing import Any, Callable

import pytest

os.environ.setdefault("OFFLINE", "1")  # tests never fetch live feeds

from bot import settings  # noqa: E402
from chat_client import Chat  # noqa: E402

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def tracker_factory() -> Callable[..., Any]:
    from rasa_sdk import Tracker

    base = json.loads((TESTS / "data" / "initial_tracker.json").read_text())

    def make(slots: dict | None = None, latest_message: dict | None = None, events: list | None = None,
             sender_id: str = "test-user", active_loop: dict | None = None) -> Tracker:
        state = copy.deepcopy(base)
        state["slots"].update(slots or {})
        if latest_message:
            state["latest_message"].update(latest_message)
        return Tracker(sender_id, state["slots"], state["latest_message"], events or state["events"],
                       state["paused"], state["followup_action"], active_loop or state["active_loop"],
                       state["latest_action_name"])

    return make


@pytest.fixture
def dispatcher():
    from rasa_sdk.executor import CollectingDispatcher

    return CollectingDispatcher()


@pytest.fixture(scope="session")
def domain() -> dict:
    from bot.domain import load_domain

    return load_domain()


@pytest.fixture(scope="session")
def trained_model() -> Path:
    from bot.services import ensure_model

    return ensure_model(settings.data_dir(), quiet=True)


@pytest.fixture(scope="session")
def stack_data_dir(tmp_path_factory) -> Path:
    """A data directory for the session's servers, with the knowledge store built from knowledge/."""
    from bot.knowledge.build import build

    data_dir = tmp_path_factory.mktemp("stack-data")
    build(settings.path("KNOWLEDGE_DIR"), data_dir / "knowledge.db")
    # Opportunities open relative to the real clock the action server reads (the snapshot has closed).
    import datetime as dt
    from opportunities.open_opportunities import build_open_store
    build_open_store(data_dir / "opportunities.db", dt.datetime.now(dt.timezone.utc))
    return data_dir


@pytest.fixture(scope="session")
def stack(trained_model, stack_data_dir):
    from bot.services import start_stack

    previous = os.environ.get("DATA_DIR")
    os.environ["DATA_DIR"] = str(stack_data_dir)
    try:
        running = start_stack(stack_data_dir, trained_model, "127.0.0.1", free_port(), free_port(), free_port())
    finally:
        if previous is None:
            os.environ.pop("DATA_DIR", None)
        else:
            os.environ["DATA_DIR"] = previous
    yield running
    running.stop()


@pytest.fixture
def chat(stack) -> Chat:
    return Chat(stack.rasa_url)


@pytest.fixture
def new_chat(stack) -> Callable[[], Chat]:
    return lambda: Chat(stack.rasa_url)
