"""Beat Align Score (BAS) in its two published forms, each under its own name.

* ``"bailando"`` (Bailando ``utils/beat_align_score.py``; the number papers since 2022 report as BAS):

  - motion beats (:func:`motion_beats_bailando`): the mean over joints of the per-frame displacement
    ``|p[t+1] - p[t]|`` (length T-1, not divided by dt), smoothed with ``scipy.ndimage.gaussian_filter``
    (sigma 5 frames, mode ``reflect``), then strict local minima (``argrelextrema(np.less)``, ends excluded);
  - music beats are frame indices at the motion's frame rate; only beats ``< T - 1`` are kept (the reference
    truncates its beat track to the length of the speed curve);
  - ``BAS = mean over music beats b of exp(-min_m (m - b)^2 / (2 * 3^2))``: every **music** beat is matched to
    its nearest motion beat, sigma = 3 frames. No motion beat gives 0; no music beat gives NaN.

* ``"fact"`` (AI Choreographer / FACT, ``mint/tools/calculate_beat_scores.py``):

  - motion beats (:func:`motion_beats_fact`): the *sum* over joints of the per-frame speed (frame 0 has
    speed 0), in float32, local minima with ``argrelextrema(np.less, order=10)`` at 60 fps (the order scales
    with the frame rate: ``round(fps / 6)``), no smoothing;
  - ``BAS = mean over motion beats m of exp(-min_b (b - m)^2 / (2 * 3^2))``: every **motion** beat is matched
    to its nearest music beat. No motion beat gives 0 (as in the reference); no music beat gives NaN.

Music beats in seconds convert to frames with :func:`beats_to_frames` (``round(seconds * fps)``).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from choreo.metrics._vec import norm_last

BAS_VARIANTS = ("bailando", "fact")
#: Gaussian width of the score, in frames (both variants).
BAS_SIGMA = 3.0
#: Gaussian smoothing of the speed curve for Bailando's motion beats, in frames.
BAILANDO_SMOOTHING = 5.0


def beats_to_frames(beat_seconds: np.ndarray, fps: float) -> np.ndarray:
    """Beat times in seconds -> integer frame indices at ``fps`` (rounded to the nearest frame, unique, sorted)."""
    t = np.asarray(beat_seconds, dtype=np.float64).reshape(-1)
    return np.unique(np.rint(t * fps).astype(np.int64))


def _batch(positions: np.ndarray) -> tuple[np.ndarray, bool]:
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim == 3:
        return p[None], True
    if p.ndim != 4:
        raise ValueError(f"positions must be (N, T, J, D) or (T, J, D), got {p.shape}")
    return p, False


def bailando_speed_curve(positions: np.ndarray) -> np.ndarray:
    """Gaussian-smoothed mean joint displacement per frame: (N, T-1) for (N, T, J, D) input, or (T-1,)."""
    p, single = _batch(positions)
    speed = np.mean(norm_last(p[:, 1:] - p[:, :-1]), axis=-1)
    smooth = gaussian_filter1d(speed, BAILANDO_SMOOTHING, axis=-1, mode="reflect")
    return smooth[0] if single else smooth


def _strict_minima(curve: np.ndarray, order: int = 1) -> list[np.ndarray]:
    """Indices of strict local minima of each row of (N, L) ``curve``.

    Same result as ``scipy.signal.argrelextrema(curve, np.less, axis=-1, order=order)``: frame i is a minimum
    when it is strictly below every frame within ``order`` of it, indices beyond the ends clipped to the end
    frame (so the end frames themselves never qualify).
    """
    n, L = curve.shape
    keep = np.ones((n, L), dtype=bool)
    idx = np.arange(L)
    for shift in range(1, order + 1):
        keep &= curve < curve[:, np.minimum(idx + shift, L - 1)]
        keep &= curve < curve[:, np.maximum(idx - shift, 0)]
    rows, cols = np.nonzero(keep)
    return np.split(cols.astype(np.int64), np.searchsorted(rows, np.arange(1, n)))


def motion_beats_bailando(positions: np.ndarray) -> list[np.ndarray] | np.ndarray:
    """Bailando motion beats (frame indices) for one clip (T, J, D) or a list for a batch (N, T, J, D)."""
    curve = bailando_speed_curve(positions)
    single = curve.ndim == 1
    beats = _strict_minima(np.atleast_2d(curve))
    return beats[0] if single else beats


def fact_order(fps: float) -> int:
    """argrelextrema order of FACT's motion-beat search: 10 frames at 60 fps, scaled with the frame rate."""
    return max(1, int(round(fps / 6.0)))


