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
   Even so, checking all ~1,600 keys against the latest turn was 11 % of the server's time per message under
   load (py-spy, 2026-11-27). The keys are now grouped by the previous action of their state at each turn
   (`_RuleIndex`), which must match before anything else can, so only the keys of matching groups get
   Rasa's full check.
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


class _RuleIndex:
    """A lookup's rule keys grouped, for each turn back, by the previous action their state at that turn names.

    Rasa's `_is_rule_applicable` can only be True for a key whose state at that turn has a previous action
    matching the conversation's: both absent (conversation starts), or both present and the rule's part of it
    matched by `_does_rule_match_state` (one condition of the conjunction that function checks over all the
    state's parts). So a turn is filtered by checking each distinct previous action once (a few dozen) and
    running Rasa's full check only on the keys in the groups that match, instead of on all ~1,600 keys.
    """

    def __init__(self, policy: Any, lookup: Dict[Text, Text]) -> None:
        self.lookup = lookup  # kept, so that its id cannot be reused by another dict while this index lives
        self.states = {key: policy._rule_key_to_state(key) for key in lookup}
        self.longest = max((len(states) for states in self.states.values()), default=0)
        self._turns: Dict[int, Any] = {}

    def turn(self, turn: int) -> Any:
        """([(previous action part, keys)], keys too short to reach this turn) for `turn` turns back."""
        from rasa.shared.core.constants import PREVIOUS_ACTION

        if turn not in self._turns:
            groups: Dict[Text, Any] = {}
            short = set()
            for key, states in self.states.items():
                if turn >= len(states):
                    short.add(key)
                    continue
                part = states[-1 - turn].get(PREVIOUS_ACTION)
                groups.setdefault(json.dumps(part, sort_keys=True), (part, []))[1].append(key)
            self._turns[turn] = (list(groups.values()), frozenset(short))
        return self._turns[turn]


def _rule_index(policy: Any, lookup: Dict[Text, Text]) -> _RuleIndex:
    indexes = policy.__dict__.setdefault("_navigator_rule_indexes", {})
    index = indexes.get(id(lookup))
    if index is None or index.lookup is not lookup or len(index.states) != len(lookup):
        index = indexes[id(lookup)] = _RuleIndex(policy, lookup)
    return index


SMALL = 64  # this few keys left: Rasa's check on each is quicker than walking the groups


def _possible_rule_keys(policy: Any, lookup: Dict[Text, Text], states: List[Dict[Text, Any]]) -> set:
    """RulePolicy._get_possible_keys: the same keys, found by previous-action groups (see _RuleIndex) and
    stopping once no remaining rule reaches further back."""
    from rasa.shared.core.constants import PREVIOUS_ACTION

    index = _rule_index(policy, lookup)
    possible_keys = set(lookup.keys())
    for turn, state in enumerate(reversed(states)):
        if turn >= index.longest or not possible_keys:  # _is_rule_applicable is True for every key from here on
            break
        if len(possible_keys) <= SMALL:
            possible_keys = {key for key in possible_keys if policy._is_rule_applicable(key, turn, state)}
            continue
        groups, short = index.turn(turn)
        current = state.get(PREVIOUS_ACTION)
        kept = set(short & possible_keys)
        for part, keys in groups:
            if bool(part) != bool(current):  # one is a conversation start and the other is not: never applicable
                continue
            if part and not policy._does_rule_match_state({PREVIOUS_ACTION: part}, state):
                continue
            kept.update(key for key in keys if key in possible_keys and policy._is_rule_applicable(key, turn, state))
        possible_keys = kept
    return possible_keys


def _stop_rule_matching_past_the_longest_rule() -> None:
    from rasa.core.policies.rule_policy import RulePolicy

    RulePolicy._get_possible_keys = _possible_rule_keys
