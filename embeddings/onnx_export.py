"""Makes the fp32 ONNX file that :mod:`embeddings.onnx_cache` caches: export, graph fusion, a check against
PyTorch (the INT8 file is made from it by :mod:`embeddings.onnx_quantise`).

Imported only when a file must be made (it imports torch and the exporter).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from embeddings.onnx_cache import ExportError

log = logging.getLogger(__name__)

OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Texts the export is checked on, of two lengths (so the traced graph keeps its padding mask): ONNX
# Runtime's vectors must match PyTorch's on them.
PROBES = ("Tea.", "The city opened a new cable-stayed bridge over the Wend river on Monday; it cost 240 "
          "million euros and took four years to build, and cyclists get a separate lane on the upper deck.")
PROBE_TOLERANCE = 1e-4  # largest difference allowed in any vector component, fp32 ONNX vs PyTorch


class HiddenStates(torch.nn.Module):
    """The Hugging Face transformer as tracing wants it: three tensors in, the token embeddings out."""

    def __init__(self, transformer: torch.nn.Module) -> None:
        super().__init__()
        self.transformer = transformer

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> torch.Tensor:
        """Token embeddings of the last layer, ``(batch, tokens, hidden)``."""
        return self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state


def export_fp32(model_path: Path, target: Path) -> None:
    """Exports the transformer of the sentence-transformers model in ``model_path`` to ``target``, fuses
    its GELUs and layer norms for ONNX Runtime and checks it against PyTorch on :data:`PROBES`."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model
    from sentence_transformers import SentenceTransformer

    from embeddings.encoder import quiet_weight_loading
    from embeddings.onnx_encoder import OnnxSession

    quiet_weight_loading()
    # Eager attention traces to plain MatMul/Softmax, and attention is left unfused: Q, K and V stay three
    # MatMuls that the INT8 recipe quantises one by one (fused, they run as fast in fp32; measured).
    model = SentenceTransformer(str(model_path), device="cpu", model_kwargs={"attn_implementation": "eager"})
    transformer: Any = model[0].auto_model  # a Hugging Face PreTrainedModel (typed loosely upstream)
    transformer.eval()
    probes = model.tokenizer(list(PROBES), padding=True, return_tensors="pt")
    raw = target.with_name(target.name + ".raw")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The tracer warns about every Python branch on a tensor; the probe check below is what counts.
            warnings.simplefilter("ignore")
            torch.onnx.export(HiddenStates(transformer), tuple(probes[name] for name in INPUTS), str(raw),
                              input_names=list(INPUTS), output_names=["token_embeddings"],
                              dynamic_axes={name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "token_embeddings")},
                              opset_version=OPSET, dynamo=False)
        config = transformer.config
        fusions = FusionOptions("bert")
        fusions.enable_attention = False
        optimised = optimize_model(str(raw), model_type="bert", num_heads=config.num_attention_heads,
                                   hidden_size=config.hidden_size, opt_level=1, optimization_options=fusions)
        log.info("fused operators: %s", {k: v for k, v in optimised.get_fused_operator_statistics().items() if v})
        optimised.save_model_to_file(str(target))
    except Exception as error:  # the exporter and the optimiser raise many kinds; each means the same here
        raise ExportError(f"cannot export {model_path} to ONNX: {error}") from error
    finally:
        raw.unlink(missing_ok=True)
    expected = model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    got = OnnxSession(target, model_path, workers=1).encode(list(PROBES))
    if not np.allclose(got, expected, atol=PROBE_TOLERANCE):
        raise ExportError(f"the ONNX export of {model_path} does not reproduce its PyTorch vectors "
                          f"(largest difference {np.abs(got - expected).max():.2e})")

