"""Training windows from real Dance with Melody data: alignment, mirroring, normaliser, cache."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from choreo.audio.features import song_features
from choreo.data.config import DataConfig
from choreo.data.datasets import build_dataset
from choreo.data.representation import get_representation
from choreo.motion.formats import read_motion
from choreo.motion.formats.dwm import DWM23

SEQS = ["DANCE_W_22", "DANCE_W_24"]  # two short waltzes (41 s and 39 s)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "choreo-cache"


@pytest.fixture(scope="module")
def cfg(data_dir, cache_dir):
    return DataConfig(
        path=str(data_dir / "dance_with_melody"),
        sequences=SEQS,
        window_seconds=2.0,
        stride_seconds=1.0,
        cache_dir=str(cache_dir),
    )


@pytest.fixture(scope="module")
def ds(cfg):
    return build_dataset(cfg, "train")


def test_windows_are_the_encoded_motion_with_its_music(ds, cfg, data_dir, cache_dir):
    assert ds.kind == "dwm" and ds.names == SEQS and ds.fps == 30.0 and ds.window_frames == 60
    assert ds.representation.name == "positions" and ds.motion_dim == 73 and ds.feature_dim == 35
    rep = get_representation("positions", DWM23)
    starts = 0
    for k, name in enumerate(SEQS):
        motion = read_motion(data_dir / "dance_with_melody" / name)
        m30 = motion.resample(30.0)
        x = rep.encode(m30)
        mirrored = rep.encode(m30.mirror())
        start = motion.meta["audio_start"]
        music = song_features(
            motion.meta["audio"],
            "baseline35",
            30.0,
            None,
            start=start,
            end=start + m30.n_frames / 30.0,
            cache_dir=cache_dir / "features",
        )
        assert music.shape == (m30.n_frames, 35)
        n_win = (m30.n_frames - 60) // 30 + 1
        # the sequence's windows: original then mirrored
        idx = np.nonzero(ds.window_sequence == 2 * k)[0]
        idx_m = np.nonzero(ds.window_sequence == 2 * k + 1)[0]
        assert len(idx) == len(idx_m) == n_win
        assert ds.sequences[2 * k].name == ds.sequences[2 * k + 1].name == name and ds.sequences[2 * k + 1].mirrored
        for w in (0, n_win // 2, n_win - 1):
            b = ds.get([idx[w], idx_m[w]])
            s = 30 * w
            np.testing.assert_allclose(
                ds.normalizer.denormalize(b["motion"][0].double()).numpy(), x[s : s + 60], atol=2e-5
            )
            np.testing.assert_allclose(
                ds.normalizer.denormalize(b["motion"][1].double()).numpy(), mirrored[s : s + 60], atol=2e-5
            )
            np.testing.assert_array_equal(b["music"][0].numpy(), music[s : s + 60])
            np.testing.assert_array_equal(b["music"][1].numpy(), music[s : s + 60])  # mirroring keeps the music
        starts += n_win
    assert len(ds) == 2 * starts


def test_mirror_swaps_left_and_right_feet(ds):
    b = ds.get(np.nonzero(ds.window_sequence <= 1)[0])
    real = ds.normalizer.denormalize(b["motion"].double())
    n = len(b["motion"]) // 2
    orig, mirr = real[:n], real[n:]
    # contacts (left ankle, left toe, right ankle, right toe) swap sides; root x flips
    torch.testing.assert_close(mirr[..., [0, 1, 2, 3]], orig[..., [2, 3, 0, 1]])
    torch.testing.assert_close(mirr[..., 4], -orig[..., 4])
    torch.testing.assert_close(mirr[..., 5:7], orig[..., 5:7])


def test_normaliser_is_fitted_on_the_training_frames(ds):
    b = ds.get(np.arange(len(ds)))["motion"]
    assert b.dtype == torch.float32 and b.abs().max() <= 1.0 + 1e-6
    span = b.amax(dim=(0, 1)) - b.amin(dim=(0, 1))
    assert (span > 1.5).float().mean() > 0.9  # the windows cover most of each channel's range


def test_encoded_set_is_cached_and_keyed_by_config(cfg, ds, cache_dir):
    t = time.perf_counter()
    again = build_dataset(cfg, "train")
    assert time.perf_counter() - t < 2.0
    for i in (0, len(ds) - 1):
        for key in ("motion", "music"):
            torch.testing.assert_close(again.get([i])[key], ds.get([i])[key], rtol=0, atol=0)
    before = set((cache_dir / "datasets").iterdir())
    other = DataConfig(**{**cfg.__dict__, "fps": 25.0})
    d25 = build_dataset(other, "train")
    assert d25.window_frames == 50 and len(set((cache_dir / "datasets").iterdir()) - before) == 1


def test_test_split_uses_the_training_normaliser(cfg, ds):
    test_cfg = DataConfig(**{**cfg.__dict__, "sequences": ["DANCE_W_17"], "mirror": False})
    test = build_dataset(test_cfg, "test", normalizer=ds.normalizer)
    assert test.names == ["DANCE_W_17"] and test.normalizer is ds.normalizer
    assert not any(s.mirrored for s in test.sequences)


def test_batches_carry_the_motion_at_other_rates_and_the_waveform(cfg, data_dir, cache_dir):
    """``extra_fps`` and ``audio_sr``: the same seconds of the same dance at 15 fps, and the song's samples."""
    from dataclasses import replace

    from choreo.audio.io import load_audio

    multi = build_dataset(replace(cfg, extra_fps=[15.0], audio_sr=8000, mirror=False), "train")
    assert multi.extra_fps == (15.0,) and multi.audio_sr == 8000 and len(multi) == len(multi.window_sequence)
    spec = multi.spec()
    assert spec.extra_fps == (15.0,) and spec.audio_sr == 8000 and spec.window_frames == 60
    rep = multi.representation
    name = SEQS[1]
    motion = read_motion(data_dir / "dance_with_melody" / name)
    m15 = rep.encode(motion.resample(30.0).resample(15.0))
    start = motion.meta["audio_start"]
    idx = np.nonzero(multi.window_sequence == 1)[0]
    for w in (0, len(idx) - 1):
        b = multi.get([idx[w]])
        assert b["motion@15"].shape == (1, 30, 73) and b["audio"].shape == (1, 16000)
        s = 30 * w  # window start at 30 fps: second s / 30
        got = multi.normalizer.denormalize(b["motion@15"][0].double()).numpy()
        np.testing.assert_allclose(got, m15[s // 2 : s // 2 + 30], atol=2e-5)
        y, _ = load_audio(motion.meta["audio"], sr=8000, start=start + s / 30.0, end=start + s / 30.0 + 2.0)
        # equal but for a few milliseconds at the cuts, where the resampler's filter sees the song's
        # neighbouring samples in one reading and nothing in the other
        np.testing.assert_allclose(b["audio"][0].numpy()[40:-40], y[40:15960], atol=2e-4)
    # the streams survive the cache (a second build reads it) and follow a new normaliser
    again = build_dataset(replace(cfg, extra_fps=[15.0], audio_sr=8000, mirror=False), "train")
    for k, v in multi.get([0, 5]).items():
        torch.testing.assert_close(again.get([0, 5])[k], v)


def test_a_2d_openpose_pairs_folder_trains_and_dances(tmp_path, data_dir, cache_dir):
    """Dance Revolution's setting: OpenPose BODY_25 keypoints (pixels) next to their songs, through choreo train."""
    import soundfile as sf

    from choreo.audio.io import load_audio
    from choreo.cli import main
    from choreo.generate import Choreographer
    from conftest import openpose_frame, smpl_to_openpose_pixels, write_openpose

    folder = tmp_path / "op_pairs"
    song, _ = load_audio(data_dir / "cc_music" / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg", sr=22050, end=10.0)
    for i, name in enumerate(("gBR_sBM_cAll_d04_mBR2_ch08", "gBR_sBM_cAll_d04_mBR2_ch08")):
        m = read_motion(data_dir / "aistpp_samples" / "annotation" / "motions" / f"{name}.pkl").resample(30.0)
        px = smpl_to_openpose_pixels(m.crop(60 * i, 60 * i + 240).joint_positions())
        write_openpose(folder / f"dance{i}", [openpose_frame(p) for p in px], stem=f"dance{i}")
        sf.write(folder / f"dance{i}.wav", song, 22050)
    ds = build_dataset(DataConfig(path=str(folder), fps=15.0, window_seconds=2.0, cache_dir=str(cache_dir)), "all")
    assert ds.kind == "pairs" and ds.representation.name == "keypoints2d" and ds.motion_dim == 50
    assert any(s.mirrored for s in ds.sequences)  # 2D mirroring is exact
    cfg = tmp_path / "tiny2d.yaml"
    cfg.write_text(
        "method: edge\n"
        "data: {fps: 15, window_seconds: 2.0, stride_seconds: 0.5}\n"
        "model: {width: 32, layers: 1, heads: 2, ff_size: 64, music_layers: 1, dropout: 0.0}\n"
        "train: {steps: 30, batch_size: 8, lr: 2.0e-3, log_every: 5, save_every: 30, threads: 1}\n"
    )
    args = ["train", "--config", str(cfg), "--data", str(folder), "--out", str(tmp_path / "run")]
    assert main([*args, "--cache-dir", str(cache_dir), "--device", "cpu", "--no-progress"]) == 0
    dancer = Choreographer.load(tmp_path / "run", device="cpu", threads=1)
    assert dancer.representation.name == "keypoints2d" and dancer.fps == 15.0
    out = dancer.dance((song[: 22050 * 5], 22050), steps=2, progress=False)
    assert out.skeleton.name == "body25" and out.positions.shape == (75, 25, 2) and np.isfinite(out.positions).all()
    assert out.meta.get("units") == "pixels"
