"""The codec trains on a folder of real songs through choreo's trainer (and ``choreo train --method codec``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from choreo import checkpoint as ck
from choreo.cli import main
from choreo.errors import ChoreoError
from choreo.models import trains_on
from choreo.train.trainer import read_log
from music_helpers import train_codec

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def test_codec_declares_audio_training_data():
    assert trains_on("codec") == "audio"
    assert trains_on("d2mgan") == "pairs" and trains_on("edge") == "pairs"
    with pytest.raises(ChoreoError, match="unknown method 'no-such-method'"):
        trains_on("no-such-method")


def test_tiny_codec_trains_on_real_songs_and_lowers_the_loss(data_dir, cache, tmp_path):
    out = train_codec(data_dir / "cc_music", cache, tmp_path / "run", steps=30)
    assert out["step"] == 30
    rows = read_log(tmp_path / "run" / "log.csv")
    recon = [r["recon"] for r in rows]
    assert np.mean(recon[-5:]) < 0.75 * np.mean(recon[:3])
    assert rows[0]["dead"] == 1.0 and rows[-1]["dead"] < 0.5  # codebooks start untouched, then live
    assert rows[-1]["perplexity"] > 4
    state = ck.load_checkpoint(tmp_path / "run")
    assert state["method"] == "codec" and state["produces"] == "codec" and state["spec"]["audio_sr"] == 22050
    assert set(state["components"]) == {"codec"} and not state["ema"]

    method, _ = ck.load_method(tmp_path / "run", device="cpu")
    codec = method.codec
    assert codec.latent_bound() > 0
    from choreo.audio.io import load_audio

    y, sr = load_audio(data_dir / "cc_music" / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg", sr=22050, start=20, end=23)
    rec = codec.reconstruct(y)
    assert rec.shape == y.shape and np.all(np.isfinite(rec)) and np.sqrt(np.mean(rec**2)) > 1e-3


def test_choreo_train_picks_the_audio_dataset_for_the_codec(data_dir, cache, tmp_path, capsys):
    argv = ["train", "--method", "codec", "--config", "codec_tiny", "--data", str(data_dir / "cc_music")]
    argv += ["--out", str(tmp_path / "cli"), "--steps", "2", "--cache-dir", str(cache), "--no-progress"]
    assert main(argv) == 0
    state = ck.load_checkpoint(tmp_path / "cli")
    assert state["step"] == 2 and state["method"] == "codec"
    bad = ["train", "--method", "codec", "--config", "codec_tiny", "--data", str(tmp_path / "missing")]
    assert main([*bad, "--out", str(tmp_path / "none"), "--no-progress"]) == 2
    assert "data folder not found" in capsys.readouterr().err


@pytest.mark.slow
def test_two_processes_keep_one_codebook_and_match_one_process(tmp_path):
    """Codebook EMA statistics are summed over processes and restarts drawn from the global batch."""
    import os
    import subprocess
    import sys
    import textwrap

    from choreo.audio.demo import demo_song, write_wav
    from music_helpers import codec_config

    music = tmp_path / "music"
    music.mkdir()
    write_wav(music / "a.wav", demo_song(8.0, bpm=100, sr=22050)[0], 22050)
    write_wav(music / "b.wav", demo_song(8.0, bpm=140, sr=22050, seed=1)[0], 22050)
    cfg = codec_config(music, tmp_path / "cache", steps=4)
    cfg.save(tmp_path / "cfg.yaml")
    script = tmp_path / "worker.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            from choreo.train.config import RunConfig
            from choreo.train.trainer import Trainer

            Trainer(RunConfig.load(sys.argv[2]), sys.argv[1], progress=False).fit()
            """
        )
    )
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    r = subprocess.run(
        [*cmd, str(script), str(tmp_path / "two"), str(tmp_path / "cfg.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    train_codec(music, tmp_path / "cache", tmp_path / "one", steps=4)
    one, two = read_log(tmp_path / "one" / "log.csv"), read_log(tmp_path / "two" / "log.csv")
    for a, b in zip(one, two, strict=True):
        for k in ("loss", "recon", "commit", "dead"):
            assert b[k] == pytest.approx(a[k], rel=1e-5, abs=1e-7), (a["step"], k)
    s1, s2 = ck.load_checkpoint(tmp_path / "one"), ck.load_checkpoint(tmp_path / "two")
    for k, v in s1["components"]["codec"].items():
        torch.testing.assert_close(s2["components"]["codec"][k], v, rtol=1e-4, atol=1e-5)
