"""A small client for the Rasa REST channel and tracker API, used by end-to-end tests."""
from __future__ import annotations

import uuid

import requests


class Chat:
    """Talks to the Rasa REST channel as one founder (one sender id)."""

    def __init__(self, rasa_url: str, sender: str | None = None) -> None:
        self.url = f"{rasa_url}/webhooks/rest/webhook"
        self.sender = sender or f"test-{uuid.uuid4().hex[:12]}"

    def send(self, text: str, timeout: float = 30) -> list[dict]:
        response = requests.post(self.url, json={"sender": self.sender, "message": text}, timeout=timeout)
        response.raise_for_status()
        return response.json()

    def texts(self, text: str) -> list[str]:
        return [reply.get("text", "") for reply in self.send(text)]


def fetch_tracker(stack, sender: str) -> dict:
    """The full tracker of a conversation, read through Rasa's HTTP API."""
    response = requests.get(f"{stack.rasa_url}/conversations/{sender}/tracker",
                            params={"token": stack.token}, timeout=10)
    response.raise_for_status()
    return response.json()
