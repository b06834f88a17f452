"""Dance Revolution through ``choreo train`` / ``choreo dance`` on real data: Dance with Melody (3D positions), an
OpenPose pairs folder with a song (2D keypoints), exact resume, torchrun."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from choreo import checkpoint as ck
from choreo.cli import main as cli_main
from choreo.train.config import RunConfig
from choreo.train.trainer import read_log
from conftest import flat_components, train_cli

torch.set_num_threads(1)

SEQS = ["DANCE_W_22", "DANCE_W_24"]
SONG = "Kevin_MacLeod_-_Vibe_Ace.hq.ogg"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "choreo-cache-dr"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The bundled tiny config on two waltzes (2 s windows every second), logging every step."""
    cfg = RunConfig.load("dancerevolution_tiny").to_dict()
    cfg["data"].update(sequences=SEQS, stride_seconds=1.0)
    cfg["train"].update(batch_size=8, log_every=1, save_every=4)
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _train(tiny, data_dir, cache_dir, out, *extra) -> int:
    return train_cli(tiny, data_dir / "dance_with_melody", cache_dir, out, *extra)


def _weights(run):
    s = ck.load_checkpoint(run)
    return flat_components(s["components"]), s


def test_tiny_config_trains_on_dance_with_melody_and_dances(tiny, data_dir, cache_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(tiny, data_dir, cache_dir, run, "--steps", "30") == 0
    rows = read_log(run / "log.csv")
    assert [r["step"] for r in rows] == list(range(1, 31))
    assert np.mean([r["loss"] for r in rows[-5:]]) < 0.8 * np.mean([r["loss"] for r in rows[:5]])
    assert {"l1", "self_fed", "lr"} <= set(rows[0])
    state = ck.load_checkpoint(run)
    assert state["method"] == "dancerevolution" and set(state["components"]) == {"encoder", "decoder"}
    assert state["spec"]["feature_set"] == "dr438" and state["spec"]["fps"] == 15.0
    assert state["config"]["model"]["schedule"] == "linear" and state["config"]["model"]["init_state_std"] == 1.0
    capsys.readouterr()
    song = data_dir / "cc_music" / SONG
    argv = ["dance", str(song), "--checkpoint", str(run), "-o", str(tmp_path / "out"), "--seconds", "6"]
    assert cli_main([*argv, "--format", "npz", "--no-progress", "--device", "cpu", "--threads", "1"]) == 0
    from choreo.motion.formats import read_motion

    dance = read_motion(tmp_path / "out" / f"{song.stem}.npz")
    assert dance.fps == 15.0 and dance.n_frames == 90 and dance.skeleton.name == "dwm23"
    assert np.isfinite(dance.joint_positions()).all()


def test_interrupted_then_resumed_equals_straight(tiny, data_dir, cache_dir, tmp_path):
    assert _train(tiny, data_dir, cache_dir, tmp_path / "straight", "--steps", "6") == 0
    assert _train(tiny, data_dir, cache_dir, tmp_path / "split", "--steps", "6", "--stop-at", "3") == 0
    assert ck.load_checkpoint(tmp_path / "split")["step"] == 3
    assert cli_main(["train", "--out", str(tmp_path / "split"), "--resume", "--no-progress"]) == 0
    (a, sa), (b, sb) = _weights(tmp_path / "straight"), _weights(tmp_path / "split")
    assert sa["step"] == sb["step"] == 6
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=0)
    la, lb = read_log(tmp_path / "straight" / "log.csv"), read_log(tmp_path / "split" / "log.csv")
    assert [r["loss"] for r in la] == [r["loss"] for r in lb]


def test_torchrun_two_processes_match_one_process(tiny, data_dir, cache_dir, tmp_path):
    steps = "4"
    assert _train(tiny, data_dir, cache_dir, tmp_path / "one", "--steps", steps) == 0
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "choreo"]
    args = [
        "train",
        "--config",
        str(tiny),
        "--data",
        str(data_dir / "dance_with_melody"),
        "--out",
        str(tmp_path / "two"),
    ]
    args += ["--cache-dir", str(cache_dir), "--device", "cpu", "--no-progress", "--steps", steps]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 x cpu" in r.stderr
    one, two = read_log(tmp_path / "one" / "log.csv"), read_log(tmp_path / "two" / "log.csv")
    assert len(one) == len(two) == int(steps)
    for x, y in zip(one, two, strict=True):
        assert y["loss"] == pytest.approx(x["loss"], rel=1e-4, abs=1e-7)
    (wa, _), (wb, sb) = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    assert sb["world_size"] == 2
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=1e-4, atol=1e-5)


def test_openpose_pairs_folder_with_a_song_trains_and_dances(tmp_path, data_dir, cache_dir):
    """The paper's own setting: 2D BODY_25 keypoints (root absolute, joints root-relative) next to a song."""
    import soundfile as sf

    from choreo.audio.io import load_audio
    from choreo.generate import Choreographer
    from choreo.motion.formats import read_motion
    from conftest import openpose_frame, smpl_to_openpose_pixels, write_openpose

    folder = tmp_path / "op_pairs"
    song, _ = load_audio(data_dir / "cc_music" / SONG, sr=22050, end=10.0)
    name = "gBR_sBM_cAll_d04_mBR2_ch08"
    m = read_motion(data_dir / "aistpp_samples" / "annotation" / "motions" / f"{name}.pkl").resample(30.0)
    for i in range(2):
        px = smpl_to_openpose_pixels(m.crop(60 * i, 60 * i + 240).joint_positions())
        write_openpose(folder / f"dance{i}", [openpose_frame(p) for p in px], stem=f"dance{i}")
        sf.write(folder / f"dance{i}.wav", song, 22050)
    cfg = RunConfig.load("dancerevolution_tiny")
    cfg.data.stride_seconds = 1.0
    cfg.train.steps, cfg.train.log_every = 6, 3
    cfg.save(tmp_path / "tiny2d.yaml")
    args = ["train", "--config", str(tmp_path / "tiny2d.yaml"), "--data", str(folder), "--out", str(tmp_path / "run")]
    assert cli_main([*args, "--cache-dir", str(cache_dir), "--device", "cpu", "--no-progress"]) == 0
    dancer = Choreographer.load(tmp_path / "run", device="cpu", threads=1)
    assert dancer.representation.name == "keypoints2d" and dancer.fps == 15.0
    out = dancer.dance((song[: 22050 * 5], 22050), seed=1, progress=False)
    assert out.skeleton.name == "body25" and out.positions.shape == (75, 25, 2) and np.isfinite(out.positions).all()
    assert out.meta.get("units") == "pixels" and out.meta["method"] == "dancerevolution"
    other = dancer.dance((song[: 22050 * 5], 22050), seed=2, progress=False)
    assert np.abs(other.positions - out.positions).mean() > 1e-3
