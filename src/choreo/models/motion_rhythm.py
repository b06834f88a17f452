"""Song-independent descriptors of a dance's rhythm, for models that should find the beat in *any* dance.

A generator that reads raw joint positions can learn by heart where the beats of the few dances it was trained
on fall; these descriptors say only how the dance moves in time, on a scale relative to the dance itself:

====  ==========================================================================================
0     speed: the norm of the frame-to-frame change over all channels, over its local mean (~1)
1     acceleration: the norm of the second difference, over the local mean speed
2     kinematic beat: 1 on a local minimum of the (lightly smoothed) speed that lies under the local
      mean (a dancer's steps land where the body slows: Bailando's motion beats)
3, 4  sin, cos of the phase between kinematic beats (0 on a beat, rising to the next one)
====  ==========================================================================================

"Local" is a moving average over ``window_s`` seconds, so a long dance gives the same numbers in any window
that holds enough context. Units do not matter (speed is divided by its own mean), so normalised channels
work as well as metres. Shapes: motion (B, W, C) at ``fps``; descriptors (B, W, 5).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

#: descriptors per frame
N_DESCRIPTORS = 5


def _local_mean(x: torch.Tensor, frames: int) -> torch.Tensor:
    """(B, W) moving average over ``frames`` (odd) frames, edges padded by repetition."""
    half = frames // 2
    padded = F.pad(x[:, None], (half, half), mode="replicate")
    return F.avg_pool1d(padded, 2 * half + 1, stride=1)[:, 0]


def motion_rhythm(motion: torch.Tensor, fps: float, window_s: float = 4.0, eps: float = 1e-6) -> torch.Tensor:
    """(B, W, C) motion -> (B, W, 5) rhythm descriptors (module docstring). No gradient flows through the beats.

    Raises:
        ValueError: a motion of fewer than 3 frames.
    """
    from choreo.audio.features import beat_phase

    if motion.shape[1] < 3:
        raise ValueError(f"motion rhythm needs at least 3 frames, got {motion.shape[1]}")
    x = motion.float()
    step = torch.linalg.vector_norm(x[:, 1:] - x[:, :-1], dim=-1)  # (B, W - 1)
    speed = torch.cat([step[:, :1], step], dim=1)  # frame t: the change into t
    accel = torch.linalg.vector_norm(x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2], dim=-1)
    accel = F.pad(accel[:, None], (1, 1), mode="replicate")[:, 0]
    frames = max(3, int(round(window_s * fps)) | 1)
    mean = _local_mean(speed, frames)
    kernel = torch.tensor([0.054, 0.244, 0.403, 0.244, 0.054], dtype=x.dtype, device=x.device)  # Gaussian, sigma 1
    smooth = F.conv1d(F.pad(speed[:, None], (2, 2), mode="replicate"), kernel.view(1, 1, -1))[:, 0]
    prev, nxt = F.pad(smooth, (1, 0), value=float("inf"))[:, :-1], F.pad(smooth, (0, 1), value=float("inf"))[:, 1:]
    beats = ((smooth < prev) & (smooth <= nxt) & (smooth < mean)).to(x.dtype)
    phases = []
    for b in beats.detach().cpu().numpy():
        idx = np.flatnonzero(b)
        fallback = float(np.median(np.diff(idx))) if len(idx) > 1 else 0.5 * fps
        phases.append(beat_phase(idx, len(b), fallback)[0])
    phase = torch.as_tensor(np.stack(phases), dtype=x.dtype, device=x.device) * (2 * np.pi)
    scale = mean + eps
    return torch.stack([speed / scale, accel / scale, beats, torch.sin(phase), torch.cos(phase)], dim=-1)
