"""Rotary position embedding (Su et al. 2021), applied per attention head to queries and keys.

Rotating a query at position i and a key at position j by angles proportional to i and j makes their
dot product depend on i - j only, which is what lets one denoiser handle any window length.
Channel pairs (2k, 2k + 1) of a head rotate together by ``position * theta^(-2k / head_dim)``; the
rotation is one complex multiplication (several times faster on CPU than sin/cos arithmetic on halves).
"""

from __future__ import annotations

import torch


def rotary_tables(
    n: int, head_dim: int, theta: float = 10000.0, device=None, dtype=torch.float32, offset: int = 0
) -> torch.Tensor:
    """Unit complex rotations for positions ``offset .. offset + n - 1``.

    Returns:
        (n, head_dim // 2) complex (complex64 for float32 ``dtype``, complex128 for float64).
    """
    if head_dim % 2:
        raise ValueError(f"rotary embedding needs an even head dimension, got {head_dim}")
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float64, device=device) / head_dim)
    pos = torch.arange(offset, offset + n, dtype=torch.float64, device=device)
    ang = pos[:, None] * inv_freq[None, :]
    cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
    return torch.polar(torch.ones_like(ang), ang).to(cdtype)


def apply_rotary(x: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` (..., n, head_dim) by ``freqs`` (n, head_dim // 2) (broadcast over leading axes).

    Returns a new contiguous tensor of ``x``'s shape and dtype (half precision, e.g. under autocast, is
    rotated in float32 and cast back).
    """
    dtype = x.dtype
    if dtype not in (torch.float32, torch.float64):
        x = x.float()
    xc = torch.view_as_complex(x.contiguous().view(*x.shape[:-1], -1, 2))
    return torch.view_as_real(xc * freqs).flatten(-2).to(dtype)
