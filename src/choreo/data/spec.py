"""What a model knows about its data: the contract between a dataset, a method and a checkpoint.

A :class:`DataSpec` is built from a training set (:meth:`WindowDataset.spec`), handed to the method's builder,
and saved in every checkpoint (:meth:`DataSpec.state_dict`), so that inference rebuilds exactly the model
that was trained without guessing anything from parameter names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from choreo.data.normalizer import MinMaxNormalizer, StandardNormalizer, normalizer_from_state_dict
from choreo.data.representation import Representation, get_representation
from choreo.motion.skeleton import Skeleton


@dataclass
class DataSpec:
    """Data-side settings a method is built with.

    Attributes:
        representation: motion representation (None for audio-only methods such as a codec).
        normalizer: fitted per-channel normaliser of the representation's channels (None: none).
        feature_dim: music features per frame (0: the method takes no music features).
        feature_set: the music feature set's name (``choreo.audio.features``).
        fps: the model's motion frame rate (frames per second).
        window_frames: training window length in frames at ``fps``.
        extra_fps: other motion frame rates the batches carry (``motion@<fps>``).
        audio_sr: sample rate of the waveform windows in batches (0: none).
        styles: dance-style names the batches' ``style`` labels index (empty: no labels).
    """

    representation: Representation | None = None
    normalizer: MinMaxNormalizer | StandardNormalizer | None = None
    feature_dim: int = 0
    feature_set: str = ""
    fps: float = 30.0
    window_frames: int = 150
    extra_fps: tuple[float, ...] = field(default_factory=tuple)
    audio_sr: int = 0
    styles: tuple[str, ...] = field(default_factory=tuple)

    @property
    def window_seconds(self) -> float:
        return self.window_frames / self.fps

    def state_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint (no pickled objects)."""
        rep = self.representation
        return {
            "representation": rep.name if rep is not None else None,
            "contact_speed": float(getattr(rep, "contact_speed", 0.0)) if rep is not None else None,
            "skeleton": {k: np.asarray(v).tolist() for k, v in rep.skeleton.to_arrays().items()} if rep else None,
            "normalizer": self.normalizer.state_dict() if self.normalizer is not None else None,
            "feature_dim": int(self.feature_dim),
            "feature_set": str(self.feature_set),
            "fps": float(self.fps),
            "window_frames": int(self.window_frames),
            "extra_fps": [float(f) for f in self.extra_fps],
            "audio_sr": int(self.audio_sr),
            "styles": [str(s) for s in self.styles],
        }

    @classmethod
    def from_state_dict(cls, d: dict[str, Any]) -> DataSpec:
        """Inverse of :meth:`state_dict`."""
        rep = None
        if d.get("representation"):
            sk = {k: np.asarray(v) for k, v in d["skeleton"].items()}
            if "mirror_pairs" in sk:
                sk["mirror_pairs"] = sk["mirror_pairs"].reshape(-1, 2).astype(np.int64)
            rep = get_representation(str(d["representation"]), Skeleton.from_arrays(sk), float(d["contact_speed"]))
        norm = normalizer_from_state_dict(d["normalizer"]) if d.get("normalizer") is not None else None
        return cls(
            representation=rep,
            normalizer=norm,
            feature_dim=int(d.get("feature_dim", 0)),
            feature_set=str(d.get("feature_set", "")),
            fps=float(d.get("fps", 30.0)),
            window_frames=int(d.get("window_frames", 150)),
            extra_fps=tuple(float(f) for f in d.get("extra_fps", ())),
            audio_sr=int(d.get("audio_sr", 0)),
            styles=tuple(str(s) for s in d.get("styles") or ()),
        )
