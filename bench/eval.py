"""NLU evaluation on questions the model never saw in training.

    python -m bench.eval [--model PATH] [--json OUT]

Uses the held-out split of the knowledge topics' example questions (bot.knowledge.training.split_questions
keeps about one in six out of training) plus any labelled founder messages in tests/data/nlu_test_set.yml,
parses each with the trained model, and prints accuracy, macro precision/recall/F1, a per-intent
precision/recall/F1 table, the out-of-scope rate (messages labelled out_of_scope or other_jurisdiction that
get the scope answer) and the confusions. Then runs the conversation tests (tests/stories/*.yml) with
`rasa test core --fail-on-prediction-errors` and exits 1 if any story fails (skip them with --no-stories).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from bot import settings

TEST_SET = settings.PROJECT_ROOT / "tests" / "data" / "nlu_test_set.yml"
# Intents whose reply is the assistant's scope answer rather than a fact.
SCOPE_INTENTS = ("out_of_scope", "other_jurisdiction")
FALLBACK = "nlu_fallback"


def heldout_examples() -> list[tuple[str, str]]:
    from bot.knowledge.loader import load_knowledge
    from bot.knowledge.training import split_questions

    knowledge, problems = load_knowledge(settings.path("KNOWLEDGE_DIR"))
    if problems:
        raise SystemExit("knowledge has problems; run `python -m bot knowledge validate`")
    _train, heldout = split_questions(knowledge.topics)
    return [(text, intent) for intent, texts in sorted(heldout.items()) for text in texts]


def test_set_examples(path: Path = TEST_SET) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text()) or {}
    return [(item["text"], item["intent"]) for item in data.get("examples", [])]


def scores(pairs: list[tuple[str, str]]) -> dict:
    """Accuracy, macro P/R/F1 over the expected labels, per-label figures and confusions from (expected, got)."""
    labels = sorted({expected for expected, _ in pairs})
    tp, fp, fn = Counter(), Counter(), Counter()
    for expected, got in pairs:
        if expected == got:
            tp[expected] += 1
        else:
            fn[expected] += 1
            fp[got] += 1
    per_label = {}
    for label in labels:
        precision = tp[label] / (tp[label] + fp[label]) if tp[label] + fp[label] else 0.0
        recall = tp[label] / (tp[label] + fn[label]) if tp[label] + fn[label] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {"precision": precision, "recall": recall, "f1": f1, "support": tp[label] + fn[label]}
    n = len(labels) or 1
    return {
        "examples": len(pairs),
        "accuracy": sum(tp.values()) / (len(pairs) or 1),
        "macro_precision": sum(v["precision"] for v in per_label.values()) / n,
        "macro_recall": sum(v["recall"] for v in per_label.values()) / n,
        "macro_f1": sum(v["f1"] for v in per_label.values()) / n,
        "per_label": per_label,
    }


def scope_figures(pairs: list[tuple[str, str]]) -> dict:
    """For messages labelled out of scope: the share answered with the scope reply, with the low-confidence
    fallback (closest topics as buttons) and with some other intent (a confident wrong answer)."""
    got = [g for expected, g in pairs if expected in SCOPE_INTENTS]
    n = len(got) or 1
    return {
        "messages": len(got),
        "scope_answer_rate": sum(g in SCOPE_INTENTS for g in got) / n,
        "fallback_rate": got.count(FALLBACK) / n,
        "confident_wrong_rate": sum(g not in SCOPE_INTENTS and g != FALLBACK for g in got) / n,
        "answered_in_scope_wrongly": sum(e not in SCOPE_INTENTS and g in SCOPE_INTENTS for e, g in pairs),
    }


def print_report(name: str, result: dict) -> None:
    print(f"\n== {name}: {result['examples']} examples")
    print(f"accuracy {result['accuracy']:.3f}  macro precision {result['macro_precision']:.3f}  "
          f"recall {result['macro_recall']:.3f}  F1 {result['macro_f1']:.3f}")
    print(f"top-1 ignoring the fallback threshold {result['top1_before_fallback']:.3f}  "
          f"right intent in top 3 {result['top3']:.3f}  fallback rate {result['fallback_rate']:.3f}")
    scope = result.get("scope")
    if scope and scope["messages"]:
        print(f"out of scope: {scope['messages']} messages, scope answer {scope['scope_answer_rate']:.3f}, "
              f"fallback {scope['fallback_rate']:.3f}, confident wrong answer {scope['confident_wrong_rate']:.3f}; "
              f"in-scope messages given the scope answer: {scope['answered_in_scope_wrongly']}")
    print(f"{'intent':<44} {'prec':>5} {'rec':>5} {'F1':>5} {'n':>4}")
    for label, v in sorted(result["per_label"].items(), key=lambda item: (item[1]["f1"], item[0])):
        print(f"{label:<44} {v['precision']:>5.2f} {v['recall']:>5.2f} {v['f1']:>5.2f} {v['support']:>4}")
    print(f"confusions ({len(result['confusions'])}): expected -> got, text")
    for confusion in result["confusions"]:
        print(f"  {confusion['expected']:<40} -> {confusion['got']:<40} {confusion['text']!r}")


async def predict(model: Path, texts: list[str]) -> list[dict]:
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # one debug line per parsed message would bury the report

    agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


def run_stories(model: Path) -> tuple[bool, str]:
    """(passed, summary) of Rasa's conversation tests in tests/stories against `model`."""
    import os
    import subprocess
    import tempfile

    root = settings.PROJECT_ROOT
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(root), "RASA_TELEMETRY_ENABLED": "false",
               "ACTION_ENDPOINT_URL": "http://127.0.0.1:9/webhook", "TRACKER_STORE_URL": f"sqlite:///{tmp}/t.db"}
        result = subprocess.run(
            [sys.executable, "-m", "rasa", "test", "core", "--model", str(model), "--stories", "tests/stories",
             "--endpoints", "endpoints.yml", "--out", f"{tmp}/results", "--fail-on-prediction-errors"],
            cwd=root, env=env, capture_output=True, text=True)
        failed = Path(tmp, "results", "failed_test_stories.yml")
        details = failed.read_text().strip() if failed.exists() else ""
    stories = sum(text.count("- story:") for text in
                  (path.read_text() for path in sorted((root / "tests" / "stories").glob("*.yml"))))
    if result.returncode == 0:
        return True, f"{stories} stories, no prediction errors"
    return False, f"{stories} stories, FAILED:\n{details or result.stderr[-2000:]}"


