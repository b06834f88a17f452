"""Rotary position embedding (Su et al. 2021), applied per attention head to queries and keys.

Rotating a query at position i and a key at position j by angles proportional to i and j makes their
dot product depend on i - j only, which is what lets one denoiser handle any window length.
"""

from __future__ import annotations

import torch


def rotary_tables(
    n: int, head_dim: int, theta: float = 10000.0, device=None, dtype=torch.float32, offset: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables for positions ``offset .. offset + n - 1``.

    Returns:
        (cos, sin), each (n, head_dim // 2).
    """
    if head_dim % 2:
        raise ValueError(f"rotary embedding needs an even head dimension, got {head_dim}")
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float64, device=device) / head_dim)
    pos = torch.arange(offset, offset + n, dtype=torch.float64, device=device)
    ang = pos[:, None] * inv_freq[None, :]
    return ang.cos().to(dtype), ang.sin().to(dtype)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the two halves of the last axis of ``x`` (..., n, head_dim) by the tables' angles.

    The pairs rotated together are (i, i + head_dim / 2).
    """
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
