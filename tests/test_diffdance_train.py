"""DiffDance through ``choreo train`` on Dance with Melody: every stage in one run folder, dance, resume, torchrun."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from choreo import checkpoint as ck
from choreo.cli import main as cli_main
from choreo.train.config import resolve_config_path
from choreo.train.trainer import read_log

SEQS = ["DANCE_W_22", "DANCE_W_24"]
COMPONENTS = {"music_encoder", "motion_encoder", "adapter", "base", "ssr"}
LOGGED = ("loss", "stage", "nce", "temperature", "base_x0", "base_vel", "base_fk", "base_foot", "ssr_x0", "ssr_foot")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "choreo-cache"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The bundled diffdance_tiny config on two short waltzes."""
    cfg = yaml.safe_load(resolve_config_path("diffdance_tiny").read_text())
    cfg["data"]["sequences"] = SEQS
    path = tmp_path_factory.mktemp("cfg") / "diffdance_tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _args(tiny, data_dir, cache_dir, out) -> list[str]:
    args = ["train", "--method", "diffdance", "--config", str(tiny), "--data", str(data_dir / "dance_with_melody")]
    return [*args, "--out", str(out), "--cache-dir", str(cache_dir), "--device", "cpu", "--no-progress"]


def _train(tiny, data_dir, cache_dir, out, *extra) -> int:
    return cli_main([*_args(tiny, data_dir, cache_dir, out), *extra])


def _logs_equal(a, b, rtol=0.0, atol=0.0):
    assert len(a) == len(b)
    for key in LOGGED:
        np.testing.assert_allclose([r[key] for r in b], [r[key] for r in a], rtol=rtol, atol=atol, err_msg=key)


def test_three_steps_train_every_stage_into_one_run_then_dance(tiny, data_dir, cache_dir, tmp_path):
    run = tmp_path / "run"
    assert _train(tiny, data_dir, cache_dir, run, "--steps", "3") == 0
    rows = read_log(run / "log.csv")
    assert [r["stage"] for r in rows] == [0.0, 1.0, 2.0]  # encoders, adapter, base + SSR
    assert np.isfinite(rows[0]["nce"]) and np.isfinite(rows[1]["nce"]) and np.isnan(rows[2]["nce"])
    assert all(np.isfinite(rows[2][k]) for k in ("base_x0", "base_fk", "ssr_x0", "ssr_vel", "geo_weight"))
    assert {"lr_encoders", "lr_adapter", "lr_diffusion"} <= set(rows[0])
    state = ck.load_checkpoint(run)
    assert state["method"] == "diffdance" and set(state["components"]) == COMPONENTS
    assert set(state["ema"]) == {"base", "ssr"} and set(state["optimizers"]) == {"encoders", "adapter", "diffusion"}
    model = state["config"]["model"]
    assert model["guidance"] == 2.5 and model["steps"] == 100 and model["loss_decay"] == 0.1  # spelled out
    assert state["spec"]["extra_fps"] == [12.5] and state["spec"]["fps"] == 25.0

    song = data_dir / "dance_with_melody" / "DANCE_W_22" / "audio.mp3"
    out = tmp_path / "dances"
    argv = ["dance", str(song), "--checkpoint", str(run), "--seconds", "3", "--steps", "2", "-o", str(out)]
    assert cli_main([*argv, "--format", "npz", "--no-progress", "--device", "cpu", "--seed", "4"]) == 0
    from choreo.motion.formats import read_motion

    dance = read_motion(out / "audio.npz")
    assert dance.n_frames == 75 and dance.fps == 25.0 and np.isfinite(dance.positions).all()

    # the retrieval report of the run's embedding (here on its own two training songs, 2 s clips)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "research"))
    from evaluate_diffdance_alignment import alignment_report

    r = alignment_report(str(run), split="train", sequences=SEQS, cache_dir=str(cache_dir))
    assert r["clip_seconds"] == 2.0 and r["clips"] == r["adapter"]["n"] == 20 + 19  # 41 s + 39 s of dance, 2 s clips
    assert r["adapter"]["genres"] == {"waltz": 39} and r["adapter"]["chance_top1"] == pytest.approx(1 / 39)

    # a slim export loads by itself and dances the same
    from choreo.generate import Choreographer

    slim = ck.export_inference(run, tmp_path / "slim.pt", info={"description": "tiny DiffDance"})
    ch = Choreographer.load(slim, device="cpu")
    assert ch.method.name == "diffdance" and ch.info["description"] == "tiny DiffDance"
    again = ch.dance(str(song), seconds=3, seed=4, steps=2, progress=False)
    np.testing.assert_allclose(again.positions, dance.positions, atol=1e-5)


def test_interrupted_then_resumed_equals_straight(tiny, data_dir, cache_dir, tmp_path):
    assert _train(tiny, data_dir, cache_dir, tmp_path / "straight", "--steps", "4") == 0
    # one schedule to step 4, trained in two sittings that break between the adapter and diffusion stages
    assert _train(tiny, data_dir, cache_dir, tmp_path / "split", "--steps", "4", "--stop-at", "2") == 0
    assert ck.load_checkpoint(tmp_path / "split")["step"] == 2
    assert cli_main(["train", "--out", str(tmp_path / "split"), "--resume", "--steps", "4", "--no-progress"]) == 0
    a, b = ck.load_checkpoint(tmp_path / "straight"), ck.load_checkpoint(tmp_path / "split")
    assert a["step"] == b["step"] == 4
    for part in ("components", "ema"):
        for comp, sd in a[part].items():
            for k, v in sd.items():
                torch.testing.assert_close(b[part][comp][k], v, rtol=0, atol=0, msg=f"{part} {comp}.{k}")
    _logs_equal(read_log(tmp_path / "straight" / "log.csv"), read_log(tmp_path / "split" / "log.csv"))


def test_torchrun_two_processes_match_one_process(tiny, data_dir, cache_dir, tmp_path):
    steps = "4"  # encoders, adapter, then two diffusion steps: InfoNCE negatives come from both processes
    assert _train(tiny, data_dir, cache_dir, tmp_path / "one", "--steps", steps) == 0
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "choreo"]
    r = subprocess.run(
        [*cmd, *_args(tiny, data_dir, cache_dir, tmp_path / "two"), "--steps", steps],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 x cpu" in r.stderr
    _logs_equal(read_log(tmp_path / "one" / "log.csv"), read_log(tmp_path / "two" / "log.csv"), 1e-4, 1e-7)
    a, b = ck.load_checkpoint(tmp_path / "one"), ck.load_checkpoint(tmp_path / "two")
    assert b["world_size"] == 2
    for comp, sd in a["components"].items():
        for k, v in sd.items():
            torch.testing.assert_close(b["components"][comp][k], v, rtol=1e-4, atol=1e-5, msg=f"{comp}.{k}")
