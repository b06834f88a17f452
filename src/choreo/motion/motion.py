"""Motion: a skeleton moving over time, in choreo's canonical space (y-up, metres, known fps).

A motion carries joint ``positions`` (always available through :meth:`Motion.joint_positions`) and,
when it came from rotation data (SMPL, BVH), local ``rotations`` plus the ``root`` trajectory.
Format readers convert into this space; writers convert out of it. Models and metrics see only this.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

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
        changes.setdefault("meta", dict(self.meta))
        return replace(self, **changes)

    @property
    def has_rotations(self) -> bool:
        return self.rotations is not None

    # --- files --------------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write the motion to ``path``, the format chosen by its suffix (``.npz``, ``.pkl``, ``.bvh``, ``.glb``;
        see :func:`choreo.motion.formats.write_motion`), atomically. Returns the path.

        Raises:
            ChoreoError: an unknown suffix, a skeleton the format cannot hold, a folder that cannot be written.
        """
        from choreo.motion.formats import write_motion

        write_motion(self, path)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike, fps: float | None = None, scale: float | None = None) -> Motion:
        """Read a motion file or folder (any format :func:`choreo.motion.formats.read_motion` reads)."""
        from choreo.motion.formats import read_motion

        return read_motion(path, fps=fps, scale=scale)

    # --- positions ----------------------------------------------------------------------------------

    def joint_positions(self) -> np.ndarray:
        """(T, J, D) float64 world joint positions in metres, y-up.

        The stored ``positions`` when present, else forward kinematics of ``rotations`` and ``root`` with
        the skeleton's rest offsets.
        """
        if self.positions is not None:
            return np.asarray(self.positions, dtype=np.float64)
        if self.skeleton.offsets is None:
            raise ChoreoError(
                f"skeleton {self.skeleton.name!r} has no rest offsets, so rotations cannot give positions",
                self.meta.get("source"),
            )
        import torch

        from choreo.motion.kinematics import forward_kinematics
        from choreo.motion.rotations import quat_to_matrix

        rot = quat_to_matrix(torch.from_numpy(np.asarray(self.rotations, dtype=np.float64)))
        root = torch.from_numpy(np.asarray(self.root, dtype=np.float64))
        return forward_kinematics(rot, root, self.skeleton.offsets, self.skeleton.parents).numpy()

    # --- time ---------------------------------------------------------------------------------------

    def crop(self, start_frame: int, end_frame: int | None = None) -> Motion:
        """Frames ``[start_frame, end_frame)`` (Python slice semantics, negative indices allowed).

        ``meta["audio_start"]`` (seconds into the song where frame 0 plays) moves with the crop, so the
        cropped dance still lines up with its music.
        """
        sl = slice(start_frame, end_frame)
        first, _, _ = sl.indices(self.n_frames)
        n = len(range(*sl.indices(self.n_frames)))
        if n == 0:
            raise ChoreoError(
                f"crop [{start_frame}, {end_frame}) of a {self.n_frames}-frame motion is empty", self.meta.get("source")
            )
        out = self.copy(
            positions=None if self.positions is None else self.positions[sl],
            rotations=None if self.rotations is None else self.rotations[sl],
            root=None if self.root is None else self.root[sl],
        )
        if "audio_start" in out.meta:
            out.meta["audio_start"] = float(out.meta["audio_start"]) + first / self.fps
        return out

    def resample(self, fps: float) -> Motion:
        """The motion at another frame rate, over the same time span (frame 0 stays at time 0).

        When ``self.fps / fps`` is an integer (60 -> 30) this is exact decimation: every k-th frame.
        Otherwise new frame ``i`` at time ``i / fps`` is interpolated: positions and root linearly,
        rotations by quaternion slerp. The last new frame is the last one at or before the old end.
        """
        fps = float(fps)
        if not np.isfinite(fps) or fps <= 0:
            raise ChoreoError(f"target frame rate must be positive, got {fps}", self.meta.get("source"))
        ratio = self.fps / fps
        if abs(ratio - round(ratio)) < 1e-9 and round(ratio) >= 1:
            k = int(round(ratio))
            out = self.copy(
                positions=None if self.positions is None else self.positions[::k],
                rotations=None if self.rotations is None else self.rotations[::k],
                root=None if self.root is None else self.root[::k],
            )
            out.fps = fps
            return out
        n_new = int(np.floor((self.n_frames - 1) / ratio + 1e-9)) + 1
        t = np.arange(n_new) * ratio  # positions in old-frame units
        i0 = np.minimum(np.floor(t).astype(np.int64), self.n_frames - 1)
        i1 = np.minimum(i0 + 1, self.n_frames - 1)
        w = (t - i0)[:, None, None]

        def lerp(a):
            if a is None:
                return None
            a = np.asarray(a, dtype=np.float64)
            ww = w if a.ndim == 3 else w[:, :, 0]
            return (1.0 - ww) * a[i0] + ww * a[i1]

        rotations = None
        if self.rotations is not None:
            import torch

            from choreo.motion.rotations import quat_slerp

            q = torch.from_numpy(np.asarray(self.rotations, dtype=np.float64))
            rotations = quat_slerp(q[i0], q[i1], torch.from_numpy(w)).numpy()
        out = self.copy(positions=lerp(self.positions), rotations=rotations, root=lerp(self.root))
        out.fps = fps
        return out

    # --- contacts and mirroring -----------------------------------------------------------------------

    def foot_contacts(self, threshold: float | None = None) -> np.ndarray:
        """(T, 4) bool: which of (left ankle, left toe, right ankle, right toe) is on the ground.

        A foot joint is in contact when its speed is below ``threshold`` metres per second (default
        0.3 m/s, EDGE's 0.01 m per frame at 30 fps). The speed at frame t is |p[t+1] - p[t]| * fps; the
        last frame repeats the one before. Joints the skeleton lacks (index -1) are never in contact.
        """
        thr = 0.3 if threshold is None else float(threshold)
        P = self.joint_positions()
        out = np.zeros((self.n_frames, 4), dtype=bool)
        feet = [int(f) for f in self.skeleton.feet]
        idx = [f for f in feet if f >= 0]
        if not idx:
            return out
        if self.n_frames < 2:
            out[:, [i for i, f in enumerate(feet) if f >= 0]] = True
            return out
        v = np.linalg.norm(np.diff(P[:, idx], axis=0), axis=-1) * self.fps
        v = np.concatenate([v, v[-1:]], axis=0)
        out[:, [i for i, f in enumerate(feet) if f >= 0]] = v < thr
        return out

    def grounded(self, percentile: float = 5.0) -> Motion:
        """The same motion moved vertically so that it stands on the floor (height 0).

        The floor is taken as the ``percentile`` of the per-frame lowest joint's height: capture setups put the
        ground at different heights (in Dance with Melody the files' lowest joints sit between -0.03 and 0.40 m),
        and a low percentile rather than the minimum keeps a glitch frame or a dip from deciding it. Positions and
        the root trajectory move alike; rotations do not change.
        """
        if not 0.0 <= percentile <= 100.0:
            raise ChoreoError(f"the floor percentile is 0..100, got {percentile}", self.meta.get("source"))
        floor = float(np.percentile(self.joint_positions()[..., 1].min(axis=1), percentile))
        positions = None if self.positions is None else np.asarray(self.positions).copy()
        root = None if self.root is None else np.asarray(self.root).copy()
        for a in (positions, root):
            if a is not None:
                a[..., 1] -= floor
        return self.copy(positions=positions, root=root)

    def mirror(self) -> Motion:
        """The left/right mirror image: joints swapped by ``skeleton.mirror_pairs`` and x negated.

        Positions are reflected exactly. Rotations are reflected as ``M R M`` with M = diag(-1, 1, 1)
        (quaternion (w, x, -y, -z)) after swapping the joints, so a rotation-based motion's FK
        positions are the mirror image up to the skeleton's own left/right asymmetry in its rest
        offsets. If the left/right swap does not map the tree onto itself, rotations cannot be
        mirrored and the result keeps positions only.
        """
        sk = self.skeleton
        perm = sk.mirror_map
        sign = np.ones(sk.dim)
        sign[0] = -1.0
        positions = None if self.positions is None else np.asarray(self.positions)[:, perm] * sign
        parents = sk.parents
        symmetric = all(
            (parents[perm[j]] == -1 and parents[j] == -1) or (parents[j] >= 0 and parents[perm[j]] == perm[parents[j]])
            for j in range(sk.n_joints)
        )
        if self.rotations is None:
            return self.copy(positions=positions, root=None if self.root is None else self.root * np.array([-1, 1, 1]))
        if not symmetric:
            return self.copy(positions=self.joint_positions()[:, perm] * sign, rotations=None, root=None)
        q = np.asarray(self.rotations)[:, perm] * np.array([1.0, 1.0, -1.0, -1.0])
        root = np.asarray(self.root) * np.array([-1.0, 1.0, 1.0])
        return self.copy(positions=positions, rotations=q, root=root)
