"""Representations on real data: round trips, forward kinematics, the joint -> channel map."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from choreo.data.representation import (
    PositionsRepresentation,
    Rot6dRepresentation,
    auto_representation_name,
    get_representation,
)
from choreo.errors import ChoreoError
from choreo.motion.formats import read_motion
from choreo.motion.formats.dwm import DWM23
from choreo.motion.skeleton import SMPL24


@pytest.fixture(scope="module")
def aist(data_dir):
    m = read_motion(data_dir / "aistpp_samples" / "annotation" / "motions" / "gBR_sBM_cAll_d04_mBR2_ch08.pkl")
    return m.resample(30.0)


@pytest.fixture(scope="module")
def dwm(data_dir):
    return read_motion(data_dir / "dance_with_melody" / "DANCE_C_4").crop(0, 300)


def test_rot6d_layout_and_round_trip_on_aistpp(aist):
    rep = get_representation("smpl_rot6d", SMPL24)
    assert rep.dim == 151 and auto_representation_name(aist) == "smpl_rot6d"
    x = rep.encode(aist)
    assert x.shape == (aist.n_frames, 151) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 4:7], aist.root, atol=1e-6)
    # contacts are EDGE's: foot speed below 0.01 m per frame at 30 fps
    P = aist.joint_positions()
    speed = np.linalg.norm(P[1:, [7, 10, 8, 11]] - P[:-1, [7, 10, 8, 11]], axis=-1)
    np.testing.assert_array_equal(x[:-1, :4], (speed < 0.01).astype(np.float32))
    assert 0.05 < x[:, :4].mean() < 0.95
    # FK of the tensor = the motion's own joint positions
    fk = rep.joint_positions(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(fk, P, atol=2e-5)
    # decode gives the rotations back (as rotations: q and -q are the same)
    back = rep.decode(x, 30.0)
    np.testing.assert_allclose(back.joint_positions(), P, atol=2e-5)
    dots = np.abs(np.sum(back.rotations * aist.rotations, axis=-1))
    assert dots.min() > 1 - 1e-5
    np.testing.assert_array_equal(back.meta["contacts"], x[:, :4] > 0.5)


def test_rot6d_fk_is_differentiable_and_batched(aist):
    rep = get_representation("smpl_rot6d", SMPL24)
    x = torch.from_numpy(np.stack([rep.encode(aist.crop(0, 20)), rep.encode(aist.crop(20, 40))]))
    x.requires_grad_(True)
    pos = rep.joint_positions(x)
    assert pos.shape == (2, 20, 24, 3)
    pos.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad[..., 7:].abs().sum() > 0


def test_positions_round_trip_on_dance_with_melody(dwm):
    rep = get_representation("positions", DWM23)
    assert rep.dim == 7 + 3 * 22 == 73 and auto_representation_name(dwm) == "positions"
    x = rep.encode(dwm)
    P = dwm.joint_positions()
    np.testing.assert_allclose(x[:, 4:7], P[:, DWM23.root], atol=1e-6)
    back = rep.decode(x, dwm.fps)
    assert back.skeleton is DWM23 and back.n_frames == dwm.n_frames
    assert np.abs(back.positions - P).max() < 1e-5
    np.testing.assert_allclose(rep.joint_positions(torch.from_numpy(x)).numpy(), P, atol=1e-5)


def test_positions_representation_of_a_rotation_motion(aist):
    rep = get_representation("positions", SMPL24)
    x = rep.encode(aist)
    assert x.shape == (aist.n_frames, 7 + 69)
    np.testing.assert_allclose(rep.decode(x, 30).positions, aist.joint_positions(), atol=1e-5)


def _descendants(skeleton, j):
    out, stack = set(), [j]
    while stack:
        k = stack.pop()
        for c in skeleton.children(k):
            out.add(c)
            stack.append(c)
    return out


@pytest.mark.parametrize(
    "name, skeleton",
    [
        ("smpl_rot6d", SMPL24),
        ("positions", DWM23),
        ("positions", SMPL24),
        ("positions+rootvel", DWM23),
        ("smpl_rot6d+rootvel", SMPL24),
    ],
)
def test_joint_channels_carry_exactly_their_joints(name, skeleton, aist, dwm):
    """Perturbing joint j's channels moves j's FK position (and, through rotations, only its subtree)."""
    rep = get_representation(name, skeleton)
    motion = aist if skeleton is SMPL24 else dwm
    x = torch.from_numpy(rep.encode(motion.crop(0, 5))).double()
    base = rep.joint_positions(x)
    seen: list[int] = []
    for j in range(skeleton.n_joints):
        chans = rep.joint_channels([j])
        seen += chans
        contacts = [c for c in chans if c < 4]
        assert contacts == [i for i, f in enumerate(skeleton.feet) if f == j]
        y = x.clone()
        body = [c for c in chans if c >= 4]
        y[:, body] += torch.linspace(0.05, 0.3, len(body), dtype=x.dtype)
        moved = set(np.nonzero((rep.joint_positions(y) - base).abs().amax(dim=(0, 2)).numpy() > 1e-9)[0].tolist())
        if j == skeleton.root:
            expected = set(range(skeleton.n_joints))  # the root position carries every joint
        elif name.startswith("smpl_rot6d"):
            expected = _descendants(skeleton, j)  # a rotation moves the joint's subtree, not the joint itself
        else:
            expected = {j}
        assert moved == expected, (j, sorted(moved), sorted(expected))
    # every channel belongs to exactly one joint
    assert sorted(seen) == list(range(rep.dim))
    assert rep.joint_channels([1, 0, 1]) == sorted(set(rep.joint_channels([0]) + rep.joint_channels([1])))
    with pytest.raises(ChoreoError, match="out of range"):
        rep.joint_channels([skeleton.n_joints])


@pytest.mark.parametrize("name", ["positions+rootvel", "smpl_rot6d+rootvel"])
def test_root_velocity_round_trip(name, aist, dwm):
    """Horizontal root as per-frame displacement: decoding gives the motion back, moved to start at x = z = 0."""
    motion = dwm if name.startswith("positions") else aist
    rep = get_representation(name, motion.skeleton)
    assert rep.name == name and get_representation(rep.name, motion.skeleton).dim == rep.dim
    x = rep.encode(motion)
    P = motion.joint_positions()
    root = P[:, motion.skeleton.root]
    # channels 4 and 6 are metres per frame (hand check on two frames), 5 the height
    np.testing.assert_allclose(x[7, [4, 6]], root[7, [0, 2]] - root[6, [0, 2]], atol=1e-6)
    np.testing.assert_allclose(x[:, 5], root[:, 1], atol=1e-6)
    assert np.abs(x[:, [4, 6]]).max() < 0.2  # ballroom travel is < 5 m/s, far inside the room's +-9 m
    back = rep.decode(x, motion.fps).joint_positions()
    shift = np.array([root[0, 0], 0.0, root[0, 2]])
    np.testing.assert_allclose(back + shift, P, atol=2e-4)  # float32 channels, summed over the frames
    # the first frame's displacement is ignored: windows cut anywhere decode the same way
    y = x.copy()
    y[0, [4, 6]] = [3.0, -2.0]
    np.testing.assert_allclose(rep.decode(y, motion.fps).joint_positions(), back, atol=1e-9)


def test_rot6d_channel_numbers_are_edge_layout():
    rep = Rot6dRepresentation(SMPL24)
    assert rep.joint_channels([0]) == [4, 5, 6, *range(7, 13)]
    assert rep.joint_channels([7]) == [0, *range(7 + 42, 7 + 48)]  # left ankle + its contact
    assert rep.joint_channels([23]) == list(range(145, 151))
    pos = PositionsRepresentation(DWM23)
    assert pos.joint_channels([2]) == [4, 5, 6]  # DWM's root is joint 2
    assert pos.joint_channels([0]) == [7, 8, 9] and pos.joint_channels([3]) == [
        13,
        14,
        15,
    ]  # slot 2 (joint 2 is skipped)
    assert pos.joint_channels([20]) == [1, 64, 65, 66]  # left toe: contact 1, slot 19


def test_bad_requests_are_clear(dwm):
    with pytest.raises(ChoreoError, match="unknown motion representation"):
        get_representation("quaternions", SMPL24)
    with pytest.raises(ChoreoError, match="rest offsets"):
        get_representation("smpl_rot6d", DWM23)
    with pytest.raises(ChoreoError, match="does not match"):
        get_representation("positions", SMPL24).encode(dwm)
    with pytest.raises(ChoreoError, match=r"\(frames, 73\)"):
        get_representation("positions", DWM23).decode(np.zeros((4, 70)), 25)
