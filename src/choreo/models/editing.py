"""Editing by inpainting: which entries of the model tensor are fixed to a reference motion.

An :class:`Edit` says "from output frame a to b, these joints follow that motion". Several edits
combine (continue from a seed, in-between two motions, keep the upper body of a reference...).
:func:`build_constraint` turns them into a reference tensor and a mask over the representation's
channels (joint -> channels through ``representation.joint_channels``, so every representation is
handled the same way); the sampler then re-imposes the reference after every denoising step.

With a ``+rootvel`` representation the root's horizontal channels are per-frame displacements: an edit
then fixes the root's path (its shape and height), not where on the floor it lies, since the dance's
root is integrated from its own first frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from choreo.errors import ChoreoError
from choreo.motion.motion import Motion


@dataclass
class Edit:
    """Keep part of a reference motion in the generated dance.

    Attributes:
        motion: the reference (any fps: it is resampled to the model's).
        frames: ``(a, b)`` output frames (model fps, b exclusive, ``None`` for "to the end") to
            constrain; default: every frame the reference covers.
        joints: ``"all"`` (every channel, contacts included), ``"upper"``, ``"lower"``, or joint names /
            indices of the representation's skeleton.
        offset: output frame where the reference's first frame sits (0: the reference starts with the
            dance; e.g. put the second motion of an in-betweening at the end).
    """

    motion: Motion
    frames: tuple[int, int | None] | None = None
    joints: str | Sequence[str | int] = "all"
    offset: int = 0


@dataclass
class Constraint:
    """Reference values and mask over a (L, C) model tensor.

    Attributes:
        known: (L, C) float32 reference, real units (the representation's encoding, not normalised).
        mask: (L, C) bool, True where the reference holds.
    """

    known: np.ndarray
    mask: np.ndarray


def joint_indices(joints: str | Sequence[str | int], skeleton) -> list[int] | None:
    """Resolve ``joints`` to indices on ``skeleton``; None means "all channels"."""
    if isinstance(joints, str):
        key = joints.strip().lower()
        if key == "all":
            return None
        if key == "upper":
            if not skeleton.upper_body:
                raise ChoreoError(f"skeleton {skeleton.name!r} does not say which joints are upper body")
            return sorted(skeleton.upper_body)
        if key == "lower":
            return sorted(skeleton.lower_body)
        joints = [j for j in key.split(",") if j]
    out: list[int] = []
    for j in joints:
        if isinstance(j, (int, np.integer)) or (isinstance(j, str) and j.strip().lstrip("-").isdigit()):
            idx = int(j)
            if not 0 <= idx < skeleton.n_joints:
                raise ChoreoError(
                    f"joint index {idx} is outside skeleton {skeleton.name!r} (0..{skeleton.n_joints - 1})"
                )
            out.append(idx)
        else:
            out.append(skeleton.index(str(j).strip()))
    if not out:
        raise ChoreoError("an edit needs at least one joint")
    return sorted(set(out))


def build_constraint(edits: Edit | Sequence[Edit], representation, fps: float, n_frames: int) -> Constraint:
    """The reference and mask that a list of edits imposes on an ``n_frames`` dance at ``fps``.

    Raises:
        ChoreoError: another skeleton than the model's, a frame range outside the dance or the reference.
    """
    if isinstance(edits, Edit):
        edits = [edits]
    C = representation.dim
    known = np.zeros((n_frames, C), np.float32)
    mask = np.zeros((n_frames, C), bool)
    skel = representation.skeleton
    for e in edits:
        ref = e.motion
        src = ref.meta.get("source")
        if not ref.skeleton.same_structure(skel):
            raise ChoreoError(
                f"the edit's motion uses skeleton {ref.skeleton.name!r} but the model dances on {skel.name!r}", src
            )
        if abs(ref.fps - fps) > 1e-6:
            ref = ref.resample(fps)
        enc = np.asarray(representation.encode(ref), np.float32)
        lo = e.offset
        a, b = (lo, lo + len(enc)) if e.frames is None else e.frames
        b = lo + len(enc) if b is None else b
        a, b = max(int(a), 0), min(int(b), n_frames)
        if a >= b:
            raise ChoreoError(f"edit frames {e.frames} select nothing in a dance of {n_frames} frames", src)
        if a < lo or b > lo + len(enc):
            raise ChoreoError(
                f"edit frames {a}:{b} reach outside the reference motion (it covers frames {lo}:{lo + len(enc)} "
                f"at {fps:g} fps)",
                src,
            )
        idx = joint_indices(e.joints, skel)
        chans = np.arange(C) if idx is None else np.asarray(representation.joint_channels(idx), np.int64)
        known[a:b, chans] = enc[a - lo : b - lo][:, chans]
        mask[a:b, chans] = True
        if a == lo:
            # the reference does not know how its root moved into its first frame (encoded as 0): leave that
            # displacement free rather than forcing a stop there
            mask[a, list(representation.root_velocity_channels)] = False
    return Constraint(known, mask)
