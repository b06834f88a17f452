"""Showed: Dance with Melody's dancers do not step on the beat (foot strikes 25.8 % on it, 25.5 % half a beat off).

How tightly do a dataset's dances lock to their music? A diagnostic of the data, not of a model (docs/d2mgan.md).

For every dance of a split, with the beats of the song excerpt it was performed to (``choreo.audio.beats``):

- **foot strikes** (an ankle's contact starting: ``Motion.foot_contacts``, 0.3 m/s) and **kinematic beats**
  (Bailando's speed minima) are scored by the share that fall within ``--tolerance`` seconds of a beat, and by
  the same share against the beat grid shifted by half a beat (the off-beat control). A dance whose steps land
  on the beat scores far above its control; events with no relation to the beat score about the same on both;
- the **tempo** of the dance (the highest autocorrelation peak of its mean joint speed, 0.25-3 s) against the song's
  (the same on the onset envelope), folded over the ratios 1, 2, 3, 1/2, 1/3, 3/2, 2/3: agreement within 8 %.
- a **lag and time-scale scan**: the song's onset strength (z-scored) averaged over the foot strikes, with the
  strikes shifted by every lag in +-1 s and stretched by every factor in 0.97-1.03 (a constant sync offset or a
  frame-rate error in the data would hide an alignment from the on-beat shares above). The best score of each
  dance is compared with the same scan against another dance's song (the next one in the split): what a
  search over 2,500 (lag, scale) pairs finds in music the dancer never heard;
- the **one-second onset bins** that D2M-GAN's beat metrics and onset F1 read (``choreo.metrics.music.onset_bins``):
  their density, and how well the dance's mean joint speed in a second tells a second with an onset from one
  without (the area under the ROC curve within each dance: 0.5 = not at all), beside the music's own loudness.

What it says about a dataset bounds what a model trained on it can learn: where the steps are not on the beat
(on-beat and off-beat shares equal), no model can learn from it where the beats fall in a new dance (D2M-GAN's
onset F1 and beat accent), only the tempo and the style.

    .venv/bin/python research/dance_music_sync.py [--data DIR] [--split train|test|all] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RATIOS = (1.0, 2.0, 3.0, 0.5, 1 / 3, 1.5, 2 / 3)


def off_beats(beats: np.ndarray) -> np.ndarray:
    """The points halfway between consecutive beats (seconds)."""
    return 0.5 * (beats[1:] + beats[:-1])


def auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for the boolean ``label`` (Mann-Whitney U over the pairs, ties
    half); NaN when one class is empty."""
    from scipy.stats import mannwhitneyu

    pos, neg = score[label], score[~label]
    if not len(pos) or not len(neg):
        return float("nan")
    return float(mannwhitneyu(pos, neg).statistic / (len(pos) * len(neg)))


def period(signal: np.ndarray, rate: float, shortest: float = 0.25, longest: float = 3.0) -> float:
    """The lag (seconds) of the highest autocorrelation peak of ``signal`` (sampled at ``rate``) in the range
    (a peak, not the range's edge: the autocorrelation of a smooth signal falls from lag 0); NaN without one."""
    x = signal - signal.mean()
    ac = np.correlate(x, x, "full")[len(x) - 1 :]
    lags = np.arange(len(ac)) / rate
    peaks = np.flatnonzero((ac[1:-1] > ac[:-2]) & (ac[1:-1] >= ac[2:])) + 1
    peaks = peaks[(lags[peaks] >= shortest) & (lags[peaks] <= longest)]
    return float(lags[peaks[np.argmax(ac[peaks])]]) if len(peaks) else float("nan")


