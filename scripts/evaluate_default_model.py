"""Evaluate a music-to-dance checkpoint on the Dance with Melody test split, as in MODEL_CARD.md.

Writes, under ``--out``:

- ``gt/``: the real test dances (choreo npz), ``music/``: their songs' beats (``STEM.beats``, seconds from the
  dance's first frame, found by ``choreo.audio.beats`` on the song excerpt the dance was performed to);
- ``choreo/``: the model's dances to those song excerpts (same length, seed per song), as ``choreo dance`` makes
  them (feet locked while the model predicts contact); ``choreo_raw/``: the same dances without foot locking;
- ``no_music/``: the same model with guidance 0 (its unconditional branch: the music is never seen);
- ``train_dances/``: real training dances of the same style played to the test songs (no music alignment);
- ``<set>.json``: ``choreo eval --pred <set> --gt gt --music music`` for every set (``gt`` against itself gives
  the real dances' own numbers), and ``table.md``, the model card's tables;
- ``unrelated/``: the same model, with and without music, on the first 30 s of each song in ``--unrelated``
  (Creative-Commons clips unlike ballroom), judged against the real test dances.

Every number comes from ``choreo eval`` (protocol ``edge``: 5 s clips at 60 fps, see docs/metrics.md).

    .venv/bin/python scripts/evaluate_default_model.py [--checkpoint CKPT] [--out runs/eval_default]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETS = ("gt", "choreo", "choreo_raw", "no_music", "train_dances")
LABELS = {
    "gt": "real test dances",
    "choreo": "choreo default",
    "choreo_raw": "choreo, no foot lock",
    "no_music": "no music (guidance 0)",
    "train_dances": "training dances, test songs",
}
ROWS = (
    ("fid_k", "FID_k", "lower is better"),
    ("fid_g", "FID_g", "lower is better"),
    ("div_k", "Div_k", "close to real"),
    ("div_g", "Div_g", "close to real"),
    ("bas", "BAS (Bailando)", "higher is better"),
    ("pfc", "PFC", "close to real / lower"),
    ("foot_sliding", "foot sliding (m/s)", "close to real / lower"),
    ("jitter", "jitter (m/s^3)", "close to real"),
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=None, help="checkpoint or run dir (default: the packaged model)")
    ap.add_argument("--data", default=str(REPO.parent / "shared/data/dance_with_melody"))
    ap.add_argument("--out", default=str(REPO / "runs/eval_default"))
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--guidance", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--unrelated", default=str(REPO.parent / "shared/data/cc_music"), help="folder of other songs")
    args = ap.parse_args(argv)

    import numpy as np

    from choreo.audio import load_audio
    from choreo.audio.beats import beat_times, write_beats
    from choreo.cli import main as choreo
    from choreo.data.sources import DWM_TEST
    from choreo.generate import Choreographer
    from choreo.motion.cleanup import lock_feet
    from choreo.motion.formats import read_motion, write_motion

    data, out = Path(args.data), Path(args.out)
    for s in SETS:
        (out / s).mkdir(parents=True, exist_ok=True)
    (out / "music").mkdir(exist_ok=True)

    ckpt = args.checkpoint or str(REPO / "src/choreo/assets/edge_dwm.pt")
    model = Choreographer.load(ckpt)
    train_names = sorted(p.name for p in data.glob("DANCE_*") if p.is_dir() and p.name not in DWM_TEST)
    timings = []
    for k, name in enumerate(DWM_TEST):
        real = read_motion(data / name)
        song, start, seconds = real.meta["audio"], float(real.meta["audio_start"]), real.duration
        write_motion(real, out / "gt" / f"{name}.npz")
        y, sr = load_audio(song, start=start, end=start + seconds)
        write_beats(out / "music" / f"{name}.beats", beat_times(y, sr))

        t0 = time.perf_counter()
        raw = model.dance(
            song,
            seconds=seconds,
            start=start,
            seed=args.seed + k,
            guidance=args.guidance,
            steps=args.steps,
            progress=False,
            foot_lock=False,
        )
        dance = lock_feet(raw, raw.meta["contacts"])  # what dance() returns by default (foot_lock=True)
        timings.append((seconds, time.perf_counter() - t0))
        write_motion(dance, out / "choreo" / f"{name}.npz")
        write_motion(raw, out / "choreo_raw" / f"{name}.npz")
        plain = model.dance(
            song, seconds=seconds, start=start, seed=args.seed + k, guidance=0.0, steps=args.steps, progress=False
        )
        write_motion(plain, out / "no_music" / f"{name}.npz")

        # a real training dance of the same style (C/R/T/W), the longest one, cut to the song's length
        style = name.split("_")[1]
        same = [n for n in train_names if n.split("_")[1] == style] or train_names
        other = max((read_motion(data / n) for n in same), key=lambda m: m.n_frames)
        write_motion(other.crop(0, min(other.n_frames, real.n_frames)), out / "train_dances" / f"{name}.npz")
        print(f"{name}: {seconds:.1f} s of dance generated in {timings[-1][1]:.1f} s", flush=True)

    table = evaluate_sets(choreo, out, SETS, out / "gt", out / "music")

    # unrelated music (Creative-Commons clips, first 30 s): does the music still steer the dance?
    unrelated = out / "unrelated"
    songs = sorted(p for p in Path(args.unrelated).glob("*") if p.suffix in (".ogg", ".mp3", ".wav", ".flac"))
    for s in ("choreo", "no_music", "music"):
        (unrelated / s).mkdir(parents=True, exist_ok=True)
    for k, song in enumerate(songs):
        y, sr = load_audio(song, end=30.0)
        write_beats(unrelated / "music" / f"{song.stem}.beats", beat_times(y, sr))
        seconds = min(30.0, len(y) / sr)
        t0 = time.perf_counter()
        dance = model.dance(
            song, seconds=seconds, seed=args.seed + k, guidance=args.guidance, steps=args.steps, progress=False
        )
        timings.append((seconds, time.perf_counter() - t0))
        write_motion(dance, unrelated / "choreo" / f"{song.stem}.npz")
        plain = model.dance(song, seconds=seconds, seed=args.seed + k, guidance=0.0, steps=args.steps, progress=False)
        write_motion(plain, unrelated / "no_music" / f"{song.stem}.npz")
    extra = ""
    if songs:
        extra = evaluate_sets(choreo, unrelated, ("choreo", "no_music"), out / "gt", unrelated / "music")

    dance_s = sum(a for a, _ in timings)
    comp_s = sum(b for _, b in timings)
    speed = (
        f"Generation: {dance_s:.0f} s of dance in {comp_s:.0f} s of compute ({dance_s / comp_s:.2f} s of dance per "
        f"second; {args.steps} DDIM steps, guidance {args.guidance}, torch threads {model_threads()})."
    )
    report = (
        f"### Test split\n\n{table}\n\n### Unrelated music ({len(songs)} clips, first 30 s)\n\n{extra}\n\n{speed}\n"
    )
    (out / "table.md").write_text(report)
    print(report)
    np.save(out / "timings.npy", np.array(timings))
    return 0


def evaluate_sets(choreo, folder: Path, sets, gt: Path, music: Path) -> str:
    """``choreo eval`` of every set in ``folder`` against ``gt``; returns the markdown table."""
    results = {}
    for s in sets:
        argv = ["eval", "--pred", str(folder / s), "--gt", str(gt), "--music", str(music), "--protocol", "edge"]
        if choreo([*argv, "--json", str(folder / f"{s}.json")]) != 0:
            raise SystemExit(f"choreo eval failed on {folder / s}")
        results[s] = json.loads((folder / f"{s}.json").read_text())
    lines = ["| metric | " + " | ".join(LABELS[s] for s in sets) + " | |", "|---" * (len(sets) + 2) + "|"]
    for key, label, note in ROWS:
        cells = ["n/a" if results[s].get(key) is None else f"{results[s][key]:.4g}" for s in sets]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {note} |")
    return "\n".join(lines)


def model_threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    raise SystemExit(main())
