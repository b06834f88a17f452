"""Training windows from real Dance with Melody data: alignment, mirroring, normaliser, cache."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from choreo.audio.features import song_features
from choreo.data.datasets import build_dataset
from choreo.data.representation import get_representation
from choreo.motion.formats import read_motion
from choreo.motion.formats.dwm import DWM23
from choreo.train.config import DataConfig

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
