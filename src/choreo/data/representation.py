"""Motion <-> model tensor: the per-frame channel layouts models are trained on.

Every representation starts with the same 7 channels: 4 foot contacts (left ankle, left toe, right ankle,
right toe; 1 = on the ground, from foot speed as EDGE does) and the root position (metres, y-up). Then:

- ``smpl_rot6d`` (EDGE): every joint's local rotation as 6D (the first two columns of its matrix), in joint
  order: 7 + 6 J channels (151 for SMPL-24). Forward kinematics with the skeleton's rest offsets gives
  the joint positions.
- ``positions``: every non-root joint's position relative to the root (metres), in joint order:
  7 + 3 (J - 1) channels (73 for Dance with Melody's 23 joints). For skeletons known by positions only.

Either layout can carry the root's horizontal position as a per-frame velocity instead (name suffix
``+rootvel``, e.g. ``positions+rootvel``): channels 4 and 6 then hold the x and z displacement since the
previous frame (metres per frame; the first frame's value is ignored), channel 5 the height. Dances that
travel across a room (ballroom: +-9 m in Dance with Melody) then keep centimetre precision in the
normalised root channels, every window looks alike wherever it happens on the floor, and EDGE's window
coupling still works (it copies frames; displacements need no re-anchoring). Decoding integrates from
x = z = 0 at the first frame.

``joint_positions`` works on unnormalised torch tensors of any leading shape and is differentiable (it
is what geometric losses and metrics use); ``joint_channels`` says which channels carry which joints
(editing masks; the official EDGE code gets this mapping wrong).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from choreo.errors import ChoreoError
from choreo.motion.motion import Motion
from choreo.motion.skeleton import Skeleton

#: the names :func:`get_representation` knows.
REPRESENTATIONS = ("smpl_rot6d", "positions", "smpl_rot6d+rootvel", "positions+rootvel")
ROOT_VELOCITY_SUFFIX = "+rootvel"

N_CONTACTS = 4
CONTACTS = slice(0, 4)
ROOT = slice(4, 7)


class Representation:
    """Common part: contacts and root, the joint -> channel map, the motion checks.

    Attributes:
        name: registry name. dim: channels per frame (C). skeleton: the body.
        contact_channels: slice(0, 4). root_channels: slice(4, 7).
        contact_speed: foot speed (m/s) below which a foot joint counts as in contact.
    """

    name = ""
    contact_channels = CONTACTS
    root_channels = ROOT

    def __init__(self, skeleton: Skeleton, contact_speed: float = 0.3, root_velocity: bool = False):
        if skeleton.dim != 3:
            raise ChoreoError(f"representation {self.name!r} needs a 3D skeleton, {skeleton.name!r} is {skeleton.dim}D")
        self.skeleton = skeleton
        self.contact_speed = float(contact_speed)
        self.root_velocity = bool(root_velocity)
        if self.root_velocity:
            self.name = type(self).name + ROOT_VELOCITY_SUFFIX
        self.dim = 7

    def _encode_root(self, root: np.ndarray) -> np.ndarray:
        """(T, 3) world root (metres) -> the 3 root channels."""
        out = np.array(root, dtype=np.float64, copy=True)
        if self.root_velocity:
            out[1:, [0, 2]] = np.diff(root[:, [0, 2]], axis=0)
            out[0, [0, 2]] = 0.0
        return out

    def _root_from_channels(self, x: torch.Tensor) -> torch.Tensor:
        """(..., T, C) -> (..., T, 3) world root in metres (integrating displacements when needed)."""
        r = x[..., ROOT]
        if not self.root_velocity:
            return r
        xz = r[..., [0, 2]]
        xz = torch.cumsum(xz, dim=-2) - xz[..., :1, :]
        return torch.stack([xz[..., 0], r[..., 1], xz[..., 1]], dim=-1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.skeleton.name!r}, dim={self.dim})"

    def _joint_own_channels(self, j: int) -> list[int]:
        raise NotImplementedError

    def joint_channels(self, joints: Sequence[int]) -> list[int]:
        """Sorted channel indices that carry these joints.

        A joint's own channels (its rotation, or its root-relative position); for the root joint also
        the root position channels; for a foot joint its contact channel.
        """
        out: set[int] = set()
        J = self.skeleton.n_joints
        for j in joints:
            j = int(j)
            if not 0 <= j < J:
                raise ChoreoError(f"joint index {j} is out of range for skeleton {self.skeleton.name!r} ({J} joints)")
            if j == self.skeleton.root:
                out.update(range(ROOT.start, ROOT.stop))
            out.update(self._joint_own_channels(j))
            out.update(i for i, f in enumerate(self.skeleton.feet) if f == j)
        return sorted(out)

    def _check(self, motion: Motion) -> None:
        if not motion.skeleton.same_structure(self.skeleton):
            raise ChoreoError(
                f"motion skeleton {motion.skeleton.name!r} does not match the representation's {self.skeleton.name!r}",
                motion.meta.get("source"),
            )

    def _contacts(self, motion: Motion) -> np.ndarray:
        return motion.foot_contacts(self.contact_speed).astype(np.float32)

    def encode(self, motion: Motion) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, x: np.ndarray, fps: float) -> Motion:  # pragma: no cover - abstract
        raise NotImplementedError

    def joint_positions(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _as_frames(self, x) -> np.ndarray:
        x = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ChoreoError(f"{self.name} data must be (frames, {self.dim}), got {x.shape}")
        return x


class Rot6dRepresentation(Representation):
    """[4 contacts, 3 root, J x 6D local rotations] (EDGE's 151 for SMPL-24)."""

    name = "smpl_rot6d"

    def __init__(self, skeleton: Skeleton, contact_speed: float = 0.3, root_velocity: bool = False):
        super().__init__(skeleton, contact_speed, root_velocity)
        if skeleton.offsets is None:
            raise ChoreoError(f"{self.name} needs rest offsets; skeleton {skeleton.name!r} has none (use positions)")
        J = skeleton.n_joints
        self.dim = 7 + 6 * J
        self.rot6d_channels = slice(7, 7 + 6 * J)
        self._offsets = torch.as_tensor(skeleton.offsets)
        self._offsets_cache: dict = {}

    def _joint_own_channels(self, j: int) -> list[int]:
        return list(range(7 + 6 * j, 13 + 6 * j))

    def encode(self, motion: Motion) -> np.ndarray:
        """(T, 7 + 6J) float32 from a motion with rotations (at the model fps)."""
        from choreo.motion.rotations import matrix_to_rot6d, quat_to_matrix

        self._check(motion)
        if motion.rotations is None:
            raise ChoreoError(
                f"{self.name} needs joint rotations; this motion has positions only", motion.meta.get("source")
            )
        T = motion.n_frames
        rot = matrix_to_rot6d(quat_to_matrix(torch.from_numpy(np.asarray(motion.rotations, np.float64))))
        out = np.empty((T, self.dim), np.float32)
        out[:, CONTACTS] = self._contacts(motion)
        out[:, ROOT] = self._encode_root(motion.root)
        out[:, self.rot6d_channels] = rot.reshape(T, -1).numpy()
        return out

    def decode(self, x: np.ndarray, fps: float) -> Motion:
        """Rotations (quaternions, via Gram-Schmidt on the 6D) and root; contacts go to ``meta["contacts"]``."""
        from choreo.motion.rotations import matrix_to_quat, rot6d_to_matrix

        x = self._as_frames(x)
        T = len(x)
        mat = rot6d_to_matrix(torch.from_numpy(x[:, self.rot6d_channels].reshape(T, -1, 6)))
        return Motion(
            self.skeleton,
            fps,
            rotations=matrix_to_quat(mat).numpy(),
            root=self._root_from_channels(torch.from_numpy(x)).numpy(),
            meta={"contacts": x[:, CONTACTS] > 0.5},
        )

    def joint_positions(self, x: torch.Tensor) -> torch.Tensor:
        """(..., T, C) unnormalised -> (..., T, J, 3) metres by forward kinematics (differentiable)."""
        from choreo.motion.kinematics import forward_kinematics
        from choreo.motion.rotations import rot6d_to_matrix

        x = torch.as_tensor(x)
        key = (x.dtype, x.device)
        if key not in self._offsets_cache:
            self._offsets_cache[key] = self._offsets.to(dtype=x.dtype, device=x.device)
        rot = rot6d_to_matrix(x[..., self.rot6d_channels].reshape(*x.shape[:-1], self.skeleton.n_joints, 6))
        return forward_kinematics(rot, self._root_from_channels(x), self._offsets_cache[key], self.skeleton.parents)


class PositionsRepresentation(Representation):
    """[4 contacts, 3 root, (J - 1) x 3 root-relative joint positions] (skeletons known by positions)."""

    name = "positions"

    def __init__(self, skeleton: Skeleton, contact_speed: float = 0.3, root_velocity: bool = False):
        super().__init__(skeleton, contact_speed, root_velocity)
        self.others = [j for j in range(skeleton.n_joints) if j != skeleton.root]
        self._slot = {j: k for k, j in enumerate(self.others)}
        self.dim = 7 + 3 * len(self.others)

    def _joint_own_channels(self, j: int) -> list[int]:
        if j == self.skeleton.root:
            return []
        k = self._slot[j]
        return [7 + 3 * k, 8 + 3 * k, 9 + 3 * k]

    def encode(self, motion: Motion) -> np.ndarray:
        """(T, 7 + 3(J-1)) float32 (joint positions from the motion, FK if it has rotations)."""
        self._check(motion)
        p = motion.joint_positions()
        T = len(p)
        root = p[:, self.skeleton.root]
        out = np.empty((T, self.dim), np.float32)
        out[:, CONTACTS] = self._contacts(motion)
        out[:, ROOT] = self._encode_root(root)
        out[:, 7:] = (p[:, self.others] - root[:, None]).reshape(T, -1)
        return out

    def decode(self, x: np.ndarray, fps: float) -> Motion:
        """Joint positions; contacts go to ``meta["contacts"]``."""
        x = self._as_frames(x)
        pos = self.joint_positions(torch.from_numpy(x)).numpy()
        return Motion(self.skeleton, fps, positions=pos, meta={"contacts": x[:, CONTACTS] > 0.5})

    def joint_positions(self, x: torch.Tensor) -> torch.Tensor:
        """(..., T, C) unnormalised -> (..., T, J, 3) metres: root + root-relative offsets."""
        x = torch.as_tensor(x)
        root = self._root_from_channels(x)
        rel = x[..., 7:].reshape(*x.shape[:-1], len(self.others), 3) + root[..., None, :]
        parts = []
        r = self.skeleton.root
        # joints before the root, the root, joints after it (index order, no scatter: stays differentiable)
        if r > 0:
            parts.append(rel[..., :r, :])
        parts.append(root[..., None, :])
        if r < self.skeleton.n_joints - 1:
            parts.append(rel[..., r:, :])
        return torch.cat(parts, dim=-2)


def get_representation(name: str, skeleton: Skeleton, contact_speed: float = 0.3) -> Representation:
    """A representation by name (``smpl_rot6d`` / ``rot6d``, ``positions``, each optionally ``+rootvel``)."""
    base, vel = (name[: -len(ROOT_VELOCITY_SUFFIX)], True) if name.endswith(ROOT_VELOCITY_SUFFIX) else (name, False)
    if base in ("smpl_rot6d", "rot6d"):
        return Rot6dRepresentation(skeleton, contact_speed, root_velocity=vel)
    if base == "positions":
        return PositionsRepresentation(skeleton, contact_speed, root_velocity=vel)
    raise ChoreoError(f"unknown motion representation {name!r} (known: {', '.join(REPRESENTATIONS)})")


def auto_representation_name(motion: Motion) -> str:
    """``smpl_rot6d`` for motions with rotations on a skeleton with rest offsets, else ``positions``."""
    if motion.rotations is not None and motion.skeleton.offsets is not None:
        return "smpl_rot6d"
    return "positions"
