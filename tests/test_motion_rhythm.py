"""Song-independent rhythm descriptors of a dance (choreo.models.motion_rhythm), on motions with a known beat."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from choreo.models.motion_rhythm import N_DESCRIPTORS, motion_rhythm


def _swing(period: float, frames: int = 200, channels: int = 6) -> torch.Tensor:
    """(1, frames, channels): every channel swings as sin(2 pi t / period) with its own amplitude: the motion
    stops at each turning point, twice per period."""
    t = torch.arange(frames, dtype=torch.float64)
    amp = torch.linspace(0.5, 2.0, channels, dtype=torch.float64)
    return (torch.sin(2 * np.pi * t / period)[:, None] * amp[None, :])[None]


@pytest.mark.parametrize("period", [20.0, 26.0])
def test_kinematic_beats_fall_where_the_motion_stops(period):
    d = motion_rhythm(_swing(period), fps=25.0)
    assert d.shape == (1, 200, N_DESCRIPTORS)
    beats = torch.nonzero(d[0, :, 2]).flatten().numpy()
    turning = (np.arange(0, 200, period / 2) + period / 4)[1:-1]  # where sin reaches +-1
    assert len(beats) >= len(turning)
    assert np.abs(beats[:, None] - turning[None, :]).min(axis=0).max() <= 1.0  # every turning point is a beat
    inner = slice(int(beats[1]), int(beats[-2]))
    np.testing.assert_allclose(np.median(np.diff(beats)), period / 2, atol=1.0)
    phase = np.mod(torch.atan2(d[0, inner, 3], d[0, inner, 4]).numpy() / (2 * np.pi), 1.0)
    steps = np.diff(phase)
    assert np.all((steps > 0) | (steps < -0.8))  # rises between beats, wraps on them
    assert abs(float(d[0, 50:150, 0].mean()) - 1.0) < 0.1  # speed relative to its local mean


def test_descriptors_do_not_depend_on_units_or_offsets():
    m = _swing(22.0)
    a = motion_rhythm(m, fps=25.0)
    b = motion_rhythm(10.0 * m + 3.0, fps=25.0)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_a_still_body_has_no_beats_and_short_motions_are_refused():
    still = torch.zeros(1, 50, 4)
    d = motion_rhythm(still, fps=25.0)
    assert torch.isfinite(d).all() and float(d[..., 2].sum()) == 0.0
    with pytest.raises(ValueError):
        motion_rhythm(torch.zeros(1, 2, 4), fps=25.0)
