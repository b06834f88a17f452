"""Residual vector quantisation with EMA codebooks and dead-code restarts (the codec's bottleneck).

The codebooks are buffers updated from training batches, not parameters. Under torchrun their counts and sums are
summed over processes and restarts draw from the gathered global batch (:mod:`choreo.train.distributed`, imported
only by the training-time update), so every process keeps the same codebook.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResidualVQ(nn.Module):
    """Residual vector quantisation with EMA codebooks and dead-code restarts.

    Level 0 quantises the latent, level l > 0 quantises what the levels before it left over; the
    quantised latent is the sum of the chosen codewords. Codebooks are buffers, updated (in training only,
    ``update=True``) by exponential moving averages of the vectors assigned to each codeword:

        N_k <- d N_k + (1 - d) n_k,      S_k <- d S_k + (1 - d) s_k,
        e_k = S_k / N'_k,   N'_k = (N_k + eps) / (sum N + K eps) * sum N     (Laplace smoothing)

    with ``n_k`` the count and ``s_k`` the sum of the batch vectors whose nearest codeword is k (summed over
    every process). A codeword whose ``N_k`` falls below ``threshold`` is dead: it is restarted at a vector of
    the batch drawn at random (``N_k = threshold``, ``S_k = threshold * vector``), so it must win at least
    about ``threshold`` vectors per batch to live. A level never updated (all counts 0) is initialised from the
    first training batch: every codeword a vector of it drawn at random.

    Args:
        levels: residual levels L; size: codewords per level K; dim: vector size D.
        decay: EMA decay d; eps: Laplace smoothing; threshold: dead-code threshold (in EMA counts).
    """

    def __init__(self, levels: int, size: int, dim: int, decay: float, eps: float, threshold: float):
        super().__init__()
        self.levels, self.size, self.dim = int(levels), int(size), int(dim)
        self.decay, self.eps, self.threshold = float(decay), float(eps), float(threshold)
        self.register_buffer("embed", torch.zeros(self.levels, self.size, self.dim))
        self.register_buffer("cluster_size", torch.zeros(self.levels, self.size))
        self.register_buffer("embed_sum", torch.zeros(self.levels, self.size, self.dim))

    def nearest(self, x: torch.Tensor, level: int) -> torch.Tensor:
        """(M, D) -> (M,) int64 index of the nearest codeword (squared Euclidean; ties: the lowest index)."""
        e = self.embed[level]
        d = (x * x).sum(1, keepdim=True) - 2.0 * (x @ e.t()) + (e * e).sum(1)[None, :]
        return d.argmin(dim=1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """(..., L') int64 codes of the first L' levels -> (..., D) quantised latent (sum of their codewords)."""
        out = 0
        for lv in range(codes.shape[-1]):
            out = out + F.embedding(codes[..., lv], self.embed[lv])
        return out if torch.is_tensor(out) else torch.zeros(*codes.shape[:-1], self.dim, device=self.embed.device)

    def forward(
        self, z: torch.Tensor, update: bool = False, seed: int = 0, levels: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Quantise (B, T, D) latents.

        Args:
            z: continuous latents.
            update: update the codebooks from this batch (training; every process must call it together).
            seed: seeds the dead-code restarts' draws (the same on every process).
            levels: use only the first levels (default all).

        Returns:
            ``(zq (B, T, D), codes (B, T, L) int64, commitment (B,))``: the quantised latent (no gradient: apply
            the straight-through estimator outside), the codes, and per sample the sum over levels of the mean
            squared distance between each level's input and its codeword (gradient to ``z`` only).
        """
        B, T, D = z.shape
        n_lv = self.levels if levels is None else int(levels)
        residual = z
        zq = torch.zeros_like(z)
        codes = []
        commit = z.new_zeros(B)
        for lv in range(n_lv):
            flat = residual.reshape(-1, D)
            if update and not bool(self.cluster_size[lv].any()):
                self._initialise(lv, flat.detach().float(), seed)
            idx = self.nearest(flat.detach().float(), lv)
            q = self.embed[lv][idx].reshape(B, T, D).to(z.dtype)
            commit = commit + (residual - q.detach()).pow(2).mean(dim=(1, 2))
            if update:
                self._ema_update(lv, flat.detach().float(), idx, seed)
            zq = zq + q
            residual = residual - q.detach()
            codes.append(idx.reshape(B, T))
        return zq.detach(), torch.stack(codes, dim=-1), commit

    def _draw(self, x: torch.Tensor, n: int, seed: int, lv: int) -> torch.Tensor:
        """``n`` vectors drawn (with replacement) from the global batch ``x`` (M, D), seeded by (seed, level)."""
        from choreo.train.distributed import all_cat  # training only: inference never imports choreo.train

        pool = all_cat(x)  # the whole global batch, in the single-process order
        g = torch.Generator().manual_seed((int(seed) ^ (lv * 0x9E3779B97F4A7C15)) & (2**63 - 1))
        pick = torch.randint(0, pool.shape[0], (n,), generator=g).to(pool.device)
        return pool[pick]

    @torch.no_grad()
    def _initialise(self, lv: int, x: torch.Tensor, seed: int) -> None:
        """An untouched level (every count 0): every codeword becomes a vector of the batch, with count 1."""
        self.embed[lv].copy_(self._draw(x, self.size, seed, lv))
        self.cluster_size[lv].fill_(max(self.threshold, 1e-3))
        self.embed_sum[lv].copy_(self.embed[lv] * self.cluster_size[lv][:, None])

    @torch.no_grad()
    def _ema_update(self, lv: int, x: torch.Tensor, idx: torch.Tensor, seed: int) -> None:
        from choreo.train.distributed import all_sum  # training only: inference never imports choreo.train

        K = self.size
        onehot = F.one_hot(idx, K).to(x.dtype)  # (M, K)
        counts = all_sum(onehot.sum(0))
        sums = all_sum(onehot.t() @ x)
        d = self.decay
        self.cluster_size[lv].mul_(d).add_(counts, alpha=1.0 - d)
        self.embed_sum[lv].mul_(d).add_(sums, alpha=1.0 - d)
        dead = self.cluster_size[lv] < self.threshold
        n_dead = int(dead.sum())
        if n_dead:
            self.cluster_size[lv][dead] = self.threshold
            self.embed_sum[lv][dead] = self._draw(x, n_dead, seed + 1, lv) * self.threshold
        n = self.cluster_size[lv].sum()
        smoothed = (self.cluster_size[lv] + self.eps) / (n + K * self.eps) * n
        self.embed[lv].copy_(self.embed_sum[lv] / smoothed[:, None])
