"""End-to-end speed of ``choreo dance SONG --format bvh,npz``: the model's default (fast) sampling against EDGE's
50-step DDIM, both measured in the same run as fresh processes (start-up, features, sampling and writing
included; an empty feature cache each time, as a user's first run of a song).

    .venv/bin/python benchmarks/bench_dance_cli.py [--song SONG] [--seconds 180] [--repeats 3] [--model edge]
        [--formats bvh,npz] [--baseline-steps 50]

Without ``--song`` a 3-minute song is synthesised (``choreo.audio.demo``). Prints, per setting, the best and
the spread of the wall times over the repeats, the real-time factor (song seconds / wall seconds; the target
is >= 20 on 2 CPU cores) and the speed-up over the 50-step baseline.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHOREO = [sys.executable, "-m", "choreo"]


def run_once(song: Path, out: Path, extra: list[str], formats: str, model: str) -> float:
    """Wall seconds of one ``choreo dance`` process with an empty feature cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "CHOREO_CACHE": cache}
        cmd = [*CHOREO, "dance", str(song), "--model", model, "-o", str(out), "--format", formats, "--no-progress"]
        t0 = time.perf_counter()
        r = subprocess.run([*cmd, *extra], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"choreo dance failed: {r.stderr[-2000:]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--song", type=Path, help="a song (default: a synthesised one of --seconds)")
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default="edge", help="packaged model name or checkpoint")
    ap.add_argument("--formats", default="bvh,npz")
    ap.add_argument("--baseline-steps", type=int, default=50, help="DDIM steps of the baseline (0: skip it)")
    args = ap.parse_args()

    from choreo.audio import load_audio
    from choreo.audio.demo import demo_song, write_wav

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        song = args.song
        if song is None:
            y, sr = demo_song(seconds=args.seconds)
            song = tmp / "song.wav"
            write_wav(song, y, sr)
        y, sr = load_audio(song)
        length = len(y) / sr
        settings = {"default (the model's own settings)": []}
        if args.baseline_steps:
            settings[f"DDIM {args.baseline_steps} steps, eta 1, fp32"] = [
                *("--sampler", "ddim", "--steps", str(args.baseline_steps), "--eta", "1", "--precision", "fp32")
            ]
        print(f"song {song.name}: {length:.1f} s; formats {args.formats}; {os.cpu_count()} CPUs; model {args.model}")
        walls: dict[str, list[float]] = {}
        for _ in range(args.repeats):  # interleaved, so both settings see the same machine load
            for label, extra in settings.items():
                walls.setdefault(label, []).append(run_once(song, tmp / "out", extra, args.formats, args.model))
        best_base = min(walls[list(settings)[-1]]) if len(settings) > 1 else None
        for label, w in walls.items():
            best = min(w)
            ratio = f", {best_base / best:.1f}x faster than the baseline" if best_base and best != best_base else ""
            print(
                f"{label}: best {best:.2f} s (all {', '.join(f'{x:.2f}' for x in w)}), "
                f"{length / best:.1f}x real time{ratio}"
            )


if __name__ == "__main__":
    main()
