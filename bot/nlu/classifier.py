"""A fast intent classifier for many small intents: TF-IDF over words and characters + logistic regression,
and with `sentence_embeddings` a second stage that adds a pretrained sentence embedding (bot/nlu/embeddings.py)
for the messages the first is unsure of (WordsThenMeaning).

Each knowledge topic is an intent with only a dozen or so example questions. On such data a linear model over
word and character n-grams (robust to typos such as "vendr of recrod") measured better on held-out questions
than DIET, and it trains in seconds instead of minutes (see bench/eval.py and the README figures).

The fitted model is stored with skops (no pickle), the format Rasa's own sklearn components use.

Scope rule: the lookup tables `other_jurisdiction` and `home_jurisdiction` (data/nlu/out_of_scope.yml) name
other governments (provinces, U.S. states, countries, their portals) and ours. A message that names another
government and not ours gets the `other_jurisdiction` intent (the scope answer) whatever the ranking says; a
message that names ours is never given it. So "how do i register on sasktenders" cannot get a confident Ontario
answer, and "can a bc company bid on ontario tenders" still gets the Ontario topic.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (ENTITIES, INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY,
                                      PREDICTED_CONFIDENCE_KEY, TEXT)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.base import BaseEstimator, ClassifierMixin

logger = logging.getLogger(__name__)
MODEL_FILE = "tfidf_intent_classifier.skops"
SCOPE_FILE = "scope_terms.json"
OTHER_JURISDICTION = "other_jurisdiction"


def terms_pattern(terms: List[Text]) -> Optional["re.Pattern[str]"]:
    """A case-insensitive whole-word regex for any of `terms`, or None when there are none."""
    terms = sorted({t.strip().casefold() for t in terms if t and t.strip()}, key=len, reverse=True)
    if not terms:
        return None
    return re.compile(r"(?<![\w.])(?:" + "|".join(re.escape(t) for t in terms) + r")(?![\w])", re.IGNORECASE)


# "we're in calgary", "based in vancouver": where the supplier is, not which government it wants to sell to.
_SUPPLIER_LOCATION = re.compile(
    r"\b(?:i'?m|i am|we'?re|we are|im|based|located|headquartered|live|living|from|out of)\s+(?:in\s+|out of\s+)?$",
    re.IGNORECASE)


def names_other_government(text: Text, other: "re.Pattern[str]") -> bool:
    """Whether `text` names another government, not counting where the supplier says it is located."""
    return any(not _SUPPLIER_LOCATION.search(text[: m.start()]) for m in other.finditer(text))


def apply_scope_rule(text: Text, ranking: List[Dict[Text, Any]], other: Optional["re.Pattern[str]"],
                     home: Optional["re.Pattern[str]"]) -> List[Dict[Text, Any]]:
    """The ranking with other_jurisdiction first when the text names only another government, and never
    first when it names ours. The other confidences are kept as the classifier gave them; a forced
    other_jurisdiction gets confidence 1.0 (the rule is certain), so the fallback threshold does not undo it."""
    if not ranking or other is None:
        return ranking
    names_home = bool(home and home.search(text))
    names_other = names_other_government(text, other)
    top = ranking[0]
    if names_other and not names_home and top[INTENT_NAME_KEY] != OTHER_JURISDICTION:
        rest = [r for r in ranking if r[INTENT_NAME_KEY] != OTHER_JURISDICTION]
        forced = {INTENT_NAME_KEY: OTHER_JURISDICTION, PREDICTED_CONFIDENCE_KEY: 1.0}
        return [forced, *rest][: len(ranking)]
    if names_home and top[INTENT_NAME_KEY] == OTHER_JURISDICTION and len(ranking) > 1:
        return [*ranking[1:], top]
    return ranking


ANSWER_INTENT = "flow_inform"
VALUE_ENTITIES = frozenset({"date", "amount", "employees"})


def apply_answer_rule(text: Text, entities: List[Dict[Text, Any]],
                      ranking: List[Dict[Text, Any]]) -> List[Dict[Text, Any]]:
    """The ranking with flow_inform first (confidence 1.0) when the message is nothing but a date, an amount or
    a head count ("2026-12-01", "$40,000", "12 employees"): that is an answer to the question a flow asked, never
    a topic question, however its digits happen to resemble a topic's example questions."""
    spans = [(e.get("start"), e.get("end")) for e in entities or [] if e.get("entity") in VALUE_ENTITIES]
    if not ranking or not spans or all(r[INTENT_NAME_KEY] != ANSWER_INTENT for r in ranking):
        return ranking
    rest = list(text)
    for start, end in spans:
        if isinstance(start, int) and isinstance(end, int):
            rest[start:end] = [" "] * (end - start)
    if any(ch.isalnum() for ch in rest):
        return ranking
    others = [r for r in ranking if r[INTENT_NAME_KEY] != ANSWER_INTENT]
    return [{INTENT_NAME_KEY: ANSWER_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}, *others][: len(ranking)]


