"""Save what every packaged model makes for a fixed input and seed, so a refactor can prove it changed nothing.

The inputs are choreo's own synthesised demo song (no data from ``../shared``) and the dance EDGE makes to it;
the sampling settings are pinned in ``SETTINGS`` (steps cut for speed), so a later change of a model's
*defaults* does not move the reference, and the dances are taken before grounding and the bone-length fit
(``ground=False, fit_skeleton=False``: steps after the model, tested on their own in ``tests/test_motion_floor.py``
and ``tests/test_exports_roundtrip.py``).
``tests/test_reference_outputs.py`` regenerates the same outputs and compares. A deliberate change of what a model
makes (new weights, a new post-processing step) re-runs this script and says so in its commit::

    .venv/bin/python scripts/save_reference_outputs.py tests/fixtures/reference_outputs.npz
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from choreo.audio.demo import demo_song
from choreo.compose import Composer
from choreo.fileio import atomic_path
from choreo.generate import Choreographer

SECONDS = 6.0
SEED = 3
#: every dance model's sampling pinned at the values its file carried when the reference was saved
SETTINGS: dict[str, dict] = {
    "edge": {"guidance": 2.0, "steps": 8, "sampler": "dpm++2m"},
    "diffdance": {"guidance": 3.5, "steps": 10, "sampler": "ddim", "eta": 1.0, "style": "waltz"},
    "diffdance_style": {"guidance": 2.0, "steps": 10, "sampler": "ddim", "eta": 1.0, "style": "tango"},
    "dancerevolution": {},
}


def reference_outputs() -> dict[str, np.ndarray]:
    """{"dance/NAME": (T, J, 3) float32 metres, "music/d2mgan": (N,) float16}: what each packaged model makes."""
    song = demo_song(seconds=SECONDS + 2.0, seed=0)
    out: dict[str, np.ndarray] = {}
    for name, settings in SETTINGS.items():
        model = Choreographer.load(name, device="cpu", threads=1)
        motion = model.dance(
            song, seconds=SECONDS, seed=SEED, progress=False, ground=False, fit_skeleton=False, **settings
        )
        out[f"dance/{name}"] = np.asarray(motion.positions, np.float32)
        if name == "edge":
            edge_dance = motion
    composer = Composer.load("d2mgan", device="cpu", threads=1)
    y, _ = composer.music(edge_dance, seed=SEED)
    out["music/d2mgan"] = np.asarray(y, np.float16)  # half the file; the test compares at 1e-3
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", help="the .npz to write")
    args = p.parse_args(argv)
    arrays = reference_outputs()
    with atomic_path(args.out) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    for k, v in arrays.items():
        print(f"{k}: {v.shape} {v.dtype}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
