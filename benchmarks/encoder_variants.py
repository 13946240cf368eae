"""INT8 recipes of the encoder side by side (run through ``benchmarks/encoder_quality.py --variants``).

Each recipe is made from the cached fp32 ONNX file into a temporary folder, then embeds every chunk of the
corpus as `qa ingest` cuts it. Reported: mean and worst cosine to the fp32 vectors, recall@10 of each
chunk's 10 nearest neighbours against fp32 (the issue's target: >= 0.98), and chunks/s of the encoder
alone (one run per core, as :class:`embeddings.onnx_encoder.OnnxSession` runs) on the first
``SPEED_TEXTS`` chunks, every recipe and fp32 alternating for ``SPEED_ROUNDS`` rounds (best of them),
so a machine that slows down during the run favours none.

"Least sensitive nodes" is a mixed-precision recipe: each weight node (MatMul, Attention) is quantised
alone and its loss (1 - mean cosine to fp32) measured on the seed articles (news, none of the evaluation
corpora); then nodes are quantised cheapest loss per weight first until their summed loss reaches
``LOSS_BUDGET`` (losses add up nearly: all 24 nodes' sum is within 5% of quantising all at once).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SPEED_TEXTS = 300
SPEED_ROUNDS = 2
# Summed single-node loss allowed: a mean cosine of ~0.9992, where added noise keeps recall@10 ~0.985.
LOSS_BUDGET = 0.0008


def _dynamic(**options: Any) -> Callable[[Path, Path, list[str]], None]:
    """A recipe: ``quantize_dynamic`` of MatMul and Attention with ``options``."""

    def make(fp32: Path, target: Path, calibration: list[str]) -> None:
        import onnx
        from onnxruntime.quantization import quantize_dynamic

        quantize_dynamic(str(fp32), str(target), op_types_to_quantize=["MatMul", "Attention"],
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT}, **options)

    return make


def _least_sensitive(fp32: Path, target: Path, calibration: list[str]) -> None:
    """Quantises the nodes whose loss on ``calibration`` texts is smallest per weight (see the module doc)."""
    import onnx
    from onnx import numpy_helper
    from onnxruntime.quantization import QuantType

    from embeddings.onnx_encoder import OnnxSession

    model = onnx.load(str(fp32))
    weights = {i.name: i for i in model.graph.initializer}
    sizes = {n.name: int(np.prod(numpy_helper.to_array(weights[n.input[1]]).shape)) for n in model.graph.node
             if n.op_type in ("MatMul", "Attention") and n.input[1] in weights}
    folder = _model_folder()
    reference = OnnxSession(fp32, folder).encode(calibration)
    loss = {}
    for name in sizes:
        _dynamic(weight_type=QuantType.QUInt8, per_channel=True, nodes_to_quantize=[name])(fp32, target, [])
        loss[name] = 1 - float((OnnxSession(target, folder).encode(calibration) * reference).sum(axis=1).mean())
    chosen, spent = [], 0.0
    for name in sorted(loss, key=lambda n: loss[n] / sizes[n]):
        if spent + loss[name] <= LOSS_BUDGET:
            chosen.append(name)
            spent += loss[name]
    _dynamic(weight_type=QuantType.QUInt8, per_channel=True, nodes_to_quantize=chosen)(fp32, target, [])
    print(f"least sensitive nodes: {len(chosen)} of {len(sizes)}, {sum(sizes[n] for n in chosen)} of "
          f"{sum(sizes.values())} weights, summed loss {spent:.6f}: {chosen}")


def _recipes() -> dict[str, Callable[[Path, Path, list[str]], None]]:
    from onnxruntime.quantization import QuantType

    return {
        "dynamic, s8 weights per channel, 7 bits (onnx-int8)": _dynamic(weight_type=QuantType.QInt8,
                                                                         per_channel=True, reduce_range=True),
        "dynamic, s8 weights per channel, 8 bits": _dynamic(weight_type=QuantType.QInt8, per_channel=True),
        "dynamic, u8 weights per channel, 8 bits": _dynamic(weight_type=QuantType.QUInt8, per_channel=True),
        "dynamic, s8 per tensor, 7 bits (naive)": _dynamic(weight_type=QuantType.QInt8, reduce_range=True),
        "dynamic u8 per channel, least sensitive nodes": _least_sensitive,
    }


def _model_folder() -> Path:
    from embeddings import resolve_model_path
    from qa.config import DEFAULT_EMBEDDING_MODEL

    return Path(resolve_model_path(DEFAULT_EMBEDDING_MODEL))


def report_variants(texts: list[str], calibration: list[str]) -> list[str]:
    """Makes every recipe and returns the report's lines."""
    import faiss  # noqa: F401  (neighbour_recall needs it; fail before the long part)

    from benchmarks.encoder_quality import neighbour_recall
    from embeddings.onnx_cache import cached_onnx, default_cache_dir
    from embeddings.onnx_encoder import OnnxSession

    folder = _model_folder()
    fp32 = cached_onnx(folder, "fp32", default_cache_dir())
    sessions = {"fp32 (onnx)": OnnxSession(fp32, folder)}
    with tempfile.TemporaryDirectory(prefix="qa-variants-") as work:
        for number, (name, make) in enumerate(_recipes().items()):
            target = Path(work) / f"variant-{number}.onnx"
            make(fp32, target, calibration)
            sessions[name] = OnnxSession(target, folder)
        vectors = {name: session.encode(texts) for name, session in sessions.items()}
        speed: dict[str, float] = {}
        for _ in range(SPEED_ROUNDS):
            for name, session in sessions.items():
                started = time.perf_counter()
                session.encode(texts[:SPEED_TEXTS])
                speed[name] = max(speed.get(name, 0.0), len(texts[:SPEED_TEXTS]) / (time.perf_counter() - started))
    reference = vectors["fp32 (onnx)"]
    lines = [f"# INT8 recipes of all-MiniLM-L6-v2 — {len(texts)} chunks; reference: fp32 ONNX (= torch); "
             f"speed: encoder alone on {SPEED_TEXTS} chunks, best of {SPEED_ROUNDS} alternating rounds",
             f"{'recipe':<52} {'cos mean':>9} {'cos min':>8} {'recall@10':>10} {'chunks/s':>9} {'x fp32':>7}"]
    for name, got in vectors.items():
        cosines = (got * reference).sum(axis=1)
        lines.append(f"{name:<52} {cosines.mean():>9.4f} {cosines.min():>8.4f} "
                     f"{neighbour_recall(reference, got):>10.4f} {speed[name]:>9.1f} "
                     f"{speed[name] / speed['fp32 (onnx)']:>6.2f}x")
    return lines
