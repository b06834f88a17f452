"""Beat coverage and beat hit for generated music (D2M-GAN, ``L-YeZhu/Beats_Scores`` ``beats_scores.py``).

Definition, as the reference computes it:

* onsets: ``librosa.onset.onset_detect(y, sr, wait=1, delta=0.2, pre_avg=1, post_avg=1, post_max=1,
  units="time")`` (other peak-picking settings at librosa's defaults; the reference loads audio with
  ``librosa.load``, i.e. mono at 22050 Hz: pass audio at that rate to reproduce its numbers);
* one bin per second: ``ceil(len(y) / sr)`` bins, bin ``trunc(t)`` is 1 when an onset falls in it;
* ``coverage = (bins with a generated onset) / (bins with a real onset)`` (can exceed 1) and
  ``hit = (bins with both) / (bins with a real onset)``. Both clips must give the same number of bins.

Also here, each under its own name (see ``docs/metrics.md``):

* LORIS's redefinition (``OpenGVLab/LORIS`` ``beats_scores.py``): onsets with ``pre_avg=3, post_avg=3,
  pre_max=3, post_max=3`` (wait 1, delta 0.2), 1 s bins, the real bins cut to the generated length;
  ``BCS = hits / generated bins`` (a precision), ``BHS = hits / real bins`` (a recall), their F1; 0 where a
  denominator is 0. Not comparable with D2M-GAN's coverage / hit.
* ``onset_f1``: precision, recall and F1 of generated against real onset bins with D2M-GAN's onset settings
  (what the dance-to-music check reads: unlike hit, it punishes an onset in every second).
* tempo agreement (within 8 %, octave errors allowed) and BAS between a dance and music.
"""

from __future__ import annotations

import numpy as np

from choreo.errors import ChoreoError

#: librosa.onset.onset_detect settings of the reference.
ONSET_PARAMS = {"wait": 1, "delta": 0.2, "pre_avg": 1, "post_avg": 1, "post_max": 1}
#: The sample rate the reference analyses at (librosa.load's default).
REFERENCE_SR = 22050


#: librosa.onset.onset_detect settings of LORIS's beat scores.
LORIS_ONSET_PARAMS = {"wait": 1, "delta": 0.2, "pre_avg": 3, "post_avg": 3, "pre_max": 3, "post_max": 3}


def onset_bins(y: np.ndarray, sr: int, params: dict | None = None) -> np.ndarray:
    """(ceil(len(y)/sr),) bool: which one-second bins hold at least one detected onset.

    ``params``: onset_detect settings (default :data:`ONSET_PARAMS`, D2M-GAN's).
    """
    import librosa

    y = np.asarray(y, dtype=np.float32).reshape(-1)
    onsets = librosa.onset.onset_detect(y=y, sr=sr, units="time", **(ONSET_PARAMS if params is None else params))
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


def _prf(gen_bins: np.ndarray, real_bins: np.ndarray) -> tuple[float, float, float]:
    hits = float((gen_bins & real_bins).sum())
    n_gen, n_real = float(gen_bins.sum()), float(real_bins.sum())
    p = hits / n_gen if n_gen else 0.0
    r = hits / n_real if n_real else 0.0
    return p, r, (2 * p * r / (p + r) if p + r > 0 else 0.0)


def loris_beat_scores(generated: np.ndarray, real: np.ndarray, sr: int) -> tuple[float, float, float]:
    """LORIS's ``(BCS, BHS, F1)`` of generated music against the real music (mono arrays at ``sr``).

    BCS = bins with both / generated bins, BHS = bins with both / real bins, F1 their harmonic mean (0 where a
    denominator is 0), with LORIS's onset settings (:data:`LORIS_ONSET_PARAMS`); the real bins are cut to the
    generated clip's (LORIS ``gt = gt[:len(syn)]``), a generated clip longer than the real one is an error.
    """
    gen_bins = onset_bins(generated, sr, LORIS_ONSET_PARAMS)
    real_bins = onset_bins(real, sr, LORIS_ONSET_PARAMS)[: len(gen_bins)]
    if len(real_bins) != len(gen_bins):
        raise ChoreoError(
            f"the generated music is longer than the real music ({len(gen_bins)} vs {len(real_bins)} one-second bins)"
        )
    return _prf(gen_bins, real_bins)


