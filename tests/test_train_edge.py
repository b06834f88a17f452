"""EDGE trained for real on Dance with Melody through ``choreo train``: learning, exact resume, torchrun."""

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
from choreo.train.trainer import read_log
from conftest import train_cli

SEQS = ["DANCE_W_22", "DANCE_W_24"]
TINY = {
    "method": "edge",
    "data": {"sequences": SEQS, "window_seconds": 2.0, "stride_seconds": 1.0},
    "model": {
        "width": 32,
        "layers": 1,
        "heads": 2,
        "ff_size": 64,
        "dropout": 0.0,  # dropout masks differ per process; everything else is drawn per sample
        "music_layers": 1,
    },
    "train": {"batch_size": 8, "lr": 2.0e-3, "ema_decay": 0.99, "log_every": 1, "save_every": 4, "threads": 1},
}


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "choreo-cache"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def _train(tiny, data_dir, cache_dir, out, *extra) -> int:
    return train_cli(tiny, data_dir / "dance_with_melody", cache_dir, out, *extra)


def _final(run):
    s = ck.load_checkpoint(run)
    return s["components"]["denoiser"], s


def test_edge_learns_on_dance_with_melody_in_200_steps(tiny, data_dir, cache_dir, tmp_path):
    run = tmp_path / "run"
    assert _train(tiny, data_dir, cache_dir, run, "--steps", "200", "--export", str(tmp_path / "slim.ckpt")) == 0
    rows = read_log(run / "log.csv")
    assert len(rows) == 200 and rows[-1]["step"] == 200
    first = np.mean([r["loss"] for r in rows[:20]])
    last = np.mean([r["loss"] for r in rows[-20:]])
    assert last < 0.5 * first, (first, last)
    assert np.mean([r["x0"] for r in rows[-20:]]) < 0.7 * np.mean([r["x0"] for r in rows[:20]])
    assert {"vel", "fk", "foot", "lr", "samples_per_s", "elapsed_s"} <= set(rows[0])
    assert sorted(p.name for p in run.glob("step_*.ckpt")) == [f"step_{s:06d}.ckpt" for s in (192, 196, 200)]
    # the checkpoint rebuilds the method with nothing else (what inference does)
    slim = ck.load_checkpoint(tmp_path / "slim.ckpt")
    assert "optimizers" not in slim and set(slim["ema"]) == {"denoiser"} and not slim["components"]
    spec = slim["spec"]
    assert spec["representation"] == "positions" and spec["contact_speed"] == 0.3 and spec["feature_dim"] == 35
    assert spec["fps"] == 30.0 and spec["window_frames"] == 60 and spec["feature_set"] == "baseline35"
    method, _ = ck.load_method(tmp_path / "slim.ckpt", device="cpu")
    torch.testing.assert_close(method.denoiser.state_dict(), slim["ema"]["denoiser"], rtol=0, atol=0)


def test_resumed_run_equals_the_uninterrupted_one(tiny, data_dir, cache_dir, tmp_path):
    assert _train(tiny, data_dir, cache_dir, tmp_path / "straight", "--steps", "8") == 0
    assert _train(tiny, data_dir, cache_dir, tmp_path / "split", "--steps", "4") == 0
    # resuming needs only the run folder: config (data folder, cache) comes from its config.yaml
    assert cli_main(["train", "--out", str(tmp_path / "split"), "--resume", "--steps", "8", "--no-progress"]) == 0
    (a, sa), (b, sb) = _final(tmp_path / "straight"), _final(tmp_path / "split")
    assert sa["step"] == sb["step"] == 8
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=0)
    for k in sa["ema"]["denoiser"]:
        torch.testing.assert_close(sb["ema"]["denoiser"][k], sa["ema"]["denoiser"][k], rtol=0, atol=0)
    la, lb = read_log(tmp_path / "straight" / "log.csv"), read_log(tmp_path / "split" / "log.csv")
    for key in ("step", "loss", "x0", "vel", "fk", "foot"):
        assert [r[key] for r in la] == [r[key] for r in lb], key


@pytest.mark.slow
def test_resume_with_another_model_is_a_clear_error(tiny, data_dir, cache_dir, tmp_path, capsys):
    assert _train(tiny, data_dir, cache_dir, tmp_path / "run", "--steps", "2") == 0
    other = tmp_path / "wide.yaml"
    other.write_text(yaml.safe_dump({**TINY, "model": {**TINY["model"], "width": 64}}))
    capsys.readouterr()
    assert _train(other, data_dir, cache_dir, tmp_path / "run", "--steps", "4", "--resume") == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "does not fit this model" in err and "last.ckpt" in err


def test_torchrun_two_processes_match_one_process(tiny, data_dir, cache_dir, tmp_path):
    steps = "6"
    assert _train(tiny, data_dir, cache_dir, tmp_path / "one", "--steps", steps) == 0  # also warms the data cache
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
    r = subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 x cpu" in r.stderr
    one, two = read_log(tmp_path / "one" / "log.csv"), read_log(tmp_path / "two" / "log.csv")
    assert len(one) == len(two) == int(steps)
    for a, b in zip(one, two, strict=True):
        for key in ("loss", "x0", "vel", "fk", "foot"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-7), (a["step"], key)
    (ma, _), (mb, sb) = _final(tmp_path / "one"), _final(tmp_path / "two")
    assert sb["world_size"] == 2
    for k in ma:
        torch.testing.assert_close(mb[k], ma[k], rtol=1e-4, atol=1e-5)
