"""Small fixtures for the EDGE model/generation tests: tiny sizes, a 4-joint body, synthetic motions.

The representations are the data layer's real ones (``positions`` on a 4-joint skeleton, ``smpl_rot6d``
on SMPL-24); the motions are smooth synthetic dances so tests run in milliseconds.
"""

from __future__ import annotations

import numpy as np
import torch

from choreo.data.normalizer import MinMaxNormalizer
from choreo.data.representation import get_representation
from choreo.data.spec import DataSpec
from choreo.motion.motion import Motion
from choreo.motion.skeleton import SMPL24, Skeleton

TINY = {"width": 32, "layers": 2, "heads": 2, "ff_size": 64, "music_layers": 1, "window_frames": 16, "dropout": 0.0}

SKEL4 = Skeleton(
    name="stand4",
    joint_names=("root", "chest", "left_foot", "right_foot"),
    parents=np.array([-1, 0, 0, 0]),
    feet=(2, 2, 3, 3),
    upper_body=(1,),
)


def positions_rep():
    return get_representation("positions", SKEL4)


def rot6d_rep():
    return get_representation("smpl_rot6d", SMPL24)


def smooth_positions(T: int, fps: float = 30.0, phase: float = 0.0) -> np.ndarray:
    """(T, 4, 3) a smoothly swaying 4-joint body (metres, y-up)."""
    t = np.arange(T) / fps
    root = np.stack([0.3 * np.sin(2 * np.pi * 0.5 * t + phase), 0.9 + 0.05 * np.sin(2 * np.pi * t), 0 * t], -1)
    off = np.array([[0, 0, 0], [0, 0.5, 0], [0.1, -0.9, 0], [-0.1, -0.9, 0]])
    p = root[:, None, :] + off[None]
    p[:, 1, 0] += 0.1 * np.sin(2 * np.pi * 1.0 * t + phase)
    return p


def smooth_smpl(T: int, fps: float = 30.0, phase: float = 0.0) -> Motion:
    """A smooth SMPL-24 motion with rotations (small sinusoidal joint angles)."""
    from choreo.motion.rotations import axis_angle_to_quat

    t = np.arange(T) / fps
    k = np.arange(24)[None, :, None]
    aa = 0.3 * np.sin(2 * np.pi * 0.7 * t[:, None, None] + phase + 0.5 * k + np.array([0.0, 1.0, 2.0]))
    q = axis_angle_to_quat(torch.from_numpy(aa)).numpy()
    root = np.stack([0.2 * np.sin(t + phase), 0.9 + 0.03 * np.cos(3 * t), 0.1 * t], -1)
    return Motion(SMPL24, fps, rotations=q, root=root)


def positions_motion(T: int, phase: float = 0.0, fps: float = 30.0) -> Motion:
    return Motion(SKEL4, fps, positions=smooth_positions(T, fps, phase))


def fitted_normalizer(rep, frames: int = 300) -> MinMaxNormalizer:
    if rep.name.startswith("positions"):
        motions = [positions_motion(frames, ph) for ph in (0.0, 1.0, 2.0)]
    else:
        motions = [smooth_smpl(frames, phase=ph) for ph in (0.0, 1.0, 2.0)]
    data = np.concatenate([rep.encode(m) for m in motions])
    # widen the range a little so generated values are not all clamped at the edges
    norm = MinMaxNormalizer().fit(data)
    span = norm.hi - norm.lo
    return MinMaxNormalizer(norm.lo - 0.1 * span, norm.hi + 0.1 * span)


def music_for(T: int, phase: float = 0.0, fps: float = 30.0) -> np.ndarray:
    """(T, 5) synthetic "music" features that determine the synthetic dance's phase."""
    t = np.arange(T) / fps
    a, b = 2 * np.pi * 0.5 * t + phase, 2 * np.pi * 1.0 * t + phase
    return np.stack([np.sin(a), np.cos(a), np.sin(b), np.cos(b), np.ones_like(t)], -1).astype(np.float32)


_TRAINED: dict = {}


def trained_tiny(steps: int = 250, window: int = 16):
    """A tiny EDGE trained for a few seconds on the synthetic dance (cached per test session)."""
    key = (steps, window)
    if key in _TRAINED:
        return _TRAINED[key]
    from choreo.models import build_method

    rep = positions_rep()
    rng = np.random.default_rng(0)
    phases = rng.uniform(0, 2 * np.pi, 24)
    seqs = [rep.encode(positions_motion(200, ph)) for ph in phases]
    musics = [music_for(200, ph) for ph in phases]
    from choreo.data.normalizer import MinMaxNormalizer

    norm = MinMaxNormalizer().fit(np.concatenate(seqs))
    torch.manual_seed(0)
    cfg = dict(TINY, window_frames=window)
    m = build_method("edge", cfg, DataSpec(rep, norm, 5))
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    m.train()
    for step in range(steps):
        idx = rng.integers(0, len(seqs), 32)
        st = rng.integers(0, 200 - window, 32)
        x = np.stack([seqs[i][s : s + window] for i, s in zip(idx, st, strict=True)])
        mu = np.stack([musics[i][s : s + window] for i, s in zip(idx, st, strict=True)])
        batch = {"motion": torch.as_tensor(norm.normalize(x), dtype=torch.float32), "music": torch.from_numpy(mu)}
        loss = m.training_loss(batch)[0].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        for g in opt.param_groups:
            g["lr"] = 3e-3 * (1 - step / steps) + 1e-4
    m.eval()
    _TRAINED[key] = m
    return m


def make_checkpoint(
    path, rep=None, feature_set: str = "baseline35", fps: float = 30.0, window: int = 16, reference=None, **over
):
    """Write an (untrained) tiny EDGE checkpoint the way the trainer does; returns the path.

    ``reference``: a motion to fit the normaliser on (default: synthetic motions for ``rep``).
    """
    from choreo.audio.features import feature_dim
    from choreo.checkpoint import save_checkpoint
    from choreo.models import build_method

    rep = rep or rot6d_rep()
    norm = fitted_normalizer(rep) if reference is None else MinMaxNormalizer().fit(rep.encode(reference))
    cfg = dict(TINY, window_frames=window, **over)
    torch.manual_seed(0)
    spec = DataSpec(rep, norm, feature_dim(feature_set), feature_set, fps, window)
    m = build_method("edge", cfg, spec)
    state = {
        "method": "edge",
        "produces": "dance",
        "config": {"method": "edge", "model": cfg},
        "spec": spec.state_dict(),
        "components": m.component_state(),
        "ema": m.component_state(),
        "step": 0,
    }
    save_checkpoint(path, state)
    return path