def _linear_model(config: Dict[Text, Any]) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=config["C"], max_iter=config["max_iter"], random_state=config["random_state"],
                              class_weight=config.get("class_weight"))


def _word_features(config: Dict[Text, Any]) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union

    return make_union(
        TfidfVectorizer(ngram_range=tuple(config["word_ngrams"]), sublinear_tf=True, strip_accents="unicode"),
        TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(config["char_ngrams"]), sublinear_tf=True,
                        strip_accents="unicode"),
    )


class WordsThenMeaning(BaseEstimator, ClassifierMixin):
    """Two logistic regressions: one over the TF-IDF of words and character n-grams, and one over those plus the
    sentence embedding (bot/nlu/embeddings.py). A message the first is sure of (top probability at least the
    config's `embedding_threshold`) keeps its answer; only the others are embedded and answered by the second.

    Why: the embedding cost about 14 ms of CPU per message when it ran in NumPy (about 5 ms now, in onnxruntime);
    for every message, it pushed the reply latency past the 1.5x-of-stock-Rasa gate (bench/bench_latency.py), and
    it is still the dearest part of understanding a message. With threshold 0.7, 41% of the cross-validation's
    left-out examples (29% of the held-out topic questions) need it, and the figures equal the
    embedding-for-every-message model's: held-out topic questions top-1 0.925 both; cross-validation over all
    intents accuracy 0.863 vs 0.865 (bench.eval; README figures).
    """

    def __init__(self, config: Optional[Dict[Text, Any]] = None) -> None:
        self.config = config

    def fit(self, texts: List[Text], labels: List[Text]) -> "WordsThenMeaning":
        import os

        from joblib import Parallel, delayed
        from scipy import sparse

        from bot.nlu.embeddings import SentenceEmbeddings

        texts = list(texts)
        self.words_ = _word_features(self.config)
        words = self.words_.fit_transform(texts)
        self.meaning_ = SentenceEmbeddings(scale=self.config.get("embedding_scale", 1.0))
        both = sparse.hstack([words, self.meaning_.transform(texts)], format="csr")
        # The two regressions are independent and each runs on one core (scipy's sparse products hold the GIL),
        # so they are fitted side by side in two worker processes: 93 s instead of 170 s for the assistant's
        # 4,366 examples on this 2-core machine, with the same coefficients.
        fits = [delayed(_linear_model(self.config).fit)(features, labels) for features in (words, both)]
        self.quick_, self.full_ = Parallel(n_jobs=min(2, os.cpu_count() or 1), backend="loky")(fits)
        self.classes_ = self.quick_.classes_
        return self

    def predict_proba(self, texts: List[Text]) -> np.ndarray:
        from scipy import sparse

        texts = list(texts)
        words = self.words_.transform(texts)
        probabilities = self.quick_.predict_proba(words)
        unsure = np.flatnonzero(probabilities.max(axis=1) < self.config.get("embedding_threshold", 1.0))
        if len(unsure):
            both = sparse.hstack([words[unsure], self.meaning_.transform([texts[i] for i in unsure])], format="csr")
            probabilities[unsure] = self.full_.predict_proba(both)
        return probabilities

    def predict(self, texts: List[Text]) -> np.ndarray:
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]


def build_pipeline(config: Dict[Text, Any]) -> Any:
    """The classifier's scikit-learn model: TF-IDF + logistic regression, or with `sentence_embeddings` the
    two-stage WordsThenMeaning. Both take raw texts and give `classes_` and `predict_proba`."""
    from sklearn.pipeline import make_pipeline

    if config.get("sentence_embeddings"):
        return WordsThenMeaning(config)
    return make_pipeline(_word_features(config), _linear_model(config))


