"""Small stand-ins for the EDGE tests: a positions representation on a 4-joint skeleton, a tiny config.

Used until / beside the data helper's real representations, so the model and sampler tests run in
milliseconds. The stand-in follows the representation contract (encode/decode/joint_positions/
joint_channels, contacts first, then root, then root-relative joints).
"""

from __future__ import annotations

import numpy as np
import torch

from choreo.motion.motion import Motion
from choreo.motion.skeleton import Skeleton

TINY = {"width": 32, "layers": 2, "heads": 2, "ff_size": 64, "music_layers": 1, "window_frames": 16, "dropout": 0.0}

SKEL4 = Skeleton(
    name="stand4",
    joint_names=("root", "chest", "left_foot", "right_foot"),
    parents=np.array([-1, 0, 0, 0]),
    feet=(2, -1, 3, -1),
    upper_body=(1,),
)


class PositionsStandin:
    """[4 contacts, 3 root, (J-1) x 3 root-relative positions]."""

    name = "positions"
    contact_channels = slice(0, 4)
    root_channels = slice(4, 7)

    def __init__(self, skeleton: Skeleton = SKEL4):
        self.skeleton = skeleton
        self.dim = 7 + 3 * (skeleton.n_joints - 1)
        self._others = [j for j in range(skeleton.n_joints) if j != skeleton.root]

    def encode(self, motion: Motion) -> np.ndarray:
        p = motion.joint_positions() if hasattr(motion, "joint_positions") else motion.positions
        p = np.asarray(p, np.float64)
        T = len(p)
        out = np.zeros((T, self.dim), np.float32)
        speed = np.zeros((T, p.shape[1]))
        speed[:-1] = np.linalg.norm(p[1:] - p[:-1], axis=-1)
        speed[-1] = speed[-2] if T > 1 else 0
        for i, j in enumerate(self.skeleton.feet):
            if j >= 0:
                out[:, i] = speed[:, j] < 0.01
        root = p[:, self.skeleton.root]
        out[:, 4:7] = root
        out[:, 7:] = (p[:, self._others] - root[:, None]).reshape(T, -1)
        return out

    def decode(self, x: np.ndarray, fps: float) -> Motion:
        pos = self.joint_positions(torch.as_tensor(np.asarray(x, np.float64))).numpy()
        return Motion(self.skeleton, fps, positions=pos)

    def joint_positions(self, x: torch.Tensor) -> torch.Tensor:
        root = x[..., 4:7]
        rel = x[..., 7:].reshape(*x.shape[:-1], -1, 3)
        out = torch.empty(*x.shape[:-1], self.skeleton.n_joints, 3, dtype=x.dtype, device=x.device)
        out[..., self.skeleton.root, :] = root
        out[..., self._others, :] = rel + root[..., None, :]
        return out

    def joint_channels(self, joints) -> list[int]:
        chans: list[int] = []
        for j in joints:
            if j == self.skeleton.root:
                chans += [4, 5, 6]
            else:
                k = self._others.index(j)
                chans += [7 + 3 * k, 8 + 3 * k, 9 + 3 * k]
            chans += [i for i, f in enumerate(self.skeleton.feet) if f == j]
        return sorted(set(chans))


def smooth_positions(T: int, fps: float = 30.0, phase: float = 0.0) -> np.ndarray:
    """(T, 4, 3) a smoothly swaying 4-joint body (metres)."""
    t = np.arange(T) / fps
    root = np.stack([0.3 * np.sin(2 * np.pi * 0.5 * t + phase), 0.9 + 0.05 * np.sin(2 * np.pi * t), 0 * t], -1)
    off = np.array([[0, 0, 0], [0, 0.5, 0], [0.1, -0.9, 0], [-0.1, -0.9, 0]])
    sway = 0.1 * np.sin(2 * np.pi * 1.0 * t + phase)[:, None]
    p = root[:, None, :] + off[None]
    p[:, 1, 0] += sway[:, 0]
    return p


def fitted_normalizer(rep, frames: int = 300):
    from choreo.data.normalizer import MinMaxNormalizer

    data = np.concatenate(
        [rep.encode(Motion(rep.skeleton, 30.0, positions=smooth_positions(frames, phase=ph))) for ph in (0.0, 1.0, 2.0)]
    )
    return MinMaxNormalizer().fit(data)
