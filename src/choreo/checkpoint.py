"""Checkpoints: one file with named components, their optimisers and everything needed to resume or to run.

Layout, version 2 (a dict saved with ``torch.save``; every value is a tensor or plain Python data, so it
loads with ``torch.load(weights_only=True)``, which never runs code from the file)::

    format "choreo-checkpoint", version 2, method, produces ("dance" or "music"),
    config      the run's RunConfig as a dict: config["model"] holds the method's settings, sampling
                defaults (guidance, steps, sampler, eta ...) included
    spec        DataSpec.state_dict(): representation, contact_speed, skeleton, normalizer, feature_dim,
                feature_set, fps, window_frames, extra_fps, audio_sr
    components  {name: state_dict}           ema  {name: state_dict} (the averaged components)
    ema_updates {name: int}                  optimizers / schedulers  {name: state_dict}
    scaler, step, elapsed, world_size, rng   (training state; dropped by :func:`export_inference`)

Version 1 files (EDGE only, one whole-method state dict) are upgraded on load (:func:`upgrade`). Files are
written atomically (temporary name, then rename), so a run killed while saving leaves the previous
checkpoint intact. A run folder holds ``step_XXXXXX.ckpt`` files and ``last.ckpt`` (the newest).
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
VERSION = 2
LAST = "last.ckpt"
_STEP_RE = re.compile(r"^step_(\d+)\.ckpt$")

#: the keys an inference-only checkpoint keeps (see :func:`export_inference`).
INFERENCE_KEYS = ("format", "version", "method", "produces", "config", "spec", "components", "ema", "step", "info")


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


# ---- run folders ------------------------------------------------------------------------------------------
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


# ---- reading ----------------------------------------------------------------------------------------------
def _split_components(sd: dict | None) -> dict | None:
    """A whole-method state dict -> {component: state_dict} by the first name of every key."""
    if sd is None:
        return None
    out: dict[str, dict] = {}
    for k, v in sd.items():
        comp, _, rest = k.partition(".")
        out.setdefault(comp, {})[rest] = v
    return out


def upgrade(state: dict) -> dict:
    """A version-1 checkpoint (EDGE, whole-method state dicts, data settings at the top level) as version 2.

    The feature dimension comes from the music projection's weight (version 1 did not store it), the
    contact speed from the run's data config.
    """
    if int(state.get("version", 1)) >= 2:
        return state
    config = dict(state.get("config") or {})
    config["model"] = dict(state.get("model_config") or config.get("model") or {})
    feature_dim = 0
    for sd in (state.get("ema"), state.get("model")):
        for key, value in (sd or {}).items():
            if key.endswith("music_proj.weight"):
                feature_dim = int(value.shape[1])
    if not feature_dim and state.get("feature_set"):
        from choreo.audio.features import feature_dim as set_dim

        feature_dim = int(set_dim(state["feature_set"]))
    skeleton = state.get("skeleton")
    spec = {
        "representation": state.get("representation"),
        "contact_speed": float((config.get("data") or {}).get("contact_speed", 0.3)),
        "skeleton": {k: np.asarray(v).tolist() for k, v in skeleton.items()} if isinstance(skeleton, dict) else None,
        "normalizer": state.get("normalizer"),
        "feature_dim": feature_dim,
        "feature_set": state.get("feature_set", ""),
        "fps": float(state.get("fps", 30.0)),
        "window_frames": int(state.get("window_frames", 150)),
        "extra_fps": [],
        "audio_sr": 0,
    }
    ema = _split_components(state.get("ema"))
    new = {
        "format": FORMAT,
        "version": VERSION,
        "method": state.get("method"),
        "produces": "dance",
        "config": config,
        "spec": spec,
        "components": _split_components(state.get("model")),
        "ema": ema,
        "ema_updates": {n: int(state.get("ema_updates", 0)) for n in (ema or {})},
        "optimizers": {"main": state["optimizer"]} if state.get("optimizer") is not None else {},
        "schedulers": {},
        "step": int(state.get("step", 0)),
    }
    for k in ("scaler", "elapsed", "world_size", "rng"):
        if k in state:
            new[k] = state[k]
    return new


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a choreo checkpoint (a file or a run folder), upgraded to the current version.

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
    try:
        return upgrade(state)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ChoreoError(f"a malformed version-1 checkpoint ({type(exc).__name__}: {exc})", p) from None


def load_method(path: str | os.PathLike, weights: str = "ema", device: str | torch.device | None = None):
    """The trained method in a checkpoint file or run folder, ready to sample (eval mode).

    Args:
        weights: ``"ema"`` (a component's averaged weights where the checkpoint has them) or ``"model"``.
        device: where to put it (default: CUDA when available, else CPU).

    Returns:
        ``(method, state)``: the :class:`~choreo.models.method.Method` and the checkpoint dict.

    Raises:
        ChoreoError: unreadable file; a method this choreo does not know; weights that do not fit.
    """
    from choreo.data.spec import DataSpec
    from choreo.models import METHODS, build_method

    p = resolve_checkpoint(path)
    state = load_checkpoint(p)
    name = str(state.get("method"))
    if name not in METHODS:
        raise ChoreoError(f"method {name!r} is not one this choreo runs ({', '.join(METHODS)})", p)
    trained, ema = dict(state.get("components") or {}), dict(state.get("ema") or {})
    # a slim checkpoint keeps one set per component: fall back to whichever set it has
    comps = {**trained, **ema} if weights == "ema" else {**ema, **trained}
    if not comps:
        raise ChoreoError("checkpoint holds no model weights", p)
    if state.get("spec") is None or state.get("config") is None:
        raise ChoreoError("checkpoint lacks spec or config (not an inference-ready choreo checkpoint)", p)
    try:
        spec = DataSpec.from_state_dict(state["spec"])
        method = build_method(name, dict(state["config"].get("model") or {}), spec)
        method.load_component_state(comps)
    except ChoreoError as exc:
        raise ChoreoError(exc.message, p) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ChoreoError(f"malformed checkpoint ({type(exc).__name__}: {exc})", p) from None
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    return method.to(dev).eval(), state


def export_inference(
    ckpt_path: str | os.PathLike,
    out_path: str | os.PathLike,
    dtype: torch.dtype | None = None,
    info: dict | None = None,
) -> Path:
    """Write a slim checkpoint for inference: no optimiser or RNG state, and one set of weights per component.

    A component's EMA weights are kept (under ``ema``) when the run has them, else its trained weights
    (under ``components``).

    Args:
        ckpt_path: a checkpoint file or run folder.
        out_path: the file to write.
        dtype: store floating-point weights in this dtype (e.g. ``torch.float16`` halves the size); loading
            into a float32 model casts them back.
        info: descriptive metadata kept with the weights (``data``, ``licence``, ``description`` ...), shown
            by ``choreo models``.
    """
    state = load_checkpoint(ckpt_path)
    slim = {k: state.get(k) for k in INFERENCE_KEYS}
    ema = dict(slim.get("ema") or {})
    slim["components"] = {n: sd for n, sd in (slim.get("components") or {}).items() if n not in ema}
    slim["ema"] = ema
    if info is not None:
        slim["info"] = dict(info)
    for key in ("components", "ema"):
        if dtype is not None:
            slim[key] = {
                c: {n: t.to(dtype) if torch.is_floating_point(t) else t for n, t in sd.items()}
                for c, sd in slim[key].items()
            }
    save_checkpoint(out_path, slim)
    return Path(out_path)
