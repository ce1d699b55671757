"""NLU evaluation on questions the model never saw in training.

    python -m bench.eval [--model PATH] [--json OUT]

Uses the held-out split of the knowledge topics' example questions (bot.knowledge.training.split_questions
keeps about one in six out of training) plus the labelled founder messages in tests/data/nlu_test_set.yml and
tests/data/nlu_test_set_2.yml (a second set written later without sight of the training examples),
parses each with the trained model, and prints accuracy, macro precision/recall/F1, a per-intent
precision/recall/F1 table, the out-of-scope rate (messages labelled out_of_scope or other_jurisdiction that
get the scope answer) and the confusions, and lists the founder test messages that have a near-copy among the
training examples (bench.eval.near_copies), so a figure bought with copies shows. Then runs the conversation tests (tests/stories/*.yml) with
`rasa test core --fail-on-prediction-errors` and exits 1 if any story fails (skip them with --no-stories).

    python -m bench.eval --quick [--folds N]

For trying classifier changes without `rasa train`: fits the classifier's scikit-learn pipeline
(bot.nlu.classifier.build_pipeline with the config.yml settings) in-process on the same training data the
importers give Rasa, applies the scope rule and the fallback threshold as the server does, and reports the
held-out questions only (never the founder test sets, so settings are not tuned on them). With --folds N it also
cross-validates over the topics' training questions and the core intents' examples (each fold's examples left
out of that fold's fit) and reports all intents, the topics and the core intents apart: a second, larger check
that a change is not fitted to the held-out questions. Takes about a minute a fit.

    python -m bench.eval --screen-since REV

Before training examples are added: lists each example added since git revision REV (data/nlu and knowledge/)
that is within cosine 0.42 of a founder test message, and exits 1 if there is one.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import yaml

from bot import settings

TEST_SET = settings.PROJECT_ROOT / "tests" / "data" / "nlu_test_set.yml"
# A second founder test set, written later by someone who saw neither the training examples nor the first set.
TEST_SET_2 = settings.PROJECT_ROOT / "tests" / "data" / "nlu_test_set_2.yml"
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


# A training example this close (cosine over word or character 3-5-gram TF-IDF) to a test message is a near-copy:
# the test then measures memory, not understanding. Over the whole training set, pairs below about 0.75 are
# mostly the same topic in shared words ("as a vendor of record what monthly paperwork..." ~ "what is a vendor of
# record"); at 0.75 and above they are the same message ("hey! 👋" ~ "hey", "ok next few?" ~ "ok next").
NEAR_COPY = 0.75
# New training examples are screened harder (`--screen-since REV`): none should come within 0.42 of a founder test
# message. Around 0.42 a pair is no longer the same question reworded but two questions on one topic, so the screen
# errs on the safe side. (Of all 4,366 training texts on 2026-11-27, 770 are within 0.42 of a test message: the
# older examples were not screened this hard, which is why `make eval` also lists the near-copies.)
SCREEN = 0.42


def added_training_texts(since: str) -> list[str]:
    """The training texts (`training_texts`) that the working tree has and git revision `since` had not: the
    examples a change adds. Reads `since`'s data/nlu and knowledge/ with `git archive` into a temporary folder."""
    import subprocess
    import tarfile
    import tempfile

    from bot.knowledge.validate import NLU_DIR

    root = settings.PROJECT_ROOT
    knowledge_dir = settings.path("KNOWLEDGE_DIR")
    try:
        folders = [str(folder.resolve().relative_to(root.resolve())) for folder in (NLU_DIR, knowledge_dir)]
    except ValueError:
        raise SystemExit(f"--screen-since: {NLU_DIR} and {knowledge_dir} must be inside the repository {root}")
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(root), "archive", since, "--", *folders], capture_output=True)
        if archive.returncode != 0:
            raise SystemExit(f"--screen-since {since}: git archive failed: {archive.stderr.decode().strip()}")
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            if hasattr(tarfile, "data_filter"):  # Python 3.10.12 and later: no links or paths out of tmp
                tar.extractall(tmp, filter="data")
            else:
                tar.extractall(tmp)
        before = set(training_texts(Path(tmp) / folders[0], Path(tmp) / folders[1]))
    return [text for text in dict.fromkeys(training_texts()) if text not in before]


