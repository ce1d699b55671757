"""bot.rasa_speedups: the patched Rasa hot spots give exactly what Rasa's own code gives (speed: bench/)."""
from __future__ import annotations

import json

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.policies.rule_policy import RulePolicy

from bot import rasa_speedups

RASA_GET_POSSIBLE_KEYS = RulePolicy._get_possible_keys  # Rasa's own, kept before install() replaces it

VALID = {"events": [{"event": "slot", "name": "last_topic", "value": "VOR"}],
         "responses": [{"response": "utter_topic_answer", "title": "VOR"}]}
INVALID = [{"events": "not a list"}, {"events": [{"no_event_key": 1}]}, {"events": [{"event": "nonsense_event"}]},
           {"events": [{"event": "slot", "name": 3}]}]


@pytest.fixture(scope="module", autouse=True)
def installed():
    rasa_speedups.install()
    rasa_speedups.install()  # idempotent


def test_rule_keys_decode_as_json_and_stay_cached_past_a_thousand_keys():
    keys = [json.dumps([{"prev_action": {"action_name": f"action_{n}"}, "user": {"intent": f"i{n}"}}])
            for n in range(1600)]
    before = rasa_speedups._decoded_rule_key.cache_info()
    for _ in range(2):  # a prediction walks every key in the same order, message after message
        assert [RulePolicy._rule_key_to_state(k) for k in keys] == [json.loads(k) for k in keys]
    after = rasa_speedups._decoded_rule_key.cache_info()
    assert after.misses - before.misses == len(keys)  # decoded once each: the second walk only hits
    assert after.hits - before.hits >= len(keys)


def test_action_responses_are_validated_as_jsonschema_validate_does():
    action = RemoteAction("action_answer_topic", None)
    assert action._validate_action_result(VALID) is True
    schema = RemoteAction.action_response_format_spec()
    for response in INVALID:
        with pytest.raises(jsonschema.ValidationError) as expected:
            jsonschema.validate(response, schema)
        with pytest.raises(jsonschema.ValidationError) as raised:
            action._validate_action_result(response)
        assert raised.value.message.startswith(expected.value.message)
        assert "Failed to validate Action server response" in raised.value.message
        assert list(raised.value.path) == list(expected.value.path)


def test_event_classes_resolve_as_rasa_resolves_them():
    from rasa.shared.core import events
    from rasa.shared.utils.common import all_subclasses

    for cls in all_subclasses(events.Event):
        assert events.Event.resolve_by_type(cls.type_name) is next(
            c for c in all_subclasses(events.Event) if c.type_name == cls.type_name)
    assert events.Event.resolve_by_type("no_such_event", default=events.SlotSet) is events.SlotSet
    assert events.Event.resolve_by_type("topic") is None
    with pytest.raises(ValueError):
        events.Event.resolve_by_type("no_such_event")
    stored = [events.UserUttered("hi", {"name": "greet", "confidence": 1.0}), events.SlotSet("last_topic", "VOR"),
              events.ActionExecuted("utter_greet"), events.BotUttered("Hello")]
    assert events.deserialise_events([e.as_dict() for e in stored]) == stored


def kept_sizes_same_as_rasas(policy, lookup, make_state, lengths, rounds) -> set:
    """Asserts that the patched key filtering keeps what Rasa's own keeps, for `rounds` random conversations of
    each length; returns the numbers of keys kept (so a test can check the cases differed)."""
    sizes = set()
    for length in lengths:
        for _ in range(rounds):
            states = [make_state() for _ in range(length)]
            kept = RulePolicy._get_possible_keys(policy, lookup, states)
            assert kept == RASA_GET_POSSIBLE_KEYS(policy, lookup, states)
            sizes.add(len(kept))
    return sizes


def test_rule_keys_kept_are_the_ones_rasa_keeps():
    import random

    rng = random.Random(5)
    actions = ["action_listen", "utter_greet", "action_answer_topic", "rules_check_form", None]
    intents = ["greet", "ask_vor", "search_opportunities", None]

    def state():
        made = {}
        action = rng.choice(actions)
        if action:
            made["prev_action"] = {"action_name": action}
        intent = rng.choice(intents)
        if intent:
            made["user"] = {"intent": intent}
        if rng.random() < 0.3:
            made["active_loop"] = {"name": "rules_check_form"}
        return made

    lookup = {json.dumps([state() for _ in range(rng.randint(1, 4))], sort_keys=True): "utter_x" for _ in range(400)}
    policy = RulePolicy.__new__(RulePolicy)  # the key filtering uses no trained state
    sizes = kept_sizes_same_as_rasas(policy, lookup, state, (0, 1, 2, 3, 5, 12, 40), 20)
    assert len(sizes) > 3 and max(sizes) == len(lookup)  # the cases differ: the comparison means something


def test_rule_keys_kept_are_the_ones_rasa_keeps_with_texts_unset_values_slots_and_conversation_starts():
    import random

    from rasa.shared.core.constants import SHOULD_NOT_BE_SET

    rng = random.Random(11)
    actions = ["action_listen", "utter_greet", "action_answer_topic", "rules_check_form", SHOULD_NOT_BE_SET]
    intents = ["greet", "ask_vor", "search_opportunities", SHOULD_NOT_BE_SET]

    def state():
        made = {}
        roll = rng.random()
        if roll < 0.6:
            made["prev_action"] = {"action_name": rng.choice(actions)}
        elif roll < 0.75:
            made["prev_action"] = {"action_text": rng.choice(["hi", "what is a VOR"])}
        elif roll < 0.85:
            made["prev_action"] = {}  # an empty part counts as a conversation start, as no part does
        if rng.random() < 0.7:
            made["user"] = {"intent": rng.choice(intents)}
        if rng.random() < 0.3:
            made["slots"] = {"sector": rng.choice([(1.0,), [1.0], SHOULD_NOT_BE_SET, (0.0,)])}
        if rng.random() < 0.3:
            made["active_loop"] = {"name": rng.choice(["rules_check_form", SHOULD_NOT_BE_SET])}
        return made

    policy = RulePolicy.__new__(RulePolicy)
    lookup = {json.dumps([state() for _ in range(rng.randint(1, 5))], sort_keys=True): "utter_x" for _ in range(600)}
    assert len(lookup) > rasa_speedups.SMALL  # the grouped path is the one compared
    assert len(kept_sizes_same_as_rasas(policy, lookup, state, (0, 1, 2, 3, 4, 6, 30), 40)) > 5
    # A lookup that changes (as when a model is loaded) is indexed afresh.
    lookup[json.dumps([{"prev_action": {"action_name": "utter_greet"}}])] = "utter_y"
    states = [{"prev_action": {"action_name": "utter_greet"}}]
    assert RulePolicy._get_possible_keys(policy, lookup, states) == RASA_GET_POSSIBLE_KEYS(policy, lookup, states)
