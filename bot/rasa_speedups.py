"""Two hot spots of the Rasa 3.6 server, found with py-spy on this assistant, fixed without changing behaviour.

`install()` is called when the Rasa server sets up our input channels (bot.channels), so it applies to every
server that serves this assistant and to nothing else (training, the action server, the tests' own imports).

1. RulePolicy decodes each rule key (a JSON string) with `json.loads` behind an LRU cache of 1,000 entries.
   This assistant's model has about 1,600 rule keys (rules, loop unhappy paths), and every prediction walks
   them in the same order, so that LRU evicts each key just before it is needed again and never hits: a third
   of the server's time per message went to decoding the same JSON. The decoded states depend only on the key
   and the keys are fixed by the loaded model, so an unbounded cache holds each key once (a few MB).
2. Every custom action's response is checked with `jsonschema.validate`, which first checks the *schema*
   itself against the JSON Schema meta-schema — more work than checking the response. The validator is built
   (and the schema checked) once; responses are validated exactly as before and raise the same error.
3. Loading a conversation from the SQL tracker store turns each stored event back into an object, and
   `Event.resolve_by_type` walks every Event subclass (recursively, checking each for abstract methods) to
   find the class of each one: 7 % of the server's time on a 40-message conversation. The classes found are
   remembered by type name (names it does not know still go to Rasa's lookup, which raises as before).
4. RulePolicy filters its rule keys against the conversation one turn at a time, back to the first turn.
   A rule of n states is decided by the last n turns (Rasa's own check returns True for every older turn),
   and this model's longest rule has 4 states, so on a 40-message conversation nearly all of that filtering
   re-confirmed keys already kept. The filtering now stops after the longest rule still in play.
"""
from __future__ import annotations

import functools
import json
from typing import Any, Dict, List, Text

_installed = False


def install() -> None:
    """Apply the speed-ups once per process (idempotent)."""
    global _installed
    if _installed:
        return
    _cache_rule_keys()
    _validate_action_results_with_one_validator()
    _remember_event_classes()
    _stop_rule_matching_past_the_longest_rule()
    _installed = True


@functools.lru_cache(maxsize=None)
def _decoded_rule_key(rule_key: Text) -> List[Dict[Text, Any]]:
    return json.loads(rule_key)


def _cache_rule_keys() -> None:
    from rasa.core.policies.rule_policy import RulePolicy

    RulePolicy._rule_key_to_state = staticmethod(_decoded_rule_key)


@functools.lru_cache(maxsize=1)
def _action_response_validator():
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_results_with_one_validator() -> None:
    from jsonschema import ValidationError, exceptions
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
        # What jsonschema.validate does after its schema check: raise the most relevant error, if any.
        error = exceptions.best_match(_action_response_validator().iter_errors(result))
        if error is None:
            return True
        assert isinstance(error, ValidationError)
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from the Action "
            f"endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error

    RemoteAction._validate_action_result = _validate_action_result


_event_classes: Dict[Text, Any] = {}


def _remember_event_classes() -> None:
    from rasa.shared.core.events import Event

    find = Event.resolve_by_type

    def resolve_by_type(type_name: Text, default: Any = None) -> Any:
        found = _event_classes.get(type_name)
        if found is None:
            found = find(type_name, default)
            if found is not None and found is not default:
                _event_classes[type_name] = found
        return found

    Event.resolve_by_type = staticmethod(resolve_by_type)


def _possible_rule_keys(policy: Any, lookup: Dict[Text, Text], states: List[Dict[Text, Any]]) -> set:
    """RulePolicy._get_possible_keys, stopping once no remaining rule reaches further back."""
    possible_keys = set(lookup.keys())
    longest = max((len(policy._rule_key_to_state(key)) for key in possible_keys), default=0)
    for turn, state in enumerate(reversed(states)):
        if turn >= longest:  # _is_rule_applicable is True for every key from here on
            break
        possible_keys = {key for key in possible_keys if policy._is_rule_applicable(key, turn, state)}
    return possible_keys


def _stop_rule_matching_past_the_longest_rule() -> None:
    from rasa.core.policies.rule_policy import RulePolicy

    RulePolicy._get_possible_keys = _possible_rule_keys
