"""BVH reading (against an independent scipy FK) and writing (round trips, structure, IK of positions)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from choreo.motion import SMPL24
from choreo.motion.formats import read_motion, write_motion
from choreo.motion.formats.dwm import DWM23


def bandai(data_dir):
    return data_dir / "bandai_namco_dance" / "data" / "dataset-1_dance-short_normal_001.bvh"


def independent_bvh_fk(path):
    """A tiny BVH forward kinematics: scipy Euler (intrinsic, channel order), position channels replace OFFSET."""
    text = open(path).read()
    head, motion = re.split(r"^MOTION\s*$", text, flags=re.M)
    joints = []  # (name, parent, offset, channels)
    stack = []
    pending = None
    for line in head.splitlines():
        tok = line.split()
        if not tok:
            continue
        if tok[0] in ("ROOT", "JOINT"):
            pending = [tok[1], stack[-1] if stack else -1, None, []]
        elif tok[0] == "End":
            pending = None
            stack.append(None)
        elif tok[0] == "{":
            if pending is not None:
                joints.append(pending)
                stack.append(len(joints) - 1)
                pending = None
        elif tok[0] == "}":
            stack.pop()
        elif tok[0] == "OFFSET" and stack and stack[-1] is not None and joints[stack[-1]][2] is None:
            joints[stack[-1]][2] = np.array([float(v) for v in tok[1:4]])
        elif tok[0] == "CHANNELS":
            joints[stack[-1]][3] = tok[2:]
    lines = motion.strip().splitlines()
    data = np.array([[float(v) for v in ln.split()] for ln in lines[2:]])
    P = np.zeros((len(data), len(joints), 3))
    W = [None] * len(joints)
    col = 0
    for j, (_, parent, offset, channels) in enumerate(joints):
        t = np.tile(offset, (len(data), 1))
        rot_axes, rot_cols = "", []
        for k, ch in enumerate(channels):
            if ch.endswith("position"):
                t[:, "XYZ".index(ch[0])] = data[:, col + k]
            else:
                rot_axes += ch[0]
                rot_cols.append(col + k)
        col += len(channels)
        R = Rotation.from_euler(rot_axes.upper(), data[:, rot_cols], degrees=True)
        if parent < 0:
            P[:, j], W[j] = t, R
        else:
            P[:, j] = P[:, parent] + W[parent].apply(t)
            W[j] = W[parent] * R
    return [j[0] for j in joints], P


def test_bandai_bvh_matches_independent_fk(data_dir):
    names, P = independent_bvh_fk(bandai(data_dir))
    m = read_motion(bandai(data_dir))
    assert m.fps == 30 and m.n_frames == 1901 and m.meta["scale"] == 0.01
    assert m.meta["dropped_joints"] == ["joint_Root"]  # a static root folded into Hips
    Q = m.joint_positions()
    for j, n in enumerate(m.skeleton.joint_names):
        assert np.abs(Q[:, j] - P[:, names.index(n)] * 0.01).max() < 1e-4, n
    # joint_Root never moves: nothing is lost by folding it
    assert np.ptp(P[:, names.index("joint_Root")]) == 0
    sk = m.skeleton
    assert [sk.joint_names[i] for i in sk.feet] == ["Foot_L", "Toes_L", "Foot_R", "Toes_R"]
    assert (sk.index("Hand_L"), sk.index("Hand_R")) in sk.mirror_pairs
    assert sk.index("Head") in sk.upper_body and sk.index("Foot_L") not in sk.upper_body


def test_bandai_round_trip_through_npz_and_bvh(tmp_path, data_dir):
    m = read_motion(bandai(data_dir))
    write_motion(m, tmp_path / "a.npz")
    a = read_motion(tmp_path / "a.npz")
    write_motion(a, tmp_path / "b.bvh")
    write_motion(read_motion(tmp_path / "b.bvh"), tmp_path / "c.npz")
    c = read_motion(tmp_path / "c.npz")
    assert c.skeleton.joint_names == m.skeleton.joint_names and c.fps == 30 and c.n_frames == 1901
    assert np.abs(c.joint_positions() - m.joint_positions()).max() < 1e-4


def test_written_bvh_is_standard(tmp_path, data_dir):
    m = read_motion(data_dir / "aistpp_samples/annotation/motions/gJS_sBM_cAll_d03_mJS2_ch07.pkl").crop(0, 30)
    path = tmp_path / "s.bvh"
    write_motion(m, path)
    text = path.read_text()
    lines = text.splitlines()
    assert lines[0] == "HIERARCHY" and lines[1] == "ROOT pelvis"
    assert "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" in lines[4]
    n_channels = sum(int(ln.split()[1]) for ln in lines if ln.strip().startswith("CHANNELS"))
    assert n_channels == 6 + 3 * 23
    assert text.count("End Site") == 5  # SMPL's leaves: head, two hands, two feet
    assert text.count("{") == text[: text.index("MOTION")].count("}")
    i = lines.index("MOTION")
    assert lines[i + 1] == "Frames: 30"
    assert re.fullmatch(r"Frame Time: 0\.01666666667", lines[i + 2])
    rows = lines[i + 3 :]
    assert len(rows) == 30 and all(len(r.split()) == n_channels for r in rows)
    # centimetres
    assert abs(float(rows[0].split()[1]) - 100 * m.root[0, 1]) < 1e-5


def test_aistpp_through_bvh_equals_direct(tmp_path, data_dir):
    src = data_dir / "aistpp_samples/annotation/motions/gBR_sBM_cAll_d06_mBR2_ch06.pkl"
    m = read_motion(src)
    write_motion(m, tmp_path / "direct.npz")
    write_motion(m, tmp_path / "x.bvh")
    write_motion(read_motion(tmp_path / "x.bvh"), tmp_path / "via_bvh.npz")
    a, b = read_motion(tmp_path / "direct.npz"), read_motion(tmp_path / "via_bvh.npz")
    assert b.skeleton.same_structure(SMPL24) and b.skeleton.feet == SMPL24.feet  # built-in recognised
    assert b.fps == 60 and b.n_frames == a.n_frames
    assert np.abs(a.joint_positions() - b.joint_positions()).max() < 1e-4


def bone_direction_errors(P0, P1, parents):
    nonroot = parents >= 0
    b0 = P0[:, nonroot] - P0[:, parents[nonroot]]
    b1 = P1[:, nonroot] - P1[:, parents[nonroot]]
    cos = np.sum(b0 * b1, -1) / (np.linalg.norm(b0, axis=-1) * np.linalg.norm(b1, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))  # (T, bones)


@pytest.mark.parametrize("seq", ["DANCE_C_2", "DANCE_W_12"])
def test_dance_with_melody_through_bvh_keeps_bone_directions(tmp_path, data_dir, seq):
    m = read_motion(data_dir / "dance_with_melody" / seq)
    write_motion(m, tmp_path / "d.bvh")
    write_motion(read_motion(tmp_path / "d.bvh"), tmp_path / "d.npz")
    back = read_motion(tmp_path / "d.npz")
    assert back.skeleton.same_structure(DWM23) and back.n_frames == m.n_frames and back.fps == 25
    err = bone_direction_errors(m.joint_positions(), back.joint_positions(), DWM23.parents)
    assert err.mean(axis=0).max() < 3.0  # every bone within 3 degrees on average
    assert err.max() < 0.01  # in fact exact: per-child link joints make each direction reachable
    # lengths are the per-bone means, so positions differ only by the bone-length variation
    assert np.abs(back.joint_positions()[:, 2] - m.joint_positions()[:, 2]).max() < 1e-6  # root exact


def test_ik_without_links_is_only_a_best_fit(data_dir):
    # why the writer adds link joints: plain IK fits the pelvis' six children with one rotation
    import torch

    from choreo.motion.formats.dwm import DWM23_REST
    from choreo.motion.kinematics import forward_kinematics, inverse_kinematics
    from choreo.motion.rotations import quat_to_matrix

    m = read_motion(data_dir / "dance_with_melody" / "DANCE_C_2").crop(0, 300)
    q, root, off = inverse_kinematics(m.joint_positions(), DWM23, rest=DWM23_REST)
    P = forward_kinematics(quat_to_matrix(torch.from_numpy(q)), torch.from_numpy(root), off, DWM23.parents).numpy()
    err = bone_direction_errors(m.joint_positions(), P, DWM23.parents).mean(axis=0)
    single = [i for i, j in enumerate(np.nonzero(DWM23.parents >= 0)[0]) if len(DWM23.children(DWM23.parents[j])) == 1]
    assert err[single].max() < 1e-6  # single-child bones exact
    assert err.max() > 3.0  # the hips relative to the shoulders are not rigid


HAND_WRITTEN = """HIERARCHY
ROOT Hips
{
\tOFFSET 0.0 0.9 0.0
\tCHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation
\tJOINT Left Leg
\t{
\t\tOFFSET 0.1 -0.4 0.0
\t\tCHANNELS 4 Yposition Zrotation Yrotation Xrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 0.0 -0.45 0.05
\t\t}
\t}
\tJOINT RightLeg
\t{
\t\tOFFSET -0.1 -0.4 0.0
\t\tCHANNELS 1 Xrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 0.0 0.0 0.0
\t\t}
\t}
}
MOTION
Frames: 3
Frame Time: 0.008333
0 0.9 0 10 20 30 -0.4 5 -5 45 0
1 0.95 0 0 0 0 -0.5 0 0 0 90
2 1.0 0 -10 0 90 -0.4 0 90 0 -30
"""


def test_hand_written_bvh_any_channel_layout(tmp_path):
    path = tmp_path / "hand.bvh"
    path.write_text(HAND_WRITTEN)
    m = read_motion(path)
    assert m.meta["scale"] == 1.0  # 1.4 units tall: metres
    assert m.fps == 120  # 1/0.008333 rounds to 120
    assert m.skeleton.joint_names == ("Hips", "Left_Leg", "Left_Leg_end", "RightLeg")  # zero End Site dropped
    P = m.joint_positions()
    for t, row in enumerate(np.array([[float(v) for v in ln.split()] for ln in HAND_WRITTEN.splitlines()[-3:]])):
        Rh = Rotation.from_euler("XYZ", row[3:6], degrees=True)
        np.testing.assert_allclose(P[t, 0], row[0:3], atol=1e-12)
        leg = P[t, 0] + Rh.apply([0.1, row[6], 0.0])  # Yposition replaces the offset's y
        np.testing.assert_allclose(P[t, 1], leg, atol=1e-12)
        Rl = Rh * Rotation.from_euler("ZYX", row[7:10], degrees=True)
        np.testing.assert_allclose(P[t, 2], leg + Rl.apply([0.0, -0.45, 0.05]), atol=1e-12)
        np.testing.assert_allclose(P[t, 3], P[t, 0] + Rh.apply([-0.1, -0.4, 0.0]), atol=1e-12)
    # Left_Leg's length changes (Yposition channel): rotations cannot hold that, positions are exact
    assert m.rotations is None
    # scale override
    assert np.allclose(read_motion(path, scale=0.5).joint_positions(), P * 0.5)
