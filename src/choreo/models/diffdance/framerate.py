"""Frame-rate conversions between DiffDance's stages: the base stage's low rate and the full rate.

Low-rate frame i sits at full-rate frame ``r i`` (the data layer's ``motion@<fps>`` is exact decimation for an
integer ratio r). :func:`upsample` interpolates linearly between them, :func:`decimate` takes every r-th frame
after a triangular (linear-interpolation) anti-alias filter, so that a frame-rate change of a per-frame embedding
stays centred on the frame it describes; :func:`downsample_constraint` shows an editing constraint to the base stage.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def low_frames(frames: int, factor: int) -> int:
    """Low-rate frames (every ``factor``-th full-rate frame) needed to interpolate full-rate frames ``0 .. frames-1``.

    ``ceil((frames - 1) / factor) + 1``: the last low-rate frame sits at or after the last full-rate frame.
    """
    return -(-(int(frames) - 1) // int(factor)) + 1


def upsample(x: torch.Tensor, factor: int, frames: int) -> torch.Tensor:
    """Linear interpolation in time: (..., n, C) at the low rate -> (..., frames, C) at ``factor`` times the rate.

    Full-rate frame j lies at low-rate position ``j / factor``; frames past the last low-rate frame hold it.
    """
    n = x.shape[-2]
    pos = torch.arange(frames, dtype=torch.float64) / factor
    i0 = pos.floor().long().clamp(max=n - 1)
    i1 = (i0 + 1).clamp(max=n - 1)
    w = (pos - i0.double()).clamp(0.0, 1.0).to(x.dtype).to(x.device)[:, None]
    i0, i1 = i0.to(x.device), i1.to(x.device)
    return x.index_select(-2, i0) * (1 - w) + x.index_select(-2, i1) * w


def decimate(x: torch.Tensor, factor: int, n: int) -> torch.Tensor:
    """(B, T, C) at the full rate -> (B, n, C): frame i is centred on full-rate frame ``factor * i``.

    A triangular filter (weights ``(factor - |k|) / factor^2`` for ``|k| < factor``, summing to one) smooths
    before taking every ``factor``-th frame; the ends are padded by repeating the edge frames (also past the
    end when ``factor * (n - 1) >= T``).
    """
    r = int(factor)
    B, T, C = x.shape
    if r == 1:
        return x[:, :n] if T >= n else F.pad(x.transpose(1, 2), (0, n - T), mode="replicate").transpose(1, 2)
    need = r * (n - 1) + 1
    h = x.transpose(1, 2).reshape(B * C, 1, T)
    h = F.pad(h, (r - 1, r - 1 + max(0, need - T)), mode="replicate")
    k = torch.arange(-(r - 1), r, dtype=x.dtype, device=x.device)
    w = ((r - k.abs()) / r**2).view(1, 1, -1)
    y = F.conv1d(h, w)[:, :, ::r][:, :, :n]
    return y.reshape(B, C, n).transpose(1, 2)


def downsample_constraint(
    known: np.ndarray, mask: np.ndarray, factor: int, n: int, velocity_channels: tuple[int, ...] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """A full-rate editing constraint (L, C) as seen by the low-rate stage (n, C), real units.

    Low-rate frame i takes full-rate frame ``factor * i``. Channels that hold per-frame displacements
    (``velocity_channels``, the ``+rootvel`` root; kept in per-full-rate-frame units by the cascade) take the
    mean over the ``factor`` frames ending there and hold only where all of them hold. Frames past the end
    are free.
    """
    L, C = known.shape
    out_k = np.zeros((n, C), np.float32)
    out_m = np.zeros((n, C), bool)
    idx = np.arange(n) * factor
    ok = idx < L
    out_k[ok] = known[idx[ok]]
    out_m[ok] = mask[idx[ok]]
    for c in velocity_channels:
        for i in np.nonzero(ok)[0]:
            lo = max(0, idx[i] - factor + 1)
            out_k[i, c] = known[lo : idx[i] + 1, c].mean()
            out_m[i, c] = bool(mask[lo : idx[i] + 1, c].all())
    return out_k, out_m
