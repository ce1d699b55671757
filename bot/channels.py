"""Rasa's REST and socket.io channels, guarded so that a founder never meets silence.

When a message produces no bot reply at all — typically because the action server is down, or an action
failed — the guard sends the domain's `utter_service_unavailable` line instead. When the conversation cannot be
read or saved (bot.tracker_store), the turn is dropped and the founder gets `utter_conversation_not_saved`
instead of a reply from a blank or unsaved conversation. The channels keep
Rasa's names ("rest", "socketio"), so their URLs stay /webhooks/rest/webhook and /socket.io.
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint, Sanic

from bot import rasa_speedups
from bot.tracker_store import ConversationStoreUnavailable, guarded_turn

logger = logging.getLogger(__name__)

UNAVAILABLE_RESPONSE = "utter_service_unavailable"
NOT_SAVED_RESPONSE = "utter_conversation_not_saved"


class _CountingOutput(OutputChannel):
    """Passes every reply on to the real channel and counts them."""

    def __init__(self, inner: OutputChannel) -> None:
        self.inner = inner
        self.sent = 0

    @classmethod
    def name(cls) -> Text:  # pragma: no cover - never used as a registered channel
        return "counting"

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        self.sent += 1
        await self.inner.send_response(recipient_id, message)


def _unavailable_message(response: Text = UNAVAILABLE_RESPONSE) -> Optional[Dict[Text, Any]]:
    """The domain's apology line, read from the loaded model so that its text lives in domain/."""
    for app in list(Sanic._app_registry.values()):
        agent = getattr(app.ctx, "agent", None)
        domain = getattr(agent, "domain", None)
        if domain and domain.responses.get(response):
            variant = domain.responses[response][0]
            return {key: variant[key] for key in ("text", "buttons") if variant.get(key)}
    return None


def _guard_conversation_store(
    on_new_message: Callable[[UserMessage], Awaitable[Any]]
) -> Callable[[UserMessage], Awaitable[Any]]:
    """Drops a turn whose conversation could not be read or saved, and tells the founder so."""

    async def guarded(message: UserMessage) -> None:
        try:
            with guarded_turn():
                await on_new_message(message)
        except ConversationStoreUnavailable as error:
            logger.error("%s; the turn was dropped and the founder asked to send it again", error)
            channel = message.output_channel
            collected = getattr(channel, "inner", channel)
            if isinstance(collected, CollectingOutputChannel):
                collected.messages.clear()  # replies of a turn that was not saved would be forgotten next time
            reply = _unavailable_message(NOT_SAVED_RESPONSE)
            if reply is not None:
                await channel.send_response(message.sender_id, reply)

    return guarded


def guard_against_silence(
    on_new_message: Callable[[UserMessage], Awaitable[Any]]
) -> Callable[[UserMessage], Awaitable[Any]]:
    on_new_message = _guard_conversation_store(on_new_message)

    async def guarded(message: UserMessage) -> None:
        counter = _CountingOutput(message.output_channel)
        message.output_channel = counter
        try:
            await on_new_message(message)
        finally:
            if counter.sent == 0 and message.text != "/session_start":
                reply = _unavailable_message()
                if reply is None:
                    logger.error("no reply was sent and %s is missing from the domain", UNAVAILABLE_RESPONSE)
                else:
                    logger.warning("no reply for a message on %s; sent the apology", message.input_channel)
                    await counter.inner.send_response(message.sender_id, reply)

    return guarded


def _json_object(request: Any) -> Dict[Text, Any]:
    """The request's JSON body if it is an object; a 400 (not Rasa's 500) for anything else."""
    from sanic.exceptions import InvalidUsage

    body = request.json
    if not isinstance(body, dict):
        raise InvalidUsage("The body must be a JSON object like {\"sender\": \"id\", \"message\": \"text\"}.")
    return body


class RestChannel(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    async def _extract_sender(self, request: Any) -> Optional[Text]:
        sender = _json_object(request).get("sender")
        return None if sender is None else str(sender)

    def _extract_message(self, request: Any) -> Optional[Text]:
        message = _json_object(request).get("message")
        return None if message is None else str(message)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        rasa_speedups.install()  # the Rasa server is setting up our channels: this process serves the assistant
        return super().blueprint(guard_against_silence(on_new_message))


class SocketIOChannel(SocketIOInput):
    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        rasa_speedups.install()
        return super().blueprint(guard_against_silence(on_new_message))
