"""Showed: min-max normalisation kept 0.2-0.37 of every joint's vertical motion (docs/diffdance.md, "Stiff limbs").

How much of the limbs' vertical motion a DiffDance base stage keeps when it denoises real training windows.

For each checkpoint: 48 training windows (fixed draw), their low-rate dance noised to step t and denoised once
by the base stage (music, and style where the model has one, as in training); the ankle's and wrist's height
relative to the pelvis is compared between the prediction and the real window (mean over windows of the
standard deviation over time). 1 keeps all the motion; a denoiser that cannot separate the motion from the
noise shrinks it towards the mean (docs/diffdance.md, "Stiff limbs").

    .venv/bin/python research/probe_limb_damping.py diffdance_style runs/x/step_001250.ckpt [--data DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]


def height_spread(method, x: torch.Tensor, joints: list[int]) -> np.ndarray:
    """(B, T, C) base-stage windows (normalised stage units) -> per joint, the mean over windows of the standard
    deviation over time of its height above the root (metres)."""
    rep = method.representation
    pos = rep.joint_positions(method.stage_to_real(x).double())
    rel = pos - pos[:, :, rep.skeleton.root : rep.skeleton.root + 1]
    return np.array([rel[:, :, j, 1].std(dim=1).mean().item() for j in joints])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+", help="DiffDance checkpoints, run folders or packaged names")
    ap.add_argument("--data", default=str(REPO.parent / "shared/data/dance_with_melody"))
    ap.add_argument("--steps", nargs="+", type=int, default=[50, 200, 500, 800], help="noise steps t")
    ap.add_argument("--windows", type=int, default=48)
    args = ap.parse_args()
    torch.set_num_threads(1)

    from choreo.checkpoint import load_checkpoint
    from choreo.data.config import DataConfig
    from choreo.data.datasets import build_dataset
    from choreo.generate import Choreographer
    from choreo.models.diffdance import decimate
    from choreo.train.config import RunConfig

    for ck in args.checkpoints:
        ch = Choreographer.load(ck, device="cpu")
        m = ch.method
        if m.name != "diffdance":
            raise SystemExit(f"{ck}: a {m.name} model; this probe reads DiffDance's base stage")
        m.eval()
        cfg = RunConfig.from_dict(load_checkpoint(ch.checkpoint)["config"]).data
        cfg = DataConfig(**{**dataclasses.asdict(cfg), "path": args.data})
        ds = build_dataset(cfg, "train", normalizer=m.normalizer, log=lambda s: None)
        idx = np.random.default_rng(0).choice(len(ds), min(args.windows, len(ds)), replace=False)
        b = ds.get(idx)
        rep = m.representation
        names = list(rep.skeleton.joint_names)
        joints = [names.index(j) for j in ("right_ankle", "right_wrist")]
        with torch.no_grad():
            x_low = m.to_stage(b[m.low_key].float())
            cond = decimate(m.embed_music(b["music"].float()), m.factor, x_low.shape[1])
            if m.styles:
                cond = m.with_style(cond, b["style"].long().clamp(min=0))
            real = height_spread(m, x_low, joints)
            g = torch.Generator().manual_seed(0)
            keep = torch.ones(x_low.shape[0], dtype=torch.bool)
            cells = []
            for t in args.steps:
                tt = torch.full((x_low.shape[0],), int(t))
                xt = m.diffusion.q_sample(x_low, tt, torch.randn(x_low.shape, generator=g))
                a, w = height_spread(m, m.base(xt, tt, cond, keep), joints) / real
                cells.append(f"t={t}: ankle {a:.2f} wrist {w:.2f}")
        print(f"{ck} | real height sd: ankle {real[0]:.3f} m, wrist {real[1]:.3f} m | " + " | ".join(cells))


if __name__ == "__main__":
    main()
