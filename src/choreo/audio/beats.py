"""Beats, tempo and onsets of a song, in seconds (librosa's dynamic-programming beat tracker).

Defaults: the audio is analysed at 22050 Hz with a hop of 512 samples (23 ms frames; librosa's reference
setting, and the one its onset detector was tuned on: at 44.1 kHz the same hop halves the time span of
every frame and the tracker more often locks onto double tempo), a tempo prior centred on 120 BPM
(``start_bpm``) and ``tightness`` 100. Both are settable: a ballroom waltz near 84 BPM or a 170 BPM
drum'n'bass track are found with the defaults, but a known tempo is always the better prior.

Silence gives no beats, no onsets and tempo 0.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from choreo.audio.io import mono_samples
from choreo.errors import ChoreoError

ANALYSIS_SR = 22050
HOP = 512
START_BPM = 120.0
TIGHTNESS = 100.0


def onset_envelope(y: np.ndarray, sr: float, *, hop_length: int = HOP, analysis_sr: float | None = ANALYSIS_SR):
    """Spectral-flux onset strength (librosa ``onset_strength``) and its frame rate.

    Returns:
        ``(envelope (T,) float32, sr_used)``; frame ``i`` is at ``i * hop_length / sr_used`` seconds.
    """
    import librosa

    y = mono_samples(y)
    if analysis_sr is not None and float(sr) != float(analysis_sr):
        y = librosa.resample(y, orig_sr=sr, target_sr=analysis_sr, res_type="soxr_hq")
        sr = analysis_sr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # clips shorter than one FFT window
        env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop_length)
    return env.astype(np.float32, copy=False), sr


def beats_and_tempo(
    y: np.ndarray,
    sr: float,
    *,
    start_bpm: float = START_BPM,
    tightness: float = TIGHTNESS,
    hop_length: int = HOP,
    analysis_sr: float | None = ANALYSIS_SR,
) -> tuple[np.ndarray, float]:
    """Beat times (s) and the global tempo (BPM) in one pass.

    Args:
        y: (n,) mono samples.
        sr: their sample rate (Hz).
        start_bpm: the tempo prior's centre (BPM).
        tightness: how strictly beats keep to the tempo (librosa's tightness).
        hop_length: analysis hop in samples at ``analysis_sr``.
        analysis_sr: resample to this rate first (None: analyse at ``sr``).

    Returns:
        ``(beats (k,) float64 seconds ascending, tempo BPM)``; ``(empty, 0.0)`` when there are no beats.
    """
    import librosa

    if not (start_bpm > 0):
        raise ChoreoError(f"start_bpm must be positive, got {start_bpm}")
    if not (tightness > 0):
        raise ChoreoError(f"tightness must be positive, got {tightness}")
    env, sr_used = onset_envelope(y, sr, hop_length=hop_length, analysis_sr=analysis_sr)
    if not np.any(env):
        return np.zeros(0), 0.0
    tempo, frames = librosa.beat.beat_track(
        onset_envelope=env, sr=sr_used, hop_length=hop_length, start_bpm=start_bpm, tightness=tightness
    )
    times = librosa.frames_to_time(frames, sr=sr_used, hop_length=hop_length).astype(np.float64)
    tempo = float(np.atleast_1d(tempo)[0])
    return times, (tempo if len(times) else 0.0)


def beat_times(y: np.ndarray, sr: float, **kwargs) -> np.ndarray:
    """Beat times in seconds, (k,) float64 ascending (see :func:`beats_and_tempo` for the options)."""
    return beats_and_tempo(y, sr, **kwargs)[0]


def tempo(y: np.ndarray, sr: float, **kwargs) -> float:
    """Global tempo in BPM (0.0 for silence; see :func:`beats_and_tempo` for the options)."""
    return beats_and_tempo(y, sr, **kwargs)[1]


def onset_times(
    y: np.ndarray, sr: float, *, hop_length: int = HOP, analysis_sr: float | None = ANALYSIS_SR, **detect
) -> np.ndarray:
    """Onset times in seconds (librosa ``onset_detect`` peak picking; ``detect`` overrides its options)."""
    import librosa

    env, sr_used = onset_envelope(y, sr, hop_length=hop_length, analysis_sr=analysis_sr)
    if not np.any(env):
        return np.zeros(0)
    frames = librosa.onset.onset_detect(onset_envelope=env, sr=sr_used, hop_length=hop_length, **detect)
    return librosa.frames_to_time(frames, sr=sr_used, hop_length=hop_length).astype(np.float64)


def write_beats(
    path: str | os.PathLike,
    times: np.ndarray,
    positions: np.ndarray | None = None,
    header: tuple[str, ...] | list[str] = (),
) -> None:
    """Write one beat time in seconds (6 decimals) per line, the annotation format of the beat fixtures.

    Args:
        path: the file to write (atomically).
        times: (k,) beat times in seconds.
        positions: optional (k,) ints, each beat's position in its bar (1 = downbeat), written as a second column
            after a tab: the Ballroom / madmom ``time position`` annotation format. Readers of the first column
            (:func:`read_beats`) read such a file as a plain beats file.
        header: lines written first as ``# ...`` comments (readers skip them).
    """
    from choreo.fileio import atomic_open

    t = np.asarray(times, dtype=np.float64).reshape(-1)
    if positions is not None and len(positions) != len(t):
        raise ValueError(f"{len(positions)} bar positions for {len(t)} beats")
    with atomic_open(path, "w") as fh:
        for line in header:
            fh.write(f"# {line}\n")
        for i, ti in enumerate(t):
            fh.write(f"{ti:.6f}\t{int(positions[i])}\n" if positions is not None else f"{ti:.6f}\n")


def read_beats(path: str | os.PathLike) -> np.ndarray:
    """Read a beat file: the first column of each non-empty, non-comment line, in seconds."""
    out = []
    try:
        with open(path) as fh:
            for n, line in enumerate(fh, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                try:
                    out.append(float(line.split()[0]))
                except ValueError:
                    raise ChoreoError(f"line {n} is not a time in seconds: {line[:40]!r}", path) from None
    except OSError as exc:
        raise ChoreoError(f"cannot read the beat file ({exc.strerror or exc})", path) from None
    return np.asarray(out, dtype=np.float64)


def read_beat_positions(path: str | os.PathLike) -> np.ndarray | None:
    """Each beat's position in its bar (second column, 1 = downbeat) of a beats file :func:`read_beats` reads, as
    (k,) int64; None when the file has no second column. A second column must then be on every line and hold
    positive integers."""
    col = []
    try:
        with open(path) as fh:
            for n, line in enumerate(fh, 1):
                fields = line.split()
                if not fields or fields[0].startswith("#"):
                    continue
                if len(fields) < 2:
                    col.append(None)
                    continue
                try:
                    col.append(int(fields[1]))
                except ValueError:
                    raise ChoreoError(
                        f"line {n}: the bar position is not an integer: {fields[1][:20]!r}", path
                    ) from None
    except OSError as exc:
        raise ChoreoError(f"cannot read the beat file ({exc.strerror or exc})", path) from None
    if not col or all(c is None for c in col):
        return None
    if any(c is None or c < 1 for c in col):
        raise ChoreoError("bar positions must be integers >= 1 on every line (or on none)", path)
    return np.asarray(col, dtype=np.int64)
