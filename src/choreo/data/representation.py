"""Motion <-> model tensor: the per-frame channel layouts models are trained on.

Every layout starts with a header: ``n_contacts`` foot-contact channels, then the root position. Then the
other joints, in joint order. The 3D layouts have 4 contacts (left ankle, left toe, right ankle, right toe;
1 = on the ground, from foot speed as EDGE does) and a 3-channel root (metres, y-up), so a 7-channel header:

- ``smpl_rot6d`` (EDGE): every joint's local rotation as 6D (the first two columns of its matrix), in joint
  order: 7 + 6 J channels (151 for SMPL-24). Forward kinematics with the skeleton's rest offsets gives
  the joint positions.
- ``positions``: every non-root joint's position relative to the root (metres), in joint order:
  7 + 3 (J - 1) channels (73 for Dance with Melody's 23 joints). For skeletons known by positions only.

The 2D layout is Dance Revolution's, for image-plane keypoints (OpenPose BODY_25):

- ``keypoints2d``: the root's (x, y) (channels 0-1, absolute), then every non-root joint's (x, y) relative
  to the root, in joint order: 2 J channels (50 for BODY_25, root = MidHip, joint 8). Units are the
  motion's (pixels for OpenPose, y up as in every choreo motion). No contact channels: a speed threshold
  in pixels means nothing without the camera's distance, so ``contact_channels`` is ``slice(0, 0)``.

Any layout can carry the root's horizontal position as a per-frame velocity instead (name suffix
``+rootvel``, e.g. ``positions+rootvel``): the root's x and z channels (3D; x only in 2D, where y is
the height on screen) then hold the displacement since the previous frame (units per frame; the first
frame's value is ignored), the height channel stays absolute. Dances that travel across a room
(ballroom: +-9 m in Dance with Melody) then keep centimetre precision in the normalised root channels,
every window looks alike wherever it happens on the floor, and EDGE's window coupling still works (it
copies frames; displacements need no re-anchoring). Decoding integrates from x = z = 0 at the first frame.
``root_velocity_channels`` lists those displacement channels.

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
REPRESENTATIONS = (
    "smpl_rot6d",
    "positions",
    "smpl_rot6d+rootvel",
    "positions+rootvel",
    "keypoints2d",
    "keypoints2d+rootvel",
)
ROOT_VELOCITY_SUFFIX = "+rootvel"

#: the 3D layouts' header (kept for callers that predate per-representation attributes; prefer
#: ``rep.contact_channels`` / ``rep.root_channels``, which are right for 2D too).
N_CONTACTS = 4
CONTACTS = slice(0, 4)
ROOT = slice(4, 7)


class Representation:
    """Common part: the header (contacts and root), the joint -> channel map, the motion checks.

    Subclasses set the class attributes ``name``, ``n_contacts`` and ``skeleton_dims`` and fill
    ``dim`` and their own joint channels after the header.

    Attributes:
        name: registry name (with ``+rootvel`` when ``root_velocity``). dim: channels per frame (C).
        skeleton: the body.
        n_contacts: foot-contact channels at the start of the frame (4 in 3D, 0 in 2D).
        root_dim: root position channels (the skeleton's dimension: 3 or 2).
        contact_channels: ``slice(0, n_contacts)``.
        root_channels: ``slice(n_contacts, n_contacts + root_dim)``.
        joints_start: first channel after the header (7 in 3D, 2 in 2D).
        horizontal_axes: the root axes that ``+rootvel`` turns into displacements ((0, 2) in 3D: x, z;
            (0,) in 2D: x).
        root_velocity: whether those axes are per-frame displacements.
        root_velocity_channels: the channels holding displacements (empty without ``root_velocity``).
        contact_speed: foot speed (m/s) below which a foot joint counts as in contact.
        units: ``meta["units"]`` given to decoded motions (None: choreo's metres, no entry).
    """

    name = ""
    #: foot-contact channels at the start of each frame.
    n_contacts = N_CONTACTS
    #: skeleton dimensions this layout accepts.
    skeleton_dims: tuple[int, ...] = (3,)
    units: str | None = None

    def __init__(self, skeleton: Skeleton, contact_speed: float = 0.3, root_velocity: bool = False):
        if skeleton.dim not in self.skeleton_dims:
            hint = "keypoints2d" if skeleton.dim == 2 else "positions or smpl_rot6d"
            want = " or ".join(f"{d}D" for d in self.skeleton_dims)
            raise ChoreoError(
                f"representation {self.name!r} needs a {want} skeleton, {skeleton.name!r} is {skeleton.dim}D "
                f"(use {hint})"
            )
        self.skeleton = skeleton
        self.contact_speed = float(contact_speed)
        self.root_velocity = bool(root_velocity)
        if self.root_velocity:
            self.name = type(self).name + ROOT_VELOCITY_SUFFIX
        self.root_dim = int(skeleton.dim)
        self.contact_channels = slice(0, self.n_contacts)
        self.root_channels = slice(self.n_contacts, self.n_contacts + self.root_dim)
        self.joints_start = self.root_channels.stop
        # y is up in every choreo motion, so the ground plane is x-z in 3D and the x axis on screen in 2D
        self.horizontal_axes: tuple[int, ...] = (0, 2) if self.root_dim == 3 else (0,)
        self.root_velocity_channels: tuple[int, ...] = (
            tuple(self.root_channels.start + a for a in self.horizontal_axes) if self.root_velocity else ()
        )
        self.dim = self.joints_start

    def _encode_root(self, root: np.ndarray) -> np.ndarray:
        """(T, root_dim) world root (metres or pixels) -> the root channels (T, root_dim) float64."""
        out = np.array(root, dtype=np.float64, copy=True)
        if self.root_velocity:
            ax = list(self.horizontal_axes)
            out[1:, ax] = np.diff(out[:, ax], axis=0)
            out[0, ax] = 0.0
        return out

    def _root_from_channels(self, x: torch.Tensor) -> torch.Tensor:
        """(..., T, C) -> (..., T, root_dim) world root (integrating displacements when needed)."""
        r = x[..., self.root_channels]
        if not self.root_velocity:
            return r
        cols = []
        for a in range(self.root_dim):
            c = r[..., a]
            if a in self.horizontal_axes:
                # frame 0's displacement is ignored, so any window decodes from 0 at its first frame
                c = torch.cumsum(c, dim=-1) - c[..., :1]
            cols.append(c)
        return torch.stack(cols, dim=-1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.skeleton.name!r}, dim={self.dim})"

    def _joint_own_channels(self, j: int) -> list[int]:
        raise NotImplementedError

    def joint_channels(self, joints: Sequence[int]) -> list[int]:
        """Sorted channel indices that carry these joints.

        A joint's own channels (its rotation, or its root-relative position); for the root joint also
        the root position channels; for a foot joint its contact channel (if the layout has contacts).
        """
        out: set[int] = set()
        J = self.skeleton.n_joints
        for j in joints:
            j = int(j)
            if not 0 <= j < J:
                raise ChoreoError(f"joint index {j} is out of range for skeleton {self.skeleton.name!r} ({J} joints)")
            if j == self.skeleton.root:
                out.update(range(self.root_channels.start, self.root_channels.stop))
            out.update(self._joint_own_channels(j))
            out.update(
                self.contact_channels.start + i
                for i, f in enumerate(self.skeleton.feet)
                if f == j and i < self.n_contacts
            )
        return sorted(out)

    def _check(self, motion: Motion) -> None:
        if not motion.skeleton.same_structure(self.skeleton) or motion.skeleton.dim != self.root_dim:
            raise ChoreoError(
                f"motion skeleton {motion.skeleton.name!r} ({motion.skeleton.dim}D) does not match the "
                f"representation's {self.skeleton.name!r} ({self.root_dim}D)",
                motion.meta.get("source"),
            )

    def _contacts(self, motion: Motion) -> np.ndarray:
        """(T, n_contacts) float32 0/1 foot contacts."""
        if self.n_contacts == 0:
            return np.zeros((motion.n_frames, 0), np.float32)
        return motion.foot_contacts(self.contact_speed)[:, : self.n_contacts].astype(np.float32)

    def _decoded_meta(self, x: np.ndarray) -> dict:
        """``meta`` of a decoded motion: contacts (T, n_contacts) bool when the layout has them, units."""
        meta: dict = {}
        if self.n_contacts:
            meta["contacts"] = x[:, self.contact_channels] > 0.5
        if self.units is not None:
            meta["units"] = self.units
        return meta

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
        h = self.joints_start
        self.dim = h + 6 * J
        self.rot6d_channels = slice(h, h + 6 * J)
        self._offsets = torch.as_tensor(skeleton.offsets)
        self._offsets_cache: dict = {}

    def _joint_own_channels(self, j: int) -> list[int]:
        h = self.joints_start
        return list(range(h + 6 * j, h + 6 * j + 6))

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
        out[:, self.contact_channels] = self._contacts(motion)
        out[:, self.root_channels] = self._encode_root(motion.root)
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
            meta=self._decoded_meta(x),
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
    """[4 contacts, 3 root, (J - 1) x 3 root-relative joint positions] (skeletons known by positions).

    The joint part is written for any dimension D = ``root_dim``: :class:`Keypoints2dRepresentation` is
    this layout with D = 2 and no contacts.
    """

    name = "positions"

    def __init__(self, skeleton: Skeleton, contact_speed: float = 0.3, root_velocity: bool = False):
        super().__init__(skeleton, contact_speed, root_velocity)
        self.others = [j for j in range(skeleton.n_joints) if j != skeleton.root]
        self._slot = {j: k for k, j in enumerate(self.others)}
        self.dim = self.joints_start + self.root_dim * len(self.others)

    def _joint_own_channels(self, j: int) -> list[int]:
        if j == self.skeleton.root:
            return []
        first = self.joints_start + self.root_dim * self._slot[j]
        return list(range(first, first + self.root_dim))

    def encode(self, motion: Motion) -> np.ndarray:
        """(T, C) float32 (joint positions from the motion, FK if it has rotations).

        C = 7 + 3 (J - 1) for ``positions``, 2 J for ``keypoints2d``; values in the motion's units.
        """
        self._check(motion)
        p = motion.joint_positions()
        T = len(p)
        root = p[:, self.skeleton.root]
        out = np.empty((T, self.dim), np.float32)
        out[:, self.contact_channels] = self._contacts(motion)
        out[:, self.root_channels] = self._encode_root(root)
        out[:, self.joints_start :] = (p[:, self.others] - root[:, None]).reshape(T, -1)
        return out

    def decode(self, x: np.ndarray, fps: float) -> Motion:
        """(T, C) -> joint positions (T, J, D); contacts (if any) go to ``meta["contacts"]``."""
        x = self._as_frames(x)
        pos = self.joint_positions(torch.from_numpy(x)).numpy()
        return Motion(self.skeleton, fps, positions=pos, meta=self._decoded_meta(x))

    def joint_positions(self, x: torch.Tensor) -> torch.Tensor:
        """(..., T, C) unnormalised -> (..., T, J, D): root + root-relative offsets (differentiable)."""
        x = torch.as_tensor(x)
        D = self.root_dim
        root = self._root_from_channels(x)
        rel = x[..., self.joints_start :].reshape(*x.shape[:-1], len(self.others), D) + root[..., None, :]
        parts = []
        r = self.skeleton.root
        # joints before the root, the root, joints after it (index order, no scatter: stays differentiable)
        if r > 0:
            parts.append(rel[..., :r, :])
        parts.append(root[..., None, :])
        if r < self.skeleton.n_joints - 1:
            parts.append(rel[..., r:, :])
        return torch.cat(parts, dim=-2)


class Keypoints2dRepresentation(PositionsRepresentation):
    """Dance Revolution's 2D layout: [root (x, y) absolute, (J - 1) x (x, y) root-relative] (50 for BODY_25).

    No contact channels (``contact_channels = slice(0, 0)``, ``root_channels = slice(0, 2)``). Values are
    in the motion's units (OpenPose: pixels, y up); decoded motions get ``meta["units"] = units``.
    ``contact_speed`` is accepted for a uniform signature and unused.
    """

    name = "keypoints2d"
    n_contacts = 0
    skeleton_dims = (2,)
    units: str | None = "pixels"

    def __init__(
        self,
        skeleton: Skeleton,
        contact_speed: float = 0.3,
        root_velocity: bool = False,
        units: str | None = "pixels",
    ):
        super().__init__(skeleton, contact_speed, root_velocity)
        # the checkpoint stores only the name and the skeleton, so units are a property of the layout
        # (every 2D reader gives pixels), not of the last encoded motion
        self.units = units


def get_representation(name: str, skeleton: Skeleton, contact_speed: float = 0.3) -> Representation:
    """A representation by name (``smpl_rot6d`` / ``rot6d``, ``positions``, ``keypoints2d``, each optionally
    ``+rootvel``).

    Raises:
        ChoreoError: unknown name, or a skeleton the layout cannot hold (2D for the 3D layouts and back).
    """
    base, vel = (name[: -len(ROOT_VELOCITY_SUFFIX)], True) if name.endswith(ROOT_VELOCITY_SUFFIX) else (name, False)
    if base in ("smpl_rot6d", "rot6d"):
        return Rot6dRepresentation(skeleton, contact_speed, root_velocity=vel)
    if base == "positions":
        return PositionsRepresentation(skeleton, contact_speed, root_velocity=vel)
    if base == "keypoints2d":
        return Keypoints2dRepresentation(skeleton, contact_speed, root_velocity=vel)
    raise ChoreoError(f"unknown motion representation {name!r} (known: {', '.join(REPRESENTATIONS)})")


def auto_representation_name(motion: Motion) -> str:
    """``keypoints2d`` for 2D motions; ``smpl_rot6d`` for motions with rotations on a skeleton with rest
    offsets; else ``positions``."""
    if motion.skeleton.dim == 2:
        return "keypoints2d"
    if motion.rotations is not None and motion.skeleton.offsets is not None:
        return "smpl_rot6d"
    return "positions"
