"""Do the packaged models' dances stand on the floor? Before grounding no (lowest joint's 5th percentile from
-9 to +20 cm per dance); with ``choreo.motion.floor.stand_on_floor`` (the default of ``choreo dance``) every model
stays within 0.5 cm, with no frame more than 3 cm under the floor (two test-split songs and a Creative-Commons clip,
20 s each, seed 0).

    .venv/bin/python research/floor_heights.py edge diffdance diffdance_style dancerevolution
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DWM = ROOT.parent / "shared" / "data" / "dance_with_melody"
CC = ROOT.parent / "shared" / "data" / "cc_music"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help="packaged model names or checkpoints")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--start", type=float, default=10.0)
    args = p.parse_args()
    from choreo.generate import Choreographer
    from choreo.motion.formats import read_motion

    songs = {name: read_motion(DWM / name).meta["audio"] for name in ("DANCE_C_4", "DANCE_W_17")}
    songs["cc"] = sorted(CC.glob("*.ogg"))[0]
    for model in args.models:
        ch = Choreographer.load(model, device="cpu", threads=1)
        for label, song in songs.items():
            for ground in (False, True):
                t = time.perf_counter()
                d = ch.dance(song, seconds=args.seconds, start=args.start, seed=0, progress=False, ground=ground)
                low = d.joint_positions()[..., 1].min(axis=1)
                print(
                    f"{model:16s} {label:10s} ground={ground!s:5s} p5 {np.percentile(low, 5):+.3f} m, "
                    f"median {np.median(low):+.3f} m, frames > 3 cm under {np.mean(low < -0.03):.3f} "
                    f"({time.perf_counter() - t:.0f} s)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
