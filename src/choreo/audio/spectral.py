"""Spectral building blocks shared by the feature sets, computed in blocks so memory stays bounded.

Frames follow librosa's ``center=True`` convention: frame ``i`` is centred on sample ``i * hop``, so at a
sample rate of ``fps * hop`` it sits at ``i / fps`` seconds, the time of motion frame ``i``.

Every function here gives the same numbers as the straightforward librosa call on the whole signal:

- :func:`stft_pass` computes the STFT once per block of frames and derives from it both the mel power
  spectrogram (what ``melspectrogram``, ``onset_strength`` and ``mfcc`` compute from ``y``) and the tuning
  estimate (what ``estimate_tuning``, called inside ``cqt``, computes from its own STFT). STFT frames,
  mel projection and ``piptrack`` act frame by frame, so the block-wise result is bit-for-bit the whole-signal
  one (checked in the tests); only the median and histogram of ``estimate_tuning`` are global, and they are
  taken over the gathered peaks.
- :func:`framewise_blocked` / :func:`audio_blocked` run a function whose output at a frame depends only on
  nearby audio (CQT chroma, HPSS) on overlapping segments and keep each segment's interior. A song shorter
  than one block is processed in one call, identical to librosa; longer ones agree to float rounding away from
  the (margin-protected) seams.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import librosa
import numpy as np

N_FFT = 2048
HOP = 512

#: STFT frames per block in :func:`stft_pass` (2.3 min at 30 fps): ~1025 x 4096 float32 per temporary.
STFT_BLOCK_FRAMES = 4096
#: frames per block for the CQT / HPSS passes (4.6 min at 30 fps).
LONG_BLOCK_FRAMES = 8192


def n_stft_frames(n_samples: int, hop: int = HOP) -> int:
    """Number of frames librosa's centred STFT gives for ``n_samples`` samples: ``1 + n // hop``."""
    return 1 + n_samples // hop


def _padded_segment(y: np.ndarray, f0: int, f1: int, n_fft: int, hop: int) -> np.ndarray:
    """Samples of the zero-padded signal (pad n_fft // 2 each side, as center=True) for frames [f0, f1)."""
    half = n_fft // 2
    lo = f0 * hop - half
    hi = (f1 - 1) * hop + n_fft - half
    seg = y[max(lo, 0) : min(hi, len(y))]
    left, right = max(0, -lo), max(0, hi - len(y))
    if left or right:
        seg = np.pad(seg, (left, right))
    return seg


def stft_pass(
    y: np.ndarray,
    sr: float,
    *,
    mel: dict | None = None,
    tuning_bins_per_octave: int | None = None,
    n_fft: int = N_FFT,
    hop: int = HOP,
    block_frames: int = STFT_BLOCK_FRAMES,
) -> tuple[np.ndarray | None, float | None]:
    """One blocked STFT over ``y`` feeding a mel power spectrogram and/or a tuning estimate.

    Args:
        y: (n,) float32 mono samples.
        sr: their sample rate (Hz).
        mel: keyword arguments for ``librosa.feature.melspectrogram`` (e.g. ``{}`` for its defaults, or
            ``{"n_mels": 80}``); None skips the mel spectrogram.
        tuning_bins_per_octave: if given, also return ``librosa.estimate_tuning(y=y, sr=sr,
            bins_per_octave=...)`` (its default n_fft 2048, hop 512, piptrack settings).
        n_fft, hop: STFT size and hop (samples).
        block_frames: frames per block (memory knob; does not change the result).

    Returns:
        ``(mel_power, tuning)``: ``mel_power`` (n_mels, 1 + n // hop) float32 power (not dB), or None;
        ``tuning`` in fractions of a bin, or None.
    """
    n_frames = n_stft_frames(len(y), hop)
    mel_power = None
    pitches: list[np.ndarray] = []
    mags: list[np.ndarray] = []
    for f0 in range(0, n_frames, block_frames):
        f1 = min(n_frames, f0 + block_frames)
        seg = _padded_segment(y, f0, f1, n_fft, hop)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "n_fft too large" on sub-frame clips
            D = librosa.stft(seg, n_fft=n_fft, hop_length=hop, center=False)
        mag = np.abs(D)
        del D
        if mel is not None:
            # melspectrogram(y=...) squares |STFT| the same way (power=2.0) before projecting.
            block = librosa.feature.melspectrogram(S=mag**2.0, sr=sr, n_fft=n_fft, hop_length=hop, **mel)
            if mel_power is None:
                mel_power = np.empty((block.shape[0], n_frames), dtype=block.dtype)
            mel_power[:, f0:f1] = block
        if tuning_bins_per_octave is not None:
            pitch, pmag = piptrack_peaks(mag, sr, n_fft)
            pitches.append(pitch)
            mags.append(pmag)
        del mag
    tuning = None
    if tuning_bins_per_octave is not None:
        tuning = tuning_from_peaks(np.concatenate(pitches), np.concatenate(mags), tuning_bins_per_octave)
    return mel_power, tuning


