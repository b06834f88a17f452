"""EDGE's denoiser: a transformer decoder over motion frames that predicts the clean motion x0.

Layout (Tseng et al. 2023, official code's DanceDecoder; written anew here):

* music: ``Linear(F -> D)`` then ``music_layers`` pre-norm self-attention encoder layers (rotary);
  a learned null embedding replaces the music tokens (and their pooled summary) when the condition is
  dropped, for classifier-free guidance;
* time: sinusoidal embedding -> ``Linear(D, 4D)`` -> Mish, projected to a FiLM vector (plus the
  mean-pooled music, through a small MLP) and to two extra "time tokens";
* each decoder layer (pre-norm, GELU, dropout): rotary self-attention, cross-attention to the
  layer-normed ``[music tokens; time tokens]`` (rotary on the frame-aligned music keys), feed-forward;
  every block's output is modulated by FiLM (``(1 + scale) h + shift``) before its residual add.

Attention runs through ``torch.nn.functional.scaled_dot_product_attention``.

Sampling is fast because the music does not depend on ``x_t`` or ``t``: :meth:`EdgeDenoiser.prepare`
encodes it once per sampling run and caches every layer's cross-attention keys and values for the
conditional and the null rows; each step then only computes the two time tokens' keys/values.
Shapes: motion (B, T, C) normalised, music features (B, T, F) frame-aligned, t (B,) int timesteps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from choreo.models.rotary import apply_rotary, rotary_tables


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of (B,) timesteps -> (B, dim): ``[sin(t w_k), cos(t w_k)]``, w_k = 10000^(-k/(dim/2-1))."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, device=t.device, dtype=torch.float32) * (-math.log(10000.0) / (half - 1)))
    ang = t.float()[:, None] * freqs[None, :]
    return torch.cat((ang.sin(), ang.cos()), dim=-1)


class SelfAttention(nn.Module):
    """Multi-head self-attention with rotary positions on queries and keys."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by {heads} heads")
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, rope: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        q, k = apply_rotary(q, rope), apply_rotary(k, rope)
        o = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.out(o.transpose(1, 2).reshape(B, T, D))


