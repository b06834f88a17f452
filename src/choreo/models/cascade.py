"""DiffDance's cascade: the stage denoisers, the frame-rate conversions between stages, and windowed sampling.

Both diffusion stages of DiffDance (Qi et al., ACM MM 2023) use one network class, :class:`StageDenoiser`,
an x0-predicting transformer over motion frames conditioned on the per-frame music embedding:

* **base** stage: the dance at a fraction ``1 / r`` of the output frame rate (paper: 15 fps) over a long
  window (paper: 20 s); input ``x_t`` (B, T, C);
* **SSR** (sequence super-resolution) stage: the dance at the full rate; input ``[x_t ; z_s]`` (B, T, 2C),
  the noisy full-rate dance concatenated channel-wise with ``z_s``, the low-rate dance linearly upsampled
  to full rate and noised to a conditioning-augmentation level ``s`` (a timestep of the SSR's own noise
  schedule: random in training, fixed at sampling), with ``s`` embedded like a timestep as an input.

Conditioning (``conditioning="add"``, the paper's): the music embedding of frame i, projected to the width,
is added to the timestep embedding (and the level embedding), ``c_i = W e_i + emb(t) [+ emb(s)]``; the sum is
added to the input tokens and modulates every block per frame (DiT's adaLN-Zero, with a per-frame rather than
a per-sample vector). A stage built with ``style_channels`` > 0 also takes a dance style: the condition then
carries, after the E embedding channels, a one-hot style code (the last code: style unknown), whose
projection is added to every frame's music token, so that windowing and frame-rate changes treat it as
they treat the embedding. ``conditioning="cross"`` is the alternative the issue allows: EDGE's FiLM decoder layers
(:class:`~choreo.models.denoiser.FiLMDecoderLayer`), cross-attending to the projected embedding sequence, with
``emb(t) [+ emb(s)]`` plus the pooled embedding as the FiLM vector. A learned null embedding replaces the
music for classifier-free guidance in either case; with a style, the null embedding plus the style's projection
is the "style kept, music dropped" condition (``keep_style``), which guidance can start from instead of the null.

Frame rates: low-rate frame i sits at full-rate frame ``r i`` (the data layer's ``motion@<fps>`` is exact
decimation for an integer ratio). :func:`upsample` interpolates linearly between them, :func:`decimate` takes
every r-th frame after a triangular (linear-interpolation) anti-alias filter, so that a frame-rate change of a
per-frame embedding stays centred on the frame it describes.

Long dances (:func:`sample_windows`): any stage samples overlapping windows (hop W/2) coupled as EDGE does
(after every step but the last the first W - H frames of window k + 1 become the last of window k), chunk by
chunk so that memory stays bounded on any song; inpainting constraints are re-imposed after every step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from choreo.errors import ChoreoError
from choreo.models.denoiser import FiLMDecoderLayer, SelfAttention, _feed_forward, timestep_embedding
from choreo.models.diffusion import GaussianDiffusion, guided, randn_like, rescale_guided
from choreo.models.longform import WindowPlan, couple, split_windows
from choreo.models.rotary import rotary_tables

CONDITIONING = ("add", "cross")
#: what classifier-free guidance can start from: the null condition, or the null music with the style kept
GUIDANCE_FROM = ("nothing", "style")


# ---- frame rates ----------------------------------------------------------------------------------------------
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


# ---- the network -----------------------------------------------------------------------------------------------
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
    ``level``: (1, D) embedding of the augmentation level or None; ``keys`` / ``values`` / ``pooled``: the
    cross-attention memory per layer and the pooled music vector (``cross`` conditioning only).
    """

    n: int
    frames: int
    tokens: torch.Tensor
    low: torch.Tensor | None
    level: torch.Tensor | None
    rope: torch.Tensor
    has_uncond: bool
    keys: list[torch.Tensor] | None = None
    values: list[torch.Tensor] | None = None
    pooled: torch.Tensor | None = None


