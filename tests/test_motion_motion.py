"""Motion methods: joint positions, resampling, crop, foot contacts, mirroring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from choreo.errors import ChoreoError
from choreo.motion import SMPL24, Motion
from choreo.motion.formats import read_motion


@pytest.fixture(scope="module")
def aist(data_dir):
    return read_motion(data_dir / "aistpp_samples/annotation/motions/gBR_sBM_cAll_d04_mBR2_ch08.pkl")


def test_joint_positions_from_rotations_match_fixture(aist, fixtures_dir):
    with np.load(fixtures_dir / "metrics/joints.npz") as z:
        ref = z["joints__gBR_sBM_cAll_d04_mBR2_ch08"]
    P = aist.joint_positions()
    assert P.dtype == np.float64 and P.shape == (576, 24, 3)
    assert np.abs(P - ref).max() < 1e-12


def test_resample_integer_ratio_is_exact_decimation(aist):
    half = aist.resample(30)
    assert half.fps == 30 and half.n_frames == 288
    np.testing.assert_array_equal(half.rotations, aist.rotations[::2])
    np.testing.assert_array_equal(half.root, aist.root[::2])
    np.testing.assert_array_equal(half.joint_positions(), aist.joint_positions()[::2])


def test_resample_interpolates_rotations_by_slerp(aist):
    half = aist.resample(30)
    up = half.resample(60)
    assert up.n_frames == 2 * half.n_frames - 1
    np.testing.assert_allclose(up.rotations[::2], half.rotations, atol=1e-12)
    # an in-between frame is the rotation halfway along the arc between its neighbours
    q0, q1, qm = (torch.from_numpy(x) for x in (half.rotations[10], half.rotations[11], up.rotations[21]))
    ang = lambda a, b: 2 * np.arccos(np.clip(np.abs(np.sum(a * b, -1)), -1, 1))  # noqa: E731
    np.testing.assert_allclose(ang(qm.numpy(), q0.numpy()), ang(qm.numpy(), q1.numpy()), atol=1e-9)
    np.testing.assert_allclose(up.root[21], 0.5 * (half.root[10] + half.root[11]), atol=1e-12)
    # the interpolated frames stay close to the 60 fps original (AIST++ has a few SMPL-fit glitches where a
    # joint turns ~176 degrees in one frame, which no interpolation recovers: compare the 99th percentile)
    err = np.abs(up.joint_positions() - aist.joint_positions()[: up.n_frames]).max(axis=(1, 2))
    assert np.percentile(err[1::2], 50) < 0.03 and np.percentile(err[1::2], 95) < 0.1


def test_resample_positions_linear_and_non_integer_ratio():
    T = 26
    pos = np.zeros((T, 23, 3))
    pos[:, :, 0] = np.arange(T)[:, None] * 0.04  # 1 m/s at 25 fps
    from choreo.motion.formats.dwm import DWM23

    m = Motion(DWM23, 25, positions=pos)
    r = m.resample(30)
    assert r.n_frames == 31  # 1 s span: frames at 0 .. 30/30
    np.testing.assert_allclose(r.positions[:, 0, 0], np.arange(31) / 30, atol=1e-12)


def test_crop(aist):
    c = aist.crop(100, 160)
    assert c.n_frames == 60
    np.testing.assert_array_equal(c.joint_positions(), aist.joint_positions()[100:160])
    with pytest.raises(ChoreoError):
        aist.crop(600, 700)


def test_crop_keeps_music_aligned(data_dir):
    dance = read_motion(data_dir / "dance_with_melody/DANCE_C_2")
    start = dance.meta["audio_start"]
    assert start == pytest.approx(156 / 25)
    assert dance.crop(50).meta["audio_start"] == pytest.approx(start + 2.0)
    assert dance.crop(-25).meta["audio_start"] == pytest.approx(start + (dance.n_frames - 25) / 25)
    assert dance.meta["audio_start"] == start  # the original is untouched


def test_foot_contacts_hand_made():
    from choreo.motion.formats.dwm import DWM23

    T = 10
    pos = np.zeros((T, 23, 3))
    # left ankle moves at 1 m/s (0.04 m per frame at 25 fps), right foot still, left toe still
    pos[:, 18, 2] = np.arange(T) * 0.04
    m = Motion(DWM23, 25, positions=pos)
    c = m.foot_contacts()
    assert c.shape == (T, 4) and c.dtype == bool
    assert not c[:, 0].any()  # left ankle: 1 m/s > 0.3 m/s
    assert c[:, 1:].all()
    assert m.foot_contacts(threshold=1.5)[:, 0].all()


def test_foot_contacts_on_real_dance(data_dir):
    jazz = read_motion(data_dir / "aistpp_samples/annotation/motions/gJS_sBM_cAll_d03_mJS2_ch07.pkl")
    c = jazz.foot_contacts()
    # a jazz basic step: some foot is planted most of the time, each foot joint only part of the time
    assert c.any(axis=1).mean() > 0.8
    assert np.all((c.mean(axis=0) > 0.3) & (c.mean(axis=0) < 0.95))
    # the contacts are the slow frames: a planted ankle moves far less than a lifted one
    P = jazz.joint_positions()[:, SMPL24.feet[0]]
    speed = np.linalg.norm(np.diff(P, axis=0), axis=-1) * jazz.fps
    assert speed[c[:-1, 0]].max() < 0.3 <= speed[~c[:-1, 0]].min()


def test_mirror_positions_exact(data_dir):
    m = read_motion(data_dir / "dance_with_melody/DANCE_C_2").crop(0, 50)
    mm = m.mirror()
    P, Q = m.joint_positions(), mm.joint_positions()
    perm = m.skeleton.mirror_map
    np.testing.assert_allclose(Q[:, :, 0], -P[:, perm, 0])
    np.testing.assert_allclose(Q[:, :, 1:], P[:, perm, 1:])
    np.testing.assert_allclose(mm.mirror().joint_positions(), P)


def test_mirror_rotations(aist):
    mm = aist.mirror()
    assert mm.rotations is not None
    np.testing.assert_allclose(mm.mirror().rotations, aist.rotations)
    # SMPL's rest offsets are only nearly symmetric: FK of mirrored rotations ~ mirrored positions
    P = aist.joint_positions()
    expected = P[:, SMPL24.mirror_map] * np.array([-1.0, 1.0, 1.0])
    err = np.abs(mm.joint_positions() - expected).max()
    assert err < 0.05
    # a plain left/right swap without reflecting the rotations would be far off
    wrong = aist.copy(rotations=aist.rotations[:, SMPL24.mirror_map], root=aist.root * [-1, 1, 1])
    assert np.abs(wrong.joint_positions() - expected).max() > 5 * err


def test_grounded_moves_positions_and_root_by_the_floor_percentile(aist):
    P = aist.joint_positions()
    lowest = P[..., 1].min(axis=1)
    g = aist.grounded()
    assert g.rotations is aist.rotations or np.array_equal(g.rotations, aist.rotations)
    floor = np.percentile(lowest, 5)
    np.testing.assert_allclose(g.root[:, 1], aist.root[:, 1] - floor)
    np.testing.assert_allclose(g.root[:, [0, 2]], aist.root[:, [0, 2]])
    np.testing.assert_allclose(np.percentile(g.joint_positions()[..., 1].min(axis=1), 5), 0.0, atol=1e-9)
    assert aist.root[:, 1].min() > 0.5  # the original is untouched (a copy moved)
    pos = Motion(aist.skeleton, aist.fps, positions=P + np.array([0.0, 0.3, 0.0]))
    np.testing.assert_allclose(pos.grounded(0.0).positions[..., 1].min(), 0.0, atol=1e-9)
    with pytest.raises(ChoreoError, match="floor percentile"):
        aist.grounded(120)