class CrossAttention(nn.Module):
    """Multi-head attention from motion frames to a memory whose keys/values can be precomputed."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(width, 2 * width)
        self.out = nn.Linear(width, width)

    def keys_values(self, memory: torch.Tensor, rope: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, M, D) memory -> keys, values (B, heads, M, D/heads); ``rope`` rotates the keys when given."""
        B, M, D = memory.shape
        k, v = self.kv(memory).view(B, M, 2, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        if rope is not None:
            k = apply_rotary(k, rope)
        return k, v

    def forward(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rope: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q = apply_rotary(self.q(x).view(B, T, self.heads, D // self.heads).transpose(1, 2), rope)
        o = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.out(o.transpose(1, 2).reshape(B, T, D))


def _feed_forward(width: int, ff: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff, width))


class MusicEncoderLayer(nn.Module):
    """Pre-norm transformer encoder layer (rotary self-attention, GELU feed-forward)."""

    def __init__(self, width: int, heads: int, ff: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = SelfAttention(width, heads, dropout)
        self.ff = _feed_forward(width, ff, dropout)
        self.drop1, self.drop2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, rope: torch.Tensor) -> torch.Tensor:
        x = x + self.drop1(self.attn(self.norm1(x), rope))
        return x + self.drop2(self.ff(self.norm2(x)))


class FiLMDecoderLayer(nn.Module):
    """Self-attention, cross-attention and feed-forward blocks, each FiLM-modulated by the conditioning vector."""

    def __init__(self, width: int, heads: int, ff: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(width), nn.LayerNorm(width), nn.LayerNorm(width)
        self.self_attn = SelfAttention(width, heads, dropout)
        self.cross_attn = CrossAttention(width, heads, dropout)
        self.ff = _feed_forward(width, ff, dropout)
        self.drop1, self.drop2, self.drop3 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)
        # the three blocks' (scale, shift) from one linear map of the conditioning vector
        self.film = nn.Sequential(nn.Mish(), nn.Linear(width, 6 * width))

    def forward(
        self,
        x: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        cond: torch.Tensor,
        rope: torch.Tensor,
    ) -> torch.Tensor:
        s1, b1, s2, b2, s3, b3 = self.film(cond)[:, None, :].chunk(6, dim=-1)
        x = x + (1 + s1) * self.drop1(self.self_attn(self.norm1(x), rope)) + b1
        x = x + (1 + s2) * self.drop2(self.cross_attn(self.norm2(x), k, v, rope)) + b2
        return x + (1 + s3) * self.drop3(self.ff(self.norm3(x))) + b3


@dataclass
class SamplingContext:
    """Per-run cache for sampling: the music of ``n`` windows, encoded once.

    ``keys[l]`` / ``values[l]``: (rows, heads, T + 2, D/heads) cross-attention memory of layer l, rows
    ``0 .. n-1`` conditional and (when prepared with ``uncond``) rows ``n .. 2n-1`` the null music; the
    last two slots hold the time tokens and are rewritten at every step. ``hidden``: (rows, D) the
    pooled-music part of the FiLM vector.
    """

    n: int
    frames: int
    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    hidden: torch.Tensor
    rope: torch.Tensor
    has_uncond: bool


class EdgeDenoiser(nn.Module):
    """The EDGE transformer: ``(x_t, t, music) -> x0``.

    Args:
        motion_dim: C, channels of the motion representation.
        music_dim: F, music feature channels per frame.
        width, layers, heads, ff_size, dropout, music_layers: sizes (EDGE: 512, 8, 8, 1024, 0.1, 2).
        window_frames: length of the learned null music embedding (the training window); longer inputs
            reuse it cyclically.
        rotary_theta: base of the rotary frequencies.
    """

    def __init__(
        self,
        motion_dim: int,
        music_dim: int,
        width: int = 512,
        layers: int = 8,
        heads: int = 8,
        ff_size: int = 1024,
        dropout: float = 0.1,
        music_layers: int = 2,
        window_frames: int = 150,
        rotary_theta: float = 10000.0,
    ):
        super().__init__()
        self.width, self.heads, self.rotary_theta = width, heads, rotary_theta
        self.input_proj = nn.Linear(motion_dim, width)
        self.music_proj = nn.Linear(music_dim, width)
        self.music_encoder = nn.ModuleList(
            MusicEncoderLayer(width, heads, ff_size, dropout) for _ in range(music_layers)
        )
        self.null_music = nn.Parameter(torch.randn(1, window_frames, width))
        self.null_hidden = nn.Parameter(torch.randn(1, width))
        self.pool_proj = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.time_mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.Mish())
        self.to_time_cond = nn.Linear(4 * width, width)
        self.to_time_tokens = nn.Linear(4 * width, 2 * width)
        self.memory_norm = nn.LayerNorm(width)
        self.layers = nn.ModuleList(FiLMDecoderLayer(width, heads, ff_size, dropout) for _ in range(layers))
        self.final = nn.Linear(width, motion_dim)

    # ---- pieces --------------------------------------------------------------------------------------
    def _rope(self, n: int, ref: torch.Tensor) -> torch.Tensor:
        return rotary_tables(n, self.width // self.heads, self.rotary_theta, ref.device, ref.dtype)

    def null_tokens(self, frames: int) -> torch.Tensor:
        """(1, frames, D) null music (the learned embedding, repeated when the input is longer)."""
        n = self.null_music.shape[1]
        if frames <= n:
            return self.null_music[:, :frames]
        return self.null_music.repeat(1, -(-frames // n), 1)[:, :frames]

    def encode_music(self, music: torch.Tensor, rope: torch.Tensor) -> torch.Tensor:
        """(B, T, F) features -> (B, T, D) music tokens."""
        h = self.music_proj(music)
        for layer in self.music_encoder:
            h = layer(h, rope)
        return h

    def time_embed(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,) timesteps -> FiLM part (B, D) and two time tokens (B, 2, D)."""
        h = self.time_mlp(timestep_embedding(t, self.width))
        return self.to_time_cond(h), self.to_time_tokens(h).view(-1, 2, self.width)

    # ---- training / plain forward --------------------------------------------------------------------
    def forward(
        self, x: torch.Tensor, t: torch.Tensor, music: torch.Tensor, keep: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Predict x0.

        Args:
            x: (B, T, C) noisy motion at timesteps ``t``.
            t: (B,) int timesteps.
            music: (B, T, F) features.
            keep: (B,) bool, False where the music is replaced by the null embedding (condition dropout);
                None keeps all.
        Returns:
            (B, T, C) predicted clean motion.
        """
        B, T, _ = x.shape
        rope = self._rope(T, x)
        tokens = self.encode_music(music, rope)
        hidden = self.pool_proj(tokens.mean(dim=1))
        if keep is not None:
            tokens = torch.where(keep[:, None, None], tokens, self.null_tokens(T).to(tokens.dtype))
            hidden = torch.where(keep[:, None], hidden, self.null_hidden.to(hidden.dtype))
        t_cond, t_tokens = self.time_embed(t)
        cond = t_cond + hidden
        memory = self.memory_norm(torch.cat((tokens, t_tokens), dim=1))
        music_mem, time_mem = memory[:, :T], memory[:, T:]
        h = self.input_proj(x)
        for layer in self.layers:
            km, vm = layer.cross_attn.keys_values(music_mem, rope)
            kt, vt = layer.cross_attn.keys_values(time_mem, None)
            h = layer(h, torch.cat((km, kt), dim=2), torch.cat((vm, vt), dim=2), cond, rope)
        return self.final(h)

    # ---- fast sampling -------------------------------------------------------------------------------
    def prepare(self, music: torch.Tensor, uncond: bool = True) -> SamplingContext:
        """Encode (n, T, F) music once and cache each layer's cross-attention memory.

        Rows ``0 .. n-1`` are conditional; with ``uncond`` rows ``n .. 2n-1`` hold the null music.
        """
        n, T, _ = music.shape
        rope = self._rope(T, music)
        tokens = self.encode_music(music, rope)
        hidden = self.pool_proj(tokens.mean(dim=1))
        if uncond:
            tokens = torch.cat((tokens, self.null_tokens(T).to(tokens.dtype).expand(n, T, self.width)), dim=0)
            hidden = torch.cat((hidden, self.null_hidden.to(hidden.dtype).expand(n, self.width)), dim=0)
        memory = self.memory_norm(tokens)
        keys, values = [], []
        for layer in self.layers:
            k, v = layer.cross_attn.keys_values(memory, rope)
            kb = k.new_empty(k.shape[0], k.shape[1], T + 2, k.shape[3])
            vb = torch.empty_like(kb)
            kb[:, :, :T], vb[:, :, :T] = k, v
            keys.append(kb)
            values.append(vb)
        return SamplingContext(n, T, keys, values, hidden, rope, uncond)

    def forward_cached(self, x: torch.Tensor, t: int, ctx: SamplingContext, rows: slice) -> torch.Tensor:
        """Predict x0 for ``x`` (R, T, C), all at integer timestep ``t``, against the rows ``rows`` of ``ctx``."""
        T = ctx.frames
        t_cond, t_tokens = self.time_embed(torch.full((1,), t, device=x.device))
        cond = t_cond + ctx.hidden[rows]
        time_mem = self.memory_norm(t_tokens)
        h = self.input_proj(x)
        for layer, kb, vb in zip(self.layers, ctx.keys, ctx.values, strict=True):
            kt, vt = layer.cross_attn.keys_values(time_mem, None)
            k, v = kb[rows], vb[rows]
            k[:, :, T:], v[:, :, T:] = kt, vt
            h = layer(h, k, v, cond, ctx.rope)
        return self.final(h)