def alignment_scan(
    events: np.ndarray, strength: np.ndarray, rate: float, lags: np.ndarray, scales: np.ndarray
) -> np.ndarray:
    """Mean of ``strength`` (an onset envelope sampled at ``rate`` Hz, from the dance's first frame) at
    ``events / scale + lag`` for every scale and lag (seconds): ``(len(scales), len(lags))``; events that fall
    outside the envelope are left out, NaN where none is left."""
    out = np.full((len(scales), len(lags)), np.nan)
    for i, scale in enumerate(scales):
        idx = np.round((events[:, None] / scale + lags[None, :]) * rate).astype(np.int64)
        ok = (idx >= 0) & (idx < len(strength))
        vals = np.where(ok, strength[np.clip(idx, 0, len(strength) - 1)], 0.0)
        n = ok.sum(axis=0)
        out[i] = np.where(n > 0, vals.sum(axis=0) / np.maximum(n, 1), np.nan)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "dance_with_melody"))
    ap.add_argument("--split", default="all", choices=("train", "test", "all"))
    ap.add_argument("--tolerance", type=float, default=0.07, help="seconds either side of a beat")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="use each dance's first S seconds")
    ap.add_argument("--json", help="write the per-dance numbers here")
    args = ap.parse_args(argv)

    import librosa

    from choreo.audio.beats import beat_times
    from choreo.audio.io import load_audio
    from choreo.data.config import DataConfig
    from choreo.data.datasets import select_items
    from choreo.metrics.beats import motion_beats_bailando
    from choreo.metrics.dancerevolution import beat_coverage_hit
    from choreo.metrics.music import onset_bins, tempo_agreement
    from choreo.motion.formats import read_motion
    from choreo.motion.rhythm import foot_strike_times

    def on_beat_share(events: np.ndarray, grid: np.ndarray) -> float:
        """Share of the events within the tolerance of a grid point: Dance Revolution's beat hit rate."""
        return beat_coverage_hit(events, grid, args.tolerance)[1]

    items, _, _ = select_items(DataConfig(path=args.data), args.split)
    lags, scales = np.arange(-1.0, 1.0001, 0.02), np.arange(0.97, 1.0301, 0.0025)
    rows, scan_inputs = [], []
    for it in items:
        m = read_motion(it.motion)
        m = m.crop(0, min(m.n_frames, int(round(args.max_seconds * m.fps))))
        start = it.audio_start if it.audio_start is not None else float(m.meta.get("audio_start", 0.0))
        y, sr = load_audio(it.audio or m.meta.get("audio"), sr=22050, start=start, end=start + m.duration)
        y = np.asarray(y, np.float32)
        beats = beat_times(y, sr)
        p = m.joint_positions()
        strikes = foot_strike_times(m)
        kinematic = np.asarray(motion_beats_bailando(p), np.float64) / m.fps
        hop = 256
        strength = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop)
        music_period = period(strength, sr / hop)
        scan_inputs.append((strikes, (strength - strength.mean()) / (strength.std() + 1e-9), sr / hop))
        step = np.linalg.norm(np.diff(p, axis=0), axis=-1).mean(axis=-1)  # mean joint displacement per frame
        dance_period = period(step, m.fps)
        bins = onset_bins(y, sr)
        speed = np.r_[0.0, step] * m.fps
        f = max(1, int(round(m.fps)))
        per_s = np.array([speed[i * f : (i + 1) * f].mean() for i in range(len(bins))])
        loud = np.array([np.sqrt(np.mean(y[i * sr : (i + 1) * sr] ** 2)) for i in range(len(bins))])
        row = {
            "name": it.name,
            "onset_bin_density": float(bins.mean()),
            "onset_bins_auc_speed": auc(per_s, bins),
            "onset_bins_auc_loudness": auc(loud, bins),
            "strikes_on_beat": on_beat_share(strikes, beats),
            "strikes_off_beat": on_beat_share(strikes, off_beats(beats)),
            "kinematic_on_beat": on_beat_share(kinematic, beats),
            "kinematic_off_beat": on_beat_share(kinematic, off_beats(beats)),
            "music_bpm": 60.0 / music_period,
            "dance_bpm": 60.0 / dance_period,
            "tempo_agrees": tempo_agreement(60.0 / dance_period, 60.0 / music_period, factors=RATIOS),
        }
        rows.append(row)
        print(
            f"{it.name:14s} strikes on/off beat {row['strikes_on_beat']:.2f}/{row['strikes_off_beat']:.2f}  "
            f"kinematic {row['kinematic_on_beat']:.2f}/{row['kinematic_off_beat']:.2f}  "
            f"tempo music {row['music_bpm']:.0f} dance {row['dance_bpm']:.0f} BPM agrees {row['tempo_agrees']}",
            flush=True,
        )
    # the scan: each dance's strikes against its own song, then against the next dance's song
    for k, row in enumerate(rows):
        strikes, own, rate = scan_inputs[k]
        other = scan_inputs[(k + 1) % len(rows)][1]
        grid = alignment_scan(strikes, own, rate, lags, scales)
        i, j = np.unravel_index(np.nanargmax(grid), grid.shape)
        row.update(scan_best=float(grid[i, j]), scan_best_lag=float(lags[j]), scan_best_scale=float(scales[i]))
        row["scan_at_zero"] = float(grid[np.argmin(abs(scales - 1.0)), np.argmin(abs(lags))])
        row["scan_best_other_song"] = float(np.nanmax(alignment_scan(strikes, other, rate, lags, scales)))
    keys = (
        "strikes_on_beat",
        "strikes_off_beat",
        "kinematic_on_beat",
        "kinematic_off_beat",
        "tempo_agrees",
        "onset_bin_density",
        "onset_bins_auc_speed",
        "onset_bins_auc_loudness",
        "scan_at_zero",
        "scan_best",
        "scan_best_other_song",
    )
    summary = {k: float(np.nanmean([float(r[k]) for r in rows])) for k in keys}
    print(
        f"\n{len(rows)} dances (first {args.max_seconds:g} s, +-{args.tolerance:g} s): foot strikes on the beat "
        f"{summary['strikes_on_beat']:.3f} against {summary['strikes_off_beat']:.3f} half a beat off; kinematic "
        f"beats {summary['kinematic_on_beat']:.3f} against {summary['kinematic_off_beat']:.3f}; tempo agrees "
        f"for {summary['tempo_agrees']:.0%} of the dances; one-second onset bins: density "
        f"{summary['onset_bin_density']:.2f}, told apart by the dance's speed with AUC "
        f"{summary['onset_bins_auc_speed']:.2f} (by the music's loudness: {summary['onset_bins_auc_loudness']:.2f}); "
        f"onset strength (z) at the foot strikes {summary['scan_at_zero']:+.3f}, at each dance's best lag and "
        f"scale {summary['scan_best']:+.3f}, the same search against another dance's song "
        f"{summary['scan_best_other_song']:+.3f}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "dances": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
