"""Editing by inpainting: constrained joints and frames equal the reference (positions and rot6d)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from choreo.data.spec import DataSpec
from choreo.errors import ChoreoError
from choreo.models import build_method
from choreo.models.editing import Edit, build_constraint, joint_indices
from choreo.motion import rotations as R
from choreo.motion.motion import Motion
from choreo.motion.skeleton import SMPL24
from edge_standin import (
    SKEL4,
    TINY,
    fitted_normalizer,
    music_for,
    positions_motion,
    positions_rep,
    rot6d_rep,
    smooth_smpl,
    trained_tiny,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def untrained(rep, seed=0):
    torch.manual_seed(seed)
    return build_method("edge", TINY, DataSpec(rep, fitted_normalizer(rep), 5)).eval()


def dance(m, L, edits, chunk=32, seed=0):
    rep = m.representation
    c = build_constraint(edits, rep, 30.0, L)
    x = m.generate(music_for(L, 0.7), steps=4, seed=seed, constraint=c, chunk_windows=chunk)
    return rep.decode(x, 30.0), x, c


def test_joint_names_resolve():
    assert joint_indices("all", SMPL24) is None
    assert joint_indices("upper", SMPL24) == sorted(SMPL24.upper_body)
    assert 0 in joint_indices("lower", SMPL24) and 15 not in joint_indices("lower", SMPL24)
    assert joint_indices("left_elbow,right_wrist", SMPL24) == [18, 21]
    assert joint_indices(["head", 0, "7"], SMPL24) == [0, 7, 15]
    with pytest.raises(ChoreoError, match="nose"):
        joint_indices("nose", SMPL24)
    with pytest.raises(ChoreoError):
        joint_indices([99], SMPL24)


@pytest.mark.parametrize("chunk", [32, 2])
def test_positions_all_joints_over_frames(chunk):
    m = untrained(positions_rep())
    ref = positions_motion(60, phase=1.0)
    out, x, c = dance(m, 50, Edit(ref, frames=(5, 37)), chunk=chunk)  # 50 frames = 5 windows of 16
    np.testing.assert_allclose(out.positions[5:37], ref.positions[5:37], atol=2e-6)
    assert np.abs(out.positions[40:] - ref.positions[40:50]).max() > 1e-2  # the rest is free


def test_positions_upper_body_keeps_root_relative_joints():
    rep = positions_rep()
    m = untrained(rep, seed=1)
    ref = positions_motion(40, phase=2.0)
    out, x, c = dance(m, 40, Edit(ref, joints="upper"))
    chest = rep.joint_channels([1])
    enc = rep.encode(ref)
    np.testing.assert_allclose(x[:, chest], enc[:, chest], atol=1e-6)
    rel_out = out.positions[:, 1] - out.positions[:, 0]
    rel_ref = ref.positions[:, 1] - ref.positions[:, 0]
    np.testing.assert_allclose(rel_out, rel_ref, atol=2e-6)
    assert np.abs(out.positions[:, 0] - ref.positions[:, 0]).max() > 1e-2  # root not constrained


def _mats(q):
    return R.quat_to_matrix(torch.from_numpy(np.asarray(q, np.float64))).numpy()


@pytest.mark.parametrize("joints", ["lower", "upper", "left_elbow,right_wrist", [0, 15]])
def test_rot6d_joints_equal_reference(joints):
    rep = rot6d_rep()
    m = untrained(rep, seed=2)
    ref = smooth_smpl(60, phase=0.4)
    out, x, c = dance(m, 48, Edit(ref, frames=(10, 40), joints=joints), chunk=2)
    idx = joint_indices(joints, SMPL24)
    free = [j for j in range(24) if j not in idx]
    got, want = _mats(out.rotations), _mats(ref.rotations)
    np.testing.assert_allclose(got[10:40, idx], want[10:40, idx], atol=1e-5)
    assert np.abs(got[10:40, free] - want[10:40, free]).max() > 1e-2
    assert np.abs(got[:10, idx] - want[:10, idx]).max() > 1e-2
    if 0 in idx:
        np.testing.assert_allclose(out.root[10:40], ref.root[10:40], atol=1e-6)
    else:
        assert np.abs(out.root[10:40] - ref.root[10:40]).max() > 1e-3


def test_inbetween_two_motions():
    rep = rot6d_rep()
    m = untrained(rep, seed=3)
    a, b = smooth_smpl(12, phase=0.0), smooth_smpl(12, phase=2.5)
    out, x, c = dance(m, 64, [Edit(a), Edit(b, offset=52)])
    np.testing.assert_allclose(_mats(out.rotations[:12]), _mats(a.rotations), atol=1e-5)
    np.testing.assert_allclose(_mats(out.rotations[52:]), _mats(b.rotations), atol=1e-5)
    np.testing.assert_allclose(out.root[52:], b.root, atol=1e-6)
    assert c.mask[:12].all() and c.mask[52:].all() and not c.mask[12:52].any()


def test_reference_at_another_fps_is_resampled():
    rep = positions_rep()
    ref60 = Motion(SKEL4, 60.0, positions=positions_motion(120, 0.3, fps=60.0).positions)
    c = build_constraint(Edit(ref60, frames=(0, 30)), rep, 30.0, 40)
    np.testing.assert_allclose(c.known[:30, 4:7], ref60.positions[0:60:2, 0], atol=1e-6)


def test_continuation_from_a_seed_is_smooth():
    # a trained model continues the seed: the first free frames move like the rest of the dance, while
    # pasting the seed over an unconstrained dance leaves a jump
    m = trained_tiny()
    rep = m.representation
    seed_motion = positions_motion(24, phase=1.3)
    c = build_constraint(Edit(seed_motion), rep, 30.0, 96)
    music = music_for(96, 1.3)
    speed = lambda x: np.linalg.norm(np.diff(rep.decode(x, 30.0).positions, axis=0), axis=-1).mean(-1)  # noqa: E731
    jumps, pasted = [], []
    for s in range(4):
        x = m.generate(music, steps=8, guidance=1.0, seed=s, constraint=c)
        sp = speed(x)
        jumps.append(sp[23] / np.median(sp))
        free = m.generate(music, steps=8, guidance=1.0, seed=s, ramp=False)
        free[:24] = rep.encode(seed_motion)
        sp2 = speed(free)
        pasted.append(sp2[23] / np.median(sp2))
    assert np.median(jumps) < 3.0, jumps
    assert np.median(pasted) > np.median(jumps), (pasted, jumps)


def test_edit_errors():
    rep = positions_rep()
    with pytest.raises(ChoreoError, match="skeleton"):
        build_constraint(Edit(smooth_smpl(10)), rep, 30.0, 20)
    with pytest.raises(ChoreoError, match="outside the reference"):
        build_constraint(Edit(positions_motion(10), frames=(0, 15)), rep, 30.0, 20)
    with pytest.raises(ChoreoError, match="select nothing"):
        build_constraint(Edit(positions_motion(10), frames=(25, 30)), rep, 30.0, 20)
    m = untrained(rep)
    with pytest.raises(ChoreoError, match="constraint has shape"):
        m.generate(music_for(20), steps=2, constraint=build_constraint(Edit(positions_motion(10)), rep, 30.0, 10))


def test_root_velocity_representation_keeps_the_path():
    from choreo.data.representation import get_representation

    rep = get_representation("positions+rootvel", SKEL4)
    m = untrained(rep, seed=4)
    a, b = positions_motion(12, phase=0.0), positions_motion(12, phase=2.0)
    out, x, c = dance(m, 64, [Edit(a), Edit(b, offset=40, joints="all")])
    r = rep.root_channels.start
    assert not c.mask[40, r] and c.mask[41, r] and c.mask[40, r + 1]  # b's entry displacement is left free
    p = out.positions
    for ref, lo in ((a, 0), (b, 40)):
        rp = ref.positions
        # root-relative joints and height exact; horizontal path exact up to where it starts
        np.testing.assert_allclose(p[lo : lo + 12, 1:] - p[lo : lo + 12, :1], rp[:, 1:] - rp[:, :1], atol=2e-6)
        np.testing.assert_allclose(p[lo : lo + 12, 0, 1], rp[:, 0, 1], atol=2e-6)
        np.testing.assert_allclose(p[lo : lo + 12, 0] - p[lo, 0], rp[:, 0] - rp[0, 0], atol=2e-5)
