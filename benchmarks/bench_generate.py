"""EDGE sampling speed: seconds of dance per second of compute, against EDGE's own sampling loop.

    .venv/bin/python benchmarks/bench_generate.py [--sizes full,small,tiny] [--steps 50] [--threads N|auto]
        [--device cpu|cuda|all] [--measure-steps K] [--checkpoint CKPT] [--songs 1024,3min]

For every model size and device it times ``EdgeMethod.generate`` (DDIM, guidance w = 2 with EDGE's ramp,
random weights: speed does not depend on them) for 1024 frames (34.1 s at 30 fps, the length EDGE's paper
times) and for a 3-minute song (5400 frames, 71 windows of 5 s), and prints seconds of dance per second of
compute (> 1: faster than real time). Beside it, measured in the same run on the same machine, EDGE's own
loop: per step two separate forward passes (conditional, then unconditional) that re-encode the music
each time (``DanceDecoder.guided_forward``), on the same windows. The published figure is printed too:
EDGE takes 8.6 s for 1024 frames on a GPU (paper, Table 4; 50 DDIM steps), i.e. 4.0 s of dance per second.

Full-size EDGE on a CPU takes minutes per song: with ``--measure-steps K`` (default 5 for ``full`` on the
CPU, else all steps) only K denoising steps are run and the time is scaled to ``--steps`` (an upper bound:
the music encoding and stitching, done once, are scaled too). ``--checkpoint`` adds a trained model (e.g.
the packaged EDGE model ``src/choreo/assets/edge_dwm.pt``, included automatically when it exists).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "src" / "choreo" / "assets" / "edge_dwm.pt"
FPS = 30.0
EDGE_PUBLISHED_S = 8.6  # seconds for 1024 frames, GPU (EDGE paper)

SIZES = {
    "full": dict(width=512, layers=8, heads=8, ff_size=1024, music_layers=2, window_frames=150),
    "small": dict(width=256, layers=4, heads=4, ff_size=512, music_layers=2, window_frames=150),
    "tiny": dict(width=64, layers=2, heads=4, ff_size=128, music_layers=1, window_frames=75),
}
SONGS = {"1024": 1024, "3min": 5400}


def build(size: dict, device: str):
    from choreo.data.normalizer import MinMaxNormalizer
    from choreo.data.representation import get_representation
    from choreo.data.spec import DataSpec
    from choreo.models import build_method
    from choreo.motion.skeleton import SMPL24

    rep = get_representation("smpl_rot6d", SMPL24)
    norm = MinMaxNormalizer(-np.ones(rep.dim), np.ones(rep.dim))
    torch.manual_seed(0)
    return build_method("edge", size, DataSpec(rep, norm, 35)).eval().to(device)


def load(path: Path, device: str):
    from choreo.generate import Choreographer

    ch = Choreographer.load(path, device=device, threads=torch.get_num_threads())
    return ch.method, ch.window_frames


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_choreo(method, frames: int, steps: int, k: int, window: int, device: str) -> float:
    """Seconds for ``generate`` with k steps, scaled to ``steps``."""
    music = np.random.default_rng(0).normal(size=(frames, method.feature_dim)).astype(np.float32)
    sync(device)
    t = time.perf_counter()
    method.generate(music, steps=k, guidance=2.0, seed=0, window=window)
    sync(device)
    return (time.perf_counter() - t) * steps / k


@torch.inference_mode()
def time_edge_loop(method, frames: int, steps: int, k: int, window: int, device: str) -> float:
    """EDGE's sampling loop on the same windows: per step a conditional and an unconditional forward, each
    re-encoding the music; DDIM update and window coupling as in its ``long_ddim_sample``. Scaled to ``steps``."""
    from choreo.models.longform import pad_frames, plan_windows, split_windows

    plan = plan_windows(frames, window)
    music = np.random.default_rng(0).normal(size=(frames, method.feature_dim)).astype(np.float32)
    mw = split_windows(torch.as_tensor(pad_frames(music, plan.padded_frames), device=device), plan)
    n = plan.n_windows
    x = torch.randn(n, window, method.representation.dim, device=device)
    diff, net = method.diffusion, method.denoiser
    plan_t = diff.timesteps(k)
    yes, no = torch.ones(n, dtype=torch.bool, device=device), torch.zeros(n, dtype=torch.bool, device=device)
    sync(device)
    t0 = time.perf_counter()
    for i, t in enumerate(plan_t):
        tt = torch.full((n,), t, device=device)
        cond, uncond = net(x, tt, mw, yes), net(x, tt, mw, no)
        x0 = (uncond + 2.0 * (cond - uncond)).clamp(-1, 1)
        t_next = plan_t[i + 1] if i + 1 < len(plan_t) else -1
        x = diff.step(x0, x, t, t_next, "ddim", 1.0, torch.randn_like(x))
        if t_next >= 0:
            x[1:, : plan.overlap] = x[:-1, plan.hop :].clone()
    sync(device)
    return (time.perf_counter() - t0) * steps / k


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="full,small,tiny", help=f"model sizes among {','.join(SIZES)}")
    ap.add_argument("--songs", default="1024,3min", help="lengths: 1024 (frames) and/or 3min")
    ap.add_argument("--steps", type=int, default=50, help="denoising steps (EDGE: 50)")
    ap.add_argument("--measure-steps", type=int, help="steps actually run (time scaled to --steps)")
    ap.add_argument("--threads", help="CPU threads: a number, or auto (choreo's default); default: torch's")
    ap.add_argument("--device", default="all", help="cpu, cuda, or all (cpu, and cuda when available)")
    ap.add_argument("--checkpoint", type=Path, help="also time this trained model")
    ap.add_argument("--no-baseline", action="store_true", help="skip EDGE's loop")
    args = ap.parse_args()

    if args.threads:
        from choreo.generate import default_threads

        torch.set_num_threads(default_threads() if args.threads == "auto" else int(args.threads))
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    models: list[tuple[str, object]] = [(s, SIZES[s]) for s in args.sizes.split(",") if s]
    for extra in (args.checkpoint, DEFAULT_MODEL if DEFAULT_MODEL.is_file() else None):
        if extra is not None and all(str(extra) != name for name, _ in models):
            models.append((str(extra), extra))
    songs = [s for s in args.songs.split(",") if s]

    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, steps {args.steps}, guidance 2")
    print(f"EDGE published: {EDGE_PUBLISHED_S} s for 1024 frames on a GPU = {1024 / FPS / EDGE_PUBLISHED_S:.2f} s/s")
    head = f"{'model':>12} {'params':>7} {'device':>6} {'song':>5} {'choreo s':>9} {'dance s/s':>9}"
    print(head + f" {'EDGE loop s':>11} {'speed-up':>8}  note")
    for name, spec in models:
        for device in devices:
            if isinstance(spec, Path):
                method, window = load(spec, device)
                label = Path(name).name
            else:
                method, window = build(spec, device), spec["window_frames"]
                label = name
            params = sum(p.numel() for p in method.parameters()) / 1e6
            k = args.measure_steps or (5 if (label == "full" and device == "cpu") else args.steps)
            k = min(k, args.steps)
            method.generate(np.zeros((window, method.feature_dim), np.float32), steps=1)  # warm-up
            for song in songs:
                frames = SONGS[song]
                ours = time_choreo(method, frames, args.steps, k, window, device)
                rate = frames / FPS / ours
                base = math.nan
                if not args.no_baseline:
                    base = time_edge_loop(method, frames, args.steps, min(k, 5), window, device)
                note = "" if k == args.steps else f"scaled from {k} steps"
                print(
                    f"{label:>12} {params:6.1f}M {device:>6} {song:>5} {ours:9.1f} {rate:9.2f} {base:11.1f} "
                    f"{base / ours:8.2f}  {note}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