def screen(since: str) -> int:
    """Prints each training example added since git revision `since` that comes within SCREEN of a founder test
    message (either set), closest first; 1 if there is any, else 0."""
    founder = [text for path in (TEST_SET, TEST_SET_2) for text, _ in test_set_examples(path)]
    added = added_training_texts(since)
    found = near_copies(founder, added, threshold=SCREEN)
    print(f"{len(added)} training examples added since {since}; {len(found)} within cosine {SCREEN} of a founder "
          "test message" + "".join(f"\n  {sim:.2f} {example!r} ~ test {message!r}"
                                   for sim, example, message in found))
    if found:
        print("Reword or drop them: a test message with a copy among the training examples measures memory.")
    return 1 if found else 0


def training_texts(nlu_dir: Path | None = None, knowledge_dir: Path | None = None) -> list[str]:
    """Every text the classifier learns from: the core intents' examples (data/nlu/*.yml, annotations removed)
    and the topics' training examples (questions that are not held out, titles, answer sentences)."""
    from bot.knowledge.loader import load_knowledge
    from bot.knowledge.training import training_examples
    from bot.knowledge.validate import NLU_DIR, core_intent_examples

    texts = [example.text for example in core_intent_examples(nlu_dir or NLU_DIR)]
    knowledge, _ = load_knowledge(knowledge_dir or settings.path("KNOWLEDGE_DIR"))
    texts += [text for examples in training_examples(knowledge.topics).values() for text in examples]
    return texts


