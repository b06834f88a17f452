"""Compare sampling settings of one model on the Dance with Melody test split, with the seed-to-seed spread.

For every setting (sampler, steps, eta, precision) and every seed, the model dances to the four test songs
(the excerpts the real test dances were performed to, feet locked as ``choreo dance`` does); ``choreo eval``
(protocol ``edge``) scores each (setting, seed) against the real dances. The table gives, per setting, the mean
over seeds and the [min, max] range of FID_k, Div_k, BAS, PFC and foot sliding, and the sampling speed (seconds
of dance per second of compute, features excluded). A fast setting keeps the quality when its numbers fall
within the reference setting's seed-to-seed range.

    .venv/bin/python scripts/evaluate_sampling.py --settings ddim:50:1:fp32 dpm++2m:10:0:auto --seeds 0,1,2
        [--checkpoint CKPT] [--out runs/eval_sampling]

A setting is ``sampler:steps:eta:precision``; the first one is the reference.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
METRICS = (("fid_k", "FID_k"), ("div_k", "Div_k"), ("bas", "BAS"), ("pfc", "PFC"), ("foot_sliding", "foot sliding"))


def parse_setting(text: str) -> dict:
    sampler, steps, eta, precision = text.split(":")
    return {"sampler": sampler, "steps": int(steps), "eta": float(eta), "precision": precision}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="edge", help="checkpoint, run dir or packaged name (default: edge)")
    ap.add_argument("--data", default=str(REPO.parent / "shared/data/dance_with_melody"))
    ap.add_argument("--out", default=str(REPO / "runs/eval_sampling"))
    ap.add_argument("--settings", nargs="+", default=["ddim:50:1:fp32", "dpm++2m:10:0:auto"])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--guidance", type=float, default=None, help="guidance weight (default: the model's)")
    ap.add_argument("--reuse", action="store_true", help="keep dances an earlier run of the same --out wrote")
    args = ap.parse_args(argv)

    import numpy as np

    from choreo.audio import load_audio
    from choreo.audio.beats import beat_times, write_beats
    from choreo.cli import main as choreo
    from choreo.data.sources import DWM_TEST
    from choreo.generate import Choreographer
    from choreo.motion.formats import read_motion, write_motion

    data, out = Path(args.data), Path(args.out)
    seeds = [int(s) for s in args.seeds.split(",")]
    model = Choreographer.load(args.checkpoint)
    (out / "gt").mkdir(parents=True, exist_ok=True)
    (out / "music").mkdir(exist_ok=True)
    songs = []
    for name in DWM_TEST:
        real = read_motion(data / name)
        song, start, seconds = real.meta["audio"], float(real.meta["audio_start"]), real.duration
        write_motion(real, out / "gt" / f"{name}.npz")
        y, sr = load_audio(song, start=start, end=start + seconds)
        write_beats(out / "music" / f"{name}.beats", beat_times(y, sr))
        feats, _ = model.features(song, seconds=seconds, start=start)
        songs.append((name, feats, seconds))

    results: dict[str, dict] = {}
    for text in args.settings:
        setting = parse_setting(text)
        runs, compute, dance_s = [], 0.0, 0.0
        for seed in seeds:
            folder = out / text.replace(":", "_") / f"seed{seed}"
            folder.mkdir(parents=True, exist_ok=True)
            for k, (name, feats, seconds) in enumerate(songs):
                path = folder / f"{name}.npz"
                if path.exists() and args.reuse:  # an earlier run's dance (its time is not counted again)
                    continue
                t0 = time.perf_counter()
                dance = model.dance(feats, seed=seed * 100 + k, guidance=args.guidance, progress=False, **setting)
                compute += time.perf_counter() - t0
                dance_s += seconds
                write_motion(dance, path)
            scores = folder.parent / f"seed{seed}.json"
            argv_eval = ["eval", "--pred", str(folder), "--gt", str(out / "gt"), "--music", str(out / "music")]
            if choreo([*argv_eval, "--protocol", "edge", "--json", str(scores)]) != 0:
                raise SystemExit(f"choreo eval failed on {folder}")
            runs.append(json.loads(scores.read_text()))
        speed = dance_s / compute if compute else float("nan")
        results[text] = {"runs": runs, "speed": speed}
        print(f"{text}: {speed:.1f} s of dance per s", flush=True)

    lines = [
        f"Seeds {args.seeds}; mean [min, max] over seeds; speed in seconds of dance per second of compute.",
        "",
        "| setting | " + " | ".join(label for _, label in METRICS) + " | speed |",
        "|---" * (len(METRICS) + 2) + "|",
    ]
    for text, r in results.items():
        cells = []
        for key, _ in METRICS:
            v = np.array([run[key] for run in r["runs"]], float)
            cells.append(f"{v.mean():.3g} [{v.min():.3g}, {v.max():.3g}]")
        lines.append(f"| {text} | " + " | ".join(cells) + f" | {r['speed']:.1f} |")
    table = "\n".join(lines)
    (out / "table.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
