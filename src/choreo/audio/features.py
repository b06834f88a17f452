"""Named music feature sets, computed at exactly the motion's frame rate and length.

Frame alignment (every set): feature frame ``i`` describes the music at ``i / fps`` seconds after the start
of the analysed audio, the time of motion frame ``i``. The spectral sets get this by analysing at a sample
rate of ``fps * 512`` with a hop of 512 samples and centred frames (librosa's ``center=True``: frame ``i`` is
centred on sample ``i * 512``). EDGE's 30 fps features (sample rate 15360) are the special case fps = 30.
librosa's onset envelope (and so the onset-peak and beat one-hots built on it) rises within a frame after
a sharp attack; the tests check beats of a click track land within one frame of the clicks at 15-60 fps.

A song of ``d`` seconds has :func:`frame_count` ``(d, fps) = ceil(d * fps)`` frames (those whose time lies
inside the song). A requested ``n_frames`` crops that (as EDGE does) or pads it: continuous columns repeat
the last frame, one-hot columns (onset peaks, beats) pad with zeros.

Registered sets (``FEATURE_SETS``; each entry's ``fn(y, sr, fps, n_frames, **params) -> (n_frames, D)``):

``baseline35`` (EDGE / FACT, 35): onset envelope 1, MFCC 20, chroma_cens 12, onset-peak one-hot 1,
    beat one-hot 1, exactly EDGE's ``data/audio_extraction/baseline_features.py`` calls. ``start_bpm``
    (the beat tracker's tempo prior) defaults, as EDGE does for songs outside AIST++, to the song's estimated
    tempo; EDGE estimates it from a second load at 22050 Hz, here it is ``librosa.feature.tempo`` on the same
    onset envelope (no second decode). Pass ``start_bpm=`` to fix it (EDGE passes AIST++'s known BPM).
``dr438`` (Dance Revolution / Bailando, 438): MFCC 20, delta-MFCC 20, chroma_cqt 12, onset envelope 1,
    beat one-hot 1, tempogram 384, exactly ``stonyhu/DanceRevolution`` ``extractor.py`` / ``prepro.py``
    (log-mel relative to the song's maximum, HPSS, chroma from the harmonic part, median-aggregated onset
    envelope and tempogram from the percussive part). Dance Revolution ran it at 15360 Hz (30 fps) and kept
    every other frame for 15 fps; Bailando at 30720 Hz (60 fps): both are ``fps * 512``.
``mel`` (128): log-mel spectrogram for learned music encoders: 128 mel bands (Slaney), n_fft 2048, hop 512,
    0 Hz to Nyquist at ``fps * 512`` Hz, power in dB ``10 log10(max(P, 1e-10))`` (absolute, not relative to the
    song's maximum, so a quiet song stays quiet; floor -100 dB).
``rhythm`` (9): song-independent descriptors for models trained on few songs: onset envelope (per-song
    scale), onset peaks, beats, beat phase (sin, cos), local tempo, loudness (against the song's median),
    spectral centroid and flatness (:data:`RHYTHM_COLUMNS`); no MFCC or chroma, which identify a song.
``external`` (any D): precomputed per-song arrays (e.g. Jukebox features made elsewhere), read by
    :func:`song_features` from ``external_dir`` (see :mod:`choreo.audio.external`).

At low frame rates the chroma CQT's top octave can pass Nyquist (15 fps -> 7680 Hz): it is then dropped
(see :func:`choreo.audio.spectral.cqt_octaves`); chroma folds octaves, so the dimension is unchanged.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from choreo.audio.beat_track import track_beats
from choreo.audio.io import mono_samples
from choreo.errors import ChoreoError

HOP = 512
N_FFT = 2048
#: EDGE's constants: 30 fps at 15360 Hz with hop 512.
EDGE_FPS = 30
EDGE_SR = EDGE_FPS * HOP
#: bump when any feature's numbers change, so cached features are recomputed.
FEATURES_VERSION = 1


@dataclass(frozen=True)
class FeatureSet:
    """A registered feature set.

    Attributes:
        name: registry key.
        dim: features per frame (None: depends on the files, for ``external``).
        fn: ``(y, sr, fps, n_frames, **params) -> (n_frames, D) float32``.
        onehot: columns that are 0/1 indicators (padded with zeros, not repeated).
        beats: the column of the beat one-hot (None: the set has none).
        hop: analysis hop in samples; the set works at ``fps * hop`` Hz (None: not computed from audio).
        params: the default keyword parameters ``fn`` accepts (part of the cache key).
        doc: one line for ``--help``.
    """

    name: str
    dim: int | None
    fn: Callable[..., np.ndarray]
    onehot: tuple[int, ...] = ()
    hop: int | None = HOP
    params: dict = field(default_factory=dict)
    doc: str = ""
    beats: int | None = None

    def sample_rate(self, fps: float) -> float:
        """The analysis sample rate for ``fps`` (Hz): ``fps * hop`` (an int when whole)."""
        if self.hop is None:
            raise ChoreoError(f"feature set {self.name!r} is not computed from audio")
        sr = float(fps) * self.hop
        return int(sr) if sr.is_integer() else sr


FEATURE_SETS: dict[str, FeatureSet] = {}


def register(
    name: str,
    dim: int | None,
    *,
    onehot: tuple[int, ...] = (),
    hop: int | None = HOP,
    doc: str = "",
    beats: int | None = None,
    **params,
):
    """Decorator adding ``fn`` to :data:`FEATURE_SETS` under ``name``."""

    def wrap(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        FEATURE_SETS[name] = FeatureSet(name, dim, fn, tuple(onehot), hop, dict(params), doc, beats)
        return fn

    return wrap


def get_feature_set(name: str) -> FeatureSet:
    """The registered set called ``name`` (ChoreoError listing the known ones otherwise)."""
    try:
        return FEATURE_SETS[name]
    except KeyError:
        raise ChoreoError(f"unknown feature set {name!r}; known: {', '.join(sorted(FEATURE_SETS))}") from None


def feature_dim(name: str, external_dir: str | os.PathLike | None = None) -> int:
    """Features per frame of set ``name``. For ``external``, read from the arrays in ``external_dir``."""
    fs = get_feature_set(name)
    if fs.dim is not None:
        return fs.dim
    from choreo.audio.external import external_dim

    if external_dir is None:
        raise ChoreoError("the external feature set's dimension comes from its files: give external_dir")
    return external_dim(external_dir)


def frame_count(duration: float, fps: float) -> int:
    """Frames whose time ``i / fps`` lies inside ``[0, duration)``: ``ceil(duration * fps)``, at least 1.

    (A tolerance of 1e-6 frame absorbs float error, so 0.2 s at 30 fps is 6 frames, not 7.)
    """
    return max(1, int(math.ceil(duration * fps - 1e-6)))


def compute_features(
    y: np.ndarray, sr: float, name: str, fps: float, n_frames: int | None = None, **params
) -> np.ndarray:
    """Features of set ``name`` for mono samples ``y``.

    Args:
        y: (n,) mono samples (float32; other dtypes are converted).
        sr: their sample rate (Hz). Resampled (soxr_hq) to the set's ``fps * 512`` Hz if different.
        name: a registered set (``baseline35``, ``dr438``, ``mel``).
        fps: frames per second of the motion the features go with.
        n_frames: frames wanted (None: :func:`frame_count` of the audio's duration).
        **params: the set's parameters (e.g. ``start_bpm`` for ``baseline35``).

    Returns:
        (n_frames, D) float32; row ``i`` is the music at ``i / fps`` s.
    """
    fs = get_feature_set(name)
    fps = _check_fps(fps)
    unknown = set(params) - set(fs.params)
    if unknown:
        raise ChoreoError(f"feature set {name!r} has no parameter(s) {sorted(unknown)}; it takes {sorted(fs.params)}")
    y = mono_samples(y)
    if n_frames is None:
        n_frames = frame_count(len(y) / float(sr), fps)
    if int(n_frames) < 1:
        raise ChoreoError(f"n_frames must be >= 1, got {n_frames}")
    return fs.fn(y, float(sr), fps, int(n_frames), **{**fs.params, **params})


def fit_frames(F: np.ndarray, n_frames: int, onehot: tuple[int, ...] = ()) -> np.ndarray:
    """Crop (T, D) to ``n_frames`` rows, or pad by repeating the last row (zeros in ``onehot`` columns)."""
    T = F.shape[0]
    if T >= n_frames:
        return np.ascontiguousarray(F[:n_frames], dtype=np.float32)
    out = np.empty((n_frames, F.shape[1]), dtype=np.float32)
    out[:T] = F
    out[T:] = F[-1] if T else 0.0
    if onehot:
        out[T:, list(onehot)] = 0.0
    return out


def song_features(
    path: str | os.PathLike,
    name: str,
    fps: float,
    n_frames: int | None = None,
    start: float = 0.0,
    end: float | None = None,
    cache_dir: str | os.PathLike | None = None,
    *,
    external_dir: str | os.PathLike | None = None,
    external_fps: float | None = None,
    **params,
) -> np.ndarray:
    """Load a song, compute feature set ``name`` at ``fps``, and cache the result.

    Args:
        path: the audio file.
        name: feature set.
        fps: the motion's frame rate.
        n_frames: frames wanted (None: ``frame_count`` of the cut's duration); the full cut is computed (and
            cached) and then cropped or padded, so asking for fewer frames never changes their values.
        start, end: seconds of the song to analyse (frame 0 is at ``start``).
        cache_dir: folder of cached features (None: :func:`choreo.audio.cache.default_cache_dir`; ``""``
            disables caching).
        external_dir, external_fps: for ``external`` only (see :func:`choreo.audio.external.load_external`).
        **params: the set's parameters.

    Returns:
        (n_frames, D) float32.
    """
    from choreo.audio.cache import FeatureCache
    from choreo.audio.io import check_audio_file, load_audio

    fs = get_feature_set(name)
    fps = _check_fps(fps)
    check_audio_file(path)
    if name == "external":
        from choreo.audio.external import load_external

        return load_external(path, fps, n_frames, start=start, end=end, folder=external_dir, source_fps=external_fps)
    unknown = set(params) - set(fs.params)
    if unknown:
        raise ChoreoError(f"feature set {name!r} has no parameter(s) {sorted(unknown)}; it takes {sorted(fs.params)}")
    full_params = {**fs.params, **params}
    cache = FeatureCache(cache_dir)
    key = cache.key(path, name, fps, start, end, full_params) if cache.enabled else None
    F = cache.get(key) if key else None
    if F is None:
        sr = fs.sample_rate(fps)
        y, sr = load_audio(path, sr=sr, start=start, end=end)
        try:
            F = compute_features(y, sr, name, fps, None, **full_params)
        except ChoreoError as exc:
            raise ChoreoError(exc.message, path) from None
        if key:
            cache.put(key, F)
    if n_frames is None:
        return F
    if int(n_frames) < 1:
        raise ChoreoError(f"n_frames must be >= 1, got {n_frames}", path)
    return fit_frames(F, int(n_frames), fs.onehot)


# --------------------------------------------------------------------------------------------------
# the sets


def _check_fps(fps: float) -> float:
    try:
        fps = float(fps)
    except (TypeError, ValueError):
        raise ChoreoError(f"fps must be a number, got {fps!r}") from None
    if not math.isfinite(fps) or fps <= 0:
        raise ChoreoError(f"fps must be positive, got {fps}")
    return fps


def _at_rate(y: np.ndarray, sr: float, target: float) -> np.ndarray:
    """``y`` resampled to ``target`` Hz with librosa.load's resampler (soxr_hq), float32."""
    if float(sr) == float(target):
        return y
    import librosa

    return librosa.resample(y, orig_sr=sr, target_sr=target, res_type="soxr_hq").astype(np.float32, copy=False)


class _Inline:
    """Stand-in for a thread pool that runs the job at once (one core, or threads turned off)."""

    class _Done:
        def __init__(self, value):
            self.value = value

        def result(self):
            return self.value

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def submit(self, fn, *args, **kwargs):
        return self._Done(fn(*args, **kwargs))


def _background():
    """A one-thread pool when more than one core is available (``CHOREO_THREADS=1`` turns it off)."""
    threads = os.environ.get("CHOREO_THREADS")
    n = (
        int(threads)
        if threads and threads.isdigit()
        else (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    )
    return ThreadPoolExecutor(max_workers=1) if n > 1 else _Inline()


def _onehot(idx: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.float32)
    idx = np.asarray(idx, dtype=int)
    out[idx[(idx >= 0) & (idx < n)]] = 1.0
    return out


def _peaks_and_beats(
    envelope: np.ndarray, sr: float, start_bpm: float | None = None
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """EDGE's onset peaks and beats of an onset envelope (hop 512): ``(peaks, beats, start_bpm, bpm)``.

    ``start_bpm`` None: ``librosa.feature.tempo`` of the envelope (120 where that is 0, i.e. silence); ``bpm`` is
    the tracker's tempo around it, as ``librosa.beat.beat_track(..., tightness=100)`` finds it.
    """
    import librosa

    from choreo.audio import spectral

    peaks = librosa.onset.onset_detect(onset_envelope=envelope, sr=sr, hop_length=HOP)
    # Both tempo estimates (the start_bpm default and beat_track's own, passed in as bpm=) average one
    # tempogram over time; it is computed in blocks, so a long song never holds it whole.
    tg = spectral.tempogram_mean(envelope, sr, HOP)
    if start_bpm is None:
        start_bpm = float(librosa.feature.tempo(tg=tg, sr=sr, hop_length=HOP)[0])
    if not (start_bpm > 0):  # silence: tempo() gives 0; the tracker then finds no beats anyway
        start_bpm = 120.0
    bpm = float(np.atleast_1d(librosa.feature.tempo(tg=tg, sr=sr, hop_length=HOP, start_bpm=start_bpm))[0])
    # librosa.beat.beat_track(onset_envelope=envelope, ..., tightness=100, bpm=bpm), without importing
    # librosa.beat (its import compiles a numba kernel every time: 1.3 s of a fresh process)
    beats = track_beats(envelope, sr, HOP, bpm, tightness=100)
    return peaks, beats, float(start_bpm), bpm


def baseline35_parts(y: np.ndarray, sr: float, *, start_bpm: float | None = None) -> dict[str, np.ndarray]:
    """EDGE's baseline features for ``y`` at its own rate ``sr`` with hop 512, before cropping.

    Equal to (the reference calls, all with librosa defaults otherwise)::

        envelope = onset.onset_strength(y=y, sr=sr)
        mfcc = feature.mfcc(y=y, sr=sr, n_mfcc=20).T
        chroma = feature.chroma_cens(y=y, sr=sr, hop_length=512, n_chroma=12).T
        peaks = onset.onset_detect(onset_envelope=envelope, sr=sr, hop_length=512)
        _, beats = beat.beat_track(onset_envelope=envelope, sr=sr, hop_length=512, start_bpm=start_bpm,
                                   tightness=100)

    but with one STFT shared by the onset envelope, the MFCC and chroma_cens's tuning estimate (librosa
    computes three), and in blocks (bounded memory). ``start_bpm=None`` uses
    ``feature.tempo(onset_envelope=envelope, sr=sr, hop_length=512)[0]``.

    Returns:
        dict of ``envelope`` (T,), ``mfcc`` (T, 20), ``chroma`` (T, 12), ``peaks`` (T,), ``beats`` (T,)
        float32, ``start_bpm`` and ``tempo`` (0-d), T = 1 + len(y) // 512.
    """
    import librosa

    from choreo.audio import spectral

    if start_bpm is not None and not (float(start_bpm) > 0):
        raise ChoreoError(f"start_bpm must be positive, got {start_bpm}")
    bins_per_octave, n_octaves, fmin = 36, 7, librosa.note_to_hz("C1")  # chroma_cens defaults
    mel_power, tuning = spectral.stft_pass(y, sr, mel={}, tuning_bins_per_octave=bins_per_octave)
    log_mel = librosa.power_to_db(mel_power)  # what mfcc and onset_strength both take the log of
    del mel_power
    envelope = librosa.onset.onset_strength(S=log_mel, sr=sr, n_fft=N_FFT, hop_length=HOP)
    mfcc = librosa.feature.mfcc(S=log_mel, sr=sr, n_mfcc=20)
    del log_mel

    octaves = spectral.cqt_octaves(sr, fmin, bins_per_octave, n_octaves, tuning)

    def cens(seg: np.ndarray) -> np.ndarray:
        # runs in a worker thread: warning filters are process-global and catch_warnings is not
        # thread-safe, so the filter for short clips ("n_fft too large") is set by the main thread below.
        return librosa.feature.chroma_cens(y=seg, sr=sr, hop_length=HOP, n_chroma=12, tuning=tuning, n_octaves=octaves)

    # The CQT (the largest single cost) runs in a second thread while the beat tracker works: numpy's FFTs
    # and matrix products release the GIL, so on 2+ cores the two overlap.
    with warnings.catch_warnings(), _background() as pool:
        warnings.simplefilter("ignore", UserWarning)
        chroma_job = pool.submit(
            spectral.framewise_blocked, cens, y, margin_frames=spectral.margin_frames_for(sr / HOP)
        )
        T = envelope.shape[-1]
        peaks, beats, start_bpm, bpm = _peaks_and_beats(envelope, sr, start_bpm)
        tempo = bpm if envelope.any() else 0.0
        chroma = chroma_job.result()
    return {
        "envelope": envelope.astype(np.float32, copy=False),
        "mfcc": mfcc.T.astype(np.float32, copy=False),
        "chroma": chroma.T.astype(np.float32, copy=False),
        "peaks": _onehot(peaks, T),
        "beats": _onehot(beats, T),
        "start_bpm": np.float64(start_bpm),
        "tempo": np.float64(np.atleast_1d(tempo)[0]),
    }


@register(
    "baseline35",
    35,
    onehot=(33, 34),
    beats=34,
    doc="EDGE/FACT: onset envelope, MFCC 20, chroma_cens 12, onset peaks, beats (one-hot)",
    start_bpm=None,
)
def baseline35(y: np.ndarray, sr: float, fps: float, n_frames: int, *, start_bpm: float | None = None) -> np.ndarray:
    """EDGE's 35 baseline features at ``fps`` (sample rate ``fps * 512``): see :func:`baseline35_parts`.

    Columns: 0 onset envelope, 1-20 MFCC, 21-32 chroma_cens, 33 onset peak one-hot, 34 beat one-hot.
    """
    work_sr = fps * HOP
    p = baseline35_parts(_at_rate(y, sr, work_sr), work_sr, start_bpm=start_bpm)
    F = np.concatenate(
        [p["envelope"][:, None], p["mfcc"], p["chroma"], p["peaks"][:, None], p["beats"][:, None]], axis=1
    )
    return fit_frames(F, n_frames, (33, 34))


def dr438_parts(y: np.ndarray, sr: float) -> dict[str, np.ndarray]:
    """Dance Revolution's music features for ``y`` at its own rate ``sr`` (hop 512), before cropping.

    Equal to (``stonyhu/DanceRevolution`` ``extractor.py``; librosa defaults otherwise)::

        mel_db = power_to_db(feature.melspectrogram(y=y, sr=sr), ref=np.max)
        mfcc = feature.mfcc(S=mel_db)                        # 20
        mfcc_delta = feature.delta(mfcc, width=3)            # 20
        harmonic, percussive = effects.hpss(y)
        chroma = feature.chroma_cqt(y=harmonic, sr=sr)       # 12
        envelope = onset.onset_strength(y=percussive, aggregate=np.median, sr=sr)
        tempogram = feature.tempogram(onset_envelope=envelope, sr=sr)   # 384
        _, beats = beat.beat_track(onset_envelope=envelope, sr=sr)

    computed in blocks (STFT passes, HPSS and CQT on overlapping segments).
    """
    import librosa

    from choreo.audio import spectral

    margin = spectral.margin_frames_for(sr / HOP)
    mel_power, _ = spectral.stft_pass(y, sr, mel={})
    mel_db = librosa.power_to_db(mel_power, ref=np.max)
    del mel_power
    mfcc = librosa.feature.mfcc(S=mel_db)
    del mel_db
    if mfcc.shape[-1] >= 3:
        mfcc_delta = librosa.feature.delta(mfcc, width=3)
    else:  # a clip of under 3 frames has no slope to fit (librosa refuses): call it flat
        mfcc_delta = np.zeros_like(mfcc)

    def hpss(seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return spectral.hpss(seg)

    harmonic, percussive = spectral.audio_blocked(hpss, y, margin_frames=margin)
    bins_per_octave, n_octaves, fmin = 36, 7, librosa.note_to_hz("C1")  # chroma_cqt defaults
    _, tuning = spectral.stft_pass(harmonic, sr, tuning_bins_per_octave=bins_per_octave)
    octaves = spectral.cqt_octaves(sr, fmin, bins_per_octave, n_octaves, tuning)

    def chroma_cqt(seg: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return librosa.feature.chroma_cqt(y=seg, sr=sr, tuning=tuning, n_octaves=octaves)

    chroma = spectral.framewise_blocked(chroma_cqt, harmonic, margin_frames=margin)
    del harmonic
    perc_mel, _ = spectral.stft_pass(percussive, sr, mel={})
    del percussive
    envelope = librosa.onset.onset_strength(
        S=librosa.power_to_db(perc_mel), sr=sr, n_fft=N_FFT, hop_length=HOP, aggregate=np.median
    )
    del perc_mel
    tempogram = spectral.tempogram_blocked(envelope, win_length=384)  # tempogram()'s default window
    T = envelope.shape[-1]
    _, beats = librosa.beat.beat_track(onset_envelope=envelope, sr=sr, hop_length=HOP)
    return {
        "mfcc": mfcc.T.astype(np.float32, copy=False),
        "mfcc_delta": mfcc_delta.T.astype(np.float32, copy=False),
        "chroma": chroma.T.astype(np.float32, copy=False),
        "envelope": envelope.astype(np.float32, copy=False),
        "beats": _onehot(beats, T),
        "tempogram": tempogram.T,
    }


@register(
    "dr438",
    438,
    onehot=(53,),
    beats=53,
    doc="Dance Revolution/Bailando: MFCC 20, delta 20, chroma_cqt 12, onset envelope, beats, tempogram 384",
)
def dr438(y: np.ndarray, sr: float, fps: float, n_frames: int) -> np.ndarray:
    """Dance Revolution's 438 features at ``fps`` (sample rate ``fps * 512``): see :func:`dr438_parts`.

    Columns: 0-19 MFCC, 20-39 delta-MFCC, 40-51 chroma_cqt, 52 onset envelope, 53 beat one-hot,
    54-437 tempogram.
    """
    work_sr = fps * HOP
    p = dr438_parts(_at_rate(y, sr, work_sr), work_sr)
    F = np.concatenate(
        [p["mfcc"], p["mfcc_delta"], p["chroma"], p["envelope"][:, None], p["beats"][:, None], p["tempogram"]],
        axis=1,
    )
    return fit_frames(F, n_frames, (53,))


MEL_BANDS = 128


@register("mel", MEL_BANDS, doc="log-mel spectrogram, 128 bands, dB (floor -100)")
def mel(y: np.ndarray, sr: float, fps: float, n_frames: int) -> np.ndarray:
    """Log-mel frames: (n_frames, 128) dB, ``10 log10(max(mel power, 1e-10))``, at ``fps * 512`` Hz."""
    import librosa

    from choreo.audio import spectral

    work_sr = fps * HOP
    mel_power, _ = spectral.stft_pass(_at_rate(y, sr, work_sr), work_sr, mel={"n_mels": MEL_BANDS})
    log_mel = librosa.power_to_db(mel_power, ref=1.0, amin=1e-10, top_db=None)
    return fit_frames(log_mel.T, n_frames)


def beat_phase(beats: np.ndarray, n_frames: int, fallback_period: float) -> tuple[np.ndarray, np.ndarray]:
    """Where each frame lies in its beat, from beat frame indices.

    Args:
        beats: (K,) increasing beat frame indices.
        n_frames: frames to describe.
        fallback_period: beat period in frames used where fewer than two beats give one (> 0).

    Returns:
        ``(phase, period)``, each (n_frames,) float64: ``phase`` in [0, 1), 0 on a beat, rising linearly to the
        next one; ``period`` the length in frames of the beat interval the frame is in. Before the first and
        after the last beat the nearest interval (or ``fallback_period``) is extended; without beats the
        phase is 0 throughout.
    """
    t = np.arange(int(n_frames), dtype=np.float64)
    b = np.unique(np.asarray(beats, dtype=np.float64))
    if len(b) == 0:  # no beat at all (silence): no phase to tell
        return np.zeros(len(t)), np.full(len(t), float(fallback_period))
    if len(b) == 1:
        return np.mod((t - b[0]) / fallback_period, 1.0), np.full(len(t), float(fallback_period))
    k = np.clip(np.searchsorted(b, t, side="right") - 1, 0, len(b) - 2)  # the interval [b_k, b_k+1) in use
    period = b[k + 1] - b[k]
    return np.mod((t - b[k]) / period, 1.0), period


RHYTHM_COLUMNS = (
    "onset envelope / its 95th percentile",
    "onset peak",
    "beat",
    "sin(2 pi beat phase)",
    "cos(2 pi beat phase)",
    "log2(local tempo / 120 BPM)",
    "loudness: frame dB - the song's median dB, / 20",
    "spectral centroid (mel bands, 0-1)",
    "spectral flatness (mel power, 0-1)",
)


@register(
    "rhythm",
    len(RHYTHM_COLUMNS),
    onehot=(1, 2),
    beats=2,
    doc="song-independent: onset envelope, onset peaks, beats, beat phase (sin, cos), local tempo, loudness, "
    "brightness, noisiness (9)",
)
def rhythm(y: np.ndarray, sr: float, fps: float, n_frames: int) -> np.ndarray:
    """Nine features that describe *how* music moves rather than *which* song it is (columns:
    :data:`RHYTHM_COLUMNS`), at ``fps`` (sample rate ``fps * 512``).

    MFCC and chroma identify a song: with a few dozen training songs a model can learn them by heart and
    meet every new song as something unseen. These columns are normalised per song (envelope by its 95th
    percentile, loudness against the song's median) or bounded (phase, centroid, flatness), so a new song
    lands among the training songs. The onset envelope, peaks and beats are baseline35's (EDGE's calls); the
    beat phase comes from :func:`beat_phase`; the local tempo is the beat interval's, log2 relative to 120 BPM.
    """
    import librosa

    from choreo.audio import spectral

    work_sr = fps * HOP
    y = _at_rate(y, sr, work_sr)
    mel_power, _ = spectral.stft_pass(y, work_sr, mel={})
    envelope = librosa.onset.onset_strength(S=librosa.power_to_db(mel_power), sr=work_sr, n_fft=N_FFT, hop_length=HOP)
    T = envelope.shape[-1]
    peaks, beats, _, bpm = _peaks_and_beats(envelope, work_sr)
    phase, period = beat_phase(beats, T, 60.0 * fps / (bpm if bpm > 0 else 120.0))
    scale = float(np.percentile(envelope, 95)) if T else 0.0
    env = np.clip(envelope / scale, 0.0, 4.0) if scale > 0 else np.zeros(T)
    power = np.maximum(mel_power, 1e-10)
    frame_db = 10.0 * np.log10(power.sum(axis=0))
    loud = np.clip((frame_db - np.median(frame_db)) / 20.0, -3.0, 1.0)
    bands = np.arange(power.shape[0], dtype=np.float64)[:, None]
    centroid = (bands * power).sum(axis=0) / power.sum(axis=0) / max(1, power.shape[0] - 1)
    flatness = np.exp(np.log(power).mean(axis=0)) / power.mean(axis=0)
    F = np.stack(
        [
            env,
            _onehot(peaks, T),
            _onehot(beats, T),
            np.sin(2 * np.pi * phase),
            np.cos(2 * np.pi * phase),
            np.log2(60.0 * fps / np.maximum(period, 1e-6) / 120.0),
            loud,
            centroid,
            flatness,
        ],
        axis=1,
    ).astype(np.float32)
    return fit_frames(F, n_frames, (1, 2))


@register("external", None, hop=None, doc="precomputed per-song arrays SONG.npy (+ SONG.json with fps)")
def external(y: np.ndarray, sr: float, fps: float, n_frames: int) -> np.ndarray:
    raise ChoreoError(
        "the external feature set is read from files, not computed from samples: use "
        "song_features(path, 'external', fps, external_dir=...)"
    )


def describe() -> list[str]:
    """One line per registered set: ``name (D): doc``."""
    return [f"{fs.name} ({fs.dim if fs.dim else 'any'}): {fs.doc}" for fs in FEATURE_SETS.values()]
