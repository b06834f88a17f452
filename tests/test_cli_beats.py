"""``choreo beats DANCE``: the dance's tempo, beats and bars from a motion file; bad motions give exit 2 and one
line naming the file."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from choreo.audio.beats import read_beat_positions, read_beats
from choreo.cli import main
from choreo.motion.formats import write_motion
from conftest import DWM
from test_motion_tempo import FPS, bounce_dance, waltz_steps


def test_beats_of_a_dance_file_prints_tempo_metre_and_writes_the_beats(tmp_path, capsys):
    motion, beats, downbeats = waltz_steps(90.0)
    dance = tmp_path / "waltz.npz"
    write_motion(motion, dance)
    out = tmp_path / "waltz.beats"
    assert main(["beats", str(dance), "-o", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{dance}: tempo ") and "metre 3/4 (found)" in line and "confidence" in line
    found = read_beats(out)
    positions = read_beat_positions(out)
    assert np.max(np.min(np.abs(beats[:, None] - found[None, :]), axis=0)) * FPS <= 2.0
    first_downbeat = found[positions == 1]
    assert np.max(np.min(np.abs(first_downbeat[:, None] - downbeats[None, :]), axis=1)) * FPS <= 2.0


def test_metre_option_and_start_keep_dance_times(tmp_path, capsys):
    motion, beats = bounce_dance(100.0)
    dance = tmp_path / "bounce.npz"
    write_motion(motion, dance)
    out = tmp_path / "bounce.beats"
    assert main(["beats", str(dance), "--metre", "4", "--start", "5", "-o", str(out)]) == 0
    assert "metre 4/4," in capsys.readouterr().out
    found = read_beats(out)
    assert found[0] >= 5.0 - 1e-9  # times stay dance times
    assert np.max(np.min(np.abs(beats[:, None] - found[None, :]), axis=0)) * FPS <= 2.0
    assert sorted(set(read_beat_positions(out).tolist())) == [1, 2, 3, 4]


def test_a_dance_with_melody_folder_is_read_as_a_dance(capsys):
    assert main(["beats", str(DWM / "DANCE_W_21"), "--end", "30"]) == 0
    assert "BPM, metre" in capsys.readouterr().out


def _run(path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "choreo", "beats", str(path)], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("problem", ["nan", "two_joints", "too_short"])
def test_bad_dances_exit_2_with_one_line_naming_the_file(tmp_path, problem):
    path = tmp_path / f"{problem}.npz"
    rng = np.random.default_rng(0)
    joints, frames = (2, 300) if problem == "two_joints" else (8, 300 if problem == "nan" else 30)
    positions = rng.normal(size=(frames, joints, 3)).astype(np.float32)
    if problem == "nan":
        positions[17, 3, 1] = np.nan
    np.savez(
        path,
        positions=positions,
        fps=np.float64(FPS),
        joint_names=np.array([f"j{i}" for i in range(joints)]),
        parents=np.array([-1] + [0] * (joints - 1)),
    )
    r = _run(path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in r.stderr
    expected = {"nan": "NaN", "two_joints": "2 joint", "too_short": "at least 3 s"}[problem]
    assert expected in lines[0]
