"""Physical plausibility scores: PFC (EDGE), foot sliding, jitter, freezing, floor height.

All take joint positions ``(N, T, J, 3)`` or ``(T, J, 3)`` in metres, **y-up**, at ``fps`` frames per second.

PFC (EDGE ``eval/eval_pfc.py`` ``calc_physical_score``), :func:`pfc`:

* The clip is brought to EDGE's convention: 30 fps and z-up. When ``fps`` is a multiple of 30 it is decimated
  exactly (``[::fps // 30]``, 60 fps -> ``[::2]``, as EDGE's dataset loader does); otherwise the positions are
  linearly resampled to 30 fps. The axes map ``(x, y, z) -> (x, -z, y)`` (EDGE's +90 degree rotation about x).
* ``DT = 1/30``; root acceleration = second difference of the root / DT^2; its up (z) component is clamped at
  >= 0, its norm is divided by **its own maximum over the clip**.
* Foot speed = horizontal displacement per frame ``|feet[t+1] - feet[t]|_xy`` for t = 1..T-2 (not divided by
  DT); feet = (left ankle, left toe, right ankle, right toe).
* score = mean_t( min(left ankle, left toe) * min(right ankle, right toe) * root_acc ) and **PFC = score x 10^4**
  per clip (EDGE prints the mean over clips x 10^4; the set value is the mean of the per-clip values).
  A clip whose root never accelerates gives 0/0 = NaN, as in the reference.

Foot sliding (:func:`foot_sliding`): mean horizontal speed (m/s) of the foot joints over the frames where they
are in contact. Jitter (:func:`jitter`): mean magnitude of the third finite difference (jerk, m/s^3) over
frames and joints. Freezing (:func:`freezing`): mean squared joint speed of the last fifth of the clip divided
by that of the first fifth (near 0 when a long dance dies out, ~1 when it keeps its energy). Floor height
(:func:`floor_height`): median over frames of the lowest joint's height (m) above the floor plane (height 0):
a dancer who floats, or sinks, shows here and in none of the others, which look at motion, not at height.
"""

from __future__ import annotations

import numpy as np

from choreo.metrics._vec import norm_last

#: EDGE's PFC frame rate and time step.
PFC_FPS = 30.0
#: EDGE's foot joints on SMPL-24: left ankle, left toe, right ankle, right toe.
SMPL_FEET = (7, 10, 8, 11)


def _batch(positions: np.ndarray) -> tuple[np.ndarray, bool]:
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim == 3:
        return p[None], True
    if p.ndim != 4 or p.shape[-1] != 3:
        raise ValueError(f"positions must be (N, T, J, 3) or (T, J, 3), got {p.shape}")
    return p, False


def resample_linear(positions: np.ndarray, fps: float, target_fps: float) -> np.ndarray:
    """Linear interpolation along time (axis -3) from ``fps`` to ``target_fps``; frame 0 is kept.

    Positions only (rotations need slerp: use ``Motion.resample`` for whole motions).
    """
    p = np.asarray(positions, dtype=np.float64)
    T = p.shape[-3]
    n_out = int(np.floor((T - 1) * target_fps / fps + 1e-9)) + 1
    t = np.arange(n_out) * (fps / target_fps)
    i0 = np.minimum(np.floor(t).astype(np.int64), T - 1)
    i1 = np.minimum(i0 + 1, T - 1)
    w = (t - i0)[:, None, None]
    return p[..., i0, :, :] * (1.0 - w) + p[..., i1, :, :] * w


def to_edge_pfc_frame(positions: np.ndarray, fps: float) -> np.ndarray:
    """(…, T, J, 3) y-up at ``fps`` -> EDGE's PFC input: 30 fps, z-up, ``(x, y, z) -> (x, -z, y)``."""
    p = np.asarray(positions, dtype=np.float64)
    ratio = fps / PFC_FPS
    if abs(ratio - round(ratio)) < 1e-9 and round(ratio) >= 1:
        p = p[..., :: int(round(ratio)), :, :]
    else:
        p = resample_linear(p, fps, PFC_FPS)
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


def pfc_zup(joints_zup: np.ndarray, feet: tuple[int, int, int, int] = SMPL_FEET) -> np.ndarray:
    """EDGE's per-clip physical foot contact score x 10^4 on 30 fps, z-up positions (N, T, J, 3) -> (N,)."""
    j = np.asarray(joints_zup, dtype=np.float64)
    dt = 1.0 / PFC_FPS
    root_v = (j[:, 1:, 0, :] - j[:, :-1, 0, :]) / dt
    root_a = (root_v[:, 1:] - root_v[:, :-1]) / dt
    root_a[..., 2] = np.maximum(root_a[..., 2], 0)
    root_a = norm_last(root_a)
    with np.errstate(invalid="ignore", divide="ignore"):
        root_a = root_a / root_a.max(axis=1, keepdims=True)
    f = j[:, :, list(feet), :2]
    foot_v = norm_last(f[:, 2:] - f[:, 1:-1])  # (N, T-2, 4)
    left = np.minimum(foot_v[..., 0], foot_v[..., 1])
    right = np.minimum(foot_v[..., 2], foot_v[..., 3])
    return (left * right * root_a).mean(axis=1) * 10000.0


