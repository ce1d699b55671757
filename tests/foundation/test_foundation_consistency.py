"""The domain, the actions, the training data and the code agree with each other."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import yaml

from bot import settings
from bot.domain import intent_names
from bot.knowledge.loader import load_knowledge
from bot.knowledge.training import intent_for

ROOT = settings.PROJECT_ROOT
RASA_BUILTIN_INTENTS = {"nlu_fallback", "restart", "session_start", "back", "out_of_scope"}


def _python_files() -> list[Path]:
    return sorted([*ROOT.glob("actions/**/*.py"), *ROOT.glob("bot/**/*.py")])


def _action_classes() -> dict[str, Path]:
    """name() of every rasa-sdk Action defined in actions/."""
    names: dict[str, Path] = {}
    for path in ROOT.glob("actions/**/*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "name":
                for ret in ast.walk(node):
                    if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Constant):
                        names[ret.value.value] = path
    return names


def _responses_named_in_code() -> set[str]:
    found: set[str] = set()
    for path in _python_files():
        found.update(re.findall(r"[\"'](utter_[a-z_]+)[\"']", path.read_text()))
    found.discard("utter_action")  # the key under which Rasa records a bot message's response, not a response
    return found


def _training_files() -> list[dict]:
    return [yaml.safe_load(p.read_text()) or {} for p in sorted((ROOT / "data").rglob("*.yml"))]


def _steps(kind: str) -> list[dict]:
    steps = []
    for document in _training_files():
        for block in document.get("rules", []) + document.get("stories", []):
            steps.extend(block.get("steps", []))
    return [s for s in steps if kind in s]


def _topic_intents() -> set[str]:
    knowledge, problems = load_knowledge(settings.path("KNOWLEDGE_DIR"))
    assert not problems
    return {intent_for(t.id) for t in knowledge.topics}


def test_every_domain_action_is_implemented_and_every_action_is_in_the_domain(domain):
    implemented = _action_classes()
    assert set(domain["actions"]) == set(implemented), (
        f"in the domain only: {set(domain['actions']) - set(implemented)}; "
        f"implemented only: {set(implemented) - set(domain['actions'])}"
    )


def _form_questions(domain) -> set[str]:
    """utter_ask_<slot> for every slot a form asks: Rasa sends these itself."""
    return {f"utter_ask_{slot}" for form in (domain.get("forms") or {}).values()
            for slot in (form or {}).get("required_slots", [])}


def test_every_response_used_exists_and_every_response_is_used(domain):
    defined = set(domain["responses"])
    used_in_code = _responses_named_in_code() | _form_questions(domain)
    used_in_data = {s["action"] for s in _steps("action") if s["action"].startswith("utter_")}
    missing = (used_in_code | used_in_data) - defined
    assert not missing, f"responses used but not in domain/: {missing}"
    unused = defined - used_in_code - used_in_data
    assert not unused, f"responses in domain/ that nothing sends: {unused}"


def test_every_action_in_training_data_exists(domain):
    known = set(domain["actions"]) | set(domain["responses"]) | set(domain["forms"]) | {"action_listen", "action_restart",
                                                                  "action_default_fallback", "action_deactivate_loop"}
    used = {s["action"] for s in _steps("action")}
    assert used <= known, f"unknown actions in data/: {used - known}"


def test_every_intent_in_training_data_and_buttons_exists(domain):
    intents = intent_names(domain) | _topic_intents() | RASA_BUILTIN_INTENTS
    used = {s["intent"] for s in _steps("intent")}
    assert used <= intents, f"unknown intents in data/: {used - intents}"
    for name, variants in domain["responses"].items():
        for variant in variants:
            for button in variant.get("buttons", []):
                intent = button["payload"].lstrip("/").split("{")[0]
                assert intent in intents, f"{name}: button '{button['title']}' points at unknown intent {intent}"


def test_every_domain_intent_has_training_examples(domain):
    examples = {block["intent"] for doc in _training_files() for block in doc.get("nlu", []) if "intent" in block}
    assert intent_names(domain) <= examples, f"intents without examples: {intent_names(domain) - examples}"


def test_no_procurement_topic_intent_is_written_by_hand_in_data():
    hand_written = {block["intent"] for doc in _training_files() for block in doc.get("nlu", []) if "intent" in block}
    assert not {i for i in hand_written if i.startswith("topic_")}, "topic examples belong in knowledge/topics"


def test_rasa_data_validate_passes():
    result = subprocess.run([sys.executable, "-m", "rasa", "data", "validate", "--domain", "domain", "--fail-on-warnings"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**__import__("os").environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