class StageDenoiser(nn.Module):
    """One stage of the cascade: ``(x_t, t, music embedding [, noisy low-rate dance, level s]) -> x0``.

    Args:
        motion_dim: C, channels of the motion representation.
        cond_dim: E, channels of the per-frame music embedding.
        width, layers, heads, ff_size, dropout: transformer sizes.
        low_dim: channels of the low-rate condition concatenated to the input (C for the SSR stage, 0 for base).
        conditioning: ``add`` (the paper's, see the module docstring) or ``cross`` (EDGE's cross-attention).
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
        conditioning: str = "add",
        rotary_theta: float = 10000.0,
        style_channels: int = 0,
    ):
        super().__init__()
        if conditioning not in CONDITIONING:
            raise ChoreoError(f"unknown conditioning {conditioning!r} (known: {', '.join(CONDITIONING)})")
        if width % heads or (width // heads) % 2:
            raise ChoreoError(f"width {width} must split into {heads} heads of even size")
        self.width, self.heads, self.rotary_theta = width, heads, rotary_theta
        self.motion_dim, self.low_dim, self.conditioning = motion_dim, low_dim, conditioning
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
        if conditioning == "add":
            self.layers = nn.ModuleList(AdaLNBlock(width, heads, ff_size, dropout) for _ in range(layers))
        else:
            self.memory_norm = nn.LayerNorm(width)
            self.pool_proj = nn.Sequential(
                nn.LayerNorm(width), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width)
            )
            self.layers = nn.ModuleList(FiLMDecoderLayer(width, heads, ff_size, dropout) for _ in range(layers))
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

    def _body(
        self,
        x: torch.Tensor,
        tokens: torch.Tensor,
        vec: torch.Tensor,
        rope: torch.Tensor,
        kv: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None,
        pooled: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The transformer on input x (B, T, C [+ C]) given music tokens (B, T, D) and the step vector (B, D)."""
        h = self.input_proj(x)
        if self.conditioning == "add":
            cond = tokens + vec[:, None, :]  # the music embedding added to the timestep (and level) embedding
            h = h + cond
            for layer in self.layers:
                h = layer(h, cond, rope)
        else:
            film = vec + pooled
            keys, values = kv
            for layer, k, v in zip(self.layers, keys, values, strict=True):
                h = layer(h, k, v, film, rope)
        return self.final(self.final_norm(h))

    def _memory(self, tokens: torch.Tensor, rope: torch.Tensor) -> tuple[list, list, torch.Tensor]:
        memory = self.memory_norm(tokens)
        keys, values = [], []
        for layer in self.layers:
            k, v = layer.cross_attn.keys_values(memory, rope)
            keys.append(k)
            values.append(v)
        return keys, values, self.pool_proj(tokens.mean(dim=1))

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
        if self.conditioning == "add":
            return self._body(x, tokens, vec, rope)
        keys, values, pooled = self._memory(tokens, rope)
        return self._body(x, tokens, vec, rope, (keys, values), pooled)

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
        ctx = StageContext(n, T, tokens, low, lvl, rope, bool(uncond))
        if self.conditioning == "cross":
            ctx.keys, ctx.values, ctx.pooled = self._memory(tokens, rope)
        return ctx

    def forward_cached(self, x: torch.Tensor, t: int, ctx: StageContext, rows: slice) -> torch.Tensor:
        """Predict x0 for ``x`` (R, T, C), all at integer timestep ``t``, against rows ``rows`` of ``ctx``."""
        vec = self._embed_steps(self.time_mlp, torch.full((1,), int(t), device=x.device))
        if ctx.low is not None:
            vec = vec + ctx.level
            x = torch.cat((x, ctx.low[rows]), dim=-1)
        vec = vec.expand(x.shape[0], -1)
        if self.conditioning == "add":
            return self._body(x, ctx.tokens[rows], vec, ctx.rope)
        kv = ([k[rows] for k in ctx.keys], [v[rows] for v in ctx.values])
        return self._body(x, ctx.tokens[rows], vec, ctx.rope, kv, ctx.pooled[rows])


# ---- sampling many windows -------------------------------------------------------------------------------------
def guided_denoiser(
    model: StageDenoiser,
    ctx: StageContext,
    weights: list[float],
    plain: tuple[int, ...] = (),
    rescale: float = 0.0,
):
    """``(x, t, step) -> x0`` with classifier-free guidance weight ``weights[step]`` (cond and null in one batch).

    ``rescale`` > 0 pulls each window's guided x0 back towards the conditional one's spread
    (:func:`~choreo.models.diffusion.rescale_guided`). Channels in ``plain`` then take the conditional
    prediction as it is (guidance 1) wherever both are computed: guidance extrapolates every channel, and a
    small offset of a global one (the root's height) grows with w.
    """
    n = ctx.n
    keep = list(plain)

    def fn(x: torch.Tensor, t: int, i: int) -> torch.Tensor:
        # the network may run in bf16 (autocast); the sampler's arithmetic stays float32
        w = weights[i]
        if w == 1.0 or not ctx.has_uncond:
            return model.forward_cached(x, t, ctx, slice(0, n)).float()
        if w == 0.0:
            return model.forward_cached(x, t, ctx, slice(n, 2 * n)).float()
        both = model.forward_cached(torch.cat((x, x), dim=0), t, ctx, slice(0, 2 * n)).float()
        out = rescale_guided(guided(both[:n], both[n:], w), both[:n], rescale)
        if keep:
            out[..., keep] = both[:n][..., keep]
        return out

    return fn


