"""Speed of ``choreo eval`` against the reference implementation's feature extraction, in one run.

The 35 fixture windows (240 frames at 60 fps) are replicated to 2,000 files (1,000 gt, 1,000 pred, 480,000
frames) with a beats file each. choreo's time is the whole CLI path (``choreo eval`` reading every file and
computing every metric), measured in-process and as a fresh ``python -m choreo`` process (imports included).
The baseline is the reference's per-frame Python-loop feature extraction (``reference_features.py``, checked
against ``features.npz`` first), timed on a subset and extrapolated per frame; it leaves out the reference's
FID/Div/BAS/PFC, so the ratio understates choreo's advantage.

    .venv/bin/python benchmarks/bench_metrics.py [--files 2000] [--baseline-windows 6]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FIXTURES = REPO.parent / "shared" / "fixtures" / "metrics"
sys.path.insert(0, str(HERE))

from choreo.cli import main as choreo_main  # noqa: E402
from choreo.motion.formats import write_motion  # noqa: E402
from choreo.motion.motion import Motion  # noqa: E402
from choreo.motion.skeleton import SMPL24  # noqa: E402
from reference_features import geometric_loop, kinetic_loop  # noqa: E402


def write_inputs(root: Path, n_files: int) -> int:
    w = np.load(FIXTURES / "windows.npz")
    beats = "\n".join(f"{b / float(w['fps']):.6f}" for b in w["music_beats"]) + "\n"
    for sub in ("gt", "pred", "music"):
        (root / sub).mkdir()
    frames = 0
    for k in range(n_files):
        s = "gt" if k % 2 == 0 else "pred"
        pool = w["gt_index"] if s == "gt" else w["pred_index"]
        i = int(pool[(k // 2) % len(pool)])
        name = f"{k:05d}_{w['window_id'][i]}"
        write_motion(Motion(SMPL24, 60, positions=w["windows"][i]), root / s / f"{name}.npz")
        (root / "music" / f"{name}.beats").write_text(beats)
        frames += w["windows"].shape[1]
    return frames


def time_baseline(n_windows: int) -> tuple[float, float]:
    """Seconds per frame of the reference-style loops (kinetic + geometric), after a correctness check."""
    w = np.load(FIXTURES / "windows.npz")["windows"]
    f = np.load(FIXTURES / "features.npz")
    idx = np.linspace(0, len(w) - 1, n_windows).round().astype(int)
    np.testing.assert_allclose(kinetic_loop(w[idx[0]]), f["kinetic"][idx[0]], rtol=1e-6)
    np.testing.assert_allclose(geometric_loop(w[idx[0]]), f["manual"][idx[0]], atol=1e-6)
    t0 = time.perf_counter()
    for i in idx:
        kinetic_loop(w[i])
        geometric_loop(w[i])
    dt = time.perf_counter() - t0
    return dt / (n_windows * w.shape[1]), dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--baseline-windows", type=int, default=6)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        frames = write_inputs(root, args.files)
        argv = ["eval", "--pred", str(root / "pred"), "--gt", str(root / "gt"), "--music", str(root / "music")]
        t0 = time.perf_counter()
        rc = choreo_main(argv + ["--json", str(root / "a.json")])
        t_inproc = time.perf_counter() - t0
        assert rc == 0
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "choreo", *argv, "--json", str(root / "b.json")],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        t_proc = time.perf_counter() - t0
        result = json.loads((root / "a.json").read_text())
    per_frame, t_base = time_baseline(args.baseline_windows)
    t_ref = per_frame * frames
    reported = json.loads((FIXTURES / "expected.json").read_text())["reference_timing"]["seconds_per_1000_frames"]
    print(f"files: {args.files} ({result['n_clips']['pred']} pred + {result['n_clips']['gt']} gt), frames: {frames}")
    print(f"choreo eval, in-process CLI:   {t_inproc:8.2f} s")
    print(f"choreo eval, new process:      {t_proc:8.2f} s")
    print(
        f"reference-style loops: {per_frame * 1e6:.1f} us/frame ({t_base:.1f} s on {args.baseline_windows} windows) "
        f"-> {t_ref:8.1f} s for {frames} frames (features only)"
    )
    print(f"  (fixture README, another machine: {reported:.3f} s per 1000 frames -> {reported * frames / 1000:.0f} s)")
    print(f"speed-up, in-process: {t_ref / t_inproc:7.1f}x")
    print(f"speed-up, new process: {t_ref / t_proc:7.1f}x   (target >= 30x)")


if __name__ == "__main__":
    main()
