"""Standing a dance on the floor where its feet say it stands: planted feet at height 0, jumps kept, nothing
under the floor, hand-computed cases and a real Dance with Melody capture (whose floor is not at 0)."""

from __future__ import annotations

import numpy as np
import pytest

from choreo.motion import Motion
from choreo.motion.floor import floor_offset, planted_clearance, stand_on_floor, support_height
from choreo.motion.formats import read_motion
from choreo.motion.formats.dwm import DWM23
from conftest import DWM

FEET = tuple(int(f) for f in DWM23.feet)  # left ankle, left toe, right ankle, right toe


def _standing(T: int = 100, lift: np.ndarray | float = 0.0) -> tuple[Motion, np.ndarray]:
    """A still pose whose toes touch height 0 and ankles stand 0.08 m above them, raised by ``lift`` (T,) metres;
    every foot joint planted."""
    rng = np.random.default_rng(1)
    pose = np.abs(rng.normal(scale=0.4, size=(23, 3))) + 0.15
    for ankle, toe in ((FEET[0], FEET[1]), (FEET[2], FEET[3])):
        pose[toe, 1], pose[ankle, 1] = 0.0, 0.08
    P = np.repeat(pose[None], T, axis=0)
    P[..., 1] += np.broadcast_to(np.asarray(lift, float), (T,))[:, None]
    return Motion(DWM23, 25.0, positions=P), np.ones((T, 4), bool)


def test_clearance_and_support_by_hand():
    motion, c = _standing(lift=0.05)
    h = motion.positions[..., 1]
    np.testing.assert_allclose(planted_clearance(h, c, FEET), [0.08, 0.0, 0.08, 0.0])
    np.testing.assert_allclose(support_height(h, c, FEET), 0.05)
    c2 = c.copy()
    c2[10:20] = False  # nothing planted: undefined there
    s = support_height(h, c2, FEET)
    assert np.isnan(s[10:20]).all() and np.isfinite(s[:10]).all()
    # the left ankle planted throughout, its toe for the first half: the ankle stands its clearance (0.08, learnt
    # where both are planted) above the floor
    c3 = np.zeros_like(c)
    c3[:, 0] = True
    c3[:50, 1] = True
    np.testing.assert_allclose(support_height(h, c3, FEET), 0.05, atol=1e-12)


def test_a_floating_dance_stands_on_the_floor_and_nothing_else_changes():
    motion, c = _standing(lift=0.12)
    out = stand_on_floor(motion, c)
    np.testing.assert_allclose(out.positions[:, FEET[1], 1], 0.0, atol=1e-9)
    np.testing.assert_allclose(out.positions[..., [0, 2]], motion.positions[..., [0, 2]])  # x, z untouched
    np.testing.assert_allclose(
        out.positions - motion.positions, np.broadcast_to([0, -0.12, 0], (100, 23, 3)), atol=1e-9
    )
    assert out.meta["floor"]["mean_shift"] == pytest.approx(0.12)


def test_a_drifting_floor_is_followed_frame_by_frame():
    drift = np.linspace(0.10, -0.05, 200)  # the model's floor wanders 15 cm over 8 s
    motion, c = _standing(T=200, lift=drift)
    out = stand_on_floor(motion, c)
    assert np.abs(out.positions[3:-3, FEET[1], 1]).max() < 0.002  # a global shift would leave +-7.5 cm


def test_a_jump_keeps_its_height_above_the_floor():
    T = 150
    t = np.arange(T)
    air = (t >= 60) & (t < 80)
    jump = np.where(air, 0.4 * np.sin(np.pi * (t - 60) / 20.0), 0.0)  # 0.4 m at the top, 0.8 s in the air
    motion, c = _standing(T=T, lift=0.2 + jump)
    c[air] = False
    out = stand_on_floor(motion, c)
    toe = out.positions[:, FEET[1], 1]
    np.testing.assert_allclose(toe[~air][5:-5], 0.0, atol=1e-6)
    assert toe[70] == pytest.approx(0.4, abs=1e-6)  # the top of the jump, 0.4 m above the floor
    assert toe.min() > -1e-6


def test_no_joint_stays_under_the_floor():
    motion, c = _standing(T=100)
    P = motion.positions.copy()
    hand = DWM23.index("left_wrist")
    P[40:50, hand, 1] = -0.10  # a hand through the floor for 0.4 s, feet planted
    out = stand_on_floor(motion.copy(positions=P), c, tolerance=0.01)
    assert out.positions[..., 1].min() > -0.01 - 1e-9
    np.testing.assert_allclose(out.positions[:20, FEET[1], 1], 0.0, atol=1e-9)  # far from it, feet on the floor


def test_kept_frames_do_not_move_and_no_contacts_means_one_shift():
    motion, c = _standing(lift=0.1)
    keep = np.zeros(100, bool)
    keep[50:60] = True
    out = stand_on_floor(motion, c, keep=keep)
    np.testing.assert_array_equal(out.positions[50:60], motion.positions[50:60])
    np.testing.assert_allclose(out.positions[:20, FEET[1], 1], 0.0, atol=1e-9)
    offset = floor_offset(motion.positions[..., 1], np.zeros((100, 4), bool), FEET, 25.0)
    np.testing.assert_allclose(offset, 0.1)  # the 5th percentile of the lowest joint, as Motion.grounded


def test_a_real_capture_stands_on_the_floor():
    m = read_motion(DWM / "DANCE_W_3")
    m = m.copy(positions=m.positions[: int(20 * m.fps)])
    out = stand_on_floor(m)  # contacts from the feet's speed
    c = m.foot_contacts()
    feet_low = np.min(np.where(c, out.positions[:, list(FEET), 1], np.inf), axis=1)
    planted = np.isfinite(feet_low)
    assert planted.mean() > 0.5
    # the planted feet stand within 2 cm of the floor on nine frames in ten (the capture's floor is elsewhere)
    clearance = planted_clearance(out.positions[..., 1], c, FEET)
    assert np.percentile(np.abs(feet_low[planted] - 0.0), 90) < 0.02 + clearance.max()
    lowest = out.positions[..., 1].min(axis=1)
    assert abs(np.percentile(lowest, 5)) < 0.03 and np.mean(lowest < -0.03) < 0.01
