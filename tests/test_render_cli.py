"""``choreo render`` on the real data in ../shared, and its error reports."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from choreo.cli import main
from choreo.motion.formats import read_motion
from choreo.render import render, style
from choreo.render.camera import joint_pixels
from choreo.render.writers import probe


@pytest.fixture(scope="module")
def paths(data_dir):
    return {
        "dwm": data_dir / "dance_with_melody" / "DANCE_W_1",
        "aist": data_dir / "aistpp_samples" / "annotation" / "motions" / "gBR_sBM_cAll_d04_mBR2_ch08.pkl",
        "bvh": data_dir / "bandai_namco_dance" / "data" / "dataset-1_dance-short_normal_001.bvh",
        "song": data_dir / "cc_music" / "admiralbob77_-_Choice_-_Drum-bass.hq.ogg",
    }


@pytest.fixture(scope="module")
def motions(paths):
    return {k: read_motion(paths[k]) for k in ("dwm", "aist", "bvh")}


def test_cli_dwm_mp4_carries_its_own_song(paths, motions, tmp_path, capsys):
    out = tmp_path / "w1.mp4"
    rc = main(["render", str(paths["dwm"]), "-o", str(out), "--size", "160x120", "--fps", "5"])
    assert rc == 0
    m = motions["dwm"]
    info = probe(out)
    assert info.video == ["h264"] and info.audio == ["aac"] and info.size == (160, 120)
    assert abs(info.duration - m.duration) < 0.25
    assert "w1.mp4" in capsys.readouterr().out


def test_cli_compare_bvh_with_aistpp_gif_and_music_padding(paths, motions, tmp_path, capsys):
    out = tmp_path / "cmp.gif"
    args = ["render", str(paths["bvh"]), "--compare", str(paths["aist"]), "-o", str(out)]
    rc = main(args + ["--size", "200x100", "--fps", "4", "--camera", "fixed", "--time"])
    assert rc == 0
    longest = max(motions["bvh"].duration, motions["aist"].duration)
    with Image.open(out) as im:
        assert im.info["loop"] == 0 and im.info["duration"] == 250
        assert abs(im.n_frames - longest * 4) <= 1
    # a 25 s song under a 63 s dance: the MP4 is padded with silence to the dance's length
    out = tmp_path / "padded.mp4"
    rc = main(
        ["render", str(paths["bvh"]), "--music", str(paths["song"]), "-o", str(out), "--size", "96x64", "--fps", "2"]
    )
    assert rc == 0
    info = probe(out)
    assert info.audio == ["aac"] and abs(info.duration - motions["bvh"].duration) < 0.6
    assert "padded with" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["dwm", "aist", "bvh"])
def test_real_skeletons_drawn_where_projected(motions, tmp_path, name):
    m = motions[name]
    m = m.crop(0, int(round(m.fps)))  # one second
    out = tmp_path / f"{name}.gif"
    render(m, out, size=(240, 180), camera="fixed", fps=25)
    sides = style.joint_sides(m.skeleton)
    with Image.open(out) as im:
        im.seek(12)
        frame = np.asarray(im.convert("RGB"))
    px = joint_pixels(m, 12, size=(240, 180), camera="fixed", fps=25, fmt="gif")
    assert np.all((px >= 0) & (px < [240, 180]))
    hits = [
        tuple(frame[int(y), int(x)]) in (style.SIDE_COLOURS[sides[j] + 1], style.CONTACT) for j, (x, y) in enumerate(px)
    ]
    assert np.mean(hits) >= 0.75
    assert (sides == 1).any() and (sides == -1).any()  # left and right limbs are told apart


def _npz(path, positions):
    from choreo.motion import SMPL24

    np.savez(
        path, positions=positions, fps=np.array(30.0), joint_names=np.array(SMPL24.joint_names), parents=SMPL24.parents
    )


def test_cli_reports_nan_and_empty_motions_by_file(tmp_path, capsys):
    pos = np.zeros((10, 24, 3), np.float32)
    pos[4, 3, 0] = np.nan
    _npz(tmp_path / "bad.npz", pos)
    assert main(["render", str(tmp_path / "bad.npz"), "-o", str(tmp_path / "x.mp4")]) == 2
    err = capsys.readouterr().err
    assert "bad.npz" in err and "NaN" in err and len(err.strip().splitlines()) == 1
    _npz(tmp_path / "empty.npz", np.zeros((0, 24, 3), np.float32))
    assert main(["render", str(tmp_path / "empty.npz"), "-o", str(tmp_path / "x.mp4")]) == 2
    err = capsys.readouterr().err
    assert "empty.npz" in err and "zero frames" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npz", "empty.npz"]


def test_cli_bad_arguments(paths, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["render", str(paths["aist"]), "-o", str(blocker / "x.mp4")]) == 2
    assert "x.mp4" in capsys.readouterr().err
    assert main(["render", str(paths["aist"]), "-o", str(tmp_path / "x.mp4"), "--beats"]) == 2
    assert "--beats needs music" in capsys.readouterr().err
    assert main(["render", str(tmp_path / "missing.bvh"), "-o", str(tmp_path / "x.mp4")]) == 2
    assert "missing.bvh" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["render", str(paths["aist"]), "-o", str(tmp_path / "x.mp4"), "--size", "640"])
    assert exc.value.code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_ctrl_c_during_render_leaves_nothing(paths, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    # Ctrl-C in a terminal signals the whole process group: choreo and its ffmpeg alike.
    cmd = [sys.executable, "-m", "choreo", "render", str(paths["dwm"]), "-o", str(tmp_path / "out.mp4")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not any(p.name.startswith(".out.tmp") for p in tmp_path.iterdir()):
            assert proc.poll() is None and time.monotonic() < deadline, "render ended before it could be interrupted"
            time.sleep(0.05)
        time.sleep(0.5)  # frames are being written
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and b"interrupted" in err
    assert list(tmp_path.iterdir()) == []


def test_cli_openpose_folder_drawn_upright(tmp_path, capsys):
    import json

    from choreo.motion import BODY25
    from test_render_camera import _body25_motion

    # OpenPose JSON frames in image pixels (y down); choreo's reader negates y, the renderer flips it back
    frames = tmp_path / "pose"
    frames.mkdir()
    m = _body25_motion(20)
    for t, p in enumerate(m.positions * np.array([1.0, -1.0])):
        kp = np.concatenate([p, np.ones((25, 1))], axis=1).reshape(-1).tolist()
        (frames / f"clip_{t:012d}_keypoints.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": kp}]}))
    out = tmp_path / "pose.gif"
    assert main(["render", str(frames), "-o", str(out), "--size", "160x120", "--camera", "fixed"]) == 0
    motion = read_motion(frames)
    px = joint_pixels(motion, 5, size=(160, 120), camera="fixed", fmt="gif")
    assert px[BODY25.index("nose"), 1] < px[BODY25.index("left_ankle"), 1] - 40
    with Image.open(out) as im:
        im.seek(5)
        frame = np.asarray(im.convert("RGB"))
    x, y = px[BODY25.index("left_wrist")]
    assert tuple(frame[int(y), int(x)]) == style.LEFT
