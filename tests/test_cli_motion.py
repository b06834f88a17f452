"""``choreo convert`` and ``choreo info`` on real data, and bad input of every kind (exit 2, one line, no file)."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

from choreo.cli import main
from conftest import AISTPP_SEQUENCES as SEQS


@pytest.mark.parametrize("name", SEQS)
def test_convert_aistpp_to_npz_gives_reference_joints(tmp_path, data_dir, joints, name, capsys):
    src = data_dir / "aistpp_samples/annotation/motions" / f"{name}.pkl"
    out = tmp_path / f"{name}.npz"
    assert main(["convert", str(src), str(out)]) == 0
    assert "frames at 60 fps" in capsys.readouterr().out
    with np.load(out) as z:
        P = z["positions"].astype(np.float64)
        assert float(z["fps"]) == 60
    diff = P - joints[f"joints__{name}"]
    shift = diff.reshape(-1, 3).mean(axis=0)  # allowed: one constant translation per sequence
    assert np.abs(diff - shift).max() < 1e-5


def test_convert_resamples_and_writes_bvh(tmp_path, data_dir, joints, capsys):
    src = data_dir / "aistpp_samples/annotation/motions" / f"{SEQS[0]}.pkl"
    assert main(["convert", str(src), str(tmp_path / "x.bvh"), "--fps", "30"]) == 0
    assert main(["convert", str(tmp_path / "x.bvh"), str(tmp_path / "x.npz")]) == 0
    with np.load(tmp_path / "x.npz") as z:
        assert float(z["fps"]) == 30 and z["positions"].shape == (288, 24, 3)
        assert np.abs(z["positions"] - joints[f"joints__{SEQS[0]}"][::2]).max() < 1e-4


def test_convert_dance_with_melody_to_bvh(tmp_path, data_dir, capsys):
    src = data_dir / "dance_with_melody" / "DANCE_W_22"
    assert main(["convert", str(src), str(tmp_path / "w.bvh")]) == 0
    assert "(dwm23)" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "w.bvh"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["skeleton"] == "dwm23" and info["frames"] == 1022 and info["fps"] == 25


def test_info_text_and_json(data_dir, capsys):
    bvh = data_dir / "bandai_namco_dance/data/dataset-1_dance-short_normal_001.bvh"
    assert main(["info", str(bvh)]) == 0
    text = capsys.readouterr().out
    assert "1901 at 30 fps = 63.367 s" in text and "rotations: yes" in text and "y range:" in text
    assert main(["info", str(data_dir / "dance_with_melody" / "DANCE_C_4"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["skeleton"] == "dwm23" and info["joints"] == 23 and info["fps"] == 25
    assert info["rotations"] is False and info["audio"].endswith("audio.mp3")
    lo, hi = info["range"]["y"]
    assert -0.2 < lo < 0.3 and 1.4 < hi < 2.6  # metres, y-up, floor near 0
    assert info["duration_s"] == pytest.approx(info["frames"] / 25)


# --- bad input ----------------------------------------------------------------------------------------

GOOD_BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Leg
  {
    OFFSET 0 -40 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 -40 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.04
0 90 0 0 0 0 10 0 0
1 91 0 0 5 0 20 0 0
"""


def _pickle(obj):
    return pickle.dumps(obj)


def _npz(**arrays):
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


