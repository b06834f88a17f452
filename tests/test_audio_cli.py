"""``choreo features``: output, options, and one clear line (exit 2) for every bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from choreo.audio.demo import demo_song
from choreo.audio.features import song_features
from choreo.cli import main


@pytest.fixture()
def song(tmp_path):
    y, sr = demo_song(seconds=5.0, bpm=120.0)
    path = tmp_path / "demo.ogg"
    sf.write(path, y, sr)
    return path


def test_features_cli_writes_npy(song, tmp_path, capsys):
    out = tmp_path / "f.npy"
    cache = tmp_path / "cache"
    args = ["features", str(song), "--set", "baseline35", "--fps", "25", "--start", "1", "--end", "4"]
    assert main([*args, "--cache-dir", str(cache), "-o", str(out)]) == 0
    assert "75 frames x 35 features" in capsys.readouterr().out
    F = np.load(out)
    np.testing.assert_array_equal(F, song_features(song, "baseline35", 25, start=1.0, end=4.0, cache_dir=""))
    assert main([*args, "--frames", "80", "--start-bpm", "120", "--cache-dir", "", "-o", str(out)]) == 0
    assert np.load(out).shape == (80, 35)
    assert main(["features", str(song), "--set", "mel", "--fps", "60", "--cache-dir", "", "-o", str(out)]) == 0
    assert np.load(out).shape == (300, 128)


@pytest.mark.parametrize(
    "make,extra,needle",
    [
        (lambda p: p.write_bytes(b""), [], "empty"),
        (lambda p: p.write_bytes(b"RIFF....WAVEjunk" * 20), [], "not an audio file"),
        (lambda p: None, [], "no such file"),
        (lambda p: sf.write(p, np.zeros(800, dtype=np.float32), 8000), ["--start", "5"], "past the end"),
        (lambda p: sf.write(p, np.zeros(800, dtype=np.float32), 8000), ["--fps", "-3"], "fps must be positive"),
        (lambda p: sf.write(p, np.zeros(800, dtype=np.float32), 8000), ["--set", "nope"], "unknown feature set"),
        (lambda p: sf.write(p, np.zeros(800, dtype=np.float32), 8000), ["--set", "external"], "no external"),
    ],
    ids=["empty", "garbage", "missing", "start-past-end", "bad-fps", "bad-set", "no-external"],
)
def test_features_cli_bad_input_one_line_exit_2(tmp_path, capsys, make, extra, needle):
    song = tmp_path / "song.wav"
    make(song)
    out = tmp_path / "out.npy"
    assert main(["features", str(song), *extra, "--cache-dir", "", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not out.exists()


def test_silent_song_features_are_fine(tmp_path, capsys):
    song = tmp_path / "silence.flac"
    sf.write(song, np.zeros(3 * 16000, dtype=np.float32), 16000)
    out = tmp_path / "f.npy"
    assert main(["features", str(song), "--cache-dir", "", "-o", str(out)]) == 0
    F = np.load(out)
    assert F.shape == (90, 35) and np.all(np.isfinite(F)) and F[:, 33:].sum() == 0
