"""Dance-style accuracy (Dance Revolution's ACC): a small classifier of ballroom styles from joint positions.

The classifier (:class:`StyleClassifier`) reads 4-second clips at 15 fps of 18 body joints found by name on
any skeleton (the geometric features' roles, :func:`choreo.metrics.joint_map.geometric_joints`: pelvis, hips,
knees, ankles, toes, shoulders, elbows, wrists, and a neck / belly / chest derived where the skeleton has no
spine, as on Dance with Melody). Per frame it sees (:func:`clip_inputs`, 58 numbers):

- the 18 joints relative to the pelvis (54), rotated about the vertical so that the clip's mean hip line
  (right hip -> left hip, horizontal) lies along +x: the dancer's heading in the room does not matter;
- the pelvis velocity in that frame (3, m/s) and its height (1, m).

The network (:class:`StyleNet`, 60 k parameters) is three 1D convolutions over time (kernel 5, the last two
with stride 2, ReLU), mean and max pooling over time, and a linear layer to 4 logits: cha-cha, rumba, tango,
waltz (Dance with Melody's C / R / T / W). ``scripts/train_style_classifier.py`` trains it on the real dances
of Dance with Melody's training split; the file ships as ``choreo/assets/dance_style_dwm.pt`` (its training
settings and its accuracy on the real test dances are in the file: :attr:`StyleClassifier.info`).

A dance is classified from its consecutive 4 s clips (the tail shorter than a clip is dropped; a dance
shorter than one clip is one clip, padded by repeating its last frame): the clip log-probabilities are
averaged. It was trained on ballroom dances only: on other dances it still answers one of the four.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import nn

from choreo.data.sources import DWM_STYLES
from choreo.errors import ChoreoError
from choreo.metrics.features import GEOMETRIC_ROLES

#: class order of the shipped classifier (Dance with Melody's letters C, R, T, W).
LETTERS = DWM_STYLES
STYLES = tuple(LETTERS.values())
ASSET = "dance_style_dwm.pt"
FORMAT = "choreo-dance-style-classifier"
#: the classifier's frame rate and clip length.
FPS = 15.0
CLIP_SECONDS = 4.0
CLIP_FRAMES = int(round(FPS * CLIP_SECONDS))
ROLES = tuple(GEOMETRIC_ROLES)
INPUT_DIM = 3 * len(ROLES) + 4
_DWM_NAME = re.compile(r"DANCE_([CRTW])_\d+")


def style_label(name: str) -> str | None:
    """The style a Dance with Melody name tells (``DANCE_W_3``, ``DANCE_W_3_seed2.npz`` -> ``"waltz"``), else None."""
    m = _DWM_NAME.search(Path(str(name)).name)
    return LETTERS[m.group(1)] if m else None


def parse_style(text: str) -> str:
    """A style given by name (``waltz``) or letter (``W``), case-insensitive (ChoreoError otherwise)."""
    t = str(text).strip()
    if t.upper() in LETTERS:
        return LETTERS[t.upper()]
    for s in STYLES:
        if t.lower() in (s, s.replace("-", ""), s.replace("-", " ")):
            return s
    raise ChoreoError(f"unknown dance style {text!r} (known: {', '.join(STYLES)} or C/R/T/W)")


def role_joints(positions: np.ndarray, skeleton) -> np.ndarray:
    """(..., J, 3) joint positions -> (..., 18, 3) the classifier's joints (:data:`ROLES` order)."""
    from choreo.metrics.joint_map import geometric_joints

    layout = geometric_joints(skeleton)
    ext = layout.extend(np.asarray(positions, np.float64))
    return ext[..., [layout.roles[r] for r in ROLES], :]


def clip_inputs(joints: np.ndarray, fps: float = FPS) -> np.ndarray:
    """(T, 18, 3) role joints (metres, y-up) of one clip -> (T, 58) float32 per-frame inputs (module docstring)."""
    j = np.asarray(joints, np.float64)
    hips = j[:, ROLES.index("lhip")] - j[:, ROLES.index("rhip")]
    hx, hz = float(hips[:, 0].mean()), float(hips[:, 2].mean())
    a = np.arctan2(hz, hx) if hx * hx + hz * hz > 1e-12 else 0.0
    c, s = np.cos(a), np.sin(a)
    # rotation about y taking the mean hip direction (hx, hz) to +x: x' = c x + s z, z' = -s x + c z
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    jr = j @ rot.T
    root = jr[:, 0]
    rel = jr - root[:, None]
    vel = np.zeros_like(root)
    if len(root) > 1:
        vel[1:] = (root[1:] - root[:-1]) * fps
        vel[0] = vel[1]
    out = np.concatenate([rel.reshape(len(j), -1), vel, root[:, 1:2]], axis=1)
    return out.astype(np.float32)


