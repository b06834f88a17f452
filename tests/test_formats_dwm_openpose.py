"""Dance with Melody reader and skeleton (left/right from the data), OpenPose BODY_25 JSON reader."""

from __future__ import annotations

import json

import numpy as np
import pytest

from choreo.errors import ChoreoError
from choreo.motion import BODY25
from choreo.motion.formats import read_motion
from choreo.motion.formats.dwm import DWM23


def test_dwm23_structure():
    sk = DWM23
    assert sk.n_joints == 23 and sk.root == 2 and sk.joint_names[2] == "pelvis"
    order = sk.order
    assert all(order.index(int(sk.parents[j])) < order.index(j) for j in range(23) if sk.parents[j] >= 0)
    assert [sk.joint_names[i] for i in sk.feet] == ["left_ankle", "left_toe", "right_ankle", "right_toe"]
    assert (sk.index("left_hip"), sk.index("right_hip")) in sk.mirror_pairs
    assert sorted(np.array(sk.mirror_pairs).ravel().tolist()) == sorted(set(range(23)) - {2})
    assert sk.index("pelvis") in sk.lower_body and sk.index("left_hand") in sk.upper_body


@pytest.mark.parametrize("seq", ["DANCE_C_2", "DANCE_R_3", "DANCE_W_3"])
def test_dwm_reader(data_dir, seq):
    folder = data_dir / "dance_with_melody" / seq
    raw = json.loads((folder / "skeletons.json").read_text())
    cfg = json.loads((folder / "config.json").read_text())
    m = read_motion(folder)
    assert m.skeleton is DWM23 and m.fps == 25
    assert m.n_frames == min(raw["length"], cfg["end_position"] - cfg["start_position"])
    t = m.n_frames // 2
    expected = (np.array(raw["skeletons"][t]) + np.array(raw["center"][t])) / 100.0
    np.testing.assert_allclose(m.joint_positions()[t], expected, atol=1e-12)
    assert m.meta["audio"] == str(folder / "audio.mp3")
    assert m.meta["audio_start"] == cfg["start_position"] / 25
    # the skeletons.json path reads the same
    assert np.array_equal(read_motion(folder / "skeletons.json").joint_positions(), m.joint_positions())
    # metres: a standing dancer is 1.4-1.9 m from head to toe
    P = m.joint_positions()
    height = P[:, [0, 1], 1].max(axis=1) - P[:, [10, 11, 19, 20], 1].min(axis=1)
    assert 1.4 < np.median(height) < 1.9


def test_dwm_crop_to_config(tmp_path, data_dir):
    src = data_dir / "dance_with_melody" / "DANCE_W_16"
    (tmp_path / "skeletons.json").symlink_to(src / "skeletons.json")
    (tmp_path / "config.json").write_text(json.dumps({"start_position": 50, "end_position": 150}))
    m = read_motion(tmp_path)
    assert m.n_frames == 100 and m.meta["audio_start"] == 2.0 and "audio" not in m.meta


def test_dwm_left_right_from_knee_bend(data_dir):
    # the knee bends forward; right = forward x up. The right hip must lie on that side.
    P = read_motion(data_dir / "dance_with_melody" / "DANCE_R_2").joint_positions()
    s = DWM23.index
    hip, knee, ankle = P[:, s("right_hip")], P[:, s("right_knee")], P[:, s("right_ankle")]
    axis = (ankle - hip) / np.linalg.norm(ankle - hip, axis=1, keepdims=True)
    fwd = (knee - hip) - np.sum((knee - hip) * axis, axis=1, keepdims=True) * axis
    fwd[:, 1] = 0.0
    v1, v2 = hip - knee, ankle - knee
    angle = np.degrees(np.arccos(np.sum(v1 * v2, 1) / np.linalg.norm(v1, axis=1) / np.linalg.norm(v2, axis=1)))
    bent = angle < 160
    right = np.cross(fwd, [0.0, 1.0, 0.0])
    side = np.sum((P[:, s("right_hip")] - P[:, s("left_hip")]) * right, axis=1)
    assert bent.sum() > 500 and (side[bent] > 0).mean() > 0.99
    shoulders = np.sum((P[:, s("right_shoulder")] - P[:, s("left_shoulder")]) * right, axis=1)
    assert (shoulders[bent] > 0).mean() > 0.99
    # heel behind toe
    toe_fwd = np.sum((P[:, s("right_toe")] - P[:, s("right_heel")]) * fwd, axis=1)
    assert (toe_fwd[bent] > 0).mean() > 0.95


def test_dwm_bad_json(tmp_path):
    (tmp_path / "skeletons.json").write_text('{"length": 2, "center": [[0,0,0]], "skeletons": [[[0,0,0]]]}')
    with pytest.raises(ChoreoError, match="expected"):
        read_motion(tmp_path)
    (tmp_path / "skeletons.json").write_text('{"length": 2, "center": [[0')
    with pytest.raises(ChoreoError, match="JSON"):
        read_motion(tmp_path)


def openpose_frame(points, conf=None):
    kp = []
    for j in range(25):
        x, y = points[j]
        kp += [float(x), float(y), 1.0 if conf is None else float(conf[j])]
    return {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": kp}]}


def write_openpose(folder, frames):
    folder.mkdir()
    for i, fr in enumerate(frames):
        (folder / f"clip_{i}_keypoints.json").write_text(json.dumps(fr))


def test_openpose_reader_fills_gaps(tmp_path):
    base = np.stack([np.arange(25) * 10.0, np.arange(25) * 5.0], axis=1)
    frames = []
    for t in range(12):
        frames.append(openpose_frame(base + [t, 2 * t]))
    frames[3] = {"version": 1.3, "people": []}  # nobody detected
    conf = np.ones(25)
    conf[4] = 0.0  # right wrist lost in frame 7
    lost = base + [7, 14]
    lost[4] = 0.0
    frames[7] = openpose_frame(lost, conf)
    write_openpose(tmp_path / "op", frames)
    m = read_motion(tmp_path / "op")
    assert m.skeleton is BODY25 and m.fps == 30 and m.n_frames == 12 and m.meta["units"] == "pixels"
    assert m.meta["frames_without_person"] == 1
    P = m.joint_positions()
    # natural order (clip_10 after clip_9), y flipped up, gaps interpolated linearly
    expected = np.stack([base + [t, 2 * t] for t in range(12)]) * [1.0, -1.0]
    np.testing.assert_allclose(P, expected, atol=1e-12)
    assert read_motion(tmp_path / "op", fps=15).fps == 15


def test_openpose_errors(tmp_path):
    write_openpose(tmp_path / "empty", [{"people": []}] * 3)
    with pytest.raises(ChoreoError, match="no person"):
        read_motion(tmp_path / "empty")
    bad = openpose_frame(np.zeros((25, 2)))
    bad["people"][0]["pose_keypoints_2d"] = bad["people"][0]["pose_keypoints_2d"][:54]
    write_openpose(tmp_path / "short", [bad])
    with pytest.raises(ChoreoError, match="75"):
        read_motion(tmp_path / "short")
