"""ONNX files of an encoder, made once and cached: each beside a manifest that vouches for it.

A manifest holds its file's SHA-256 and what the file was made from (the weights' sizes and mtimes, the
recipe of :mod:`embeddings.onnx_export`, the onnxruntime version). A file whose checksum does not match
(damaged, truncated) or whose source changed is made again. A build writes to a temporary name and renames
it into place, manifest last, under a lock file, so two processes never build at once and an interrupted
build leaves nothing that passes the check. Nothing here imports torch: checking the cache is cheap.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

# Bump when the export, optimisation or quantisation steps (or the calibration text) change: cached files
# are made again, and INT8 vectors of another recipe count as another encoder's (see ``PRECISIONS``).
# 2: per-token W8A8 with SmoothQuant (recall@10 0.95 -> 0.98).
RECIPE = 2
# What each precision's vectors are called in a collection's record. fp32 ONNX vectors equal PyTorch's
# (cosine 1.0000, checked at export), so both backends' vectors mix; INT8 ones differ a little.
PRECISIONS = {"fp32": "fp32", "int8": f"int8-r{RECIPE}"}


class ExportError(RuntimeError):
    """The model cannot be exported to ONNX, or the export does not reproduce its PyTorch vectors."""


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/qa-articles/encoders``, else ``~/.cache/qa-articles/encoders``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "qa-articles" / "encoders"


def cached_onnx(model_path: Path, precision: str, cache_dir: Path) -> Path:
    """The ONNX file of the sentence-transformers model in ``model_path`` at ``precision`` (fp32 | int8),
    made under ``cache_dir`` first when it is missing, damaged or stale (the int8 file from the fp32 one)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if not model_path.is_dir():
        raise ExportError(f"{model_path} is not a local model folder; the ONNX backends export local weights "
                          "(use QA_EMBEDDING_BACKEND=torch for other models)")
    folder = cache_dir / _slug(model_path)
    folder.mkdir(parents=True, exist_ok=True)
    source = _fingerprint(model_path)
    with _locked(folder / "build.lock"):
        fp32 = _ensure(folder / "model-fp32.onnx", source, lambda target: _export(model_path, target))
        if precision == "fp32":
            return fp32
        return _ensure(folder / "model-int8.onnx", source, lambda target: _quantise(fp32, target, model_path))


def _export(model_path: Path, target: Path) -> None:
    from embeddings.onnx_export import export_fp32  # imports torch: only when a file must be made

    export_fp32(model_path, target)


def _quantise(fp32: Path, target: Path, model_path: Path) -> None:
    from embeddings.onnx_quantise import quantise_int8

    quantise_int8(fp32, target, model_path)


def _ensure(target: Path, source: dict[str, object], build: Callable[[Path], None]) -> Path:
    """``target`` as it is when its manifest vouches for it, else made again by ``build``."""
    manifest = target.with_suffix(".json")
    problem = problem_with(target, source)
    if problem is None:
        return target
    log.warning("making %s (%s); this happens once", target, problem)
    started = time.perf_counter()
    manifest.unlink(missing_ok=True)  # from here on, a crash leaves a file that fails the check
    partial = target.with_name(target.name + ".partial")
    try:
        build(partial)
        digest = _sha256(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _write_atomically(manifest, json.dumps({"sha256": digest, "bytes": target.stat().st_size, **source}, indent=1))
    log.info("made %s in %.1f s", target, time.perf_counter() - started)
    return target


def problem_with(target: Path, source: dict[str, object]) -> str | None:
    """Why the cached ``target`` cannot be used as it is (None when it can)."""
    if not target.is_file():
        return "not made yet"
    try:
        recorded = json.loads(target.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "its manifest is missing or unreadable"
    if not isinstance(recorded, dict) or {key: recorded.get(key) for key in source} != source:
        return "the model, the recipe or onnxruntime changed since it was made"
    if target.stat().st_size != recorded.get("bytes") or _sha256(target) != recorded.get("sha256"):
        return "its checksum does not match: the file is damaged"
    return None


def _fingerprint(model_path: Path) -> dict[str, object]:
    """What a cached file is made from: the model files' sizes and mtimes, the recipe, onnxruntime's version."""
    import onnxruntime

    files = sorted(p for p in model_path.iterdir() if p.suffix in {".safetensors", ".bin", ".json"})
    if not any(p.suffix in {".safetensors", ".bin"} for p in files):
        raise ExportError(f"{model_path} holds no model weights (model.safetensors or pytorch_model.bin)")
    return {"model": str(model_path.resolve()), "recipe": RECIPE, "onnxruntime": onnxruntime.__version__,
            "files": {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in files}}


def _slug(model_path: Path) -> str:
    """A folder name for the model: its folder's name and a hash of its full path."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", model_path.name)[-40:]
    return f"{name}-{hashlib.sha1(str(model_path.resolve()).encode()).hexdigest()[:10]}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Holds an exclusive lock on ``path``, waiting while another process builds."""
    with open(path, "a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
