"""Standing a dance on the floor (height 0) where its feet say it stands, frame by frame.

A generated dance has no floor of its own: a model trained on captures whose floors sit at different heights
(Dance with Melody: -0.03 to 0.40 m) floats or sinks by a few centimetres to a few decimetres, and by a different
amount in each part of a song. One global shift cannot fix that and would sink a jump with the rest. Here the feet
decide: on every frame where a foot is planted, the dance is moved vertically so that the planted foot stands on
the floor; between planted frames (a jump, a lift, a turn on the toes) the height correction is interpolated from
the planted frames around it, so the dance keeps its own height above the floor there. A short moving average
keeps the correction from stepping when the weight moves from one foot to the other. Last, frames where a joint
would still be under the floor by more than ``tolerance`` are lifted (smoothly) by as much.

Pure functions on (T, J, 3) metres, y-up; the motion's own contacts (a model's prediction in
``meta["contacts"]``, else :meth:`~choreo.motion.motion.Motion.foot_contacts`) say which foot is planted.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from choreo.motion.cleanup import fade_near
from choreo.motion.motion import Motion

#: contacts that plant a foot on fewer frames than this share are not trusted (real dances: most frames)
MIN_PLANTED = 0.2


def planted_clearance(heights: np.ndarray, contacts: np.ndarray, feet: tuple[int, int, int, int]) -> np.ndarray:
    """(4,) the height above the floor of each foot joint (left ankle, left toe, right ankle, right toe) when its
    foot is flat on the floor, in metres: 0 for a toe; for an ankle, its median height above the toe of the same
    foot over the frames where both are planted (0 when they never are, or when one joint stands for the foot).

    Args:
        heights: (T, J) joint heights (y, metres).
        contacts: (T, 4) bool, which of the four foot joints is planted.
        feet: the skeleton's (left ankle, left toe, right ankle, right toe) joint indices (-1: none).
    """
    out = np.zeros(4)
    for ankle_k, toe_k in ((0, 1), (2, 3)):
        ankle, toe = feet[ankle_k], feet[toe_k]
        if ankle < 0 or toe < 0 or toe == ankle:
            continue
        both = contacts[:, ankle_k] & contacts[:, toe_k]
        if both.any():
            out[ankle_k] = float(np.clip(np.median(heights[both, ankle] - heights[both, toe]), 0.0, 0.25))
    return out


def support_height(heights: np.ndarray, contacts: np.ndarray, feet: tuple[int, int, int, int]) -> np.ndarray:
    """(T,) how far above the floor the planted feet stand on each frame (metres; NaN on frames with no foot
    planted): the lowest planted foot joint's height minus its :func:`planted_clearance`."""
    clearance = planted_clearance(heights, contacts, feet)
    T = len(heights)
    level = np.full((T, 4), np.inf)
    for k, j in enumerate(feet):
        if j >= 0:
            level[:, k] = np.where(contacts[:, k], heights[:, j] - clearance[k], np.inf)
    low = level.min(axis=1)
    return np.where(np.isfinite(low), low, np.nan)


def _interpolate(values: np.ndarray) -> np.ndarray:
    """NaN frames filled linearly from the defined frames around them (held at the ends)."""
    ok = np.isfinite(values)
    t = np.arange(len(values))
    return np.interp(t, t[ok], values[ok])


def floor_offset(
    heights: np.ndarray,
    contacts: np.ndarray,
    feet: tuple[int, int, int, int],
    fps: float,
    smooth_seconds: float = 0.24,
    tolerance: float = 0.01,
) -> np.ndarray:
    """(T,) the height in metres to subtract from every joint of each frame so that the dance stands on the floor
    where its feet are planted (see the module docstring). Frames with no planted foot take the correction of
    the planted frames around them; a dance with no planted frame at all takes one shift, the 5th percentile of
    its lowest joint (as :meth:`Motion.grounded`).

    Args:
        heights: (T, J) joint heights (y, metres, y-up).
        contacts: (T, 4) bool, which of (left ankle, left toe, right ankle, right toe) is planted.
        feet: the skeleton's indices of those four joints (-1: none).
        fps: frames per second (for ``smooth_seconds``).
        smooth_seconds: length of the moving average over the correction.
        tolerance: a joint may stay this far under the floor (metres) before the frame is lifted.
    """
    support = support_height(heights, contacts, feet)
    if np.isfinite(support).any():
        offset = uniform_filter1d(_interpolate(support), max(1, int(round(smooth_seconds * fps))), mode="nearest")
    else:
        offset = np.full(len(heights), float(np.percentile(heights.min(axis=1), 5.0)))
    below = -(heights.min(axis=1) - offset)  # how far the lowest joint is under the floor after the correction
    lift = np.where(below > tolerance, below, 0.0)
    if lift.any():
        frames = max(1, int(round(smooth_seconds * fps)))
        # a running max twice as wide as the average: every lifted frame keeps its whole lift after smoothing
        lift = uniform_filter1d(maximum_filter1d(lift, 2 * frames + 1, mode="nearest"), frames, mode="nearest")
    return offset - lift


def stand_on_floor(
    motion: Motion,
    contacts: np.ndarray | None = None,
    keep: np.ndarray | None = None,
    smooth_seconds: float = 0.24,
    tolerance: float = 0.01,
) -> Motion:
    """The dance moved vertically, frame by frame, so that its planted feet stand on the floor (y = 0).

    Args:
        motion: a 3D motion (positions, or root + rotations: the root moves).
        contacts: (T, 4) bool for (left ankle, left toe, right ankle, right toe); default ``meta["contacts"]`` (the
            model's prediction), else the feet's speed (:meth:`Motion.foot_contacts`); speed decides too when the
            given contacts plant a foot on fewer than :data:`MIN_PLANTED` of the frames (a model that barely
            predicts contacts, as the packaged Dance Revolution: under 1 %).
        keep: optional (T,) bool, frames that must not move (frames an edit holds); the correction fades out
            towards them over ``smooth_seconds``.
        smooth_seconds, tolerance: see :func:`floor_offset`.

    Returns:
        a new Motion; ``meta["floor"]`` records the mean and largest correction (metres). 2D motions and motions
        whose skeleton names no feet come back unchanged.
    """
    sk = motion.skeleton
    feet = tuple(int(f) for f in sk.feet)
    if sk.dim != 3 or all(f < 0 for f in feet) or motion.n_frames == 0:
        return motion
    heights = motion.joint_positions()[..., 1].astype(np.float64)
    if contacts is None:
        contacts = motion.meta.get("contacts")
    c = None if contacts is None else np.asarray(contacts, dtype=bool)
    if c is None or c.shape != (motion.n_frames, 4) or c.any(axis=1).mean() < MIN_PLANTED:
        c = motion.foot_contacts()
    offset = floor_offset(heights, c, feet, motion.fps, smooth_seconds, tolerance)
    if keep is not None and np.asarray(keep, bool).any():
        frames = max(1, int(round(smooth_seconds * motion.fps)))
        offset = offset * (1.0 - fade_near(np.asarray(keep, bool), frames))
    positions = None if motion.positions is None else np.array(motion.positions, copy=True)
    root = None if motion.root is None else np.array(motion.root, copy=True)
    if positions is not None:
        positions[..., 1] -= offset[:, None].astype(positions.dtype)
    if root is not None:
        root[..., 1] -= offset.astype(root.dtype)
    out = motion.copy(positions=positions, root=root)
    out.meta["floor"] = {
        "mean_shift": round(float(offset.mean()), 4),
        "max_shift": round(float(np.abs(offset).max()), 4),
    }
    return out
