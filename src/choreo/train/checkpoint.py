"""Checkpoints: one file with the weights, the config, the normaliser and everything needed to resume.

Layout (a dict saved with ``torch.save``; every value is a tensor or plain Python data, so it loads with
``torch.load(weights_only=True)``, which never runs code from the file)::

    format "choreo-checkpoint", version 1, method, config (RunConfig dict), model_config, representation,
    skeleton (Skeleton.to_arrays() as lists), feature_set, fps, window_frames, normalizer (state dict),
    model (state_dict), ema (state_dict or None), optimizer, scaler, step, elapsed, rng

Files are written atomically (temporary name, then rename), so a run killed while saving leaves the previous
checkpoint intact.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from choreo.errors import ChoreoError
from choreo.fileio import atomic_path

FORMAT = "choreo-checkpoint"
VERSION = 1
LAST = "last.ckpt"
_STEP_RE = re.compile(r"^step_(\d+)\.ckpt$")

#: the keys an inference-only checkpoint keeps (see :func:`export_inference`).
INFERENCE_KEYS = (
    "format",
    "version",
    "method",
    "config",
    "model_config",
    "representation",
    "skeleton",
    "feature_set",
    "fps",
    "window_frames",
    "normalizer",
    "model",
    "ema",
    "step",
)


def to_plain(obj: Any) -> Any:
    """numpy arrays and scalars -> lists / Python numbers, recursively (tensors are kept)."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_plain(v) for v in obj)
    return obj


def step_path(run_dir: str | os.PathLike, step: int) -> Path:
    return Path(run_dir) / f"step_{step:06d}.ckpt"


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """Write ``state`` to ``path`` atomically (numpy values are converted to plain lists first)."""
    state = to_plain(dict(state))
    state.setdefault("format", FORMAT)
    state.setdefault("version", VERSION)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _link_or_copy(src: Path, dst: Path) -> None:
    """Make ``dst`` a copy of ``src`` atomically (a hard link where the file system allows it)."""
    with atomic_path(dst) as tmp:
        try:
            tmp.unlink()
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def save_run_checkpoint(run_dir: str | os.PathLike, state: dict, step: int, keep_last: int) -> Path:
    """Write ``RUN_DIR/step_XXXXXX.ckpt``, point ``RUN_DIR/last.ckpt`` at it, keep the newest ``keep_last``."""
    run_dir = Path(run_dir)
    path = step_path(run_dir, step)
    save_checkpoint(path, state)
    _link_or_copy(path, run_dir / LAST)
    prune_checkpoints(run_dir, keep_last)
    return path


def list_step_checkpoints(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """(step, path) of the step-numbered checkpoints in a run folder, oldest first."""
    out = []
    for p in Path(run_dir).glob("step_*.ckpt"):
        m = _STEP_RE.match(p.name)
        if m:
            out.append((int(m.group(1)), p))
    return sorted(out)


def prune_checkpoints(run_dir: str | os.PathLike, keep_last: int) -> None:
    """Delete all but the newest ``keep_last`` step checkpoints (``last.ckpt`` is never deleted)."""
    ckpts = list_step_checkpoints(run_dir)
    for _, p in ckpts[: max(0, len(ckpts) - max(keep_last, 1))]:
        with contextlib.suppress(OSError):
            p.unlink()


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint file, or ``last.ckpt`` inside a run folder."""
    p = Path(path)
    if p.is_dir():
        if (p / LAST).is_file():
            return p / LAST
        steps = list_step_checkpoints(p)
        if steps:
            return steps[-1][1]
        raise ChoreoError("this folder holds no checkpoint (last.ckpt or step_*.ckpt)", p)
    if not p.exists():
        raise ChoreoError("checkpoint not found", p)
    return p


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a choreo checkpoint (a file or a run folder).

    Returns the checkpoint dict with ``skeleton`` as numpy arrays (ready for ``Skeleton.from_arrays``).

    Raises:
        ChoreoError: the file is missing, truncated, corrupt or not a choreo checkpoint.
    """
    p = resolve_checkpoint(path)
    try:
        state = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many kinds (RuntimeError, UnpicklingError, EOFError, zipfile errors)
        raise ChoreoError(f"not a readable checkpoint (corrupt or truncated?): {type(exc).__name__}", p) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ChoreoError("not a choreo checkpoint", p)
    if int(state.get("version", 0)) > VERSION:
        raise ChoreoError(f"checkpoint version {state.get('version')} is newer than this choreo reads ({VERSION})", p)
    if isinstance(state.get("skeleton"), dict):
        state["skeleton"] = {k: np.asarray(v) for k, v in state["skeleton"].items()}
        if "mirror_pairs" in state["skeleton"]:
            state["skeleton"]["mirror_pairs"] = state["skeleton"]["mirror_pairs"].reshape(-1, 2).astype(np.int64)
    return state


def export_inference(
    ckpt_path: str | os.PathLike, out_path: str | os.PathLike, dtype: torch.dtype | None = None
) -> Path:
    """Write a slim checkpoint for inference: no optimizer or RNG state, and only one set of weights.

    The EMA weights are kept (as ``ema``; ``model`` becomes None) when the run has them, else ``model``.

    Args:
        ckpt_path: a checkpoint file or run folder.
        out_path: the file to write.
        dtype: store floating-point weights in this dtype (e.g. ``torch.float16`` halves the size); loading
            into a float32 model casts them back.
    """
    state = load_checkpoint(ckpt_path)
    slim = {k: state.get(k) for k in INFERENCE_KEYS}
    if slim.get("ema") is not None:
        slim["model"] = None
    for key in ("model", "ema"):
        sd = slim.get(key)
        if sd is not None and dtype is not None:
            slim[key] = {n: t.to(dtype) if torch.is_floating_point(t) else t for n, t in sd.items()}
    save_checkpoint(out_path, slim)
    return Path(out_path)