def piptrack_peaks(
    mag: np.ndarray, sr: float, n_fft: int, fmin: float = 150.0, fmax: float = 4000.0, threshold: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """The non-zero entries of ``librosa.piptrack(S=mag, sr=sr, n_fft=n_fft)`` (its defaults otherwise).

    ``estimate_tuning`` only uses the peaks piptrack finds between ``fmin`` and ``fmax``. Every step of
    piptrack (gradient, parabolic interpolation, local maximum along frequency) looks at three neighbouring
    bins, and its threshold at each frame's maximum over all bins; so running those steps on the band (plus
    one bin each side), laid out time-major so librosa's stencils run over contiguous memory, gives the same
    numbers in the same float32 arithmetic for about a quarter of the work. Checked against
    ``librosa.estimate_tuning`` in the tests.

    Args:
        mag: (1 + n_fft // 2, T) STFT magnitudes.

    Returns:
        ``(pitch, mag)``: (k,) float32 frequencies (Hz) and magnitudes of the peaks, in no particular order.
    """
    from librosa.core.pitch import _parabolic_interpolation

    n_bins = mag.shape[0]
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    fmin, fmax = max(fmin, 0.0), min(fmax, float(sr) / 2)
    band = np.flatnonzero((fmin <= freqs) & (freqs < fmax))
    if band.size == 0 or mag.shape[1] == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    lo, hi = max(int(band[0]) - 1, 0), min(int(band[-1]) + 2, n_bins)
    ref_value = threshold * np.max(mag, axis=0)  # per frame, over all bins: as piptrack
    S = np.ascontiguousarray(mag[lo:hi].T)  # (T, bins of the band +- 1)
    shift = _parabolic_interpolation(S, axis=-1)
    avg = np.gradient(S, axis=-1)
    peaks = librosa.util.localmax(S * (S > ref_value[:, None]), axis=-1)
    cols = band - lo
    t_idx, c_idx = np.nonzero(peaks[:, cols])
    c = cols[c_idx]
    bins = band[c_idx]
    # piptrack: pitches[idx] = (idx + shift[idx]) * float(sr) / n_fft, stored into a float32 array
    pitch = ((bins + shift[t_idx, c]) * float(sr) / n_fft).astype(S.dtype)
    dskew = 0.5 * avg[t_idx, c] * shift[t_idx, c]
    return pitch, S[t_idx, c] + dskew


def tuning_from_peaks(pitch: np.ndarray, mag: np.ndarray, bins_per_octave: int, resolution: float = 0.01) -> float:
    """The last step of ``librosa.estimate_tuning``: keep peaks at or above the median magnitude.

    Args:
        pitch: (k,) frequencies (Hz) of the spectral peaks ``piptrack`` found (> 0).
        mag: (k,) their magnitudes.
    """
    threshold = np.median(mag) if len(mag) else 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # empty set (silence): librosa returns 0.0
        return float(
            librosa.pitch_tuning(pitch[mag >= threshold], resolution=resolution, bins_per_octave=bins_per_octave)
        )


def framewise_blocked(
    fn: Callable[[np.ndarray], np.ndarray],
    y: np.ndarray,
    *,
    hop: int = HOP,
    block_frames: int = LONG_BLOCK_FRAMES,
    margin_frames: int = 512,
) -> np.ndarray:
    """Apply ``fn: samples -> (D, 1 + len // hop)`` (a centred, hop-``hop`` analysis) block by block.

    Segments start on multiples of ``hop`` so their frames line up with the whole signal's; each segment
    carries ``margin_frames`` of context on both sides, which is dropped. One call when the song fits.

    Returns:
        (D, 1 + len(y) // hop), the dtype of ``fn``'s output.
    """
    n_frames = n_stft_frames(len(y), hop)
    if n_frames <= block_frames + 2 * margin_frames:
        return fn(y)
    out = None
    for f0 in range(0, n_frames, block_frames):
        f1 = min(n_frames, f0 + block_frames)
        s0 = max(0, f0 - margin_frames) * hop
        s1 = min(len(y), (f1 + margin_frames) * hop)
        part = fn(y[s0:s1])
        if out is None:
            out = np.empty(part.shape[:-1] + (n_frames,), dtype=part.dtype)
        first = f0 - s0 // hop
        out[..., f0:f1] = part[..., first : first + (f1 - f0)]
    return out


def audio_blocked(
    fn: Callable[[np.ndarray], tuple[np.ndarray, ...]],
    y: np.ndarray,
    *,
    hop: int = HOP,
    block_frames: int = LONG_BLOCK_FRAMES,
    margin_frames: int = 512,
) -> tuple[np.ndarray, ...]:
    """Apply ``fn: samples -> tuple of same-length signals`` (e.g. HPSS) on overlapping segments."""
    n = len(y)
    block = block_frames * hop
    margin = margin_frames * hop
    if n <= block + 2 * margin:
        return fn(y)
    outs: tuple[np.ndarray, ...] | None = None
    for a in range(0, n, block):
        b = min(n, a + block)
        s0, s1 = max(0, a - margin), min(n, b + margin)
        parts = fn(y[s0:s1])
        if outs is None:
            outs = tuple(np.empty(n, dtype=p.dtype) for p in parts)
        for o, p in zip(outs, parts, strict=True):
            o[a:b] = p[a - s0 : b - s0]
    return outs


def median_filter_1d(x: np.ndarray, size: int, axis: int, rows: int = 64) -> np.ndarray:
    """``scipy.ndimage.median_filter`` with a 1-D window of odd ``size`` along ``axis`` (mode "reflect").

    The median of an odd window is one of its elements (no arithmetic), so selecting it with
    ``np.partition`` over sliding windows gives scipy's numbers exactly, 3-5x faster than scipy's general
    n-d rank filter; rows are processed in chunks to bound the windows' memory.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    if size % 2 != 1:
        raise ValueError("size must be odd")
    h = size // 2
    moved = np.moveaxis(x, axis, -1)
    xs = np.ascontiguousarray(moved.reshape(-1, moved.shape[-1]))
    out = np.empty_like(xs)
    for r in range(0, xs.shape[0], rows):
        # scipy's "reflect" (d c b a | a b c d | d c b a) is numpy's "symmetric" padding
        padded = np.pad(xs[r : r + rows], ((0, 0), (h, h)), mode="symmetric")
        out[r : r + rows] = np.partition(sliding_window_view(padded, size, axis=-1), h, axis=-1)[..., h]
    return np.moveaxis(out.reshape(moved.shape), -1, axis)


def hpss(y: np.ndarray, kernel_size: int = 31, n_fft: int = N_FFT, hop: int = HOP) -> tuple[np.ndarray, np.ndarray]:
    """Harmonic and percussive signals: ``librosa.effects.hpss(y)`` (its defaults), with exact faster medians.

    Same steps as librosa (STFT, horizontal and vertical median filters of the magnitude, Wiener-like soft
    masks with power 2 and margin 1, inverse STFT to the input length); only the median filters run through
    :func:`median_filter_1d`, which dominated the cost. Checked against librosa in the tests.
    """
    D = librosa.stft(y, n_fft=n_fft, hop_length=hop)
    S, phase = librosa.magphase(D)
    del D
    harm = median_filter_1d(S, kernel_size, axis=-1)  # along time: sustained partials
    perc = median_filter_1d(S, kernel_size, axis=-2)  # along frequency: broadband hits
    mask_harm = librosa.util.softmask(harm, perc * 1.0, power=2.0, split_zeros=True)
    mask_perc = librosa.util.softmask(perc, harm * 1.0, power=2.0, split_zeros=True)
    del harm, perc
    kw = {"dtype": y.dtype, "n_fft": n_fft, "hop_length": hop, "length": len(y)}
    y_harm = librosa.istft((S * mask_harm) * phase, **kw)
    y_perc = librosa.istft((S * mask_perc) * phase, **kw)
    return y_harm, y_perc


def _tempogram_blocks(envelope: np.ndarray, win_length: int, block_frames: int):
    """Yield (f0, f1, tempogram[:, f0:f1]) of ``librosa.feature.tempogram(onset_envelope=envelope,
    win_length=win_length)``, block by block.

    Each tempogram frame is the normalised autocorrelation of one window of the (edge-ramped) envelope, so
    cutting the padded envelope into overlapping pieces and running the uncentred tempogram on each gives
    the same frames; a 20-minute song then never holds librosa's complex (2 x window, frames) intermediates.
    """
    n = envelope.shape[-1]
    half = win_length // 2
    padded = np.pad(envelope, (half, half), mode="linear_ramp", end_values=[0, 0])  # as tempogram(center=True)
    for f0 in range(0, n, block_frames):
        f1 = min(n, f0 + block_frames)
        piece = padded[f0 : f1 - 1 + win_length]
        yield f0, f1, librosa.feature.tempogram(onset_envelope=piece, win_length=win_length, center=False)


def tempogram_blocked(envelope: np.ndarray, win_length: int = 384, block_frames: int = STFT_BLOCK_FRAMES) -> np.ndarray:
    """``librosa.feature.tempogram(onset_envelope=envelope, win_length=win_length)`` as float32 (win, T)."""
    out = np.empty((win_length, envelope.shape[-1]), dtype=np.float32)
    for f0, f1, tg in _tempogram_blocks(envelope, win_length, block_frames):
        out[:, f0:f1] = tg
    return out


def tempogram_mean(envelope: np.ndarray, sr: float, hop: int, block_frames: int = STFT_BLOCK_FRAMES) -> np.ndarray:
    """The time-averaged tempogram that ``librosa.feature.tempo`` weighs by its prior, as a (win, 1) ``tg``.

    ``tempo(onset_envelope=env, sr=sr, hop_length=hop, start_bpm=b)`` equals
    ``tempo(tg=tempogram_mean(env, sr, hop), sr=sr, hop_length=hop, start_bpm=b)``: tempo() averages its
    tempogram (window ``ac_size`` = 8 s) over time before anything else. The average is accumulated block by
    block (float64; it can differ from numpy's pairwise mean in the last bits only), and one average serves
    any number of priors.
    """
    win_length = librosa.time_to_frames(8.0, sr=sr, hop_length=hop).item()  # tempo()'s ac_size = 8 s
    total = np.zeros(win_length, dtype=np.float64)
    for _, _, tg in _tempogram_blocks(envelope, win_length, block_frames):
        total += tg.sum(axis=-1)
    return (total / max(envelope.shape[-1], 1))[:, None]


def tempo_blocked(
    envelope: np.ndarray, sr: float, hop: int, start_bpm: float = 120.0, block_frames: int = STFT_BLOCK_FRAMES
) -> float:
    """``librosa.feature.tempo(onset_envelope=envelope, sr=sr, hop_length=hop, start_bpm=start_bpm)[0]``."""
    tg = tempogram_mean(envelope, sr, hop, block_frames)
    return float(librosa.feature.tempo(tg=tg, sr=sr, hop_length=hop, start_bpm=start_bpm)[0])


def cqt_octaves(sr: float, fmin: float, bins_per_octave: int, n_octaves: int, tuning: float = 0.0) -> int:
    """The most octaves (<= ``n_octaves``) whose CQT filters stay below Nyquist at ``sr``.

    librosa refuses a CQT whose top filter passes Nyquist; at low feature rates (15 fps -> 7680 Hz) the
    chroma's top octave (C8) does. Chroma folds octaves together, so dropping the unreachable top octave
    keeps the feature's meaning and dimension.
    """
    fmin_t = fmin * 2.0 ** (tuning / bins_per_octave)
    for k in range(n_octaves, 0, -1):
        freqs = librosa.cqt_frequencies(k * bins_per_octave, fmin=fmin_t, bins_per_octave=bins_per_octave)
        _, cutoff = librosa.filters.wavelet_lengths(freqs=freqs, sr=sr)
        if cutoff <= sr / 2.0:
            return k
    return 1


def margin_frames_for(fps: float, seconds: float = 12.0) -> int:
    """Context frames kept on each side of a block: enough for the longest CQT filter (C1, ~1.6 s) and
    chroma smoothing / HPSS median windows at any frame rate."""
    return int(math.ceil(seconds * fps)) + 64