def motion_clips(motion, max_seconds: float | None = None) -> np.ndarray:
    """(N, 60, 58) inputs of a motion's consecutive 4 s clips at 15 fps (first ``max_seconds`` only if given)."""
    if motion.skeleton.dim != 3:
        raise ChoreoError("the dance-style classifier needs 3D joints", motion.meta.get("source"))
    m = motion if abs(motion.fps - FPS) < 1e-9 else motion.resample(FPS)
    joints = role_joints(m.joint_positions(), m.skeleton)
    if max_seconds is not None:
        joints = joints[: max(1, int(round(max_seconds * FPS)))]
    if len(joints) < CLIP_FRAMES:
        joints = np.concatenate([joints, np.repeat(joints[-1:], CLIP_FRAMES - len(joints), axis=0)])
    n = len(joints) // CLIP_FRAMES
    return np.stack([clip_inputs(joints[i * CLIP_FRAMES : (i + 1) * CLIP_FRAMES]) for i in range(n)])


class StyleNet(nn.Module):
    """(B, T, 58) standardised per-frame inputs -> (B, n_styles) logits."""

    def __init__(self, input_dim: int = INPUT_DIM, width: int = 64, n_styles: int = len(STYLES)):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(input_dim, width, 5, padding=2),
            nn.ReLU(),
            nn.Conv1d(width, width, 5, stride=2, padding=2),
            nn.ReLU(),
            nn.Conv1d(width, width, 5, stride=2, padding=2),
            nn.ReLU(),
        )
        self.head = nn.Linear(2 * width, n_styles)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x.transpose(1, 2))
        return self.head(torch.cat([h.mean(dim=-1), h.amax(dim=-1)], dim=1))


class StyleClassifier:
    """A trained :class:`StyleNet` with its input statistics.

    Attributes:
        net: the network (eval mode, CPU). mean, std: (58,) input standardisation.
        styles: class names. info: how it was trained and its test accuracy (from the file).
    """

    def __init__(self, net: StyleNet, mean: np.ndarray, std: np.ndarray, styles=STYLES, info: dict | None = None):
        self.net = net.eval()
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.styles = tuple(styles)
        self.info = dict(info or {})

    def state(self) -> dict:
        """Plain data for ``torch.save`` (loads with ``weights_only=True``)."""
        return {
            "format": FORMAT,
            "version": 1,
            "styles": list(self.styles),
            "fps": FPS,
            "clip_frames": CLIP_FRAMES,
            "roles": list(ROLES),
            "width": int(self.net.head.in_features // 2),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "state_dict": {k: v.detach().clone() for k, v in self.net.state_dict().items()},
            "info": self.info,
        }

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> StyleClassifier:
        """The shipped classifier (``path=None``) or one written by ``scripts/train_style_classifier.py``."""
        src = Path(str(resources.files("choreo") / "assets" / ASSET)) if path is None else Path(path)
        if not src.is_file():
            raise ChoreoError("dance-style classifier not found", src)
        try:
            d = torch.load(src, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the same problem for the caller
            raise ChoreoError(
                f"cannot read the dance-style classifier ({str(exc).splitlines()[0][:120]})", src
            ) from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ChoreoError("not a choreo dance-style classifier", src)
        if tuple(d["roles"]) != ROLES or int(d["clip_frames"]) != CLIP_FRAMES or float(d["fps"]) != FPS:
            raise ChoreoError("the classifier was made for other inputs (roles, clip length or fps)", src)
        net = StyleNet(INPUT_DIM, int(d["width"]), len(d["styles"]))
        net.load_state_dict(d["state_dict"])
        return cls(net, np.asarray(d["mean"]), np.asarray(d["std"]), d["styles"], d.get("info"))

    @torch.no_grad()
    def clip_log_probs(self, clips: np.ndarray) -> np.ndarray:
        """(N, 60, 58) clip inputs -> (N, n_styles) log-probabilities."""
        x = torch.from_numpy((np.asarray(clips, np.float32) - self.mean) / self.std)
        return torch.log_softmax(self.net(x), dim=-1).numpy().astype(np.float64)

    def classify(self, motion, max_seconds: float | None = None) -> tuple[str, np.ndarray, np.ndarray]:
        """A dance's style: (name, (n_styles,) mean clip log-probabilities, (N,) per-clip predicted indices)."""
        lp = self.clip_log_probs(motion_clips(motion, max_seconds))
        mean = lp.mean(axis=0)
        return self.styles[int(np.argmax(mean))], mean, lp.argmax(axis=1)