def motion_beats_fact(positions: np.ndarray, fps: float = 60.0) -> list[np.ndarray] | np.ndarray:
    """FACT motion beats (frame indices) for one clip (T, J, D) or a list for a batch (N, T, J, D)."""
    p, single = _batch(positions)
    vel = np.zeros(p.shape, dtype=np.float32)
    vel[:, 1:] = p[:, 1:] - p[:, :-1]
    envelope = np.sum(norm_last(vel), axis=-1)  # (N, T), float32 like the reference
    beats = _strict_minima(envelope, order=fact_order(fps))
    return beats[0] if single else beats


def _nearest_score(targets: np.ndarray, candidates: np.ndarray) -> float:
    """mean over targets of exp(-d^2 / (2 sigma^2)), d = distance to the nearest candidate (frames)."""
    if len(targets) == 0:
        return float("nan")
    if len(candidates) == 0:
        return 0.0
    d = np.min(np.abs(targets[:, None].astype(np.float64) - candidates[None, :]), axis=1)
    return float(np.mean(np.exp(-(d**2) / 2 / BAS_SIGMA**2)))


def bas_bailando(music_beats: np.ndarray, motion_beats: np.ndarray, n_frames: int | None = None) -> float:
    """Bailando BAS: each music beat (frames) scored against its nearest motion beat, averaged over music beats.

    Args:
        music_beats: music beat frame indices at the motion's frame rate.
        motion_beats: motion beat frame indices (:func:`motion_beats_bailando`).
        n_frames: the clip's frame count T; when given, only music beats < T - 1 count (the reference).
    """
    music = np.asarray(music_beats, dtype=np.int64).reshape(-1)
    if n_frames is not None:
        music = music[(music >= 0) & (music < n_frames - 1)]
    return _nearest_score(music, np.asarray(motion_beats, dtype=np.int64).reshape(-1))


def bas_fact(music_beats: np.ndarray, motion_beats: np.ndarray, n_frames: int | None = None) -> float:
    """FACT BAS: each motion beat scored against its nearest music beat, averaged over motion beats.

    No motion beat gives 0 (the reference's convention). With ``n_frames``, music beats outside [0, T) are
    dropped (FACT's beat track has one entry per frame).
    """
    music = np.asarray(music_beats, dtype=np.int64).reshape(-1)
    if n_frames is not None:
        music = music[(music >= 0) & (music < n_frames)]
    motion = np.asarray(motion_beats, dtype=np.int64).reshape(-1)
    if len(motion) == 0:
        return 0.0
    return _nearest_score(motion, music)


def beat_align_score(
    positions: np.ndarray, music_beat_frames: np.ndarray, fps: float = 60.0, variant: str = "bailando"
) -> float:
    """BAS of one clip: positions (T, J, D) at ``fps``, music beats as frame indices at ``fps``."""
    if variant == "bailando":
        return bas_bailando(music_beat_frames, motion_beats_bailando(positions), n_frames=len(positions))
    if variant == "fact":
        return bas_fact(music_beat_frames, motion_beats_fact(positions, fps), n_frames=len(positions))
    raise ValueError(f"unknown BAS variant {variant!r}; choose one of {BAS_VARIANTS}")
