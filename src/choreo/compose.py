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
        """The motion at the model's frame rate, in its representation: (T, C) float32, real units.

        A dance on another skeleton is mapped onto the model's by joint roles (joint positions,
        :func:`choreo.motion.retarget.retarget_positions`) when the model works on positions.

        Raises:
            ChoreoError: not a Motion, no frames, NaN or infinite values, a skeleton that cannot be mapped.
        """
        if not isinstance(motion, Motion):
            raise ChoreoError("music needs a choreo Motion (read one with choreo.motion.formats.read_motion)")
        src = motion.meta.get("source")
        if motion.n_frames == 0:
            raise ChoreoError("the dance has no frames", src)
        for arr in (motion.positions, motion.rotations, motion.root):
            if arr is not None and not np.all(np.isfinite(arr)):
                raise ChoreoError("the dance contains NaN or infinite values", src)
        rep = self.representation
        if not motion.skeleton.same_structure(rep.skeleton):
            if "rot6d" in rep.name:
                raise ChoreoError(
                    f"this model was trained on skeleton {rep.skeleton.name!r} (rotations); the dance uses "
                    f"{motion.skeleton.name!r}",
                    src,
                )
            from choreo.motion.retarget import retarget_positions

            motion = retarget_positions(motion, rep.skeleton)
        x = rep.encode(motion.resample(self.fps))
        if len(x) == 0 or not np.all(np.isfinite(x)):
            raise ChoreoError("the dance gives no usable frames at the model's frame rate", src)
        return x

    def music(self, motion: Motion, seed: int = 0, progress: bool = False, **options) -> tuple[np.ndarray, int]:
        """Music for the whole dance: ``(samples (N,) float32 mono, sample_rate)``, N = duration x rate."""
        x = self.encode(motion)
        settings = self.method.sampling_settings(**options)
        y = np.asarray(self.method.compose(x, seed=seed, progress=progress, **settings), np.float32)
        want = int(round(motion.n_frames / motion.fps * self.sample_rate))
        y = y[:want] if len(y) >= want else np.pad(y, (0, want - len(y)))
        return y, self.sample_rate