def onset_f1(generated: np.ndarray, real: np.ndarray, sr: int) -> dict[str, float]:
    """Precision, recall and F1 of generated onset bins against real ones (1 s bins, D2M-GAN's onset settings).

    Returns ``{"precision", "recall", "f1"}``; 0 where a denominator is 0. Clips of different lengths in whole
    seconds are an error.
    """
    gen_bins, real_bins = onset_bins(generated, sr), onset_bins(real, sr)
    if len(gen_bins) != len(real_bins):
        raise ChoreoError(
            f"generated and real music must have the same length in whole seconds "
            f"({len(gen_bins)} vs {len(real_bins)} one-second bins)"
        )
    p, r, f = _prf(gen_bins, real_bins)
    return {"precision": p, "recall": r, "f1": f}


#: tempo ratios counted as agreeing ("octave errors": half and double time).
OCTAVE_FACTORS = (0.5, 1.0, 2.0)


def tempo_agreement(
    tempo: float, reference: float, tolerance: float = 0.08, factors: tuple[float, ...] = OCTAVE_FACTORS
) -> bool:
    """Whether a tempo (BPM) agrees with a reference tempo: ``|tempo - f * reference| <= tolerance * f * reference``
    for some allowed factor ``f`` (default 1/2, 1, 2: octave errors allowed). False when either is not positive."""
    tempo, reference = float(tempo), float(reference)
    if not (tempo > 0 and reference > 0):
        return False
    return any(abs(tempo - f * reference) <= tolerance * f * reference for f in factors)


def music_tempo(y: np.ndarray, sr: int) -> float:
    """Global tempo (BPM) of mono music by :func:`choreo.audio.beats.tempo` (0 for silence)."""
    from choreo.audio.beats import tempo

    return float(tempo(np.asarray(y, np.float32).reshape(-1), sr))


def dance_music_bas(positions: np.ndarray, fps: float, y: np.ndarray, sr: int, variant: str = "bailando") -> float:
    """BAS between a dance (T, J, 3) at ``fps`` and the beats tracked in music ``y`` (the dance's first frame at
    the music's sample 0), on the metrics suite's 60 fps grid (:mod:`choreo.metrics.beats`)."""
    from choreo.audio.beats import beat_times
    from choreo.metrics.beats import beat_align_score, beats_to_frames
    from choreo.motion.motion import Motion
    from choreo.motion.skeleton import Skeleton

    pos = np.asarray(positions, np.float64)
    if pos.ndim != 3 or len(pos) < 3:
        raise ChoreoError(f"BAS needs (frames >= 3, joints, 3) positions, got {pos.shape}")
    J = pos.shape[1]
    dummy = Skeleton("bas", tuple(f"j{i}" for i in range(J)), np.array([-1] + [0] * (J - 1)))
    p60 = Motion(dummy, fps, positions=pos).resample(60.0).positions
    beats = beat_times(np.asarray(y, np.float32).reshape(-1), sr)
    return beat_align_score(p60, beats_to_frames(beats, 60.0), 60.0, variant)