def pfc(positions: np.ndarray, fps: float = 60.0, feet: tuple[int, int, int, int] = SMPL_FEET) -> np.ndarray | float:
    """EDGE's PFC of each clip (x 10^4), from y-up positions at ``fps``.

    Args:
        positions: (N, T, J, 3) or (T, J, 3), metres, y-up; at least 4 frames after conversion to 30 fps.
        fps: frame rate of ``positions``.
        feet: (left ankle, left toe, right ankle, right toe) joint indices (``Skeleton.feet``).

    Returns:
        (N,) per-clip PFC, or a float for one clip. Average them for a set value.
    """
    p, single = _batch(positions)
    if min(feet) < 0:
        raise ValueError(f"PFC needs both ankles and toes; got feet {feet}")
    z = to_edge_pfc_frame(p, fps)
    if z.shape[1] < 4:
        raise ValueError(f"PFC needs at least 4 frames at 30 fps, got {z.shape[1]}")
    out = pfc_zup(z, feet)
    return float(out[0]) if single else out


def foot_sliding(
    positions: np.ndarray,
    contacts: np.ndarray,
    fps: float,
    feet: tuple[int, int, int, int] = SMPL_FEET,
    up_axis: int = 1,
) -> np.ndarray | float:
    """Mean horizontal speed (m/s) of the foot joints while they are in contact.

    Args:
        positions: (N, T, J, 3) or (T, J, 3), metres.
        contacts: (N, T, 4) or (T, 4) bool, per foot joint in ``feet`` order (``Motion.foot_contacts``).
            The displacement from frame t to t+1 counts when the joint is in contact at both frames.
        fps: frame rate.
        feet: the 4 foot joint indices; entries of -1 are skipped.

    Returns:
        (N,) or a float; 0 where no foot is ever in contact.
    """
    p, single = _batch(positions)
    c = np.asarray(contacts, dtype=bool)
    if c.ndim == 2:
        c = c[None]
    if c.shape != (p.shape[0], p.shape[1], 4):
        raise ValueError(f"contacts must be (N, T, 4) matching positions {p.shape}, got {c.shape}")
    use = [k for k, j in enumerate(feet) if j >= 0]
    flat = [a for a in range(3) if a != up_axis]
    f = p[:, :, [feet[k] for k in use]][..., flat]
    speed = norm_last(f[:, 1:] - f[:, :-1]) * fps  # (N, T-1, F)
    both = c[:, 1:, use] & c[:, :-1, use]
    total = np.sum(speed * both, axis=(1, 2))
    count = np.sum(both, axis=(1, 2))
    out = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    return float(out[0]) if single else out


def jitter(positions: np.ndarray, fps: float) -> np.ndarray | float:
    """Mean jerk magnitude (m/s^3): |third difference| * fps^3, averaged over frames and joints. (N,) or float."""
    p, single = _batch(positions)
    if p.shape[1] < 4:
        raise ValueError(f"jitter needs at least 4 frames, got {p.shape[1]}")
    # third difference p[t+3] - 3 p[t+2] + 3 p[t+1] - p[t], with two temporaries instead of np.diff's three passes
    jerk = p[:, 3:] - p[:, :-3]
    mid = p[:, 1:-2] - p[:, 2:-1]
    mid *= 3.0
    jerk += mid
    jerk *= fps**3
    out = norm_last(jerk).mean(axis=(1, 2))
    return float(out[0]) if single else out


def floor_height(positions: np.ndarray, up_axis: int = 1) -> np.ndarray | float:
    """Median over frames of the lowest joint's height (m) above height 0. (N,) or float.

    It reads the joints as they are (a skeleton without toes stands on its ankles, a few centimetres up); compare
    it with real dances of the same skeleton. It does not depend on the frame rate.
    """
    p, single = _batch(positions)
    if p.shape[1] < 1:
        raise ValueError("floor height needs at least one frame")
    out = np.median(p[..., up_axis].min(axis=2), axis=1)
    return float(out[0]) if single else out


def freezing(positions: np.ndarray, fps: float) -> np.ndarray | float:
    """Motion energy (mean squared joint speed) of the last fifth over the first fifth. (N,) or float.

    NaN when the first fifth does not move at all; needs at least 10 frames.
    """
    p, single = _batch(positions)
    T = p.shape[1]
    if T < 10:
        raise ValueError(f"freezing needs at least 10 frames, got {T}")
    v = p[:, 1:] - p[:, :-1]
    v *= fps
    speed2 = (norm_last(v) ** 2).mean(axis=-1)  # (N, T-1)
    k = max(1, (T - 1) // 5)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = speed2[:, -k:].mean(axis=1) / speed2[:, :k].mean(axis=1)
    return float(out[0]) if single else out
