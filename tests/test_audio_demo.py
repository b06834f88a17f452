"""The synthesised demo song and write_wav."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from choreo.audio import load_audio
from choreo.audio.demo import demo_song, write_wav
from choreo.errors import ChoreoError


def test_demo_song_shape_level_and_seed():
    y, sr = demo_song(seconds=6.0, bpm=110.0, sr=22050, seed=3)
    assert sr == 22050 and y.dtype == np.float32 and y.shape == (6 * 22050,)
    assert 0.85 < np.abs(y).max() <= 0.9  # about -1 dBFS, no clipping
    np.testing.assert_array_equal(y, demo_song(seconds=6.0, bpm=110.0, sr=22050, seed=3)[0])
    assert not np.array_equal(y, demo_song(seconds=6.0, bpm=110.0, sr=22050, seed=4)[0])  # the drums' noise


def test_demo_song_has_drums_bass_and_chords():
    y, sr = demo_song(seconds=8.0, bpm=120.0)
    spec = np.abs(np.fft.rfft(y))
    freqs = np.fft.rfftfreq(len(y), 1 / sr)

    def band(lo, hi):
        return spec[(freqs >= lo) & (freqs < hi)].mean()

    assert band(40, 130) > 3 * band(3000, 5000)  # kick + bass carry the low end
    c_major = [261.63, 329.63, 392.0]  # the first bar's pad
    first_bar = np.abs(np.fft.rfft(y[: 2 * sr]))
    f1 = np.fft.rfftfreq(2 * sr, 1 / sr)
    for f in c_major:
        near = first_bar[np.abs(f1 - f) < 3].max()
        off = first_bar[(np.abs(f1 - f) > 15) & (np.abs(f1 - f) < 40)].mean()
        assert near > 5 * off
    # hi-hats: energy above 6 kHz right after every eighth note, little in between
    from scipy import signal

    hf = signal.sosfilt(signal.butter(4, 6000, btype="highpass", fs=sr, output="sos"), y) ** 2
    eighth = int(0.25 * sr)
    on = [hf[k : k + int(0.02 * sr)].mean() for k in range(0, len(y) - eighth, eighth)]
    off = [hf[k + eighth // 2 : k + eighth // 2 + int(0.02 * sr)].mean() for k in range(0, len(y) - eighth, eighth)]
    assert min(on) > 10 * np.median(off)


def test_write_wav_roundtrip_and_atomic(tmp_path):
    y, sr = demo_song(seconds=2.0)
    out = tmp_path / "sub" / "demo.wav"
    write_wav(out, y, sr)
    back, back_sr = load_audio(out)
    assert back_sr == sr and len(back) == len(y)
    np.testing.assert_allclose(back, y, atol=1.0 / 32767 + 1e-6)
    assert [p.name for p in out.parent.iterdir()] == ["demo.wav"]
    with pytest.raises(ChoreoError, match="NaN"):
        write_wav(tmp_path / "bad.wav", np.full(10, np.nan), sr)
    assert not (tmp_path / "bad.wav").exists()
    write_wav(tmp_path / "demo.flac", y, sr)
    assert sf.info(tmp_path / "demo.flac").format == "FLAC"


def test_bad_arguments():
    for kwargs in ({"seconds": 0}, {"bpm": 10}, {"sr": 1000}):
        with pytest.raises(ChoreoError):
            demo_song(**kwargs)