def evaluate_music_pair(
    generated: np.ndarray,
    real: np.ndarray,
    sr: int,
    *,
    dance: np.ndarray | None = None,
    dance_fps: float | None = None,
    style: str | None = None,
    classifier=None,
) -> dict:
    """Every music metric of one generated piece against the real music of its dance (mono, same rate ``sr``).

    Both are cut to the shorter one. ``dance`` (T, J, 3) at ``dance_fps`` adds BAS of the dance against the
    beats of both pieces; ``style`` (the dance's style) with a :class:`~choreo.metrics.music_style.StyleClassifier`
    adds the classifier's verdict on both pieces.

    Returns:
        a flat dict: ``coverage``, ``hit`` (D2M-GAN), ``loris_bcs``, ``loris_bhs``, ``loris_f1``, ``onset_precision``,
        ``onset_recall``, ``onset_f1``, ``tempo``, ``tempo_real``, ``tempo_agree``, ``seconds``; with a dance
        ``bas`` and ``bas_real``; with a style ``style``, ``style_pred``, ``style_pred_real``, ``style_correct``,
        ``style_correct_real``.
    """
    g = np.asarray(generated, np.float32).reshape(-1)
    r = np.asarray(real, np.float32).reshape(-1)
    n = min(len(g), len(r))
    if n == 0:
        raise ChoreoError("empty music")
    g, r = g[:n], r[:n]
    cov, hit = beat_coverage_hit(g, r, sr)
    bcs, bhs, lf1 = loris_beat_scores(g, r, sr)
    of = onset_f1(g, r, sr)
    t_gen, t_real = music_tempo(g, sr), music_tempo(r, sr)
    out = {
        "seconds": n / sr,
        "coverage": cov,
        "hit": hit,
        "loris_bcs": bcs,
        "loris_bhs": bhs,
        "loris_f1": lf1,
        "onset_precision": of["precision"],
        "onset_recall": of["recall"],
        "onset_f1": of["f1"],
        "tempo": t_gen,
        "tempo_real": t_real,
        "tempo_agree": float(tempo_agreement(t_gen, t_real)),
    }
    if dance is not None and dance_fps:
        pos = np.asarray(dance)[: max(3, int(np.floor(n / sr * dance_fps)))]
        out["bas"] = dance_music_bas(pos, dance_fps, g, sr)
        out["bas_real"] = dance_music_bas(pos, dance_fps, r, sr)
    if style is not None and classifier is not None:
        pred, _ = classifier.classify(g, sr)
        pred_real, _ = classifier.classify(r, sr)
        out.update(
            style=style,
            style_pred=pred,
            style_pred_real=pred_real,
            style_correct=float(pred == style),
            style_correct_real=float(pred_real == style),
        )
    return out


#: per-pair numbers averaged into the set's summary.
SUMMARY_KEYS = (
    "coverage", "hit", "loris_bcs", "loris_bhs", "loris_f1", "onset_precision", "onset_recall", "onset_f1",
    "tempo_agree", "bas", "bas_real", "style_correct", "style_correct_real",
)  # fmt: skip


def summarise(rows: list[dict]) -> dict:
    """Means over pieces of :data:`SUMMARY_KEYS` (NaN-free pieces only, per key), with the piece count."""
    out: dict = {"pieces": len(rows)}
    for k in SUMMARY_KEYS:
        vals = [float(r[k]) for r in rows if k in r and np.isfinite(float(r[k]))]
        if vals:
            out[k] = float(np.mean(vals))
    for k, name in (("tempo_agree", "tempo_accuracy"), ("style_correct", "style_accuracy")):
        if k in out:
            out[name] = out.pop(k)
    if "style_correct_real" in out:
        out["style_accuracy_real"] = out.pop("style_correct_real")
    return out


def log_spectral_distance(reference: np.ndarray, estimate: np.ndarray, n_fft: int = 1024, hop: int = 256) -> float:
    """Log-spectral distance in dB: the mean over frames of ``sqrt(mean over bins (P_ref - P_est)^2)`` with
    ``P = 10 log10(max(|STFT|^2, 1e-10))`` (Hann window, centred frames); both signals cut to the shorter."""
    import librosa

    a = np.asarray(reference, np.float32).reshape(-1)
    b = np.asarray(estimate, np.float32).reshape(-1)
    n = min(len(a), len(b))
    if n == 0:
        raise ChoreoError("empty audio")
    pa = 10 * np.log10(np.maximum(np.abs(librosa.stft(a[:n], n_fft=n_fft, hop_length=hop)) ** 2, 1e-10))
    pb = 10 * np.log10(np.maximum(np.abs(librosa.stft(b[:n], n_fft=n_fft, hop_length=hop)) ** 2, 1e-10))
    return float(np.mean(np.sqrt(np.mean((pa - pb) ** 2, axis=0))))


def mel_l1(
    reference: np.ndarray, estimate: np.ndarray, sr: int, n_fft: int = 1024, hop: int = 256, n_mels: int = 80
) -> float:
    """Mean |log10 mel magnitude difference| (the codec's front end: power 1, Slaney mel, floor 1e-5), both cut to
    the shorter signal."""
    import librosa

    a = np.asarray(reference, np.float32).reshape(-1)
    b = np.asarray(estimate, np.float32).reshape(-1)
    n = min(len(a), len(b))
    if n == 0:
        raise ChoreoError("empty audio")

    def lm(x: np.ndarray) -> np.ndarray:
        m = librosa.feature.melspectrogram(y=x, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, power=1.0)
        return np.log10(np.maximum(m, 1e-5))

    return float(np.mean(np.abs(lm(a[:n]) - lm(b[:n]))))
