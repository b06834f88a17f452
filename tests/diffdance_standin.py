"""Small fixtures for the DiffDance tests: tiny sizes on edge_standin's 4-joint body and synthetic dances.

The synthetic dance's phase is set by its "music" (edge_standin.music_for), at 30 fps with the base stage at
15 fps (r = 2), so a few hundred steps teach a tiny cascade enough to test sampling, seams and editing.
"""

from __future__ import annotations

import numpy as np
import torch

from choreo.data.normalizer import MinMaxNormalizer
from choreo.data.representation import get_representation
from choreo.data.spec import DataSpec
from choreo.models import build_method
from edge_standin import SKEL4, music_for, positions_motion

FPS, LOW = 30.0, 15.0
#: 32-frame training windows (16 at 15 fps); base windows of 16 low-rate frames, SSR windows of 26 frames: the two
#: stages' window borders fall on different frames (every 16 and every 13 frames; 13 is prime to the dance's
#: 30-frame period, so the seam check's phases are not biased by the dance's own rhythm).
TINY = {
    "embed_dim": 16,
    "encoder_width": 16,
    "encoder_layers": 2,
    "adapter_hidden": 32,
    "clip_seconds": 0.5,
    "width": 32,
    "layers": 2,
    "heads": 2,
    "ff_size": 64,
    "ssr_width": 32,
    "ssr_layers": 2,
    "ssr_heads": 2,
    "ssr_ff_size": 64,
    "dropout": 0.0,
    "ssr_window": 26,
    "encoder_steps": 2,
    "adapter_steps": 2,
}
WINDOW = 32


def rootvel_rep():
    return get_representation("positions+rootvel", SKEL4)


def synthetic_set(n: int = 24, frames: int = 200, seed: int = 0):
    """Encoded motions at 30 and 15 fps and their music, for ``n`` random phases."""
    rep = rootvel_rep()
    phases = np.random.default_rng(seed).uniform(0, 2 * np.pi, n)
    motions = [positions_motion(frames, ph, FPS) for ph in phases]
    full = [rep.encode(m) for m in motions]
    low = [rep.encode(m.resample(LOW)) for m in motions]
    music = [music_for(frames, ph, FPS) for ph in phases]
    return rep, full, low, music


def spec_for(rep, full, window: int = WINDOW) -> DataSpec:
    norm = MinMaxNormalizer().fit(np.concatenate(full))
    return DataSpec(rep, norm, 5, "synthetic", FPS, window, (LOW,))


def untrained(seed: int = 0, **over):
    rep, full, _, _ = synthetic_set(4, 100)
    torch.manual_seed(seed)
    return build_method("diffdance", dict(TINY, **over), spec_for(rep, full)).eval()


def batch_from(full, low, music, norm, rng, size: int = 32, window: int = WINDOW) -> dict:
    """Random windows (starts even, so the 15 fps windows line up): what the data layer's batches hold."""
    idx = rng.integers(0, len(full), size)
    st = 2 * rng.integers(0, (len(full[0]) - window) // 2, size)
    x = np.stack([full[i][s : s + window] for i, s in zip(idx, st, strict=True)])
    xl = np.stack([low[i][s // 2 : s // 2 + window // 2] for i, s in zip(idx, st, strict=True)])
    mu = np.stack([music[i][s : s + window] for i, s in zip(idx, st, strict=True)])
    return {
        "motion": torch.as_tensor(norm.normalize(x), dtype=torch.float32),
        "motion@15": torch.as_tensor(norm.normalize(xl), dtype=torch.float32),
        "music": torch.from_numpy(mu),
        "seed": torch.from_numpy(rng.integers(0, 2**62, size)),
    }


_TRAINED: dict = {}


def trained_tiny(steps: int = 300):
    """A tiny DiffDance trained through all three stages on the synthetic dance (cached per test session)."""
    if steps in _TRAINED:
        return _TRAINED[steps]
    from choreo.train.config import TrainConfig

    rep, full, low, music = synthetic_set()
    spec = spec_for(rep, full)
    torch.manual_seed(0)
    cfg = dict(TINY, encoder_steps=40, adapter_steps=20, encoder_lr=3e-3, adapter_lr=3e-3)
    m = build_method("diffdance", cfg, spec)
    opts = m.configure_optimizers(TrainConfig(steps=60 + steps, lr=3e-3, optimizer="adamw", warmup_steps=0))
    rng = np.random.default_rng(0)
    m.train()
    for step in range(60 + steps):
        (phase,) = m.phases(step)
        loss, _ = m.training_loss(batch_from(full, low, music, spec.normalizer, rng), phase, step, 0.0)
        o = opts[phase]
        o.optimizer.zero_grad()
        loss.mean().backward()
        torch.nn.utils.clip_grad_norm_(o.params, 1.0)
        o.optimizer.step()
        o.scheduler.step()
    m.eval()
    _TRAINED[steps] = m
    return m
