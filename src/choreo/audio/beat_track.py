"""librosa's dynamic-programming beat tracker (Ellis 2007, ``librosa.beat.beat_track``), in numpy.

Why a copy: importing ``librosa.beat`` compiles one of its numba kernels at every start (``cache=False``),
1.3 s of a 3-minute song's 3.3 s of features in a fresh ``choreo dance`` process. This module follows
librosa 0.11's code step by step (normalise the onset envelope by its standard deviation; same-mode
convolution with a Gaussian window of +-1 beat; the DP with a log-interval penalty of weight ``tightness``;
backtracking from the last strong local maximum; trimming weak leading/trailing beats), keeps its quirks (the
convolution never reads the envelope's first frame) and its float32 arithmetic, and is tested to give the
same beats as librosa on real songs.
"""

from __future__ import annotations

import numpy as np


def _local_score(env: np.ndarray, frames_per_beat: float) -> np.ndarray:
    """librosa's ``__beat_local_score`` for a static tempo, accumulating in the envelope's dtype as it does."""
    fpb = env.dtype.type(frames_per_beat)
    window = np.exp(-0.5 * (np.arange(-fpb, fpb + 1, dtype=env.dtype).astype(np.float64) * 32.0 / fpb) ** 2)
    N, K = len(env), len(window)
    score = np.zeros(N, env.dtype)
    i = np.arange(N)
    half = K // 2
    # output i sums window[k] * env[i + half - k] over k in [max(0, i + half - N + 1), min(i + half, K)),
    # in increasing k, each partial sum rounded to the output dtype (the loop order of librosa's kernel)
    for k in range(K):
        ok = (k >= np.maximum(0, i + half - N + 1)) & (k < np.minimum(i + half, K))
        j = i[ok] + half - k
        score[ok] = (score[ok].astype(np.float64) + window[k] * env[j].astype(np.float64)).astype(env.dtype)
    return score


def _dynamic_program(score: np.ndarray, frames_per_beat: float, tightness: float) -> tuple[np.ndarray, np.ndarray]:
    """librosa's ``__beat_track_dp``: (backlink int32, cumulative score) per frame."""
    dt = score.dtype.type
    fpb = dt(frames_per_beat)
    N = len(score)
    backlink = np.empty(N, np.int32)
    cumscore = np.empty(N, score.dtype)
    thresh = 0.01 * float(score.max())
    first_beat = True
    backlink[0] = -1
    cumscore[0] = score[0]
    hi = int(np.round(fpb / dt(2)))  # nearest candidate: i - round(fpb / 2)
    lo = int(2 * fpb + 1)  # range(i - hi, i - 2 fpb - 1, -1) stops before i - 2 fpb - 1
    offsets = np.arange(hi, lo)  # i - loc, nearest first: the order librosa scans (first maximum wins)
    penalty = float(tightness) * (np.log(offsets.astype(np.float64)) - np.float64(np.log(fpb))) ** 2
    for i in range(N):
        locs = i - offsets
        valid = locs >= 0
        best, where = -np.inf, -1
        if valid.any():
            # once a candidate is before the start librosa stops, so the valid ones are a prefix
            cand = cumscore[locs[valid]].astype(np.float64) - penalty[valid]
            k = int(np.argmax(cand))
            if cand[k] > best:
                best, where = cand[k], int(locs[valid][k])
        s_i = score[i]
        cumscore[i] = dt(float(s_i) + best) if where >= 0 else s_i
        if first_beat and float(s_i) < thresh:
            backlink[i] = -1
        else:
            backlink[i] = where
            first_beat = False
    return backlink, cumscore


def _last_beat(cumscore: np.ndarray) -> int:
    """librosa's ``__last_beat``: the last local maximum scoring at least half their median."""
    from librosa.util import localmax

    peaks = localmax(cumscore, axis=-1)
    threshold = 0.5 * np.median(cumscore[peaks]) if peaks.any() else 0.0
    threshold = cumscore.dtype.type(threshold)
    n = len(cumscore) - 1
    while n >= 0:
        if peaks[n] and cumscore[n] >= threshold:
            return n
        n -= 1
    return len(cumscore) - 1


def _trim(score: np.ndarray, beats: np.ndarray, trim: bool) -> np.ndarray:
    """librosa's ``__trim_beats``: drop leading and trailing frames whose local score is below half the RMS of
    the smoothed beat scores."""
    out = beats.copy()
    w = np.hanning(5)
    smooth = np.convolve(score[beats], w)[len(w) // 2 : len(score) + len(w) // 2]
    threshold = 0.5 * np.sqrt((smooth**2).mean()) if trim else 0.0
    n = 0
    while n < len(score) and score[n] <= threshold:
        out[n] = False
        n += 1
    n = len(score) - 1
    while n >= 0 and score[n] <= threshold:
        out[n] = False
        n -= 1
    return out


def track_beats(
    onset_envelope: np.ndarray, sr: float, hop_length: int, bpm: float, tightness: float = 100.0, trim: bool = True
) -> np.ndarray:
    """Beat frames of an onset envelope at a known tempo (``librosa.beat.beat_track(..., bpm=bpm)``'s).

    Args:
        onset_envelope: (n,) onset strength, float32 or float64 (librosa's arithmetic follows its dtype).
        sr, hop_length: the envelope's frame rate is ``sr / hop_length`` frames per second.
        bpm: tempo in beats per minute (> 0).
        tightness: how strictly beats keep to the tempo (> 0).
        trim: drop weak leading and trailing beats.

    Returns:
        (k,) int64 frame indices, ascending (empty for a silent envelope).
    """
    env = np.asarray(onset_envelope)
    if env.dtype not in (np.float32, np.float64):
        env = env.astype(np.float64)
    if env.ndim != 1:
        raise ValueError("track_beats takes one (n,) onset envelope")
    if not env.any():
        return np.zeros(0, np.int64)
    bpm = float(np.atleast_1d(bpm)[0])
    if not (bpm > 0) or not (tightness > 0):
        raise ValueError(f"bpm ({bpm}) and tightness ({tightness}) must be positive")
    frames_per_beat = float(np.round(float(sr) / hop_length * 60.0 / bpm))
    norm = env.std(ddof=1) + np.finfo(env.dtype).tiny
    score = _local_score((env / norm).astype(env.dtype), frames_per_beat)
    backlink, cumscore = _dynamic_program(score, frames_per_beat, tightness)
    beats = np.zeros(len(env), bool)
    n = _last_beat(cumscore)
    while n >= 0:
        beats[n] = True
        n = int(backlink[n])
    return np.flatnonzero(_trim(score, beats, trim)).astype(np.int64)