N = 5
BAD = {
    "truncated_motion.bvh": GOOD_BVH[:-12],
    "truncated_hierarchy.bvh": GOOD_BVH[: GOOD_BVH.index("End Site")],
    "no_motion.bvh": GOOD_BVH[: GOOD_BVH.index("MOTION")],
    "text_in_data.bvh": GOOD_BVH.replace("1 91 0", "1 abc 0"),
    "nan.bvh": GOOD_BVH.replace("1 91 0", "1 nan 0"),
    "zero_frames.bvh": GOOD_BVH.replace("Frames: 2", "Frames: 0").rsplit("Frame Time: 0.04", 1)[0]
    + "Frame Time: 0.04\n",
    "bad_channel.bvh": GOOD_BVH.replace(
        "Zrotation Xrotation Yrotation\n    End", "Zrotation Xrotation Wrotation\n    End"
    ),
    "not_bvh.bvh": "hello world\n",
    "keys.pkl": _pickle({"poses": np.zeros((N, 72)), "trans": np.zeros((N, 3))}),
    "garbage.pkl": b"\x80\x04this is not a pickle",
    "nan.pkl": _pickle(
        {"smpl_poses": np.full((N, 72), np.nan), "smpl_trans": np.zeros((N, 3)), "smpl_scaling": np.ones(1)}
    ),
    "joints.pkl": _pickle({"smpl_poses": np.zeros((N, 69)), "smpl_trans": np.zeros((N, 3))}),
    "frames.pkl": _pickle({"smpl_poses": np.zeros((N, 72)), "smpl_trans": np.zeros((N - 1, 3))}),
    "zero.pkl": _pickle({"smpl_poses": np.zeros((0, 72)), "smpl_trans": np.zeros((0, 3))}),
    "joints.npz": _npz(
        positions=np.zeros((N, 22, 3), np.float32),
        fps=np.array(25.0),
        joint_names=np.array([f"j{i}" for i in range(23)]),
        parents=np.arange(-1, 22),
    ),
    "inf.npz": _npz(
        positions=np.full((N, 2, 3), np.inf, np.float32),
        fps=np.array(25.0),
        joint_names=np.array(["a", "b"]),
        parents=np.array([-1, 0]),
    ),
    "zero.npz": _npz(
        positions=np.zeros((0, 2, 3), np.float32),
        fps=np.array(25.0),
        joint_names=np.array(["a", "b"]),
        parents=np.array([-1, 0]),
    ),
    "keys.npz": _npz(positions=np.zeros((N, 2, 3))),
    "pickled.npz": _npz(
        positions=np.zeros((N, 2, 3)),
        fps=np.array(25.0),
        joint_names=np.array(["a", "b"], dtype=object),
        parents=np.array([-1, 0]),
    ),
    "notzip.npz": b"PK\x03\x04 broken",
    "motion.xyz": b"whatever",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_exit_2_one_line_no_output(tmp_path, name, capsys):
    src = tmp_path / name
    content = BAD[name]
    src.write_bytes(content.encode() if isinstance(content, str) else content)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for out in ("o.npz", "o.bvh", "o.pkl"):
        assert main(["convert", str(src), str(out_dir / out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(src) in err and "Traceback" not in err, err
    assert main(["info", str(src)]) == 2
    assert str(src) in capsys.readouterr().err
    assert list(out_dir.iterdir()) == []  # no output, no temporary left behind


def test_bad_dwm_and_openpose_folders(tmp_path, capsys):
    dwm = tmp_path / "DANCE_X"
    dwm.mkdir()
    (dwm / "skeletons.json").write_text(
        json.dumps({"length": 2, "center": [[0, 0, 0]] * 2, "skeletons": [[[0, 0, 0]] * 22] * 2})
    )
    op = tmp_path / "op"
    op.mkdir()
    (op / "f_0.json").write_text('{"people": [{"pose_keypoints_2d": [1, 2, 3]}]}')
    for src in (dwm, op):
        assert main(["convert", str(src), str(tmp_path / "o.npz")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(src) in err
    assert not (tmp_path / "o.npz").exists()


def test_writer_errors_leave_no_file(tmp_path, capsys):
    op = tmp_path / "op"
    op.mkdir()
    kp = [v for j in range(25) for v in (float(j), float(j), 1.0)]
    (op / "f_0.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": kp}]}))
    assert main(["convert", str(op), str(tmp_path / "o.bvh")]) == 2  # 2D keypoints cannot be a BVH
    assert "3D" in capsys.readouterr().err
    assert main(["convert", str(op), str(tmp_path / "o.fbx")]) == 2
    assert ".fbx" in capsys.readouterr().err
    assert main(["convert", str(op), str(tmp_path / "o.npz"), "--fps", "-3"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["op"]


def test_console_entry_point_exit_status(tmp_path):
    bad = tmp_path / "bad.bvh"
    bad.write_text(GOOD_BVH[:-12])
    r = subprocess.run(
        [sys.executable, "-m", "choreo", "convert", str(bad), str(tmp_path / "o.npz")], capture_output=True, text=True
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "truncated" in r.stderr and str(bad) in r.stderr
    assert not (tmp_path / "o.npz").exists()
