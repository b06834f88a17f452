"""load_audio: every format, channel layout and rate; cuts; bad input; bounded memory."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import librosa
import numpy as np
import pytest
import soundfile as sf

from choreo.audio import load_audio
from choreo.audio.io import audio_duration
from choreo.errors import ChoreoError


def _tone(sr: int, seconds: float, channels: int = 1, freq: float = 440.0) -> np.ndarray:
    """(n, channels) float32: channel c is a sine at freq * (c + 1) with amplitude 0.1 * (c + 1)."""
    t = np.arange(int(round(sr * seconds))) / sr
    return np.stack([0.1 * (c + 1) * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)], 1).astype(
        np.float32
    )


def _ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", *args], check=True, capture_output=True)


@pytest.mark.parametrize("channels", [1, 2, 6])
@pytest.mark.parametrize("native_sr", [8000, 44100, 96000])
def test_wav_any_channels_and_rate_mixes_to_mono_mean(tmp_path, channels, native_sr):
    x = _tone(native_sr, 1.5, channels)
    path = tmp_path / "a.wav"
    sf.write(path, x, native_sr, subtype="FLOAT")
    y, sr = load_audio(path)
    assert sr == native_sr and y.dtype == np.float32 and y.shape == (len(x),)
    np.testing.assert_allclose(y, x.mean(axis=1), atol=1e-7)
    # resampled like librosa.load (soxr_hq), same length rule
    y2, sr2 = load_audio(path, sr=15360)
    ref, _ = librosa.load(path, sr=15360)
    assert sr2 == 15360 and y2.shape == ref.shape
    np.testing.assert_allclose(y2, ref, atol=1e-6)


@pytest.mark.parametrize("fmt,subtype", [("flac", "PCM_16"), ("ogg", "VORBIS"), ("wav", "PCM_24")])
def test_flac_ogg_wav_subtypes(tmp_path, fmt, subtype):
    x = _tone(22050, 2.0, 2)
    path = tmp_path / f"a.{fmt}"
    sf.write(path, x, 22050, subtype=subtype)
    y, sr = load_audio(path)
    assert sr == 22050 and abs(len(y) - len(x)) <= 0 if fmt != "ogg" else abs(len(y) - len(x)) < 2048
    n = min(len(y), len(x))
    tol = 0.02 if fmt == "ogg" else 1e-3
    assert np.max(np.abs(y[:n] - x[:n].mean(1))) < tol


def test_real_mp3_equals_librosa_load(data_dir):
    mp3 = data_dir / "dance_with_melody" / "DANCE_W_1" / "audio.mp3"
    y, sr = load_audio(mp3, sr=15360, start=10.0, end=16.0)
    ref, _ = librosa.load(mp3, sr=15360, offset=10.0, duration=6.0)
    assert sr == 15360 and y.shape == ref.shape == (6 * 15360,)
    np.testing.assert_array_equal(y, ref)
    assert np.abs(y).max() > 0.05  # real music, not silence


def test_real_ogg(data_dir):
    ogg = data_dir / "cc_music" / "sorohanro_-_solo-trumpet-06.hq.ogg"
    y, sr = load_audio(ogg)
    assert sr == 44100 and abs(len(y) / sr - 5.33) < 0.05
    assert audio_duration(ogg) == pytest.approx(len(y) / sr, abs=1e-3)
    y2, _ = load_audio(ogg, sr=22050, end=2.0)
    ref, _ = librosa.load(ogg, sr=22050, duration=2.0)
    np.testing.assert_array_equal(y2, ref)


def test_m4a_through_ffmpeg_with_exact_cuts(tmp_path):
    x = _tone(44100, 3.0, 2)
    wav, m4a = tmp_path / "a.wav", tmp_path / "a.m4a"
    sf.write(wav, x, 44100)
    _ffmpeg("-i", str(wav), "-c:a", "aac", "-b:a", "192k", str(m4a))
    y, sr = load_audio(m4a)
    assert sr == 44100 and abs(len(y) - len(x)) < 50  # AAC priming is trimmed by ffmpeg
    n = min(len(y), len(x))
    # lossy, but the same waveform (correlation, not sample equality)
    assert np.corrcoef(y[1000 : n - 1000], x[1000 : n - 1000].mean(1))[0, 1] > 0.99
    part, _ = load_audio(m4a, start=0.5, end=1.7)
    k = int(0.5 * 44100)
    assert len(part) == int(1.2 * 44100)
    np.testing.assert_array_equal(part, y[k : k + len(part)])
    assert audio_duration(m4a) == pytest.approx(len(y) / sr, abs=0.05)


def test_six_channel_m4a(tmp_path):
    x = _tone(48000, 1.0, 6, freq=110.0)
    x[:, 3] = _tone(48000, 1.0, 1, freq=55.0)[:, 0]  # channel 4 of 5.1 is the LFE: AAC low-passes it at 120 Hz
    wav, m4a = tmp_path / "s.wav", tmp_path / "s.m4a"
    sf.write(wav, x, 48000)
    _ffmpeg("-i", str(wav), "-c:a", "aac", str(m4a))
    y, sr = load_audio(m4a, sr=16000)
    assert sr == 16000 and abs(len(y) - 16000) < 20
    ref = librosa.resample(x.mean(1), orig_sr=48000, target_sr=16000)
    n = min(len(y), len(ref))
    assert np.corrcoef(y[500 : n - 500], ref[500 : n - 500])[0, 1] > 0.98


def test_start_end_cut_matches_slice(tmp_path):
    x = _tone(16000, 4.0)
    path = tmp_path / "a.flac"
    sf.write(path, x, 16000)
    full, _ = load_audio(path)
    part, _ = load_audio(path, start=1.25, end=2.5)
    np.testing.assert_array_equal(part, full[20000:40000])
    tail, _ = load_audio(path, start=3.0, end=99.0)  # end past the song is clamped
    np.testing.assert_array_equal(tail, full[48000:])


def test_fractional_target_rate(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, _tone(44100, 2.0), 44100)
    y, sr = load_audio(path, sr=29.97 * 512)
    assert sr == pytest.approx(29.97 * 512) and len(y) == int(np.ceil(2 * 44100 * sr / 44100))


@pytest.mark.parametrize(
    "make,needle",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"this is not audio at all" * 50), "not an audio file"),
        (lambda p: p.mkdir(), "folder"),
    ],
    ids=["missing", "empty", "garbage", "folder"],
)
@pytest.mark.parametrize("ext", [".wav", ".mp3", ".m4a"])
def test_bad_files_raise_one_clear_error(tmp_path, make, needle, ext):
    path = tmp_path / f"bad{ext}"
    make(path)
    with pytest.raises(ChoreoError) as err:
        load_audio(path)
    msg = str(err.value)
    assert needle in msg and str(path) in msg and "\n" not in msg


def test_bad_ranges(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, _tone(8000, 1.0), 8000)
    for kwargs, needle in [
        ({"start": 5.0}, "past the end"),
        ({"start": -1.0}, ">= 0"),
        ({"start": 0.5, "end": 0.5}, "must come after"),
        ({"sr": 0}, "positive"),
    ]:
        with pytest.raises(ChoreoError, match=needle):
            load_audio(path, **kwargs)


def test_zero_sample_wav(tmp_path):
    path = tmp_path / "z.wav"
    sf.write(path, np.zeros((0, 1), dtype=np.float32), 8000)
    with pytest.raises(ChoreoError, match="no audio samples"):
        load_audio(path)


def test_nan_samples_rejected(tmp_path):
    x = _tone(8000, 0.5)
    x[100] = np.nan
    path = tmp_path / "n.wav"
    sf.write(path, x, 8000, subtype="FLOAT")
    with pytest.raises(ChoreoError, match="NaN"):
        load_audio(path)


def test_cli_bad_audio_exit_2_one_line(tmp_path):
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"\x00" * 1000)
    r = subprocess.run([sys.executable, "-m", "choreo", "beats", str(bad)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in r.stderr


def test_twenty_minute_file_loads_in_bounded_memory(tmp_path):
    """A 20-minute stereo file decodes block by block: the peak Python allocation is the mono float32
    result at the target rate plus small blocks, far below the 210 MB the stereo float32 file is."""
    sr, minutes = 22050, 20
    path = tmp_path / "long.wav"
    block = _tone(sr, 60.0, 2)
    with sf.SoundFile(path, "w", sr, 2, subtype="PCM_16") as fh:
        for _ in range(minutes):
            fh.write(block)
    tracemalloc.start()
    try:
        y, out_sr = load_audio(path, sr=15360)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(y) == minutes * 60 * 15360
    result_bytes = y.nbytes  # 74 MB
    assert peak < 1.5 * result_bytes, f"peak {peak / 1e6:.0f} MB for a {result_bytes / 1e6:.0f} MB result"


def test_mp3_falls_back_to_ffmpeg_without_libsndfile_mp3(data_dir, monkeypatch):
    from choreo.audio import io as audio_io

    mp3 = data_dir / "dance_with_melody" / "DANCE_C_2" / "audio.mp3"
    native, _ = load_audio(mp3, sr=22050, start=30.0, end=34.0)
    monkeypatch.setattr(audio_io, "_soundfile_reads_mp3", lambda: False)
    via_ffmpeg, sr = load_audio(mp3, sr=22050, start=30.0, end=34.0)
    assert sr == 22050 and via_ffmpeg.shape == native.shape == (4 * 22050,)
    np.testing.assert_allclose(via_ffmpeg, native, atol=1e-4)  # two mp3 decoders, the same samples
