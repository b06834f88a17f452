"""Foot-skate cleanup: pin feet to the floor while they are in contact.

Generated dances (EDGE's included) let planted feet drift a few centimetres; animators fix this with
"foot locking". :func:`lock_feet` does it for position-based motions. During each contact of a foot joint
(ankle or toe), that joint is held at the contact's mean horizontal position, so a heel-raised pivot keeps
the toe still. The joints below the ankle move with it; a foot joint that is not planted follows its
partner's correction; the knee follows the ankle half-way, so the shin keeps most of its length. The
correction fades in and out linearly over ``blend_seconds`` around each contact, so nothing jumps.
Heights are never changed.
"""

from __future__ import annotations

import numpy as np

from choreo.motion.motion import Motion

__all__ = ["lock_feet", "contact_segments"]


def contact_segments(on: np.ndarray, min_frames: int = 1) -> list[tuple[int, int]]:
    """``[(a, b), ...]``: runs of True in a (T,) bool array, b exclusive, at least ``min_frames`` long."""
    on = np.asarray(on, dtype=bool)
    edges = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
    starts, stops = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True) if b - a >= min_frames]


def _descendants(parents: np.ndarray, j: int) -> list[int]:
    out, frontier = [j], [j]
    while frontier:
        frontier = [int(c) for p in frontier for c in np.nonzero(parents == p)[0]]
        out += frontier
    return out


def _fade(weight_at: np.ndarray, blend: int) -> np.ndarray:
    """(T,) weights: 1 inside the True frames, falling linearly to 0 over ``blend`` frames outside them."""
    T = len(weight_at)
    if not weight_at.any():
        return np.zeros(T)
    idx = np.nonzero(weight_at)[0]
    # distance of every frame to the nearest True frame
    pos = np.searchsorted(idx, np.arange(T))
    left = np.abs(np.arange(T) - idx[np.clip(pos - 1, 0, len(idx) - 1)])
    right = np.abs(idx[np.clip(pos, 0, len(idx) - 1)] - np.arange(T))
    dist = np.minimum(left, right)
    return np.clip(1.0 - dist / (blend + 1), 0.0, 1.0)


def lock_feet(
    motion: Motion,
    contacts: np.ndarray | None = None,
    blend_seconds: float = 0.2,
    min_seconds: float = 0.08,
    keep: np.ndarray | None = None,
) -> Motion:
    """Hold feet still on the floor while they are in contact.

    Args:
        motion: a 3D motion with joint ``positions`` (metres, y-up). Motions given by rotations are
            returned unchanged (locking them needs IK on the rotations; not done here).
        contacts: (T, 4) bool for (left ankle, left toe, right ankle, right toe); default
            ``motion.meta["contacts"]`` (what a model predicted), else ``motion.foot_contacts()``. A foot
            is planted while its ankle (toe) is pinned while the ankle (toe) is in contact.
        blend_seconds: the correction fades in and out over this long around each contact.
        min_seconds: shorter contacts are left alone.
        keep: optional (T,) bool, frames that must not change (e.g. frames an edit constrains); the
            correction fades out towards them.

    Returns:
        a new Motion with corrected positions (``meta["foot_lock"]`` records the settings).
    """
    if motion.positions is None or motion.skeleton.dim != 3:
        return motion
    T = motion.n_frames
    sk = motion.skeleton
    if contacts is None:
        contacts = motion.meta.get("contacts")
    if contacts is None:
        contacts = motion.foot_contacts()
    c = np.asarray(contacts, dtype=bool)
    if c.shape != (T, 4):
        raise ValueError(f"contacts must be ({T}, 4), got {c.shape}")
    blend = max(1, int(round(blend_seconds * motion.fps)))
    min_frames = max(1, int(round(min_seconds * motion.fps)))
    freeze_weight = np.ones(T) if keep is None else 1.0 - _fade(np.asarray(keep, dtype=bool), blend)

    P = np.array(motion.positions, dtype=np.float64, copy=True)
    flat = [0, 2]

    def pinned(on: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Joint j's own correction (T, 2) while ``on`` (T,), faded, and its fade weight (T,)."""
        segments = contact_segments(on, min_frames)
        if not segments:
            return np.zeros((T, 2)), np.zeros(T)
        offset = np.zeros((T, 2))
        inside = np.zeros(T, dtype=bool)
        for a, b in segments:
            xz = P[a:b, j][:, flat]
            offset[a:b] = xz.mean(axis=0) - xz
            inside[a:b] = True
        # outside the segments: carry the nearest segment edge's offset, faded to 0 over `blend` frames
        idx = np.nonzero(inside)[0]
        t = np.arange(T)
        pos = np.searchsorted(idx, t)
        after, before = idx[np.clip(pos, 0, len(idx) - 1)], idx[np.clip(pos - 1, 0, len(idx) - 1)]
        pick = np.where(np.abs(t - before) <= np.abs(after - t), before, after)
        weight = _fade(inside, blend) * freeze_weight
        return np.where(inside[:, None], offset, offset[pick]) * weight[:, None], weight

    for ankle_k, toe_k in ((0, 1), (2, 3)):
        ankle, toe = sk.feet[ankle_k], sk.feet[toe_k]
        if ankle < 0:
            continue
        a_on = c[:, ankle_k]
        if toe == ankle:  # one joint stands for the whole foot (a coarse skeleton)
            a_on, toe = a_on | c[:, toe_k], -1
        a_off, a_w = pinned(a_on, ankle)
        t_off, t_w = (np.zeros((T, 2)), np.zeros(T)) if toe < 0 else pinned(c[:, toe_k], toe)
        # the foot is rigid-ish: a joint that is not planted follows the other one's correction
        ankle_off = a_off + (1.0 - a_w)[:, None] * t_off
        toe_off = t_off + (1.0 - t_w)[:, None] * a_off
        toe_part = set(_descendants(sk.parents, toe)) if toe >= 0 else set()
        for j in _descendants(sk.parents, ankle):
            P[:, j, flat] += toe_off if j in toe_part else ankle_off
        knee = int(sk.parents[ankle])
        if knee >= 0 and knee != sk.root:
            P[:, knee, flat] += 0.5 * ankle_off
    out = motion.copy(positions=P.astype(motion.positions.dtype, copy=False))
    out.meta["foot_lock"] = {"blend_seconds": blend_seconds, "min_seconds": min_seconds}
    return out
