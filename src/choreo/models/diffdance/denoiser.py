"""The network of both DiffDance diffusion stages: :class:`StageDenoiser`, an x0-predicting transformer.

Both stages of DiffDance (Qi et al., ACM MM 2023) are one network class conditioned on the per-frame music
embedding:

* **base** stage: the dance at a fraction ``1 / r`` of the output frame rate (paper: 15 fps) over a long
  window (paper: 20 s); input ``x_t`` (B, T, C);
* **SSR** (sequence super-resolution) stage: the dance at the full rate; input ``[x_t ; z_s]`` (B, T, 2C),
  the noisy full-rate dance concatenated channel-wise with ``z_s``, the low-rate dance linearly upsampled
  to full rate and noised to a conditioning-augmentation level ``s`` (a timestep of the SSR's own noise
  schedule: random in training, fixed at sampling), with ``s`` embedded like a timestep as an input.

Conditioning (the paper's): the music embedding of frame i, projected to the width, is added to the timestep
embedding (and the level embedding), ``c_i = W e_i + emb(t) [+ emb(s)]``; the sum is added to the input tokens
and modulates every block per frame (DiT's adaLN-Zero, with a per-frame rather than a per-sample vector). A stage
built with ``style_channels`` > 0 also takes a dance style: the condition then carries, after the E embedding
channels, a one-hot style code (the last code: style unknown), whose projection is added to every frame's music
token, so that windowing and frame-rate changes treat it as they treat the embedding. A learned null embedding
replaces the music for classifier-free guidance; with a style, the null embedding plus the style's projection is
the "style kept, music dropped" condition (``keep_style``), which guidance can start from instead of the null.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from choreo.errors import ChoreoError
from choreo.models.denoiser import SelfAttention, _feed_forward, timestep_embedding
from choreo.models.rotary import rotary_tables


class AdaLNBlock(nn.Module):
    """Pre-norm transformer block (rotary self-attention, GELU feed-forward) modulated per frame.

    ``shift, scale, gate`` for both sub-blocks come from a linear map of the per-frame condition (zero at
    initialisation, so every block starts as the identity: DiT's adaLN-Zero).
    """

    def __init__(self, width: int, heads: int, ff_size: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False)
        self.attn = SelfAttention(width, heads, dropout)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False)
        self.ff = _feed_forward(width, ff_size, dropout)
        self.mod = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))
        nn.init.zeros_(self.mod[1].weight)
        nn.init.zeros_(self.mod[1].bias)

    def forward(self, h: torch.Tensor, cond: torch.Tensor, rope: torch.Tensor) -> torch.Tensor:
        """h (B, T, D), cond (B, T, D) or (B, 1, D) -> (B, T, D)."""
        s1, b1, g1, s2, b2, g2 = self.mod(cond).chunk(6, dim=-1)
        h = h + g1 * self.attn(self.norm1(h) * (1 + s1) + b1, rope)
        return h + g2 * self.ff(self.norm2(h) * (1 + s2) + b2)


@dataclass
class StageContext:
    """Per-run sampling cache of :class:`StageDenoiser`: the condition of ``n`` windows, projected once.

    Rows ``0 .. n-1`` are conditional, rows ``n .. 2n-1`` (when ``has_uncond``) use the null music (with the
    style kept when prepared with ``uncond="style"``).
    ``tokens``: (rows, T, D) projected music; ``low``: (rows, T, C) noised low-rate dance (SSR) or None;
    ``level``: (1, D) embedding of the augmentation level or None.
    """

    n: int
    frames: int
    tokens: torch.Tensor
    low: torch.Tensor | None
    level: torch.Tensor | None
    rope: torch.Tensor
    has_uncond: bool


class StageDenoiser(nn.Module):
    """One stage of the cascade: ``(x_t, t, music embedding [, noisy low-rate dance, level s]) -> x0``.

    Args:
        motion_dim: C, channels of the motion representation.
        cond_dim: E, channels of the per-frame music embedding.
        width, layers, heads, ff_size, dropout: transformer sizes.
        low_dim: channels of the low-rate condition concatenated to the input (C for the SSR stage, 0 for base).
        rotary_theta: base of the rotary position frequencies.
        style_channels: trailing one-hot style channels of the condition after its ``cond_dim`` (0: none).
    """

    def __init__(
        self,
        motion_dim: int,
        cond_dim: int,
        width: int = 256,
        layers: int = 4,
        heads: int = 4,
        ff_size: int = 1024,
        dropout: float = 0.1,
        low_dim: int = 0,
        rotary_theta: float = 10000.0,
        style_channels: int = 0,
    ):
        super().__init__()
        if width % heads or (width // heads) % 2:
            raise ChoreoError(f"width {width} must split into {heads} heads of even size")
        self.width, self.heads, self.rotary_theta = width, heads, rotary_theta
        self.motion_dim, self.low_dim = motion_dim, low_dim
        self.input_proj = nn.Linear(motion_dim + low_dim, width)
        self.cond_norm = nn.LayerNorm(cond_dim)
        self.cond_proj = nn.Linear(cond_dim, width)
        self.cond_dim, self.style_channels = int(cond_dim), int(style_channels)
        self.style_proj = nn.Linear(self.style_channels, width, bias=False) if self.style_channels else None
        self.null_cond = nn.Parameter(torch.randn(1, 1, width) * 0.02)
        self.time_mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.Mish(), nn.Linear(4 * width, width))
        self.level_mlp = (
            nn.Sequential(nn.Linear(width, 4 * width), nn.Mish(), nn.Linear(4 * width, width)) if low_dim else None
        )
        self.layers = nn.ModuleList(AdaLNBlock(width, heads, ff_size, dropout) for _ in range(layers))
        self.final_norm = nn.LayerNorm(width)
        self.final = nn.Linear(width, motion_dim)

    # ---- pieces --------------------------------------------------------------------------------------------
    def _rope(self, n: int, ref: torch.Tensor) -> torch.Tensor:
        return rotary_tables(n, self.width // self.heads, self.rotary_theta, ref.device, ref.dtype)

    def _embed_steps(self, mlp: nn.Module, t: torch.Tensor) -> torch.Tensor:
        return mlp(timestep_embedding(t, self.width))

    def music_tokens(self, cond: torch.Tensor) -> torch.Tensor:
        """(B, T, E [+ S]) music embedding [and one-hot style] -> (B, T, D) projected tokens."""
        want = self.cond_dim + self.style_channels
        if cond.shape[-1] != want:
            raise ChoreoError(f"this stage's condition has {want} channels per frame, got {cond.shape[-1]}")
        tokens = self.cond_proj(self.cond_norm(cond[..., : self.cond_dim]))
        if self.style_proj is not None:
            tokens = tokens + self.style_proj(cond[..., self.cond_dim :].to(tokens.dtype))
        return tokens

    def style_only_tokens(self, cond: torch.Tensor) -> torch.Tensor:
        """(B, T, E + S) condition -> (B, T, D) tokens of its style alone: the null music plus the style's
        projection."""
        if self.style_proj is None:
            raise ChoreoError("this stage takes no style, so it has no style-only condition")
        null = self.null_cond.to(self.cond_proj.weight.dtype)
        return null + self.style_proj(cond[..., self.cond_dim :].to(null.dtype))

    def _check_low(self, low: torch.Tensor | None, level) -> None:
        if (self.low_dim > 0) != (low is not None) or (low is not None and level is None):
            want = "a low-rate dance and its level" if self.low_dim else "no low-rate dance"
            raise ChoreoError(f"this stage takes {want}")

    def _body(self, x: torch.Tensor, tokens: torch.Tensor, vec: torch.Tensor, rope: torch.Tensor) -> torch.Tensor:
        """The transformer on input x (B, T, C [+ C]) given music tokens (B, T, D) and the step vector (B, D)."""
        h = self.input_proj(x)
        cond = tokens + vec[:, None, :]  # the music embedding added to the timestep (and level) embedding
        h = h + cond
        for layer in self.layers:
            h = layer(h, cond, rope)
        return self.final(self.final_norm(h))

    # ---- training / plain forward ----------------------------------------------------------------------------
    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        cond: torch.Tensor,
        keep: torch.Tensor | None = None,
        low: torch.Tensor | None = None,
        level: torch.Tensor | None = None,
        keep_style: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predict x0.

        Args:
            x: (B, T, C) noisy motion at timesteps ``t`` (B,) int.
            cond: (B, T, E) music embedding, frame-aligned with ``x`` (E + S channels with a style code).
            keep: (B,) bool, False where the music (and style) is replaced by the null embedding (condition dropout).
            low: (B, T, C) noised, upsampled low-rate dance (SSR stage only); level: (B,) int its noise level s.
            keep_style: (B,) bool, where ``keep`` is False: True keeps the style on the null music
                (:meth:`style_only_tokens`; a stage with styles only).
        Returns:
            (B, T, C) predicted clean motion.
        """
        self._check_low(low, level)
        T = x.shape[1]
        rope = self._rope(T, x)
        tokens = self.music_tokens(cond)
        if keep is not None:
            dropped = self.null_cond.to(tokens.dtype)
            if keep_style is not None and bool(keep_style.any()):
                dropped = torch.where(keep_style[:, None, None], self.style_only_tokens(cond).to(tokens.dtype), dropped)
            tokens = torch.where(keep[:, None, None], tokens, dropped)
        vec = self._embed_steps(self.time_mlp, t)
        if low is not None:
            vec = vec + self._embed_steps(self.level_mlp, level)
            x = torch.cat((x, low.to(x.dtype)), dim=-1)
        return self._body(x, tokens, vec, rope)

    # ---- fast sampling ---------------------------------------------------------------------------------------
    def prepare(
        self,
        cond: torch.Tensor,
        uncond: bool | str = True,
        low: torch.Tensor | None = None,
        level: int | None = None,
    ) -> StageContext:
        """Project (n, T, E) music (and, with ``uncond``, the null rows) once for a sampling run.

        Args:
            uncond: False (no null rows), True (the null music and style) or ``"style"`` (the null music with
                each window's style kept: :meth:`style_only_tokens`).
            low: (n, T, C) noised low-rate condition (SSR), shared by the conditional and null rows.
            level: its integer noise level s.
        """
        self._check_low(low, level)
        n, T, _ = cond.shape
        rope = self._rope(T, cond)
        tokens = self.music_tokens(cond)
        if uncond:
            if uncond == "style":
                null = self.style_only_tokens(cond).to(tokens.dtype)
            else:
                null = self.null_cond.to(tokens.dtype).expand(n, T, self.width)
            tokens = torch.cat((tokens, null), dim=0)
            low = torch.cat((low, low), dim=0) if low is not None else None
        lvl = None
        if low is not None:
            lvl = self._embed_steps(self.level_mlp, torch.full((1,), int(level), device=cond.device))
        return StageContext(n, T, tokens, low, lvl, rope, bool(uncond))

    def forward_cached(self, x: torch.Tensor, t: int, ctx: StageContext, rows: slice) -> torch.Tensor:
        """Predict x0 for ``x`` (R, T, C), all at integer timestep ``t``, against rows ``rows`` of ``ctx``."""
        vec = self._embed_steps(self.time_mlp, torch.full((1,), int(t), device=x.device))
        if ctx.low is not None:
            vec = vec + ctx.level
            x = torch.cat((x, ctx.low[rows]), dim=-1)
        return self._body(x, ctx.tokens[rows], vec.expand(x.shape[0], -1), ctx.rope)
