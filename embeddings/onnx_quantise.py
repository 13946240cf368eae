"""The INT8 recipe of the encoder: every dense layer in 8-bit integers, each token's activations scaled alone.

Measured on news text (``benchmarks/encoder_variants.py``; issue 25 in docs/changelog.md): ONNX Runtime's
``quantize_dynamic`` scales a whole text's activations at once, so a few outlier channels flatten every
other one (recall@10 of neighbours 0.95 against fp32, whatever the weight format). This recipe keeps 0.98:

* **Q, K, V, the attention output and the feed-forward input** (``W8A8``): weights in s8 per output
  channel; activations in u8 (zero point 128) with one scale per token, taken at run time; first
  *SmoothQuant* (Xiao et al. 2023) divides each input channel by ``s = max|x|^a / max|w|^(1-a)`` (channel
  maxima on :data:`CALIBRATION`, ``a`` = :data:`SMOOTHING`) and multiplies the weights' rows by it, which
  moves the activations' outliers into the weights, where per-channel scales absorb them. Run by
  ``MatMulInteger`` (u8 x s8: the VNNI kernels where the CPU has them).
* **The feed-forward output** (fed by GELU, the most sensitive: long-tailed activations over 1,536
  channels): ``MatMulNBits``, 8-bit weights and activations in blocks of :data:`BLOCK` along the input.

Attention scores and their weighted sum (activation x activation), layer norms and GELU stay fp32. Every
scale of a text's activations comes from that text alone, so its vector never depends on its company.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from onnx import ModelProto, NodeProto

log = logging.getLogger(__name__)

CALIBRATION = Path(__file__).with_name("calibration.txt")  # news passages, none from the evaluation sets
SMOOTHING = 0.5  # SmoothQuant's a (newsdev corpus, recall@10): 0.4 lost 0.006, 0.6 gained 0.001 but ran 3 % slower
BLOCK = 128  # MatMulNBits block: 64 gained 0.0005 recall@10 and ran 7 % slower; 256 lost 0.002
_GELU = {"Gelu", "BiasGelu", "FastGelu"}


def quantise_int8(fp32: Path, target: Path, model_path: Path, smoothing: float = SMOOTHING,
                  blocks_after_gelu: bool = True) -> None:
    """Writes the INT8 model of ``fp32`` (exported from the sentence-transformers folder ``model_path``,
    whose tokenizer cuts the calibration text) to ``target``. ``smoothing`` 0 turns SmoothQuant off, and
    ``blocks_after_gelu`` False quantises the feed-forward output per token too (both for
    ``benchmarks/encoder_variants.py``: the recipe is the defaults)."""
    import onnx

    MatMulNBitsQuantizer = _quiet_nbits_quantizer()
    model = onnx.load(str(fp32))
    weights = {w.name for w in model.graph.initializer}
    producers = {out: node.op_type for node in model.graph.node for out in node.output}
    dense = [n for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in weights]
    after_gelu = [n.name for n in dense if blocks_after_gelu and producers.get(n.input[0]) in _GELU]
    per_token = [n for n in dense if n.name not in after_gelu]
    inputs = sorted({n.input[0] for n in per_token})
    maxima = _channel_maxima(model, model_path, inputs) if smoothing else {}
    _w8a8(model, per_token, maxima, smoothing)
    blocked = MatMulNBitsQuantizer(model, bits=8, block_size=BLOCK, is_symmetric=True, accuracy_level=4,
                                   nodes_to_include=after_gelu)
    blocked.process()
    blocked.model.save_model_to_file(str(target), False)
    log.info("INT8: %d dense layers per token (W8A8), %d after GELU in blocks of %d",
             len(per_token), len(after_gelu), BLOCK)


def _quiet_nbits_quantizer() -> type:
    """onnxruntime's ``MatMulNBitsQuantizer``, imported without the root log handler its module installs on
    import (it would print every later log line of the app twice) and without its per-layer INFO lines."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger(MatMulNBitsQuantizer.__module__).setLevel(logging.WARNING)
    return MatMulNBitsQuantizer


