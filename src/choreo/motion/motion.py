"""Motion: a skeleton moving over time, in choreo's canonical space (y-up, metres, known fps).

A motion carries joint ``positions`` (always available through :meth:`Motion.joint_positions`) and,
when it came from rotation data (SMPL, BVH), local ``rotations`` plus the ``root`` trajectory.
Format readers convert into this space; writers convert out of it. Models and metrics see only this.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from choreo.errors import ChoreoError
from choreo.motion.skeleton import Skeleton


@dataclass(eq=False)
class Motion:
    """A dance.

    Attributes:
        skeleton: the body (joint names, parents, rest offsets in metres).
        fps: frames per second (float > 0).
        positions: (T, J, D) float world joint positions, metres, y-up (D = skeleton.dim), or None when
            the motion is given by rotations (they are then computed by forward kinematics on demand).
        rotations: (T, J, 4) local joint rotations as unit quaternions (w, x, y, z), parent frame, or None.
        root: (T, 3) world position of the root joint in metres (needed with ``rotations``).
        meta: free-form provenance, e.g. ``{"source": path, "audio": path, "audio_start": seconds}``.
    """

    skeleton: Skeleton
    fps: float
    positions: np.ndarray | None = None
    rotations: np.ndarray | None = None
    root: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        src = self.meta.get("source")
        self.fps = float(self.fps)
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise ChoreoError(f"frame rate must be positive, got {self.fps}", src)
        J = self.skeleton.n_joints
        if self.positions is None and self.rotations is None:
            raise ChoreoError("a motion needs joint positions or rotations", src)
        if self.positions is not None:
            self.positions = np.asarray(self.positions)
            D = self.skeleton.dim
            if self.positions.ndim != 3 or self.positions.shape[1:] != (J, D):
                raise ChoreoError(
                    f"positions have shape {self.positions.shape}, expected (frames, {J}, {D}) for skeleton "
                    f"{self.skeleton.name!r}",
                    src,
                )
        if self.rotations is not None:
            self.rotations = np.asarray(self.rotations)
            if self.rotations.ndim != 3 or self.rotations.shape[1:] != (J, 4):
                raise ChoreoError(f"rotations have shape {self.rotations.shape}, expected (frames, {J}, 4)", src)
            if self.root is None:
                raise ChoreoError("rotations need a root trajectory", src)
        if self.root is not None:
            self.root = np.asarray(self.root)
            if self.root.ndim != 2 or self.root.shape[1] != 3:
                raise ChoreoError(f"root has shape {self.root.shape}, expected (frames, 3)", src)
        lengths = {len(a) for a in (self.positions, self.rotations, self.root) if a is not None}
        if len(lengths) != 1:
            raise ChoreoError(f"positions, rotations and root disagree on the number of frames: {sorted(lengths)}", src)
        if lengths.pop() == 0:
            raise ChoreoError("the motion has zero frames", src)
        for name in ("positions", "rotations", "root"):
            a = getattr(self, name)
            if a is not None and not np.all(np.isfinite(a)):
                bad = int(np.argwhere(~np.isfinite(a.reshape(len(a), -1)))[0, 0])
                raise ChoreoError(f"{name} contain NaN or infinite values (first at frame {bad})", src)

    @property
    def n_frames(self) -> int:
        a = self.positions if self.positions is not None else self.root
        return int(a.shape[0])

    @property
    def duration(self) -> float:
        """Seconds covered by the frames (n_frames / fps)."""
        return self.n_frames / self.fps

    def copy(self, **changes) -> Motion:
        """A shallow copy with some fields replaced (arrays are not copied)."""
        return replace(self, meta=dict(self.meta), **changes)