def ranked(parse: dict) -> list[str]:
    """The intents the classifier ranked, best first, without the fallback pseudo-intent."""
    return [r["name"] for r in parse.get("intent_ranking", []) if r["name"] != "nlu_fallback"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.eval", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model archive (default: train or reuse the current one)")
    parser.add_argument("--json", type=Path, help="also write the full report as JSON here")
    parser.add_argument("--no-stories", action="store_true", help="skip the conversation tests (tests/stories)")
    args = parser.parse_args(argv)

    from bot.services import ensure_model

    model = args.model or ensure_model(settings.data_dir(), quiet=True)
    suites = {"held-out topic questions": heldout_examples(), "founder test set": test_set_examples()}
    report: dict = {"model": str(model)}
    for name, examples in suites.items():
        if not examples:
            continue
        parses = asyncio.run(predict(model, [text for text, _ in examples]))
        got = [parse["intent"]["name"] for parse in parses]
        result = scores([(expected, g) for (_, expected), g in zip(examples, got)])
        result["top1_before_fallback"] = sum(
            bool(ranked(p)) and ranked(p)[0] == e for p, (_, e) in zip(parses, examples)) / len(examples)
        result["top3"] = sum(e in ranked(p)[:3] for p, (_, e) in zip(parses, examples)) / len(examples)
        result["fallback_rate"] = got.count(FALLBACK) / len(examples)
        result["confusions"] = [
            {"text": text, "expected": expected, "got": g}
            for (text, expected), g in zip(examples, got) if expected != g
        ]
        result["scope"] = scope_figures([(expected, g) for (_, expected), g in zip(examples, got)])
        report[name] = result
        print_report(name, result)
    status = 0
    if not args.no_stories:
        passed, summary = run_stories(model)
        report["stories"] = {"passed": passed, "summary": summary}
        print(f"\n== conversation tests (rasa test core --fail-on-prediction-errors): {summary}")
        status = 0 if passed else 1
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main())
