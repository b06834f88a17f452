"""Beat coverage and beat hit for generated music (D2M-GAN, ``L-YeZhu/Beats_Scores`` ``beats_scores.py``).

Definition, as the reference computes it:

* onsets: ``librosa.onset.onset_detect(y, sr, wait=1, delta=0.2, pre_avg=1, post_avg=1, post_max=1,
  units="time")`` (other peak-picking settings at librosa's defaults; the reference loads audio with
  ``librosa.load``, i.e. mono at 22050 Hz: pass audio at that rate to reproduce its numbers);
* one bin per second: ``ceil(len(y) / sr)`` bins, bin ``trunc(t)`` is 1 when an onset falls in it;
* ``coverage = (bins with a generated onset) / (bins with a real onset)`` (can exceed 1) and
  ``hit = (bins with both) / (bins with a real onset)``. Both clips must give the same number of bins.
"""

from __future__ import annotations

import numpy as np

from choreo.errors import ChoreoError

#: librosa.onset.onset_detect settings of the reference.
ONSET_PARAMS = {"wait": 1, "delta": 0.2, "pre_avg": 1, "post_avg": 1, "post_max": 1}
#: The sample rate the reference analyses at (librosa.load's default).
REFERENCE_SR = 22050


def onset_bins(y: np.ndarray, sr: int) -> np.ndarray:
    """(ceil(len(y)/sr),) bool: which one-second bins hold at least one detected onset."""
    import librosa

    y = np.asarray(y, dtype=np.float32).reshape(-1)
    onsets = librosa.onset.onset_detect(y=y, sr=sr, units="time", **ONSET_PARAMS)
    bins = np.zeros(int(np.ceil(len(y) / sr)), dtype=bool)
    idx = np.trunc(np.asarray(onsets)).astype(np.int64)
    bins[idx[(idx >= 0) & (idx < len(bins))]] = True
    return bins


def beat_coverage_hit(generated: np.ndarray, real: np.ndarray, sr: int) -> tuple[float, float]:
    """D2M-GAN beat coverage and beat hit of generated music against the real music (mono arrays at ``sr``).

    Returns:
        ``(coverage, hit)``; NaN for both when the real music has no onset.
    """
    gen_bins = onset_bins(generated, sr)
    real_bins = onset_bins(real, sr)
    if len(gen_bins) != len(real_bins):
        raise ChoreoError(
            f"generated and real music must have the same length in whole seconds "
            f"({len(gen_bins)} vs {len(real_bins)} one-second bins)"
        )
    total = int(real_bins.sum())
    if total == 0:
        return float("nan"), float("nan")
    return float(gen_bins.sum()) / total, float((gen_bins & real_bins).sum()) / total
