"""INT8 recipes of the encoder side by side (run through ``benchmarks/encoder_quality.py --variants``).

Each recipe is made from the cached fp32 ONNX file into a temporary folder, then embeds every chunk of the
corpus as `qa ingest` cuts it. Reported: mean and worst cosine to the fp32 vectors, recall@10 of each
chunk's 10 nearest neighbours against fp32 (the issue's target: >= 0.98), and chunks/s of the encoder
alone (one run per core, as :class:`embeddings.onnx_encoder.OnnxSession` runs) on the first
``SPEED_TEXTS`` chunks, every recipe and fp32 alternating for ``SPEED_ROUNDS`` rounds (best of them),
so a machine that slows down during the run favours none.

The recipes: ONNX Runtime's ``quantize_dynamic`` (activations scaled per text), 8-bit ``MatMulNBits``
blocks on every dense layer (activations scaled per block of 128), and :mod:`embeddings.onnx_quantise`
(activations scaled per token) without and with its parts; the last row is what `onnx-int8` ships.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SPEED_TEXTS = 300
SPEED_ROUNDS = 2


def _dynamic(**options: Any) -> Callable[[Path, Path], None]:
    """A recipe: ``quantize_dynamic`` of every dense layer with ``options``."""

    def make(fp32: Path, target: Path) -> None:
        import onnx
        from onnxruntime.quantization import quantize_dynamic

        quantize_dynamic(str(fp32), str(target), op_types_to_quantize=["MatMul"],
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT}, **options)

    return make


def _blocks(fp32: Path, target: Path) -> None:
    """8-bit ``MatMulNBits`` on every dense layer, blocks of 128, int8 compute."""
    import onnx

    from embeddings.onnx_quantise import BLOCK, _quiet_nbits_quantizer

    quantizer = _quiet_nbits_quantizer()(onnx.load(str(fp32)), bits=8, block_size=BLOCK, is_symmetric=True,
                                         accuracy_level=4)
    quantizer.process()
    quantizer.model.save_model_to_file(str(target), False)


def _per_token(**options: Any) -> Callable[[Path, Path], None]:
    """A recipe: :func:`embeddings.onnx_quantise.quantise_int8` with ``options``."""

    def make(fp32: Path, target: Path) -> None:
        from embeddings.onnx_quantise import quantise_int8

        quantise_int8(fp32, target, _model_folder(), **options)

    return make


def _recipes() -> dict[str, Callable[[Path, Path], None]]:
    from onnxruntime.quantization import QuantType

    return {
        "dynamic, s8 per channel, 7 bits (recipe 1)": _dynamic(weight_type=QuantType.QInt8, per_channel=True,
                                                               reduce_range=True),
        "dynamic, u8 per channel, 8 bits": _dynamic(weight_type=QuantType.QUInt8, per_channel=True),
        "blocks of 128, every layer": _blocks,
        "per token, no smoothing, no blocks": _per_token(smoothing=0, blocks_after_gelu=False),
        "per token + SmoothQuant, no blocks": _per_token(blocks_after_gelu=False),
        "per token + SmoothQuant, FFN out in blocks (onnx-int8)": _per_token(),
    }


def _model_folder() -> Path:
    from embeddings import resolve_model_path
    from qa.config import DEFAULT_EMBEDDING_MODEL

    return Path(resolve_model_path(DEFAULT_EMBEDDING_MODEL))


def report_variants(texts: list[str]) -> list[str]:
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
            make(fp32, target)
            sessions[name] = OnnxSession(target, folder)
        vectors = {name: session.encode(texts) for name, session in sessions.items()}
        speed: dict[str, float] = {}
        for _ in range(SPEED_ROUNDS):
            for name, session in sessions.items():
                started = time.perf_counter()
                session.encode(texts[:SPEED_TEXTS])
                speed[name] = max(speed.get(name, 0.0), len(texts[:SPEED_TEXTS]) / (time.perf_counter() - started))
    reference = vectors["fp32 (onnx)"]
    lines = [f"# INT8 recipes of all-MiniLM-L6-v2 — {platform.machine()}, {os.cpu_count()} cores; {len(texts)} chunks; "
             "reference: fp32 ONNX (= torch); "
             f"speed: encoder alone on {SPEED_TEXTS} chunks, best of {SPEED_ROUNDS} alternating rounds",
             f"{'recipe':<56} {'cos mean':>9} {'cos min':>8} {'recall@10':>10} {'chunks/s':>9} {'x fp32':>7}"]
    for name, got in vectors.items():
        cosines = (got * reference).sum(axis=1)
        lines.append(f"{name:<56} {cosines.mean():>9.4f} {cosines.min():>8.4f} "
                     f"{neighbour_recall(reference, got):>10.4f} {speed[name]:>9.1f} "
                     f"{speed[name] / speed['fp32 (onnx)']:>6.2f}x")
    return lines
