"""Why does the packaged Dance Revolution barely move? It dances at 20-35 % of the real dancers' mean joint speed
from the first seconds on (not a decay over a long song); the random initial LSTM state changes nothing (init_state_std
0, 1 and 3 give the same speed, on the cha-cha nearly the same dance), and a real 4 s prefix, teacher-forced, decays
to the model's own low speed within 10-20 s: the decoder has one low-energy attractor that forgets its seed.

    .venv/bin/python research/dancerevolution_speed.py [--dances DANCE_C_4 DANCE_W_3] [--seconds 60]

Mean joint speed (m/s) per 10 s of 60 s, seed 0, the model's raw output (no foot lock, grounding or fit), 2 threads
(DANCE_C_4: real 0.87-1.17, model 0.16-0.27 at every std, continued 0.44 -> 0.08; DANCE_W_3: real 0.46-0.94, model
0.21-0.42, continued 0.53 -> 0.30). Issue 31 asks for 0.7-1.3x the real speed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

DWM = Path(__file__).resolve().parents[2] / "shared" / "data" / "dance_with_melody"
RAW = {"foot_lock": False, "ground": False, "fit_skeleton": False}


def speeds(motion, seconds: float = 10.0) -> list[float]:
    """Mean joint speed (m/s) over each ``seconds`` of the motion."""
    n = int(round(seconds * motion.fps))
    P = motion.joint_positions()
    v = np.linalg.norm(np.diff(P, axis=0), axis=-1).mean(axis=1) * motion.fps
    return [round(float(v[i : i + n].mean()), 2) for i in range(0, len(v) - n + 1, n)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="dancerevolution")
    p.add_argument("--dances", nargs="+", default=["DANCE_C_4", "DANCE_W_3"])
    p.add_argument("--seconds", type=float, default=60.0)
    args = p.parse_args()
    from choreo.generate import Choreographer
    from choreo.models.editing import Edit
    from choreo.motion.formats import read_motion

    model = Choreographer.load(args.model, device="cpu", threads=2)
    for name in args.dances:
        real = read_motion(DWM / name).resample(model.fps)
        song = real.meta["audio"]
        print(f"{name}: real dance {speeds(real)[: int(args.seconds // 10)]}")
        for std in (1.0, 0.0, 3.0):
            d = model.dance(song, seconds=args.seconds, seed=0, progress=False, init_state_std=std, **RAW)
            print(f"  init_state_std {std}: {speeds(d)}")
        prefix = real.copy(positions=real.positions[: int(4 * model.fps)]).grounded()
        edit = Edit(prefix, frames=(0, int(4 * model.fps)))
        d = model.dance(song, seconds=args.seconds, seed=0, progress=False, edit=edit, **RAW)
        print(f"  continued from 4 s of the real dance: {speeds(d)}")


if __name__ == "__main__":
    main()
