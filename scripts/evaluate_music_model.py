"""Dance-to-music model against its baselines, with the same metrics (``choreo eval-music``), on held-out dances.

    python scripts/evaluate_music_model.py --checkpoint runs/d2mgan [--data ../shared/data/dance_with_melody]
        [--split test] [--out eval/d2mgan] [--seeds 0 1 2] [--max-seconds 60]
    python scripts/evaluate_music_model.py --checkpoint runs/d2mgan_val --split train \
        --sequences DANCE_C_6 DANCE_R_3 DANCE_W_20 DANCE_W_31      (a validation fold the run was trained without)

For every dance of the split (Dance with Melody: DANCE_C_4, DANCE_R_5, DANCE_W_3, DANCE_W_17), it writes under
``--out``:

- ``real/STEM.wav``: the music the dance was performed to (its span of the song, at the codec's rate);
- ``d2mgan_s<seed>/STEM.wav``: the model's music for the dance, style label withheld (one folder per seed);
- ``codec/STEM.wav``: the model's own codec reconstructing the real music (an upper bound for anything decoded
  through that codec);
- ``mismatch/STEM.wav``: a real song that belongs to another dance of the split, of another style where there
  is one (the "wrong music" baseline), cut to the dance's length;
- ``rhythm/STEM.wav``: choreo's synthesised demo song (:mod:`choreo.audio.demo`) at the tempo and phase of the
  dance's own motion beats (speed minima): a rhythm-only baseline that knows when the dancer steps;
- ``dances/STEM.npz``: the dance (for BAS);

then scores each folder against ``real`` with :func:`choreo.commands.eval_music.evaluate_folders` and writes
``results.json`` and ``results.md`` (one row per system; mean and spread over seeds for the model), plus the
model's generation speed (seconds of compute per second of music).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

COLUMNS = (
    ("coverage", "cover"),
    ("hit", "hit"),
    ("loris_bcs", "BCS"),
    ("loris_bhs", "BHS"),
    ("loris_f1", "LORIS F1"),
    ("onset_f1", "onset F1"),
    ("tempo_accuracy", "tempo acc"),
    ("style_accuracy", "style acc"),
    ("fd_embedding", "FD (emb.)"),
    ("bas", "BAS"),
)


def motion_beat_grid(positions: np.ndarray, fps: float) -> tuple[float, float]:
    """(tempo BPM, phase s) of a dance's motion beats (Bailando's speed minima): the median beat interval
    folded into 70-160 BPM, and the offset of the beat grid that the most motion beats fall near (+-0.1 s)."""
    from choreo.metrics.beats import motion_beats_bailando

    beats = np.asarray(motion_beats_bailando(positions), np.float64) / fps
    if len(beats) < 3:
        return 120.0, 0.0
    period = float(np.median(np.diff(beats)))
    while 60.0 / period < 70:
        period /= 2
    while 60.0 / period > 160:
        period *= 2
    cands = np.linspace(0, period, 50, endpoint=False)
    score = [np.sum(np.abs(((beats - c + period / 2) % period) - period / 2) < 0.1) for c in cands]
    return 60.0 / period, float(cands[int(np.argmax(score))])


def rhythm_baseline(seconds: float, bpm: float, phase: float, sr: int) -> np.ndarray:
    """The demo song at ``bpm`` with its beats at ``phase + k * 60 / bpm`` seconds, ``seconds`` long."""
    from choreo.audio.demo import demo_song

    period = 60.0 / bpm
    y, _ = demo_song(seconds + period, bpm=bpm, sr=sr)
    cut = int(round((period - phase % period) * sr)) % int(round(period * sr))
    return y[cut : cut + int(round(seconds * sr))]


def fit_length(y: np.ndarray, n: int) -> np.ndarray:
    """``y`` cut to n samples, or repeated to reach them."""
    if len(y) >= n:
        return y[:n]
    return np.tile(y, int(np.ceil(n / max(1, len(y)))))[:n]


def main(argv: list[str] | None = None) -> int:
    import torch

    from choreo.audio.demo import write_wav
    from choreo.audio.io import load_audio
    from choreo.commands.eval_music import evaluate_folders
    from choreo.compose import Composer
    from choreo.data.config import DataConfig
    from choreo.data.datasets import select_items
    from choreo.data.sources import style_of
    from choreo.motion.formats import read_motion, write_motion

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="D2M-GAN run or checkpoint")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "dance_with_melody"))
    ap.add_argument("--split", default="test", choices=("train", "test", "all"))
    ap.add_argument(
        "--sequences", nargs="+", help="only these dances of the split (a validation fold: choose settings on it)"
    )
    ap.add_argument("--out", default="eval/d2mgan")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--max-seconds", type=float, default=None, help="evaluate only each dance's first S seconds")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    out = Path(args.out)
    composer = Composer.load(args.checkpoint, device="cpu", threads=args.threads)
    sr = composer.sample_rate
    items, _, _ = select_items(DataConfig(path=args.data, sequences=args.sequences), args.split)
    if not items:
        raise SystemExit(f"no dances in the {args.split} split of {args.data}")
    dances, reals = {}, {}
    for it in items:
        m = read_motion(it.motion)
        if args.max_seconds:
            m = m.crop(0, min(m.n_frames, int(round(args.max_seconds * m.fps))))
        audio = it.audio or m.meta.get("audio")
        start = it.audio_start if it.audio_start is not None else float(m.meta.get("audio_start", 0.0))
        y, _ = load_audio(audio, sr=sr, start=start, end=start + m.n_frames / m.fps)
        dances[it.name], reals[it.name] = m, fit_length(np.asarray(y, np.float32), int(round(m.duration * sr)))
        write_wav(out / "real" / f"{it.name}.wav", reals[it.name], sr)
        write_motion(m, out / "dances" / f"{it.name}.npz")

    timing = []
    for seed in args.seeds:
        for name, m in dances.items():
            t0 = time.perf_counter()
            y, _ = composer.music(m, seed=seed)  # the style label withheld: the metric is not given away
            timing.append((time.perf_counter() - t0) / m.duration)
            write_wav(out / f"d2mgan_s{seed}" / f"{name}.wav", y, sr)
    codec = composer.method.codec
    names = sorted(dances)
    for i, name in enumerate(names):
        write_wav(out / "codec" / f"{name}.wav", codec.reconstruct(reals[name]), sr)
        others = [n for n in names[i + 1 :] + names[:i] if n != name]
        other_style = [n for n in others if style_of(n) != style_of(name)]
        pick = (other_style or others or [name])[0]
        write_wav(out / "mismatch" / f"{name}.wav", fit_length(reals[pick], len(reals[name])), sr)
        m = dances[name]
        bpm, phase = motion_beat_grid(m.joint_positions(), m.fps)
        write_wav(out / "rhythm" / f"{name}.wav", rhythm_baseline(m.duration, bpm, phase, sr), sr)
        print(f"{name}: mismatch song from {pick}; motion beats {bpm:.1f} BPM, phase {phase:.2f} s", file=sys.stderr)

    systems = ["real", "codec", "mismatch", "rhythm"] + [f"d2mgan_s{s}" for s in args.seeds]
    results = {}
    for system in systems:
        print(f"scoring {system} ...", file=sys.stderr)
        results[system] = evaluate_folders(out / system, out / "real", out / "dances")
    model = [results[f"d2mgan_s{s}"]["summary"] for s in args.seeds]
    spread = {
        k: {"mean": float(np.mean([r[k] for r in model])), "std": float(np.std([r[k] for r in model]))}
        for k, _ in COLUMNS
        if all(k in r for r in model)
    }
    report = {
        "checkpoint": args.checkpoint,
        "split": args.split,
        "dances": names,
        "seeds": args.seeds,
        "generation_seconds_per_second": float(np.mean(timing)),
        "systems": {k: v["summary"] for k, v in results.items()},
        "d2mgan_over_seeds": spread,
        "pieces": {k: v["pieces"] for k, v in results.items()},
    }
    (out / "results.json").write_text(json.dumps(report, indent=1, default=float))
    lines = ["| system | " + " | ".join(c for _, c in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for system in ["real", "codec", "mismatch", "rhythm", "d2mgan"]:
        if system == "d2mgan":
            cells = [f"{spread[k]['mean']:.3f} ± {spread[k]['std']:.3f}" if k in spread else "-" for k, _ in COLUMNS]
        else:
            s = results[system]["summary"]
            cells = [f"{s[k]:.3f}" if k in s else "-" for k, _ in COLUMNS]
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    lines.append(f"\nD2M-GAN generation: {report['generation_seconds_per_second']:.3f} s of compute per s of music.")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
