"""The high-level music API: a trained dance-to-music model in, audio out.

    >>> import choreo
    >>> composer = choreo.load("runs/d2m")                  # a model whose checkpoint produces music
    >>> y, sr = composer.music(choreo.motion.formats.read_motion("dance.bvh"), seed=0)

The method (``produces = "music"``) receives the motion in its own representation and frame rate and returns
mono float32 samples at ``method.sample_rate``; the length follows the dance.
"""

from __future__ import annotations

import numpy as np

from choreo.errors import ChoreoError
from choreo.motion.motion import Motion
from choreo.trained import TrainedModel

__all__ = ["Composer"]


class Composer(TrainedModel):
    """A trained dance-to-music model. Attributes: those of :class:`TrainedModel` plus ``sample_rate`` (Hz)."""

    produces = "music"

    def __init__(self, method, checkpoint: str | None = None, threads: int | None = None, info: dict | None = None):
        super().__init__(method, checkpoint, threads, info)
        self.sample_rate = int(method.sample_rate)

    def encode(self, motion: Motion) -> np.ndarray:
        """The motion at the model's frame rate, in its representation: (T, C) float32, real units."""
        if not isinstance(motion, Motion):
            raise ChoreoError("music needs a choreo Motion (read one with choreo.motion.formats.read_motion)")
        rep = self.representation
        if not motion.skeleton.same_structure(rep.skeleton):
            raise ChoreoError(
                f"this model was trained on skeleton {rep.skeleton.name!r}; the dance uses {motion.skeleton.name!r}",
                motion.meta.get("source"),
            )
        return rep.encode(motion.resample(self.fps))

    def music(self, motion: Motion, seed: int = 0, progress: bool = False, **options) -> tuple[np.ndarray, int]:
        """Music for the whole dance: ``(samples (N,) float32 mono, sample_rate)``, N = duration x rate."""
        x = self.encode(motion)
        settings = self.method.sampling_settings(**options)
        y = np.asarray(self.method.compose(x, seed=seed, progress=progress, **settings), np.float32)
        want = int(round(motion.n_frames / motion.fps * self.sample_rate))
        y = y[:want] if len(y) >= want else np.pad(y, (0, want - len(y)))
        return y, self.sample_rate
