"""The 2D keypoint representation (Dance Revolution's OpenPose BODY_25 layout) on OpenPose folders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from choreo.data.representation import (
    REPRESENTATIONS,
    Keypoints2dRepresentation,
    auto_representation_name,
    get_representation,
)
from choreo.errors import ChoreoError
from choreo.motion import BODY25
from choreo.motion.formats import read_motion
from choreo.motion.motion import Motion
from choreo.motion.skeleton import SMPL24
from conftest import openpose_frame, smpl_to_openpose_pixels, write_openpose


@pytest.fixture(scope="module")
def pixels(data_dir) -> np.ndarray:
    """(150, 25, 2) image pixels (y down): a real AIST++ dance (5 s at 30 fps) seen by an orthographic camera."""
    m = read_motion(data_dir / "aistpp_samples" / "annotation" / "motions" / "gBR_sBM_cAll_d04_mBR2_ch08.pkl")
    return smpl_to_openpose_pixels(m.resample(30.0).crop(0, 150).joint_positions())


@pytest.fixture(scope="module")
def openpose(tmp_path_factory, pixels) -> Motion:
    """The projected dance written as an OpenPose folder and read back (pixels, y up)."""
    frames = [openpose_frame(p) for p in pixels]
    folder = write_openpose(tmp_path_factory.mktemp("op") / "gBR_ch08", frames, stem="gBR_ch08_000000000000")
    return read_motion(folder)


def test_round_trip_on_an_openpose_folder(openpose, pixels):
    rep = get_representation("keypoints2d", BODY25)
    assert isinstance(rep, Keypoints2dRepresentation) and rep.name == "keypoints2d" and rep.dim == 50
    assert auto_representation_name(openpose) == "keypoints2d"
    assert rep.contact_channels == slice(0, 0) and rep.root_channels == slice(0, 2) and rep.joints_start == 2
    P = openpose.joint_positions()
    np.testing.assert_allclose(P, pixels * [1.0, -1.0], atol=1e-9)  # the reader flips y up
    x = rep.encode(openpose)
    assert x.shape == (150, 50) and x.dtype == np.float32
    # root (MidHip) absolute, every other joint relative to it; a dancer is a few hundred pixels tall
    np.testing.assert_allclose(x[:, :2], P[:, 8], atol=1e-3)
    np.testing.assert_allclose(x[:, 2:4], P[:, 0] - P[:, 8], atol=1e-4)
    assert 150 < np.abs(x[:, 2:]).max() < 400 and np.ptp(x[:, 0]) > 1.0
    back = rep.decode(x, openpose.fps)
    assert back.skeleton is BODY25 and back.fps == 30 and back.n_frames == 150 and back.positions.shape == (150, 25, 2)
    assert back.meta == {"units": "pixels"} == {"units": openpose.meta["units"]}
    np.testing.assert_allclose(back.positions, P, atol=1e-3)  # float32 channels of ~600 px numbers
    np.testing.assert_allclose(rep.encode(back), x, atol=1e-4)


def test_channel_layout_by_hand():
    """Two frames, every joint somewhere else: channels are [root x, y, (joint - root) for joints 0..7, 9..24]."""
    pos = np.zeros((2, 25, 2))
    pos[0] = np.stack([np.arange(25) * 10.0, np.arange(25) * -3.0], axis=1)
    pos[1] = pos[0] + [5.0, 7.0]
    pos[1, 4] += [100.0, 50.0]  # the right wrist reaches out in frame 1
    x = Keypoints2dRepresentation(BODY25).encode(Motion(BODY25, 30, positions=pos))
    root0, root1 = np.array([80.0, -24.0]), np.array([85.0, -17.0])
    expected0 = [*root0]
    for j in [*range(8), *range(9, 25)]:
        expected0 += [10.0 * j - 80.0, -3.0 * j + 24.0]
    np.testing.assert_array_equal(x[0], np.array(expected0, np.float32))
    np.testing.assert_array_equal(x[1, :2], root1)
    # the whole body moved by (5, 7): relative channels only change for the wrist (slot 4: channels 10, 11)
    shift = np.zeros(48)
    shift[8:10] = [100.0, 50.0]
    np.testing.assert_array_equal(x[1, 2:], x[0, 2:] + shift)
    np.testing.assert_array_equal(x[1, 10:12], pos[1, 4] - root1)  # right wrist = joint 4 = slot 4


def test_joint_channels_for_root_and_wrists():
    rep = get_representation("keypoints2d", BODY25)
    assert rep.joint_channels([8]) == [0, 1]  # MidHip: the root channels only, no contacts in 2D
    assert rep.joint_channels([4]) == [10, 11]  # right wrist: slot 4
    assert rep.joint_channels([7]) == [16, 17]  # left wrist: slot 7
    assert rep.joint_channels([9]) == [18, 19]  # right hip: slot 8, joint 8 is skipped
    assert rep.joint_channels([14]) == [28, 29]  # left ankle, a foot joint: no contact channel
    assert rep.joint_channels([24]) == [48, 49]
    assert rep.joint_channels([4, 8, 4]) == [0, 1, 10, 11]
    with pytest.raises(ChoreoError, match="out of range"):
        rep.joint_channels([25])


@pytest.mark.parametrize("name", ["keypoints2d", "keypoints2d+rootvel"])
def test_joint_positions_are_differentiable_batched_and_equal_decode(name, openpose):
    rep = get_representation(name, BODY25)
    assert rep.name == name and name in REPRESENTATIONS
    windows = [openpose.crop(0, 40), openpose.crop(60, 100)]
    x = torch.from_numpy(np.stack([rep.encode(w) for w in windows])).double().requires_grad_(True)
    pos = rep.joint_positions(x)
    assert pos.shape == (2, 40, 25, 2)
    for b in range(2):
        np.testing.assert_allclose(pos[b].detach().numpy(), rep.decode(x[b], 30).positions, atol=1e-9)
    (pos**2).sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad[..., 2:].abs() > 0).all()
    # each joint's channels move that joint only; the root's move every joint
    base = pos.detach()[0]
    seen: list[int] = []
    for j in range(25):
        chans = rep.joint_channels([j])
        seen += chans
        y = x.detach()[0].clone()
        y[:, chans] += torch.tensor([3.0, -2.0], dtype=y.dtype)
        moved = set(np.nonzero((rep.joint_positions(y) - base).abs().amax(dim=(0, 2)).numpy() > 1e-9)[0].tolist())
        assert moved == (set(range(25)) if j == 8 else {j}), j
    assert sorted(seen) == list(range(50))


def test_root_velocity_is_x_only_in_2d(openpose):
    rep = get_representation("keypoints2d+rootvel", BODY25)
    assert rep.dim == 50 and rep.horizontal_axes == (0,) and rep.root_velocity_channels == (0,)
    x = rep.encode(openpose)
    root = openpose.joint_positions()[:, 8]
    np.testing.assert_allclose(x[1:, 0], np.diff(root[:, 0]), atol=1e-4)  # pixels per frame
    assert x[0, 0] == 0.0
    np.testing.assert_allclose(x[:, 1], root[:, 1], atol=1e-3)  # height on screen stays absolute
    back = rep.decode(x, 30).positions
    np.testing.assert_allclose(back + [root[0, 0], 0.0], openpose.joint_positions(), atol=2e-3)
    y = x.copy()
    y[0, 0] = 123.0  # the first frame's displacement is ignored
    np.testing.assert_allclose(rep.decode(y, 30).positions, back, atol=1e-9)


def test_2d_and_3d_layouts_refuse_each_other(openpose, data_dir):
    with pytest.raises(ChoreoError, match=r"needs a 3D skeleton, 'body25' is 2D \(use keypoints2d\)"):
        get_representation("positions", BODY25)
    with pytest.raises(ChoreoError, match="needs a 3D skeleton"):
        get_representation("smpl_rot6d+rootvel", BODY25)
    with pytest.raises(ChoreoError, match="needs a 2D skeleton, 'smpl24' is 3D"):
        get_representation("keypoints2d", SMPL24)
    aist = read_motion(data_dir / "aistpp_samples" / "annotation" / "motions" / "gBR_sBM_cAll_d04_mBR2_ch08.pkl")
    assert auto_representation_name(aist) == "smpl_rot6d"
    with pytest.raises(ChoreoError, match="does not match"):
        get_representation("smpl_rot6d", SMPL24).encode(openpose)
    with pytest.raises(ChoreoError, match=r"\(frames, 50\)"):
        get_representation("keypoints2d", BODY25).decode(np.zeros((4, 51)), 30)
