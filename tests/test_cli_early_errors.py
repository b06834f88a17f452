"""Validate before you compute: every wrong argument of `choreo dance` / `choreo music` / `choreo convert` is
refused (exit 2, one line) before the model loads, and a failure leaves no file behind: a command's outputs
appear all together or not at all."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from choreo.cli import main
from choreo.motion import Motion
from choreo.motion.skeleton import Skeleton
from edge_standin import make_checkpoint, positions_rep


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CHOREO_CACHE", str(tmp_path / "cache"))
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture
def no_model(monkeypatch):
    """Loading any model fails the test: the error must come first."""
    from choreo.compose import Composer
    from choreo.generate import Choreographer

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the error")

    monkeypatch.setattr(Choreographer, "load", classmethod(refuse))
    monkeypatch.setattr(Composer, "load", classmethod(refuse))


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    from choreo.audio.demo import demo_song, write_wav

    folder = tmp_path_factory.mktemp("songs")
    y, sr = demo_song(seconds=4.0, seed=0)
    write_wav(folder / "song.wav", y, sr)
    write_wav(folder / "blip.wav", y[: sr // 5], sr)  # 0.2 s
    return folder


@pytest.fixture(scope="module")
def four_joints(tmp_path_factory):
    """A checkpoint whose skeleton (root, chest, two feet) has no arms: it cannot map onto SMPL-24."""
    return make_checkpoint(tmp_path_factory.mktemp("run") / "last.ckpt", rep=positions_rep())


def fails(capsys, command: str, argv: list[str], *words: str) -> str:
    assert main([command, *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"choreo {command}: error:"), err
    for w in words:
        assert w in err, err
    return err


def everything(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_dance_refuses_before_the_model_loads(no_model, songs, four_joints, tmp_path, capsys):
    song = str(songs / "song.wav")
    out = tmp_path / "out"
    (tmp_path / "afile").write_text("a file")
    under_file = str(tmp_path / "afile" / "dances")
    fails(capsys, "dance", [song, "--model", "edge", "-o", under_file], "afile is a file")
    fails(capsys, "dance", [song, "--model", "edge", "-o", str(tmp_path / "afile")], "is a file")
    fails(capsys, "dance", [song, "--model", "edge", "-o", str(out), "--seconds", "0.1"], "at least 1")
    fails(capsys, "dance", [song, "--model", "edge", "-o", str(out), "--start", "-2"], "--start")
    fails(capsys, "dance", [str(songs / "blip.wav"), "--model", "edge", "-o", str(out)], "blip.wav", "0.20 s")
    fails(capsys, "dance", [song, "--model", "edge", "-o", str(out), "--start", "3.5"], "lasts 4.00 s", "3.5")
    fails(capsys, "dance", [song, "--model", "codec", "-o", str(out)], "makes no dances", "edge")
    err = fails(capsys, "dance", [song, "--model", "d2mgan", "-o", str(out)], "makes music, not dances")
    assert "codec" not in err.split("(packaged")[-1]
    err = fails(capsys, "dance", [song, "--model", "nope", "-o", str(out)], "no such packaged model", "edge")
    assert "codec" not in err and "d2mgan" not in err
    ckpt = str(four_joints)
    fails(capsys, "dance", [song, "-c", ckpt, "-o", str(out), "--format", "bvh,pkl"], "--format pkl", "left shoulder")
    fails(capsys, "dance", [song, "-c", ckpt, "-o", str(out), "--threads", "0"], "--threads")
    from edge_standin import smooth_smpl

    ref = smooth_smpl(40).save(songs / "smpl_ref.npz")
    fails(capsys, "dance", [song, "-c", ckpt, "-o", str(out), "--edit-from", str(ref)], "smpl_ref.npz", "'smpl24'")
    assert not out.exists()
    assert everything(tmp_path) == ["afile"]


def test_dance_outputs_appear_together_or_not_at_all(four_joints, tmp_path, capsys, monkeypatch):
    import choreo.render as render_pkg

    out = tmp_path / "new" / "out"
    argv = ["--demo", "-c", str(four_joints), "-o", str(out), "--seconds", "2", "--steps", "1", "--no-progress"]

    def broken(*args, **kwargs):
        from choreo.errors import ChoreoError

        raise ChoreoError("the video encoder failed")

    monkeypatch.setattr(render_pkg, "render", broken)
    fails(capsys, "dance", [*argv, "--format", "npz,bvh,mp4"], "video encoder failed")
    assert not (tmp_path / "new").exists()  # the folders made for the outputs are gone too
    monkeypatch.undo()
    assert main(["dance", *argv, "--format", "npz,bvh"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(out / "demo.wav"), str(out / "demo.npz"), str(out / "demo.bvh")]
    assert everything(tmp_path / "new") == ["out", "out/demo.bvh", "out/demo.npz", "out/demo.wav"]
    assert Motion.load(out / "demo.npz").meta["audio"] == str(out / "demo.wav")


def test_music_refuses_before_the_model_loads(no_model, tmp_path, capsys):
    from choreo.motion.formats.dwm import DWM23

    rng = np.random.default_rng(0)
    two = Skeleton("two", ("a", "b"), np.array([-1, 0]))
    Motion(two, 25.0, positions=rng.normal(size=(100, 2, 3))).save(tmp_path / "two.npz")
    good = Motion(DWM23, 25.0, positions=rng.normal(size=(100, 23, 3)))
    good.save(tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["positions"][7, 3, 1] = np.nan
    np.savez(tmp_path / "nan.npz", **arrays)
    (tmp_path / "afile").write_text("a file")
    before = everything(tmp_path)
    fails(capsys, "music", [str(tmp_path / "two.npz")], "two.npz", "cannot map", "left hip")
    fails(capsys, "music", [str(tmp_path / "nan.npz")], "nan.npz", "NaN", "frame 7")
    fails(capsys, "music", [str(tmp_path / "good.npz"), "--seconds", "0.5"], "at least 1")
    fails(capsys, "music", [str(tmp_path / "good.npz"), "--start", "3.5"], "good.npz", "lasts 4.00 s")
    fails(capsys, "music", [str(tmp_path / "good.npz"), "-o", str(tmp_path / "afile" / "x")], "afile is a file")
    fails(capsys, "music", [str(tmp_path / "good.npz"), "--model", "edge"], "makes dances, not music", "d2mgan")
    assert everything(tmp_path) == before


def test_convert_cuts_a_time_range_and_writes_pkl_from_any_skeleton(tmp_path, data_dir, capsys):
    src = data_dir / "dance_with_melody" / "DANCE_C_2"
    out = tmp_path / "c.pkl"
    assert main(["convert", str(src), str(out), "--start", "10", "--seconds", "4"]) == 0
    assert "mapped onto smpl24" in capsys.readouterr().out
    back = Motion.load(out)
    assert back.skeleton.name == "smpl24" and back.n_frames == 100 and back.fps == 25.0
    assert main(["convert", str(src), str(tmp_path / "c.npz"), "--start", "10", "--seconds", "4"]) == 0
    whole = Motion.load(src)
    cut = Motion.load(tmp_path / "c.npz")
    np.testing.assert_allclose(cut.positions, whole.positions[250:350], atol=1e-6)
    fails(capsys, "convert", [str(src), str(tmp_path / "d.npz"), "--start", "9999"], "past the motion's end")
    two = tmp_path / "two.npz"
    Motion(Skeleton("two", ("a", "b"), np.array([-1, 0])), 25.0, positions=np.zeros((10, 2, 3))).save(two)
    fails(capsys, "convert", [str(two), str(tmp_path / "two.pkl")], "SMPL-24")
    assert not (tmp_path / "two.pkl").exists() and not (tmp_path / "d.npz").exists()


def test_info_into_a_closed_pipe_ends_quietly(data_dir):
    cmd = f"{sys.executable} -m choreo info {data_dir / 'dance_with_melody' / 'DANCE_C_2'} | head -c 5"
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert r.stdout == "file:" and "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr, r.stderr
