"""What the topic classifier is trained on, and the classifier component itself."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bot.knowledge.training import answer_sentences, split_questions, training_examples


@dataclass
class FakeTopic:
    id: str
    questions: list[str]
    title: str = ""
    answer: str = ""
    tags: list[str] = field(default_factory=list)


def _topic(topic_id: str, title: str, answer: str) -> FakeTopic:
    return FakeTopic(topic_id, [f"{topic_id} question number {i}" for i in range(12)], title, answer)


def test_examples_are_training_questions_title_and_answer_sentences_never_held_out_ones():
    topics = [_topic("vor-what-is", "What is a VOR?", "A VOR is a list of **pre-qualified** suppliers for ministries. "
                     "See [the FAQ](https://example.org) for more details today. Short one."),
              _topic("invoicing", "How do I invoice?", "Send the invoice to the address in your contract please.")]
    examples = training_examples(topics)
    train, heldout = split_questions(topics)
    vor = examples["topic_vor_what_is"]
    assert set(train["topic_vor_what_is"]) <= set(vor)
    assert not set(heldout["topic_vor_what_is"]) & set(vor)
    assert "What is a VOR?" in vor
    assert "A VOR is a list of pre-qualified suppliers for ministries." in vor
    assert "See the FAQ for more details today." in vor
    assert "Short one." not in vor  # too short to say anything about the topic


def test_a_sentence_two_topics_share_teaches_neither():
    shared = "Smaller purchases are often invitational by default."
    topics = [_topic("a-topic", "A", shared), _topic("b-topic", "B", shared + " Only B says this long sentence.")]
    examples = training_examples(topics)
    assert shared not in examples["topic_a_topic"] and shared not in examples["topic_b_topic"]
    assert "Only B says this long sentence." in examples["topic_b_topic"]


def test_answer_sentences_strip_markdown_and_bullets():
    assert answer_sentences("- **Register** on the [portal](https://x.org) before you bid.\n- Ok.") == [
        "Register on the portal before you bid."]


def test_the_classifier_learns_topics_and_ranks_them():
    from bot.nlu.classifier import TfidfIntentClassifier, build_pipeline

    pipeline = build_pipeline(TfidfIntentClassifier.get_default_config())
    texts = ["how do i invoice the ministry", "where do i send my bill", "invoice address please",
             "what is a vendor of record", "explain vor arrangements", "vor meaning"]
    labels = ["topic_invoicing"] * 3 + ["topic_vor_what_is"] * 3
    pipeline.fit(texts, labels)
    assert list(pipeline.predict(["who gets my invoice", "what's a vor"])) == ["topic_invoicing", "topic_vor_what_is"]
    assert abs(pipeline.predict_proba(["anything"]).sum() - 1) < 1e-9


def test_the_fast_weight_layout_gives_the_same_probabilities_without_copying_the_weights():
    import numpy as np

    from bot.nlu.classifier import TfidfIntentClassifier, build_pipeline, fast_layout

    texts = ["how do i invoice the ministry", "where do i send my bill", "invoice address please",
             "what is a vendor of record", "explain vor arrangements", "vor meaning",
             "register on the tenders portal", "ontario tenders portal account", "otp sign up"]
    labels = ["topic_invoicing"] * 3 + ["topic_vor_what_is"] * 3 + ["topic_register_otp"] * 3
    pipeline = build_pipeline(TfidfIntentClassifier.get_default_config()).fit(texts, labels)
    queries = ["who gets my invoice", "what's a vor", "portal account", "something else entirely"]
    before = pipeline.predict_proba(queries)
    assert not pipeline.steps[-1][1].coef_.T.flags["C_CONTIGUOUS"]  # as scikit-learn leaves it
    fast_layout(pipeline)
    assert pipeline.steps[-1][1].coef_.T.flags["C_CONTIGUOUS"]
    assert np.array_equal(pipeline.predict_proba(queries), before)


def _ranking(*names: str) -> list[dict]:
    return [{"name": name, "confidence": c} for name, c in zip(names, (0.5, 0.3, 0.2))]


def test_scope_rule_gives_other_governments_the_scope_answer_and_never_ours():
    from bot.nlu.classifier import apply_scope_rule, terms_pattern

    other = terms_pattern(["alberta", "bc bid", "sam.gov", "new york"])
    home = terms_pattern(["ontario", "canadabuys"])
    ranking = _ranking("topic_register_ontario_tenders_portal", "other_jurisdiction", "topic_vor_what_is")
    forced = apply_scope_rule("how do i register on BC Bid?", ranking, other, home)
    assert forced[0] == {"name": "other_jurisdiction", "confidence": 1.0}
    assert [r["name"] for r in forced[1:]] == ["topic_register_ontario_tenders_portal", "topic_vor_what_is"]
    assert apply_scope_rule("sam.gov registration", ranking, other, home)[0]["name"] == "other_jurisdiction"
    # naming Ontario too: the classifier decides; an other_jurisdiction guess is demoted below the next intent
    assert apply_scope_rule("can an alberta firm bid in ontario", ranking, other, home) == ranking
    guessed = _ranking("other_jurisdiction", "topic_trade_agreements", "topic_vor_types")
    assert apply_scope_rule("can an alberta firm bid in ontario", guessed, other, home)[0]["name"] == \
        "topic_trade_agreements"
    # whole words only, and where the supplier is located does not count
    assert apply_scope_rule("what's a new yorker doing here", ranking, other, home) == ranking
    assert apply_scope_rule("we're based in alberta, when does the bid close", ranking, other, home) == ranking
    assert apply_scope_rule("we're in calgary, how does alberta buy things", ranking, other, home)[0]["name"] == \
        "other_jurisdiction"
    assert apply_scope_rule("anything", [], other, home) == []
    assert apply_scope_rule("bc bid", ranking, None, home) == ranking


def test_the_scope_terms_come_from_the_lookup_tables_in_the_nlu_data():
    import yaml

    from bot import settings

    data = yaml.safe_load((settings.PROJECT_ROOT / "data" / "nlu" / "out_of_scope.yml").read_text())
    lookups = {item["lookup"]: item["examples"] for item in data["nlu"] if "lookup" in item}
    assert "sasktenders" in lookups["other_jurisdiction"] and "ontario" in lookups["home_jurisdiction"]


def test_the_quick_eval_applies_the_scope_rule_and_fallback_threshold_like_the_server():
    from bench.eval import FALLBACK, _pipeline_settings, quick_predictions
    from bot.nlu.classifier import TfidfIntentClassifier, build_pipeline

    texts = ["how do i invoice the ministry", "where do i send my bill", "invoice address please",
             "what is a vendor of record", "explain vor arrangements", "vor meaning",
             "register on a portal elsewhere", "another province portal", "selling outside here"]
    labels = ["topic_invoicing"] * 3 + ["topic_vor_what_is"] * 3 + ["other_jurisdiction"] * 3
    pipeline = build_pipeline(TfidfIntentClassifier.get_default_config()).fit(texts, labels)
    terms = {"other_jurisdiction": ["alberta"], "home_jurisdiction": ["ontario"]}
    got, rankings = quick_predictions(pipeline, ["who gets my invoice", "alberta invoice", "vor meaning"], terms, 0.0)
    assert got == ["topic_invoicing", "other_jurisdiction", "topic_vor_what_is"]
    assert rankings[1][0] == "topic_invoicing" and sorted(rankings[0]) == sorted(set(labels))
    assert quick_predictions(pipeline, ["zzz"], terms, 1.01)[0] == [FALLBACK]  # below the threshold
    config, threshold = _pipeline_settings()  # read from config.yml, as Rasa reads it
    assert config["C"] > 0 and 0 < threshold < 1


def test_a_message_that_is_only_a_date_or_amount_answers_the_flow_question():
    from bot.nlu.classifier import apply_answer_rule
    from bot.nlu.extract import extract_entities as extract

    ranking = [{"name": "topic_trade_agreements", "confidence": 0.4}, {"name": "flow_inform", "confidence": 0.3},
               {"name": "out_of_scope", "confidence": 0.1}]

    def top(text: str) -> tuple[str, float]:
        entities = [e.as_rasa() for e in extract(text)]
        first = apply_answer_rule(text, entities, ranking)[0]
        return first["name"], first["confidence"]

    assert top("2026-11-28") == ("flow_inform", 1.0)
    assert top("$40,000") == ("flow_inform", 1.0)
    assert top("12 employees") == ("flow_inform", 1.0)
    # Words beyond the value, or a glossary term alone, stay with the classifier.
    assert top("what changed in the 2026-2027 cfta thresholds")[0] == "topic_trade_agreements"
    assert top("vor?")[0] == "topic_trade_agreements"
    assert apply_answer_rule("2026-11-28", [], ranking) == ranking  # no entity found: unchanged


def test_near_copies_finds_a_reworded_training_example_and_ignores_a_message_on_the_same_topic():
    from bench.eval import NEAR_COPY, near_copies

    train = ["how do i become a vendor of record in ontario", "Hey!", "show me IT tenders closing this month"]
    test = ["How do I become a Vendor of Record in Ontario??",          # the same message retyped
            "hey 👋",                                                  # a greeting is a greeting
            "our vor sales report is late, what do we owe supply ontario",  # same topic words, another question
            "whats the weather in sudbury"]
    found = near_copies(train, test)
    assert {(message, example) for _, message, example in found} == {
        ("How do I become a Vendor of Record in Ontario??", "how do i become a vendor of record in ontario"),
        ("hey 👋", "Hey!")}
    assert all(similarity >= NEAR_COPY for similarity, _, _ in found)
    assert [similarity for similarity, _, _ in found] == sorted((s for s, _, _ in found), reverse=True)
    assert near_copies(train, test, threshold=1.01) == [] and near_copies([], test) == []


def test_training_texts_are_the_core_examples_without_annotations_and_the_topics_training_examples(tmp_path):
    from bench.eval import training_texts
    from bot import settings
    from bot.knowledge.loader import load_knowledge
    from bot.knowledge.training import split_questions

    (tmp_path / "chitchat.yml").write_text('version: "3.1"\nnlu:\n- intent: define_term\n  examples: |\n'
                                           "    - what's an [RFSQ](term)\n    - hello there\n"
                                           "- lookup: places\n  examples: |\n    - sudbury\n")
    texts = training_texts(tmp_path)
    assert texts[:2] == ["what's an RFSQ", "hello there"] and "sudbury" not in texts
    train, heldout = split_questions(load_knowledge(settings.path("KNOWLEDGE_DIR"))[0].topics)
    assert set(train["topic_vor_what_is"]) <= set(texts)
    assert not set(heldout["topic_vor_what_is"]) & set(texts)  # the held-out questions stay unseen


def test_screen_since_lists_only_the_examples_a_change_adds_that_come_close_to_a_founder_test_message(
        tmp_path, monkeypatch, capsys):
    import subprocess

    import bench.eval as evaluation
    from bot import settings
    from bot.knowledge import validate

    nlu = tmp_path / "data" / "nlu"
    nlu.mkdir(parents=True)
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "knowledge" / "README.md").write_text("no topics\n")
    core = 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hello there\n'
    (nlu / "core.yml").write_text(core)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "before"], check=True)
    (nlu / "core.yml").write_text(core + "    - how do i become a vendor of record in ontario\n"
                                         "    - what's the weather like\n")
    tests = tmp_path / "test_set.yml"
    tests.write_text("examples:\n- text: How do I become a Vendor of Record in Ontario??\n  intent: topic_vor\n"
                     "- text: hello there\n  intent: greet\n")
    monkeypatch.setattr(settings, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(validate, "NLU_DIR", nlu)
    monkeypatch.setenv("KNOWLEDGE_DIR", str(tmp_path / "knowledge"))
    monkeypatch.setattr(evaluation, "TEST_SET", tests)
    monkeypatch.setattr(evaluation, "TEST_SET_2", tmp_path / "absent.yml")

    # "hello there" was there before (and equals a test message); only the two new lines count as added.
    assert evaluation.added_training_texts("HEAD") == ["how do i become a vendor of record in ontario",
                                                       "what's the weather like"]
    assert evaluation.screen("HEAD") == 1
    out = capsys.readouterr().out
    assert "2 training examples added since HEAD; 1 within cosine 0.42" in out
    assert "'how do i become a vendor of record in ontario' ~ test 'How do I become a Vendor of Record" in out
    assert "weather" not in out.split("; 1 within")[1]
    subprocess.run(git + ["commit", "-q", "-am", "after"], check=True)
    assert evaluation.screen("HEAD") == 0 and evaluation.added_training_texts("HEAD") == []
    with pytest.raises(SystemExit, match="git archive failed"):
        evaluation.added_training_texts("no-such-revision")
