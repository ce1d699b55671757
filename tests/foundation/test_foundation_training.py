"""What the topic classifier is trained on, and the classifier component itself."""
from __future__ import annotations

from dataclasses import dataclass, field

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
