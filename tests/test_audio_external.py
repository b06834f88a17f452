"""The external feature set: per-song arrays, frame-rate sidecar, time resampling, length checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from choreo.audio.features import feature_dim, song_features
from choreo.errors import ChoreoError


@pytest.fixture()
def song(tmp_path):
    path = tmp_path / "tune.wav"
    sf.write(path, np.zeros(int(10.0 * 8000), dtype=np.float32), 8000)  # 10 s
    return path


def _ramp(n: int, fps: float, d: int = 3) -> np.ndarray:
    """Row j = time j / fps in every column (times 1, 2, ... per column): easy to check interpolation."""
    t = np.arange(n) / fps
    return (t[:, None] * np.arange(1, d + 1)[None, :]).astype(np.float32)


def test_same_fps_is_an_exact_copy(song, tmp_path):
    A = np.random.default_rng(0).standard_normal((300, 7)).astype(np.float32)
    np.save(tmp_path / "tune.npy", A)
    F = song_features(song, "external", 30, external_fps=30)
    np.testing.assert_array_equal(F, A)
    assert feature_dim("external", external_dir=tmp_path) == 7
    part = song_features(song, "external", 30, start=2.0, end=4.0, external_fps=30)
    np.testing.assert_array_equal(part, A[60:120])


def test_sidecar_fps_and_linear_resampling(song, tmp_path):
    folder = tmp_path / "juke"
    folder.mkdir()
    np.save(folder / "tune.npy", _ramp(600, 60.0))  # 60 fps
    (folder / "tune.json").write_text(json.dumps({"fps": 60}))
    F = song_features(song, "external", 25, external_dir=folder)
    assert F.shape == (250, 3)
    t = np.arange(250) / 25.0
    np.testing.assert_allclose(F, t[:, None] * [1, 2, 3], atol=1e-5)
    # upsampling interpolates between rows
    np.save(folder / "tune.npy", _ramp(100, 10.0))
    (folder / "tune.json").write_text(json.dumps({"fps": 10}))
    G = song_features(song, "external", 30, external_dir=folder, n_frames=300)
    t = np.arange(300) / 30.0
    np.testing.assert_allclose(G[:-3], (t[:, None] * [1, 2, 3])[:-3], atol=1e-5)  # last rows hold the end


def test_one_frame_of_slack_then_error(song, tmp_path):
    np.save(tmp_path / "tune.npy", _ramp(301, 30.0))  # one frame too many: fine
    assert song_features(song, "external", 30, external_fps=30).shape == (300, 3)
    np.save(tmp_path / "tune.npy", _ramp(270, 30.0))  # a second short: another song?
    with pytest.raises(ChoreoError, match="the song lasts 10.000 s"):
        song_features(song, "external", 30, external_fps=30)
    with pytest.raises(ChoreoError, match="wrong fps"):
        song_features(song, "external", 30, external_fps=25)  # 300 rows at 25 fps = 12 s


def test_missing_pieces(song, tmp_path):
    with pytest.raises(ChoreoError, match="no external features"):
        song_features(song, "external", 30)
    np.save(tmp_path / "tune.npy", _ramp(300, 30.0))
    with pytest.raises(ChoreoError, match="unknown frame rate"):
        song_features(song, "external", 30)
    (tmp_path / "tune.json").write_text("{not json")
    with pytest.raises(ChoreoError, match="cannot read the frame rate"):
        song_features(song, "external", 30)
    np.save(tmp_path / "tune.npy", np.zeros(300))
    with pytest.raises(ChoreoError, match="frames, features"):
        song_features(song, "external", 30, external_fps=30)
    bad = _ramp(300, 30.0)
    bad[5, 1] = np.nan
    np.save(tmp_path / "tune.npy", bad)
    with pytest.raises(ChoreoError, match="NaN"):
        song_features(song, "external", 30, external_fps=30)
    with pytest.raises(ChoreoError, match="external_dir"):
        feature_dim("external")
