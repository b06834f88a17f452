"""Dances on other skeletons reach the music model through joint roles: a Bandai Namco BVH and an AIST++ SMPL
motion mapped onto Dance with Melody's 23 joints."""

from __future__ import annotations

import numpy as np
import pytest

from choreo.errors import ChoreoError
from choreo.motion.formats import read_motion
from choreo.motion.formats.dwm import DWM23, DWM23_REST
from choreo.motion.motion import Motion
from choreo.motion.retarget import joint_roles, retarget_positions
from choreo.motion.skeleton import Skeleton


@pytest.fixture(scope="module")
def bvh(data_dir):
    return read_motion(data_dir / "bandai_namco_dance" / "data" / "dataset-1_dance-short_normal_001.bvh").crop(0, 300)


def test_roles_of_a_bvh_rig_and_of_dance_with_melody(bvh):
    names = bvh.skeleton.joint_names
    roles = {names[j]: r for j, r in joint_roles(bvh.skeleton).items()}
    assert roles["Hips"] == ("root", None) and roles["Head"] == ("head", None)
    assert roles["UpperArm_L"] == ("shoulder", "l") and "Shoulder_L" not in roles  # the clavicle is not the shoulder
    assert roles["Hand_R"] == ("wrist", "r") and roles["Foot_L"] == ("ankle", "l") and roles["Toes_R"] == ("toe", "r")
    dwm = {DWM23.joint_names[j]: r for j, r in joint_roles(DWM23).items()}
    assert dwm["right_wrist"] == ("wrist", "r") and dwm["right_hand"] == ("hand", "r")
    assert dwm["left_head"] == ("head", "l") and dwm["pelvis"] == ("root", None) and "left_hand_dir" not in dwm


def test_bvh_dance_on_the_dance_with_melody_skeleton(bvh):
    out = retarget_positions(bvh, DWM23)
    assert out.skeleton is DWM23 and out.fps == bvh.fps and out.positions.shape == (300, 23, 3)
    assert np.all(np.isfinite(out.positions)) and out.meta["retargeted_from"] == bvh.skeleton.name
    p = out.positions
    j = DWM23.index
    # legs scaled to the rest pose's (thigh + shin)
    leg = (
        np.linalg.norm(p[:, j("left_hip")] - p[:, j("left_knee")], axis=-1).mean()
        + np.linalg.norm(p[:, j("left_knee")] - p[:, j("left_ankle")], axis=-1).mean()
    )
    rest_leg = np.linalg.norm(DWM23_REST[j("left_knee")]) + np.linalg.norm(DWM23_REST[j("left_ankle")])
    assert leg == pytest.approx(rest_leg, rel=0.1)
    # standing on the floor; the pelvis point 15 cm above the hips' midpoint, as in the rest pose
    assert np.percentile(p[..., 1].min(axis=1), 5) == pytest.approx(0.0, abs=1e-6)
    mid = 0.5 * (p[:, j("left_hip")] + p[:, j("right_hip")])
    np.testing.assert_allclose(p[:, j("pelvis")] - mid, np.tile([0.0, 0.15, 0.0], (300, 1)), atol=1e-5)
    # two head points 10 cm apart from one Head joint, left on the left shoulder's side
    heads = p[:, j("left_head")] - p[:, j("right_head")]
    np.testing.assert_allclose(np.linalg.norm(heads, axis=-1), 0.10, atol=1e-5)
    shoulders = p[:, j("left_shoulder")] - p[:, j("right_shoulder")]
    assert np.all(np.sum(heads * shoulders, axis=-1) > 0)
    # the hand extends the forearm by its rest length
    fore = p[:, j("left_wrist")] - p[:, j("left_elbow")]
    hand = p[:, j("left_hand")] - p[:, j("left_wrist")]
    np.testing.assert_allclose(np.linalg.norm(hand, axis=-1), np.linalg.norm(DWM23_REST[j("left_hand")]), atol=1e-5)
    cos = np.sum(fore * hand, axis=-1) / np.linalg.norm(fore, axis=-1) / np.linalg.norm(hand, axis=-1)
    np.testing.assert_allclose(cos, 1.0, atol=1e-5)


def test_smpl_dance_and_the_model_skeleton_itself(data_dir):
    smpl = read_motion(sorted((data_dir / "aistpp_samples" / "annotation" / "motions").glob("*.pkl"))[0])
    out = retarget_positions(smpl.crop(0, 120), DWM23)
    assert out.positions.shape == (120, 23, 3) and np.all(np.isfinite(out.positions))
    dwm = read_motion(data_dir / "dance_with_melody" / "DANCE_W_15").crop(0, 50)
    assert retarget_positions(dwm, DWM23) is dwm


def test_a_skeleton_without_limbs_is_refused_naming_what_is_missing():
    blob = Motion(Skeleton("blob", ("a", "b", "c"), np.array([-1, 0, 1])), 30.0, positions=np.zeros((5, 3, 3)))
    with pytest.raises(ChoreoError, match="no joint for left hip, right hip.*joints: a, b, c"):
        retarget_positions(blob, DWM23)