def fast_layout(pipeline: Any) -> Any:
    """Stores the logistic regressions' weights column-major, so that predicting needs no copy of them.

    scikit-learn scores a message as `X @ coef_.T`; with the (intents x features) matrix in row-major order,
    scipy first copies the whole transposed matrix into row-major order on every message (about 20 ms here,
    the largest cost of the Rasa server found with py-spy). Column-major `coef_` makes `coef_.T` row-major
    already. The probabilities are unchanged.
    """
    if pipeline is None:
        return pipeline
    if isinstance(pipeline, WordsThenMeaning):
        classifiers = [getattr(pipeline, name, None) for name in ("quick_", "full_")]
    else:
        classifiers = [pipeline.steps[-1][1]]
    for classifier in classifiers:
        if hasattr(classifier, "coef_"):
            classifier.coef_ = np.asfortranarray(classifier.coef_)
    return pipeline


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TfidfIntentClassifier(GraphComponent, IntentClassifier):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"C": 20.0, "word_ngrams": [1, 2], "char_ngrams": [2, 5], "max_iter": 3000, "random_state": 1,
                "class_weight": None, "ranking_length": 10, "scope_rule": True,
                "sentence_embeddings": False, "embedding_scale": 1.0, "embedding_threshold": 0.7}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 pipeline: Optional[Any] = None, scope_terms: Optional[Dict[Text, List[Text]]] = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.pipeline = fast_layout(pipeline)
        self.scope_terms = scope_terms or {}
        self._other = terms_pattern(self.scope_terms.get(OTHER_JURISDICTION, []))
        self._home = terms_pattern(self.scope_terms.get("home_jurisdiction", []))

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "TfidfIntentClassifier":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(TEXT) and e.get(INTENT)]
        if len({e.get(INTENT) for e in examples}) < 2:
            logger.warning("TfidfIntentClassifier needs at least two intents; nothing trained")
            return self._resource
        self.pipeline = build_pipeline(self.config)
        self.pipeline.fit([e.get(TEXT) for e in examples], [e.get(INTENT) for e in examples])
        fast_layout(self.pipeline)
        if self.config["scope_rule"]:
            tables = {t["name"]: list(t["elements"]) for t in training_data.lookup_tables or []}
            self.scope_terms = {name: tables.get(name, []) for name in (OTHER_JURISDICTION, "home_jurisdiction")}
            self._other = terms_pattern(self.scope_terms[OTHER_JURISDICTION])
            self._home = terms_pattern(self.scope_terms["home_jurisdiction"])
        self.persist()
        return self._resource

    def persist(self) -> None:
        import skops.io

        with self._model_storage.write_to(self._resource) as directory:
            skops.io.dump(self.pipeline, directory / MODEL_FILE)
            (directory / SCOPE_FILE).write_text(json.dumps(self.scope_terms))

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "TfidfIntentClassifier":
        import skops.io

        try:
            with model_storage.read_from(resource) as directory:
                path = directory / MODEL_FILE
                pipeline = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
                scope_path = directory / SCOPE_FILE
                scope_terms = json.loads(scope_path.read_text()) if scope_path.exists() else {}
        except ValueError:  # nothing was persisted (no intents to train on)
            pipeline, scope_terms = None, {}
        if isinstance(pipeline, WordsThenMeaning):
            from bot.nlu.embeddings import get_encoder

            get_encoder()  # load the embedding model now, not on the first founder's message
        return cls(config, model_storage, resource, pipeline, scope_terms)

    def process(self, messages: List[Message]) -> List[Message]:
        if self.pipeline is None:
            return messages
        # "/intent" payloads (buttons) already carry their intent, and empty texts have none: neither is classified.
        todo = [message for message in messages if message.get(TEXT) and not message.get(INTENT)]
        if not todo:
            return messages
        probabilities = self.pipeline.predict_proba([message.get(TEXT) for message in todo])
        labels = self.pipeline.classes_
        for message, row in zip(todo, probabilities):
            order = np.argsort(row)[::-1][: self.config["ranking_length"]]
            ranking = [{INTENT_NAME_KEY: str(labels[i]), PREDICTED_CONFIDENCE_KEY: float(row[i])} for i in order]
            ranking = apply_scope_rule(message.get(TEXT), ranking, self._other, self._home)
            ranking = apply_answer_rule(message.get(TEXT), message.get(ENTITIES) or [], ranking)
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages
