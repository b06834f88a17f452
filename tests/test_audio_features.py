"""Feature sets: equal to the reference librosa calls, aligned to motion frames, any fps, bad input."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import soundfile as sf

from choreo.audio import load_audio, spectral
from choreo.audio.features import (
    FEATURE_SETS,
    compute_features,
    feature_dim,
    fit_frames,
    frame_count,
    song_features,
)
from choreo.errors import ChoreoError

SR, HOP = 15360, 512


@pytest.fixture(scope="module")
def waltz(data_dir) -> np.ndarray:
    """20 s of the Ballroom waltz at EDGE's 15360 Hz."""
    y, _ = load_audio(data_dir / "beat_fixtures" / "ballroom" / "Media-105901.wav", sr=SR, start=4.0, end=24.0)
    return y


def edge_reference(y: np.ndarray, sr: int = SR, start_bpm: float | None = None) -> np.ndarray:
    """EDGE's data/audio_extraction/baseline_features.py, call for call (librosa's documented API)."""
    envelope = librosa.onset.onset_strength(y=y, sr=sr)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20).T
    chroma = librosa.feature.chroma_cens(y=y, sr=sr, hop_length=HOP, n_chroma=12).T
    peak_idxs = librosa.onset.onset_detect(onset_envelope=envelope.flatten(), sr=sr, hop_length=HOP)
    peak_onehot = np.zeros_like(envelope, dtype=np.float32)
    peak_onehot[peak_idxs] = 1.0
    if start_bpm is None:  # EDGE's fallback for songs without a known BPM: the estimated tempo
        start_bpm = librosa.feature.tempo(onset_envelope=envelope, sr=sr, hop_length=HOP)[0]
    _, beat_idxs = librosa.beat.beat_track(
        onset_envelope=envelope, sr=sr, hop_length=HOP, start_bpm=start_bpm, tightness=100
    )
    beat_onehot = np.zeros_like(envelope, dtype=np.float32)
    beat_onehot[beat_idxs] = 1.0
    return np.concatenate([envelope[:, None], mfcc, chroma, peak_onehot[:, None], beat_onehot[:, None]], axis=-1)


def test_baseline35_equals_edge_calls(waltz):
    ref = edge_reference(waltz)
    ours = compute_features(waltz, SR, "baseline35", 30, n_frames=len(ref))
    assert ours.shape == (len(ref), 35) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)
    assert ref[:, 34].sum() >= 20 and ref[:, 33].sum() >= 20  # the one-hots are not trivially empty


def test_baseline35_with_known_bpm_equals_edge(data_dir):
    y, _ = load_audio(data_dir / "cc_music" / "admiralbob77_-_Choice_-_Drum-bass.hq.ogg", sr=SR, end=15.0)
    ref = edge_reference(y, start_bpm=86.0)
    ours = compute_features(y, SR, "baseline35", 30, n_frames=len(ref), start_bpm=86.0)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


def test_baseline35_from_other_rate_resamples_like_librosa_load(data_dir):
    wav = data_dir / "beat_fixtures" / "ballroom" / "Media-105901.wav"
    y44, sr44 = load_audio(wav, end=8.0)
    ref = edge_reference(librosa.load(wav, sr=SR, duration=8.0)[0])
    np.testing.assert_allclose(compute_features(y44, sr44, "baseline35", 30, len(ref)), ref, rtol=1e-5, atol=1e-5)


def test_dr438_equals_dance_revolution_calls(waltz):
    y = waltz[: 8 * SR]
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=SR), ref=np.max)
    mfcc = librosa.feature.mfcc(S=mel_db)
    delta = librosa.feature.delta(mfcc, width=3)
    harmonic, percussive = librosa.effects.hpss(y)
    chroma = librosa.feature.chroma_cqt(y=harmonic, sr=SR)
    env = librosa.onset.onset_strength(y=percussive, aggregate=np.median, sr=SR)
    tempogram = librosa.feature.tempogram(onset_envelope=env, sr=SR)
    _, beats = librosa.beat.beat_track(onset_envelope=env, sr=SR)
    onehot = np.zeros(len(env))
    onehot[beats] = 1
    ref = np.concatenate([mfcc, delta, chroma, env[None], onehot[None], tempogram], axis=0).T
    ours = compute_features(y, SR, "dr438", 30, n_frames=len(ref))
    assert ref.shape[1] == 438 == feature_dim("dr438")
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


def test_mel_is_log_mel_power(waltz):
    y = waltz[: 5 * SR]
    ref = 10 * np.log10(np.maximum(librosa.feature.melspectrogram(y=y, sr=SR, n_mels=128), 1e-10)).T
    ours = compute_features(y, SR, "mel", 30)
    assert ours.shape == (150, 128)
    np.testing.assert_allclose(ours, ref[:150], rtol=1e-5, atol=1e-4)


def _click_track(bpm: float, seconds: float, sr: int = 44100, first: float = 0.5):
    times = np.arange(first, seconds - 0.5, 60.0 / bpm)
    y = 0.5 * librosa.clicks(times=times, sr=sr, length=int(seconds * sr), click_freq=1000.0)
    return y.astype(np.float32), sr, times


@pytest.mark.parametrize("fps", [15, 25, 30, 60])
def test_frame_alignment_beats_land_on_clicks(fps):
    """Frame i is the music at i / fps s: the beat one-hot of a click track sits on the clicks' frames."""
    y, sr, clicks = _click_track(100.0, 16.0)
    F = compute_features(y, sr, "baseline35", fps)
    assert F.shape == (frame_count(16.0, fps), 35) == (16 * fps, 35)
    beat_frames = np.flatnonzero(F[:, 34])
    click_frames = clicks * fps
    dist = np.abs(beat_frames[:, None] - click_frames[None, :]).min(axis=1)
    assert dist.max() <= 1.0 + 1e-9, f"beats {beat_frames} vs clicks {click_frames}"
    assert len(beat_frames) >= 0.9 * len(clicks)
    # the onset envelope peaks within a frame after each click (librosa's spectral-flux convention)
    for c in click_frames:
        lo = int(np.floor(c)) - 2
        peak = lo + int(np.argmax(F[lo : lo + 5, 0]))
        assert -1.0 <= peak - c <= 1.0 + 1e-9


def test_beat_phase_by_hand():
    from choreo.audio.features import beat_phase

    phase, period = beat_phase(np.array([2, 6, 8]), 10, fallback_period=4.0)
    np.testing.assert_allclose(phase, [0.5, 0.75, 0, 0.25, 0.5, 0.75, 0, 0.5, 0, 0.5])
    np.testing.assert_allclose(period, [4, 4, 4, 4, 4, 4, 2, 2, 2, 2])
    phase, period = beat_phase(np.array([3]), 5, fallback_period=2.0)
    np.testing.assert_allclose(phase, [0.5, 0, 0.5, 0, 0.5])
    assert beat_phase(np.array([], int), 3, 2.0)[0].tolist() == [0, 0, 0]


@pytest.mark.parametrize("bpm", [90.0, 120.0, 150.0])
def test_rhythm_features_follow_the_beat(bpm):
    """The rhythm set on a click track: beats on the clicks, the phase 0 on each beat and rising to the next,
    the local tempo column log2(bpm / 120)."""
    from choreo.audio.features import RHYTHM_COLUMNS

    fps = 30
    y, sr, clicks = _click_track(bpm, 16.0, sr=22050)
    F = compute_features(y, sr, "rhythm", fps)
    assert F.shape == (frame_count(16.0, fps), len(RHYTHM_COLUMNS))
    beats = np.flatnonzero(F[:, 2])
    assert len(beats) >= 0.9 * len(clicks)
    assert np.abs(beats[:, None] - clicks[None, :] * fps).min(axis=1).max() <= 1.0 + 1e-9
    phase = np.mod(np.arctan2(F[:, 3], F[:, 4]) / (2 * np.pi), 1.0)
    np.testing.assert_allclose(phase[beats], 0.0, atol=1e-5)
    inner = slice(beats[1], beats[-2])
    steps = np.diff(phase[inner])
    assert np.all((steps > 0) | (steps < -0.8))  # rises, wraps only at beats
    np.testing.assert_allclose(np.median(F[inner, 5]), np.log2(bpm / 120.0), atol=0.05)


def test_rhythm_loudness_is_relative_to_the_song():
    """Halving the amplitude of the second half lowers its loudness column by 20 log10(2) / 20 = 0.30; the
    same song 10x quieter gives the same column (per-song normalisation)."""
    rng = np.random.default_rng(0)
    sr, fps = 22050, 30
    y = (0.1 * rng.standard_normal(8 * sr)).astype(np.float32)
    y[4 * sr :] *= 0.5
    F = compute_features(y, sr, "rhythm", fps)
    first, second = F[10 : 4 * fps - 10, 6], F[4 * fps + 10 : -10, 6]
    np.testing.assert_allclose(np.median(first) - np.median(second), 20 * np.log10(2) / 20, atol=0.02)
    np.testing.assert_allclose(compute_features(0.1 * y, sr, "rhythm", fps)[:, 6], F[:, 6], atol=1e-3)
    assert np.all((F[:, 7:] >= 0) & (F[:, 7:] <= 1))  # centroid and flatness are bounded


def test_frame_count_and_fit():
    assert frame_count(5.0, 30) == 150
    assert frame_count(0.2, 30) == 6
    assert frame_count(10.01, 30) == 301  # frame 300 is at 10.0 s, inside the song
    assert frame_count(1e-4, 30) == 1
    F = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.testing.assert_array_equal(fit_frames(F, 2), F[:2])
    padded = fit_frames(F, 6, onehot=(2,))
    np.testing.assert_array_equal(padded[4:, :2], [[9, 10], [9, 10]])
    np.testing.assert_array_equal(padded[4:, 2], [0, 0])


@pytest.mark.parametrize("name,dim", [("baseline35", 35), ("dr438", 438), ("mel", 128), ("rhythm", 9)])
def test_shapes_any_fps_and_n_frames(name, dim):
    y, sr, _ = _click_track(120.0, 4.0, sr=22050)
    assert feature_dim(name) == dim == FEATURE_SETS[name].dim
    for fps, n in [(15, None), (29.97, 100), (60, 300)]:
        F = compute_features(y, sr, name, fps, n)
        want = frame_count(4.0, fps) if n is None else n
        assert F.shape == (want, dim) and F.dtype == np.float32 and np.all(np.isfinite(F))


def test_blocked_passes_equal_whole_signal(waltz):
    """Long songs are processed in blocks; the blocks reproduce the whole-signal numbers."""
    y = waltz[: 10 * SR]
    m1, t1 = spectral.stft_pass(y, SR, mel={}, tuning_bins_per_octave=36)
    m2, t2 = spectral.stft_pass(y, SR, mel={}, tuning_bins_per_octave=36, block_frames=97)
    # equal up to float32 rounding: BLAS may pick other kernels (summation orders) for other block shapes
    np.testing.assert_allclose(m1, m2, rtol=2e-6, atol=1e-6 * float(np.abs(m1).max()))
    assert t1 == t2 == librosa.estimate_tuning(y=y, sr=SR, bins_per_octave=36)

    def cens(s):
        return librosa.feature.chroma_cens(y=s, sr=SR, tuning=t1)

    np.testing.assert_allclose(
        spectral.framewise_blocked(cens, y, block_frames=80, margin_frames=spectral.margin_frames_for(30)),
        cens(y),
        atol=1e-5,
    )
    h1 = librosa.effects.hpss(y)
    h2 = spectral.audio_blocked(librosa.effects.hpss, y, block_frames=80, margin_frames=100)
    for a, b in zip(h1, h2, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_low_fps_drops_unreachable_cqt_octave():
    assert spectral.cqt_octaves(15 * 512, librosa.note_to_hz("C1"), 36, 7) == 6
    assert spectral.cqt_octaves(30 * 512, librosa.note_to_hz("C1"), 36, 7) == 7


def test_silence_gives_constant_features_and_no_beats():
    y = np.zeros(3 * 22050, dtype=np.float32)
    for name in ("baseline35", "dr438", "mel", "rhythm"):
        F = compute_features(y, 22050, name, 30)
        assert F.shape[0] == 90 and np.all(np.isfinite(F))
        assert np.ptp(F, axis=0).max() == 0.0  # every column constant
    F = compute_features(y, 22050, "baseline35", 30)
    assert F[:, 0].max() == 0 and F[:, 33:].max() == 0


def test_short_clip():
    y, sr, _ = _click_track(120.0, 1.0, sr=44100, first=0.05)
    y = y[: int(0.2 * sr)]
    for name, dim in (("baseline35", 35), ("dr438", 438), ("mel", 128), ("rhythm", 9)):
        F = compute_features(y, sr, name, 30)
        assert F.shape == (6, dim) and np.all(np.isfinite(F))


def test_bad_arguments():
    y = np.zeros(1000, dtype=np.float32)
    with pytest.raises(ChoreoError, match="unknown feature set"):
        compute_features(y, 22050, "jukebox", 30)
    with pytest.raises(ChoreoError, match="fps"):
        compute_features(y, 22050, "baseline35", 0)
    with pytest.raises(ChoreoError, match="no parameter"):
        compute_features(y, 22050, "baseline35", 30, tightness=3)
    with pytest.raises(ChoreoError, match="mono"):
        compute_features(np.zeros((2, 1000)), 22050, "mel", 30)
    with pytest.raises(ChoreoError, match="no audio"):
        compute_features(np.zeros(0), 22050, "mel", 30)
    with pytest.raises(ChoreoError, match="NaN"):
        compute_features(np.full(1000, np.nan), 22050, "mel", 30)
    with pytest.raises(ChoreoError, match="external"):
        compute_features(y, 22050, "external", 30)


@pytest.mark.parametrize("native_sr,channels", [(8000, 1), (44100, 2), (96000, 6)])
def test_song_features_any_rate_and_layout(tmp_path, native_sr, channels):
    y, sr, _ = _click_track(120.0, 3.0, sr=native_sr)
    x = np.repeat(y[:, None], channels, axis=1)
    path = tmp_path / "song.flac"
    sf.write(path, x, native_sr)
    F = song_features(path, "baseline35", 30, cache_dir="")
    assert F.shape == (90, 35)
    # the same as computing from the file's samples at their own rate (resampled inside compute_features)
    G = compute_features(*load_audio(path), "baseline35", 30)
    np.testing.assert_allclose(F, G, rtol=1e-5, atol=1e-5)
    assert F[:, 34].sum() >= 4  # 6 clicks at 120 BPM: the beats are there


def test_fast_exact_building_blocks(waltz):
    """The faster pieces (median filter, HPSS, band-limited piptrack, blocked tempogram/tempo) give
    librosa's / scipy's numbers."""
    import scipy.ndimage

    y = waltz[: 6 * SR]
    rng = np.random.default_rng(1)
    X = rng.random((37, 53)).astype(np.float32) ** 3
    for axis, size in ((-1, (1, 31)), (-2, (31, 1))):
        np.testing.assert_array_equal(
            spectral.median_filter_1d(X, 31, axis=axis), scipy.ndimage.median_filter(X, size=size, mode="reflect")
        )
    for a, b in zip(spectral.hpss(y), librosa.effects.hpss(y), strict=True):
        np.testing.assert_array_equal(a, b)
    mag = np.abs(librosa.stft(y))
    pitch, pmag = librosa.piptrack(S=mag, sr=SR, n_fft=2048)
    p2, m2 = spectral.piptrack_peaks(mag, SR, 2048)
    np.testing.assert_array_equal(np.sort(p2), np.sort(pitch[pitch > 0]))
    np.testing.assert_array_equal(np.sort(m2), np.sort(pmag[pitch > 0]))
    env = librosa.onset.onset_strength(y=waltz, sr=SR)
    np.testing.assert_allclose(
        spectral.tempogram_blocked(env, 384, block_frames=77),
        librosa.feature.tempogram(onset_envelope=env, sr=SR),
        atol=1e-6,
    )
    for start_bpm in (120.0, 84.0, 200.0):
        assert (
            spectral.tempo_blocked(env, SR, HOP, start_bpm, block_frames=77)
            == librosa.feature.tempo(onset_envelope=env, sr=SR, start_bpm=start_bpm)[0]
        )