def near_copies(train: list[str], test: list[str], threshold: float = NEAR_COPY) -> list[tuple[float, str, str]]:
    """(similarity, test message, training example) for each test message whose closest training example is at
    least `threshold` similar (the larger of the word and the character n-gram cosine), closest first."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    if not train or not test:
        return []
    similarity = None
    for vectorizer in (TfidfVectorizer(), TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5))):
        vectorizer.fit(train + test)
        cosine = cosine_similarity(vectorizer.transform(test), vectorizer.transform(train))
        similarity = cosine if similarity is None else np.maximum(similarity, cosine)
    found = []
    for i, message in enumerate(test):
        j = int(similarity[i].argmax())
        if similarity[i, j] >= threshold:
            found.append((round(float(similarity[i, j]), 3), message, train[j]))
    return sorted(found, reverse=True)


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


def _pipeline_settings() -> tuple[dict, float]:
    """(classifier config, fallback threshold) as config.yml sets them."""
    from bot.nlu.classifier import TfidfIntentClassifier

    config = yaml.safe_load((settings.PROJECT_ROOT / "config.yml").read_text())
    classifier, threshold = dict(TfidfIntentClassifier.get_default_config()), 0.0
    for step in config.get("pipeline", []):
        if step["name"].endswith("TfidfIntentClassifier"):
            classifier.update({k: v for k, v in step.items() if k != "name"})
        elif step["name"] == "FallbackClassifier":
            threshold = float(step.get("threshold", 0.3))
    return classifier, threshold


def quick_predictions(pipeline, texts: list[str], scope_terms: dict, threshold: float) -> tuple[list[str], list[list[str]]]:
    """(intent after the scope rule and the fallback threshold, ranked intents) for each text."""
    from bot.nlu.classifier import OTHER_JURISDICTION, apply_scope_rule, terms_pattern

    other = terms_pattern(scope_terms.get(OTHER_JURISDICTION, []))
    home = terms_pattern(scope_terms.get("home_jurisdiction", []))
    labels = pipeline.classes_
    got, rankings = [], []
    for text, row in zip(texts, pipeline.predict_proba(texts)):
        order = np.argsort(row)[::-1][:10]
        ranking = [{"name": str(labels[i]), "confidence": float(row[i])} for i in order]
        rankings.append([r["name"] for r in ranking])
        ranking = apply_scope_rule(text, ranking, other, home)
        got.append(ranking[0]["name"] if ranking[0]["confidence"] >= threshold else FALLBACK)
    return got, rankings


def quick(folds: int) -> dict:
    """Held-out (and optionally cross-validated) figures of the classifier fitted in-process; see the docstring."""
    import hashlib

    from rasa.shared.importers.importer import TrainingDataImporter

    from bot.knowledge.loader import load_knowledge
    from bot.knowledge.training import INTENT_PREFIX, split_questions
    from bot.nlu.classifier import build_pipeline

    config, threshold = _pipeline_settings()
    root = settings.PROJECT_ROOT
    importer = TrainingDataImporter.load_from_config(
        str(root / "config.yml"), domain_path=str(root / "domain"), training_data_paths=[str(root / "data")])
    data = importer.get_nlu_data()
    texts = [e.get("text") for e in data.intent_examples if e.get("text") and e.get("intent")]
    labels = [e.get("intent") for e in data.intent_examples if e.get("text") and e.get("intent")]
    tables = {t["name"]: list(t["elements"]) for t in data.lookup_tables or []}
    heldout = heldout_examples()
    report: dict = {"config": config, "fallback_threshold": threshold}

    def measure(name: str, train: list[tuple[str, str]], test: list[tuple[str, str]]) -> tuple[dict, list]:
        """(figures, (expected, got) pairs) of a fit on `train` scored on `test`."""
        pipeline = build_pipeline(config).fit([t for t, _ in train], [i for _, i in train])
        got, rankings = quick_predictions(pipeline, [t for t, _ in test], tables, threshold)
        result = scores([(expected, g) for (_, expected), g in zip(test, got)])
        result["top1_before_fallback"] = sum(r[0] == e for r, (_, e) in zip(rankings, test)) / len(test)
        result["top3"] = sum(e in r[:3] for r, (_, e) in zip(rankings, test)) / len(test)
        print(f"{name}: {len(test)} examples, accuracy {result['accuracy']:.3f}, macro F1 {result['macro_f1']:.3f}, "
              f"top-1 before fallback {result['top1_before_fallback']:.3f}, top 3 {result['top3']:.3f}", flush=True)
        return result, [(expected, g) for (_, expected), g in zip(test, got)]

    pairs = list(zip(texts, labels))
    report["held-out topic questions"], _ = measure("held-out topic questions", pairs, heldout)
    if folds > 1:
        knowledge, _ = load_knowledge(settings.path("KNOWLEDGE_DIR"))
        train_questions, _ = split_questions(knowledge.topics)
        questions = {(q, intent) for intent, qs in train_questions.items() for q in qs}
        # Left out in turn: the topics' training questions and the core intents' examples (not the titles and
        # answer sentences, which always train). In-flow answers (names, "yes") are scored without their context.
        candidates = {p for p in pairs if p in questions or not p[1].startswith(INTENT_PREFIX)}

        def fold_of(text: str) -> int:
            return int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16) % folds

        left_out_pairs: list[tuple[str, str]] = []
        for fold in range(folds):
            left_out = [p for p in pairs if p in candidates and fold_of(p[0]) == fold]
            kept = [p for p in pairs if not (p in candidates and fold_of(p[0]) == fold)]
            result, fold_pairs = measure(f"cross-validation fold {fold + 1}/{folds}", kept, left_out)
            left_out_pairs += fold_pairs
            report.setdefault("folds", []).append({k: result[k] for k in ("examples", "accuracy", "macro_f1", "top3")})
        report["cross-validation"] = {}
        for part, keep in (("all intents", lambda e: True), ("topics", lambda e: e.startswith(INTENT_PREFIX)),
                           ("core intents", lambda e: not e.startswith(INTENT_PREFIX))):
            result = scores([(e, g) for e, g in left_out_pairs if keep(e)])
            report["cross-validation"][part] = {k: result[k] for k in ("examples", "accuracy", "macro_f1")}
            print(f"cross-validation, {part}: {result['examples']} left-out examples, accuracy {result['accuracy']:.3f}, "
                  f"macro F1 {result['macro_f1']:.3f}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.eval", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model archive (default: train or reuse the current one)")
    parser.add_argument("--json", type=Path, help="also write the full report as JSON here")
    parser.add_argument("--no-stories", action="store_true", help="skip the conversation tests (tests/stories)")
    parser.add_argument("--quick", action="store_true",
                        help="fit the classifier in-process and report the held-out questions only (no rasa train)")
    parser.add_argument("--folds", type=int, default=0, help="with --quick: also cross-validate in N folds")
    parser.add_argument("--screen-since", metavar="REV",
                        help=f"only list the training examples added since git revision REV that are within cosine "
                             f"{SCREEN} of a founder test message (exit 1 if any)")
    args = parser.parse_args(argv)

    if args.screen_since:
        return screen(args.screen_since)

    if args.quick:
        report = quick(args.folds)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
        return 0

    from bot.services import ensure_model

    model = args.model or ensure_model(settings.data_dir(), quiet=True)
    suites = {"held-out topic questions": heldout_examples(), "founder test set": test_set_examples(),
              "founder test set 2": test_set_examples(TEST_SET_2)}
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
    founder = [text for name, examples in suites.items() if name.startswith("founder") for text, _ in examples]
    copies = near_copies(training_texts(), founder)
    report["near_copies"] = [{"similarity": sim, "test": test, "training": train} for sim, test, train in copies]
    print(f"\n== near-copies: {len(copies)} founder test messages have a training example within cosine {NEAR_COPY}"
          + "".join(f"\n  {sim:.2f} {test!r} ~ {train!r}" for sim, test, train in copies))
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
