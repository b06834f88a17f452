"""Foot locking: planted feet stop sliding, nothing jumps, heights and the upper body are untouched."""

from __future__ import annotations

import numpy as np
import pytest

from choreo.metrics.physics import foot_sliding
from choreo.motion import Motion
from choreo.motion.cleanup import contact_segments, lock_feet
from choreo.motion.formats import read_motion
from choreo.motion.formats.dwm import DWM23


def test_contact_segments_hand_made():
    on = np.array([0, 1, 1, 0, 1, 0, 0, 1, 1, 1], bool)
    assert contact_segments(on) == [(1, 3), (4, 5), (7, 10)]
    assert contact_segments(on, min_frames=2) == [(1, 3), (7, 10)]
    assert contact_segments(np.zeros(4, bool)) == []


def _sliding_left_foot(T: int = 100, fps: float = 25.0) -> tuple[Motion, np.ndarray]:
    """Rest-like pose; the left foot (ankle, heel, toe) slides 2 cm per frame in x during frames 30..69."""
    rng = np.random.default_rng(0)
    base = rng.normal(scale=0.3, size=(23, 3))
    P = np.repeat(base[None], T, axis=0)
    la, lh, lt = DWM23.feet[0], DWM23.index("left_heel"), DWM23.feet[1]
    slide = np.clip(np.arange(T) - 30, 0, 40) * 0.02
    for j in (la, lh, lt):
        P[:, j, 0] += slide
    contacts = np.zeros((T, 4), bool)
    contacts[30:70, 0] = True
    return Motion(DWM23, fps, positions=P), contacts


def test_locked_foot_stands_still_and_fades_in_and_out():
    motion, contacts = _sliding_left_foot()
    out = lock_feet(motion, contacts, blend_seconds=0.2)
    la = DWM23.feet[0]
    x = out.positions[:, la, 0]
    assert np.ptp(x[30:70]) < 1e-12  # planted: no horizontal motion at all
    assert x[35] == pytest.approx(motion.positions[30:70, la, 0].mean())
    # the correction fades over 5 frames: the foot's per-frame step stays bounded (no pop)
    assert np.abs(np.diff(x)).max() < 0.45  # the uncorrected slide is 0.02/frame; the fade spreads 0.4 m over 6 frames
    # far from the contact the motion is unchanged; heights never change; only foot joints and the knee move
    np.testing.assert_array_equal(out.positions[:20], motion.positions[:20])
    np.testing.assert_array_equal(out.positions[..., 1], motion.positions[..., 1])
    moved = np.nonzero(np.abs(out.positions - motion.positions).max(axis=(0, 2)) > 0)[0]
    assert set(moved) == {la, DWM23.index("left_heel"), DWM23.feet[1], DWM23.index("left_knee")}


def test_keep_frames_are_left_exactly_alone():
    motion, contacts = _sliding_left_foot()
    keep = np.zeros(motion.n_frames, bool)
    keep[40:50] = True
    out = lock_feet(motion, contacts, keep=keep)
    np.testing.assert_array_equal(out.positions[40:50], motion.positions[40:50])
    assert not np.array_equal(out.positions[60:70], motion.positions[60:70])


def test_rotation_motions_are_returned_unchanged(data_dir):
    aist = read_motion(data_dir / "aistpp_samples/annotation/motions/gBR_sBM_cAll_d04_mBR2_ch08.pkl")
    assert lock_feet(aist) is aist


def test_real_dance_slides_less_after_locking(data_dir):
    """On a real ballroom dance with its own (speed-threshold) contacts, sliding drops, the body stays put."""
    dance = read_motion(data_dir / "dance_with_melody" / "DANCE_W_1").crop(0, 500)
    contacts = dance.foot_contacts()
    out = lock_feet(dance, contacts)
    before = foot_sliding(dance.joint_positions(), contacts, dance.fps, DWM23.feet)
    after = foot_sliding(out.joint_positions(), contacts, dance.fps, DWM23.feet)
    assert after < 0.5 * before
    np.testing.assert_array_equal(out.positions[:, DWM23.index("pelvis")], dance.positions[:, DWM23.index("pelvis")])
