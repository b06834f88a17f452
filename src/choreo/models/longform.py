"""Long dances from overlapping windows (EDGE's scheme), as pure array operations.

A song of L frames is covered by windows of W frames every H = W // 2 frames (EDGE: 5 s every
2.5 s), so consecutive windows share O = W - H frames. During sampling the shared frames of window
k + 1 are overwritten by window k's after every step (:func:`couple`), which makes the windows agree;
the final sample is stitched by cross-fading over the shared frames (:func:`stitch`). Lengths that are
not a whole number of hops are padded (features) and cropped (motion).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from choreo.errors import ChoreoError


@dataclass(frozen=True)
class WindowPlan:
    """Where the windows of a long sample lie.

    Attributes:
        frames: L, the requested length.
        window: W, frames per window.
        hop: H, frames between window starts.
        n_windows: N.
    """

    frames: int
    window: int
    hop: int
    n_windows: int

    @property
    def overlap(self) -> int:
        """O = W - H, frames shared by consecutive windows."""
        return self.window - self.hop

    @property
    def padded_frames(self) -> int:
        """Frames covered by all windows, >= L."""
        return (self.n_windows - 1) * self.hop + self.window

    def starts(self) -> list[int]:
        return [k * self.hop for k in range(self.n_windows)]


def plan_windows(frames: int, window: int, hop: int | None = None) -> WindowPlan:
    """Cover ``frames`` with the fewest windows of ``window`` frames every ``hop`` (default ``window // 2``)."""
    if frames < 1:
        raise ChoreoError(f"cannot make a dance of {frames} frames")
    if window < 2:
        raise ChoreoError(f"the window must have at least 2 frames, got {window}")
    hop = window // 2 if hop is None else int(hop)
    if not 0 < hop <= window:
        raise ChoreoError(f"window hop {hop} must be in 1..{window}")
    n = 1 if frames <= window else 1 + -(-(frames - window) // hop)
    return WindowPlan(int(frames), int(window), hop, n)


def pad_frames(x: np.ndarray, frames: int) -> np.ndarray:
    """Extend (T, F) to ``frames`` rows by mirroring the end (keeps feature statistics, unlike zeros)."""
    T = x.shape[0]
    if T >= frames:
        return x[:frames]
    if T == 1:
        return np.repeat(x, frames, axis=0)
    return np.pad(x, ((0, frames - T), (0, 0)), mode="symmetric")


def split_windows(x: torch.Tensor, plan: WindowPlan, first: int = 0, stop: int | None = None) -> torch.Tensor:
    """(padded_frames, F) -> windows ``first .. stop - 1`` (default all) as (n, W, F) (a copy)."""
    stop = plan.n_windows if stop is None else min(stop, plan.n_windows)
    span = x[first * plan.hop : (stop - 1) * plan.hop + plan.window]
    return span.unfold(0, plan.window, plan.hop).permute(0, 2, 1).contiguous()[: stop - first]


def couple(x: torch.Tensor, plan: WindowPlan) -> torch.Tensor:
    """In place: the first O frames of every window after the first become the last O of its predecessor."""
    if x.shape[0] > 1:
        x[1:, : plan.overlap] = x[:-1, plan.hop :].clone()
    return x


def crossfade_weights(overlap: int) -> np.ndarray:
    """(O,) weight of the later window over the shared frames: 0 to 1 inclusive (EDGE's ``linspace``).

    The ends are exact so that, when every frame lies in some overlap (hop = W / 2), consecutive
    cross-fades meet on a frame that comes from one window only: no step between them.
    """
    if overlap == 1:
        return np.array([0.5])
    return np.linspace(0.0, 1.0, overlap)


Blend = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def linear_blend(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``(1 - w) a + w b`` with w (O,) over the frame axis of (..., O, C) arrays."""
    return (1.0 - w)[:, None] * a + w[:, None] * b


def stitch(windows: np.ndarray, plan: WindowPlan, blend: Blend = linear_blend) -> np.ndarray:
    """Join (N, W, C) windows into (L, C): cross-fade the shared frames, then crop to the requested length.

    Args:
        blend: ``(earlier (N-1, O, C), later (N-1, O, C), weights (O,)) -> (N-1, O, C)``, all overlaps at
            once; linear by default (slerp for rotation channels is the caller's choice).
    """
    N, W, C = windows.shape
    H, O = plan.hop, plan.overlap
    out = np.empty((plan.padded_frames, C), dtype=windows.dtype)
    for k in range(N):
        out[k * H : k * H + W] = windows[k]
    if N > 1 and O > 0:
        mixed = blend(windows[:-1, H:], windows[1:, :O], crossfade_weights(O))
        for k in range(1, N):
            out[k * H : k * H + O] = mixed[k - 1]
    return out[: plan.frames]
