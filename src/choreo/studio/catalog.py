"""Which models the studio offers (the packaged ones, or a checkpoint file / run folder the user names) and
loading them once.

Loaded models are kept (the last few) so that a second take with the same model starts at once; only the
job worker loads models for generation, the page's model list reads checkpoint headers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from choreo.errors import ChoreoError
from choreo.studio.skeletons import ModelSkeleton

#: what the studio offers models for (the codec, say, is a part of D2M-GAN, not something a user runs).
KINDS = ("dance", "music")


def stage_steps(method: str, model: dict[str, Any]) -> list[int] | None:
    """Denoising steps of each sampling stage of method ``method`` with settings ``model`` (the method answers:
    DiffDance runs a base stage and a super-resolution stage); None for a method without steps."""
    from choreo.models import method_class

    try:
        stages = method_class(method).sampling_stages(model)
    except ChoreoError:  # a method this choreo does not know: the page shows no steps
        return None
    return list(stages.values()) or None


def _describe_checkpoint(path: Path) -> dict[str, Any]:
    """What a checkpoint makes and at what rate, from the file alone (plus its skeleton, kept aside)."""
    from choreo.checkpoint import load_checkpoint

    state = load_checkpoint(path)
    spec = state.get("spec") or {}
    skeleton = spec.get("skeleton") or {}
    model = (state.get("config") or {}).get("model") or {}
    return {
        "method": str(state.get("method")),
        "produces": str(state.get("produces", "dance")),
        "fps": float(spec.get("fps") or 0.0),
        "skeleton": str(skeleton.get("skeleton_name", "")) if isinstance(skeleton, dict) else "",
        "representation": str(spec.get("representation") or ""),
        # the sampling defaults the page shows; None: the method has no such setting (Dance Revolution)
        "guidance": model.get("guidance"),
        "steps": model.get("steps"),
        "stage_steps": stage_steps(str(state.get("method")), model),
        "_skeleton": skeleton if isinstance(skeleton, dict) else None,
    }


class Catalog:
    """The models the studio can use.

    Args:
        keep: how many loaded models stay in memory.
        threads: CPU threads for sampling (None: choreo's default).
    """

    def __init__(self, keep: int = 2, threads: int | None = None):
        self.keep = keep
        self.threads = threads
        self._headers: dict[tuple[str, float], dict] = {}
        self._loaded: OrderedDict[tuple[str, float], Any] = OrderedDict()
        self._lock = threading.Lock()

    def describe(self, name_or_path: str, produces: str = "dance") -> dict[str, Any]:
        """``{name, path, method, produces, fps, ...}`` for a packaged name or a checkpoint / run folder."""
        from choreo.packaged import resolve_model

        text = str(name_or_path).strip()
        if not text:
            raise ChoreoError("no model given: choose a packaged model or type a checkpoint file or run folder")
        path = resolve_model(text, produces=produces)
        key = (str(path), path.stat().st_mtime)
        with self._lock:
            info = self._headers.get(key)
        if info is None:
            info = {**_describe_checkpoint(path), "_name": text}
            with self._lock:
                self._headers[key] = info
        return {"name": text, "path": str(path), **{k: v for k, v in info.items() if not k.startswith("_")}}

    def targets(self) -> list[ModelSkeleton]:
        """The skeletons of the models this run knows (every packaged one, and any checkpoint named here), for
        checking that an upload can be used (:mod:`choreo.studio.skeletons`)."""
        from choreo.motion.skeleton import Skeleton
        from choreo.packaged import packaged_models

        for m in packaged_models():
            try:
                self.describe(m.name)
            except ChoreoError:
                continue  # a broken packaged file is left out, as in the page's lists
        with self._lock:
            known = list(self._headers.values())
        out = []
        for info in known:
            if info["produces"] not in KINDS or not info["_skeleton"]:
                continue
            sk = Skeleton.from_arrays({k: np.asarray(v) for k, v in info["_skeleton"].items()})
            out.append(ModelSkeleton(info["_name"], info["produces"], sk, info["representation"]))
        return out

    def models(self) -> dict[str, Any]:
        """The page's model lists: packaged models by what they make, the defaults, whether music is possible."""
        from choreo.packaged import default_model_name, packaged_models

        out: dict[str, Any] = {"dance": [], "music": [], "default": {}}
        for m in packaged_models():
            try:
                info = self.describe(m.name)
            except ChoreoError:
                continue  # a broken packaged file is left out rather than breaking the page
            entry = {"name": m.name, "description": m.description, "data": m.data, "licence": m.licence}
            if info["produces"] not in KINDS:
                continue
            entry.update({k: info[k] for k in ("method", "fps", "skeleton", "guidance", "steps", "stage_steps")})
            out[info["produces"]].append(entry)
        for kind in ("dance", "music"):
            try:
                out["default"][kind] = default_model_name(kind)
            except ChoreoError:
                out["default"][kind] = out[kind][0]["name"] if out[kind] else None
        out["music_available"] = bool(out["music"])
        return out

    def load(self, name_or_path: str, produces: str = "dance"):
        """A :class:`~choreo.generate.Choreographer` or :class:`~choreo.compose.Composer`, loaded once."""
        info = self.describe(name_or_path, produces)
        if info["produces"] != produces:
            makes = "dances from music" if info["produces"] == "dance" else "music from dances"
            raise ChoreoError(f"this {info['method']!r} model makes {makes}; choose a model that makes {produces}")
        path = Path(info["path"])
        key = (str(path), path.stat().st_mtime)
        with self._lock:
            model = self._loaded.get(key)
            if model is not None:
                self._loaded.move_to_end(key)
                return model
        if produces == "dance":
            from choreo.generate import Choreographer

            model = Choreographer.load(path, threads=self.threads)
        else:
            from choreo.compose import Composer

            model = Composer.load(path, threads=self.threads)
        with self._lock:
            self._loaded[key] = model
            while len(self._loaded) > self.keep:
                self._loaded.popitem(last=False)
        return model