def calibration_texts() -> list[str]:
    """The passages of :data:`CALIBRATION` (lines not starting with ``#``)."""
    lines = CALIBRATION.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def _channel_maxima(fp32: ModelProto, model_path: Path, tensors: list[str]) -> dict[str, np.ndarray]:
    """Largest absolute value of each channel of each of ``tensors`` over every token of the calibration
    passages, as the fp32 model computes them (``fp32`` itself is left as it is)."""
    import onnx
    import onnxruntime

    from embeddings.onnx_encoder import feeds

    model = onnx.ModelProto()
    model.CopyFrom(fp32)
    model.graph.output.extend(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
                              for name in tensors)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    maxima: dict[str, np.ndarray] = {}
    for feed in feeds(model_path, calibration_texts()):
        inputs = {i.name: feed[i.name] for i in session.get_inputs()}
        for name, value in zip(tensors, session.run(tensors, inputs)):
            channel = np.abs(value).reshape(-1, value.shape[-1]).max(axis=0)
            maxima[name] = np.maximum(maxima.get(name, channel), channel)
    return maxima


def _w8a8(model: ModelProto, nodes: list[NodeProto], maxima: dict[str, np.ndarray], smoothing: float) -> None:
    """Replaces each of ``nodes`` (MatMul, constant weight) in ``model`` by SmoothQuant (unless
    ``smoothing`` is 0) + per-token u8 x per-channel s8 ``MatMulInteger``; nodes sharing an input (Q, K, V)
    share its quantised copy."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    weights = {w.name: w for w in graph.initializer}
    consumers: dict[str, list[NodeProto]] = defaultdict(list)
    for node in nodes:
        consumers[node.input[0]].append(node)
    added = [numpy_helper.from_array(np.array(v, dtype=t), n) for n, v, t in
             (("w8a8_tiny", 1e-8, np.float32), ("w8a8_127", 127.0, np.float32),
              ("w8a8_128", 128.0, np.float32), ("w8a8_zero", 128, np.uint8))]
    before: dict[str, list[NodeProto]] = {}
    for number, (tensor, group) in enumerate(consumers.items()):
        p = f"w8a8_{number}_"
        matrices = [numpy_helper.to_array(weights[n.input[1]]).astype(np.float32) for n in group]
        rows = np.max([np.abs(m).max(axis=1) for m in matrices], axis=0)
        made = []
        if smoothing:
            smooth = np.maximum(maxima[tensor], 1e-5) ** smoothing / np.maximum(rows, 1e-5) ** (1 - smoothing)
            added.append(numpy_helper.from_array((1 / smooth).astype(np.float32), p + "unsmooth"))
            made.append(helper.make_node("Mul", [tensor, p + "unsmooth"], [p + "x"]))
        else:
            smooth = np.ones_like(rows)
            made.append(helper.make_node("Identity", [tensor], [p + "x"]))
        made += [helper.make_node("Abs", [p + "x"], [p + "abs"]),
                helper.make_node("ReduceMax", [p + "abs"], [p + "max"], keepdims=1, axes=[-1]),
                helper.make_node("Max", [p + "max", "w8a8_tiny"], [p + "max1"]),
                helper.make_node("Div", [p + "max1", "w8a8_127"], [p + "scale"]),  # one scale per token
                helper.make_node("Div", [p + "x", p + "scale"], [p + "scaled"]),
                helper.make_node("Round", [p + "scaled"], [p + "rounded"]),
                helper.make_node("Add", [p + "rounded", "w8a8_128"], [p + "shifted"]),
                helper.make_node("Cast", [p + "shifted"], [p + "q"], to=TensorProto.UINT8)]
        for index, (node, matrix) in enumerate(zip(group, matrices)):
            w = f"{p}{index}_"
            smoothed = matrix * smooth[:, None]
            column_scale = np.maximum(np.abs(smoothed).max(axis=0), 1e-12) / 127
            added += [numpy_helper.from_array(np.clip(np.round(smoothed / column_scale), -127, 127).astype(np.int8),
                                              w + "weight"),
                      numpy_helper.from_array(column_scale.astype(np.float32), w + "column_scale")]
            made += [helper.make_node("MatMulInteger", [p + "q", w + "weight", "w8a8_zero"], [w + "int"]),
                     helper.make_node("Cast", [w + "int"], [w + "float"], to=TensorProto.FLOAT),
                     helper.make_node("Mul", [w + "float", p + "scale"], [w + "rows"]),
                     helper.make_node("Mul", [w + "rows", w + "column_scale"], [node.output[0]])]
        before[group[0].name] = made
    replaced = {n.name for n in nodes}
    rewritten = []
    for node in graph.node:
        rewritten += before.get(node.name, [])
        if node.name not in replaced:
            rewritten.append(node)
    del graph.node[:]
    graph.node.extend(rewritten)
    used = {name for node in rewritten for name in node.input}
    kept = [w for w in graph.initializer if w.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept + added)