def sample_windows(
    model: StageDenoiser,
    diffusion: GaussianDiffusion,
    plan: WindowPlan,
    cond: torch.Tensor,
    dim: int,
    *,
    weights: list[float],
    steps: int,
    sampler: str,
    eta: float,
    generators: list[torch.Generator],
    low: torch.Tensor | None = None,
    level: int | None = None,
    known: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    chunk_windows: int = 16,
    coupled: bool = True,
    on_step: Callable[[], None] | None = None,
    clip: bool | tuple[torch.Tensor, torch.Tensor] = True,
    null: str = "nothing",
    plain_channels: tuple[int, ...] = (),
    rescale: float = 0.0,
) -> torch.Tensor:
    """Denoise every window of ``plan`` for one stage; returns the clean windows (N, W, dim), normalised.

    Windows are coupled as EDGE does (when ``coupled`` and they overlap) and go through the network at most
    ``chunk_windows`` at a time: the first window of a chunk follows the recorded trajectory of the previous
    chunk's last window, and window k draws all its noise from ``generators[k]``, so the result does not
    depend on the chunk size (up to float rounding) and memory does not grow with the song beyond its
    (frames, channels) arrays.

    Args:
        cond: (P, E) music embedding over the plan's padded frames at this stage's rate.
        dim: C, motion channels.
        weights: guidance weight per step; steps, sampler, eta: the reverse process.
        low, level: (P, C) noised low-rate condition and its level (SSR stage).
        known, mask: (P, C) inpainting reference (normalised) and where it holds.
        clip: the x0 clamp (:func:`~choreo.models.diffusion.clip_bounds`).
        null: what guidance starts from: ``nothing`` (the null condition) or ``style`` (the null music with
            the style kept; a stage with styles).
        plain_channels: channels left unguided (:func:`guided_denoiser`).
        rescale: guidance rescale phi, 0..1 (:func:`guided_denoiser`).
    """
    if null not in GUIDANCE_FROM:
        raise ChoreoError(f"guidance_from must be one of {', '.join(GUIDANCE_FROM)}, got {null!r}")
    N, W = plan.n_windows, plan.window
    out = torch.empty(N, W, dim, device=cond.device)
    chunk = max(1, int(chunk_windows))
    lead: list[torch.Tensor] | None = None
    couple_plan = plan if coupled and plan.overlap > 0 else None
    for a in range(0, N, chunk):
        b = min(a + chunk, N)
        k_ab = m_ab = None
        if mask is not None:
            m_ab = split_windows(mask, plan, a, b)
            k_ab, m_ab = (split_windows(known, plan, a, b), m_ab) if bool(m_ab.any()) else (None, None)
        low_ab = split_windows(low, plan, a, b) if low is not None else None
        uncond = (null if null == "style" else True) if any(w != 1.0 for w in weights) else False
        ctx = model.prepare(split_windows(cond, plan, a, b), uncond, low_ab, level)
        gens = generators[a:b]
        x = randn_like(cond.new_empty(b - a, W, dim), gens)
        trail: list[torch.Tensor] = []
        prev = lead

        def post(x: torch.Tensor, t_next: int, i: int, k_ab=k_ab, m_ab=m_ab, gens=gens, trail=trail, prev=prev):
            if m_ab is not None:
                x = diffusion.constrain(x, k_ab, m_ab, t_next, gens)
            if couple_plan is not None and t_next >= 0:
                couple(x, couple_plan)
                if prev is not None:
                    x[0, : couple_plan.overlap] = prev[i][couple_plan.hop :]
                trail.append(x[-1].clone())
            return x

        needs_post = m_ab is not None or couple_plan is not None
        out[a:b] = diffusion.sample_loop(
            guided_denoiser(model, ctx, weights, tuple(plain_channels), float(rescale)),
            x,
            steps,
            sampler,
            eta,
            gens,
            post if needs_post else None,
            clip,
            on_step,
        )
        lead = trail if couple_plan is not None else None
    return out
