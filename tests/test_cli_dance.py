"""``choreo dance`` end to end (tiny untrained checkpoint): outputs, demo, editing, bad input (exit 2, one line)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from choreo.cli import main
from choreo.motion import rotations as R
from choreo.motion.formats import read_motion, write_motion
from edge_standin import make_checkpoint, smooth_smpl

TRUMPET = "cc_music/sorohanro_-_solo-trumpet-06.hq.ogg"


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CHOREO_CACHE", str(tmp_path / "cache"))
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("run") / "last.ckpt")


def fails(capsys, argv, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("choreo dance: error:"), err
    for w in words:
        assert w in err, err
    return err


def test_motion_outputs(ckpt, tmp_path, data_dir, capsys):
    out = tmp_path / "out"
    song = data_dir / TRUMPET
    argv = ["dance", str(song), "--checkpoint", str(ckpt), "-o", str(out), "--seconds", "2", "--steps", "2"]
    assert main([*argv, "--format", "bvh,npz,pkl", "--no-progress", "--threads", "1"]) == 0
    stem = song.stem
    printed = capsys.readouterr().out.split()
    assert sorted(printed) == sorted(str(out / f"{stem}.{e}") for e in ("bvh", "npz", "pkl"))
    for ext in ("npz", "pkl", "bvh"):
        m = read_motion(out / f"{stem}.{ext}")
        assert m.n_frames == 60, ext
    npz = read_motion(out / f"{stem}.npz")
    assert npz.skeleton.name == "smpl24" and np.isfinite(npz.joint_positions()).all()


def test_same_seed_same_file(ckpt, tmp_path, data_dir):
    song = data_dir / TRUMPET
    runs = []
    for name, seed in (("a", "4"), ("b", "4"), ("c", "5")):
        argv = ["dance", str(song), "-c", str(ckpt), "-o", str(tmp_path / name), "--seconds", "1", "--steps", "2"]
        assert main([*argv, "--seed", seed, "--format", "npz", "--no-progress", "--threads", "1"]) == 0
        runs.append(read_motion(tmp_path / name / f"{song.stem}.npz"))
    assert np.array_equal(runs[0].root, runs[1].root) and not np.allclose(runs[0].root, runs[2].root)


def test_demo_with_video(ckpt, tmp_path):
    out = tmp_path / "demo"
    argv = ["dance", "--demo", "-c", str(ckpt), "-o", str(out), "--seconds", "2", "--steps", "2", "--no-progress"]
    argv += ["--threads", "1"]
    assert main(argv) == 0
    for name in ("demo.wav", "demo.mp4", "demo.bvh", "demo.npz"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    import subprocess

    import imageio_ffmpeg

    probe = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-i", str(out / "demo.mp4")], capture_output=True, text=True
    ).stderr
    assert "Video: h264" in probe and "Audio: aac" in probe
    assert read_motion(out / "demo.npz").n_frames == 60


def test_edit_from_the_command_line(ckpt, tmp_path, data_dir):
    ref = smooth_smpl(90, phase=0.6)
    write_motion(ref, tmp_path / "ref.npz")
    out = tmp_path / "edit"
    argv = ["dance", str(data_dir / TRUMPET), "-c", str(ckpt), "-o", str(out), "--seconds", "3", "--steps", "2"]
    argv += ["--edit-from", str(tmp_path / "ref.npz"), "--edit-frames", "10:70", "--edit-joints", "left_elbow,19"]
    assert main([*argv, "--format", "npz", "--no-progress", "--threads", "1"]) == 0
    got = read_motion(out / "sorohanro_-_solo-trumpet-06.hq.npz")
    mat = lambda q: R.quat_to_matrix(torch.from_numpy(np.asarray(q, np.float64))).numpy()  # noqa: E731
    np.testing.assert_allclose(mat(got.rotations[10:70, [18, 19]]), mat(ref.rotations[10:70, [18, 19]]), atol=1e-5)
    assert np.abs(mat(got.rotations[:10, [18, 19]]) - mat(ref.rotations[:10, [18, 19]])).max() > 1e-2


def test_bad_input_is_one_line_and_exit_2(ckpt, tmp_path, data_dir, capsys, monkeypatch):
    song = str(data_dir / TRUMPET)
    corrupt = tmp_path / "bad.ckpt"
    corrupt.write_bytes(b"\x00garbage" * 50)
    fails(capsys, ["dance", song, "-c", str(corrupt), "-o", str(tmp_path)], "bad.ckpt", "corrupt")

    from choreo.checkpoint import load_checkpoint, save_checkpoint

    save_checkpoint(tmp_path / "gan.ckpt", dict(load_checkpoint(ckpt), method="d2m"))
    fails(capsys, ["dance", song, "-c", str(tmp_path / "gan.ckpt")], "gan.ckpt", "d2m")
    fails(capsys, ["dance", str(tmp_path / "missing.ogg"), "-c", str(ckpt)], "missing.ogg", "not found")
    fails(capsys, ["dance", song, "-c", str(ckpt), "--format", "mp4,fbx"], "fbx")
    fails(capsys, ["dance", song, "-c", str(ckpt), "--edit-frames", "0:10"], "--edit-from")
    fails(capsys, ["dance", song, "-c", str(ckpt), "--edit-from", song, "--edit-frames", "x"], "A:B")
    fails(capsys, ["dance", "-c", str(ckpt)], "SONG")
    fails(capsys, ["dance", song, "--demo", "-c", str(ckpt)], "not both")

    import choreo.packaged as packaged

    monkeypatch.setattr(packaged, "INDEX", "no_such_index.json")
    fails(capsys, ["dance", song], "no default dance model", "--checkpoint")
    monkeypatch.undo()
    fails(capsys, ["dance", song, "--model", "nope"], "nope", "no such packaged model", "edge")
    assert not list(tmp_path.glob("*.mp4")) and not list(tmp_path.glob("*.npz"))


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit):
        main(["dance", "--help"])
    text = capsys.readouterr().out
    for opt in ("--checkpoint", "--seconds", "--seed", "--guidance", "--steps", "--format", "--edit-from", "--demo"):
        assert opt in text


def _song_folder(folder, data_dir, n=3):
    from choreo.audio import load_audio
    from choreo.audio.demo import write_wav

    folder.mkdir()
    y, sr = load_audio(data_dir / TRUMPET, end=1.5)
    for i in range(n):
        write_wav(folder / f"song{i}.wav", y * (0.5 + 0.2 * i), sr)
    (folder / "notes.txt").write_text("not a song")
    return folder


def test_a_folder_of_songs_gives_one_dance_per_song(ckpt, tmp_path, data_dir, capsys):
    songs = _song_folder(tmp_path / "songs", data_dir)
    argv = ["dance", str(songs), "-c", str(ckpt), "-o", str(tmp_path / "out"), "--steps", "2", "--format", "npz"]
    assert main([*argv, "--no-progress", "--threads", "1"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(tmp_path / "out" / f"song{i}.npz") for i in range(3)]
    assert all(read_motion(p).n_frames == 45 for p in printed)  # 1.5 s at 30 fps each
    empty = tmp_path / "empty"
    empty.mkdir()
    fails(capsys, ["dance", str(empty), "-c", str(ckpt)], "no songs")


@pytest.mark.slow
def test_torchrun_splits_the_songs_over_processes(ckpt, tmp_path, data_dir):
    import os
    import subprocess
    import sys

    songs = _song_folder(tmp_path / "songs", data_dir, n=5)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "choreo"]
    args = ["dance", str(songs), "-c", str(ckpt), "-o", str(tmp_path / "out"), "--steps", "2", "--format", "npz"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CHOREO_CACHE": str(tmp_path / "cache")}
    r = subprocess.run([*cmd, *args, "--no-progress"], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    printed = r.stdout.split()
    # every song danced exactly once, by one of the two processes
    assert sorted(printed) == [str(tmp_path / "out" / f"song{i}.npz") for i in range(5)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"song{i}.npz" for i in range(5)]
