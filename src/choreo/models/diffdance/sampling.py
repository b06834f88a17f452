"""DiffDance's sampler: windowed diffusion of one stage (:func:`sample_windows`) and the cascade of both
(:func:`cascade`).

Long dances: any stage samples overlapping windows (hop W/2) coupled as EDGE does (after every step but the last
the first W - H frames of window k + 1 become the last of window k), chunk by chunk so that memory stays bounded
on any song; inpainting constraints are re-imposed after every step. Window k of a stage draws all its noise from
its own generator (:func:`~choreo.seeding.stage_generators`), so the dance does not depend on the chunk size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from choreo.errors import ChoreoError
from choreo.models.diffdance.config import check_sampling
from choreo.models.diffdance.denoiser import StageContext, StageDenoiser
from choreo.models.diffdance.framerate import decimate, downsample_constraint, low_frames, upsample
from choreo.models.diffusion import GaussianDiffusion, clip_bounds, guidance_ramp, guided, randn_like
from choreo.models.edge import make_blend
from choreo.models.editing import Constraint
from choreo.models.longform import WindowPlan, couple, pad_frames, plan_windows, split_windows, stitch
from choreo.models.precision import autocast as network_precision
from choreo.models.progress import progress_bar
from choreo.seeding import stage_generators

if TYPE_CHECKING:
    from choreo.models.diffdance.method import DiffDanceMethod

#: the generator streams of one sampling run (:func:`~choreo.seeding.stage_generators`' ``stage``)
BASE_STREAM, SSR_STREAM, LEVEL_STREAM = 0, 1, 2


class CascadeResult(NamedTuple):
    """What :func:`cascade` makes: ``motion`` (L, C) at the full rate and ``low`` (n, C) at ``low_fps`` from the
    base stage, both real units in the representation's own encoding."""

    motion: np.ndarray
    low: np.ndarray
    low_fps: float


def guided_denoiser(model: StageDenoiser, ctx: StageContext, weights: list[float]):
    """``(x, t, step) -> x0`` with classifier-free guidance weight ``weights[step]`` (cond and null in one batch)."""
    n = ctx.n

    def fn(x: torch.Tensor, t: int, i: int) -> torch.Tensor:
        # the network may run in bf16 (autocast); the sampler's arithmetic stays float32
        w = weights[i]
        if w == 1.0 or not ctx.has_uncond:
            return model.forward_cached(x, t, ctx, slice(0, n)).float()
        if w == 0.0:
            return model.forward_cached(x, t, ctx, slice(n, 2 * n)).float()
        both = model.forward_cached(torch.cat((x, x), dim=0), t, ctx, slice(0, 2 * n)).float()
        return guided(both[:n], both[n:], w)

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
            the style kept; a stage with styles), checked by the caller (:func:`cascade`).
    """
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
            guided_denoiser(model, ctx, weights),
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


class _StageConstraint(NamedTuple):
    """An editing constraint as one stage sees it: normalised reference and mask over the plan's padded frames,
    and (base stage) the real-unit reference it is re-imposed with after stitching."""

    known: torch.Tensor
    mask: torch.Tensor
    real: np.ndarray | None = None
    real_mask: np.ndarray | None = None


def _stage_constraints(
    method: DiffDanceMethod, constraint: Constraint | None, frames: int, n_low: int, ssr_frames: int, base_frames: int
) -> tuple[_StageConstraint | None, _StageConstraint | None]:
    """A full-rate constraint (real units) for the SSR stage as given and for the base stage decimated
    (:func:`~choreo.models.diffdance.framerate.downsample_constraint`): (base, ssr), each None where nothing holds."""
    if constraint is None or not constraint.mask.any():
        return None, None
    C, dev = method.representation.dim, method.device
    known = torch.zeros(ssr_frames, C, device=dev)
    mask = torch.zeros(ssr_frames, C, dtype=torch.bool, device=dev)
    known[:frames] = method.normalize_real(constraint.known)
    mask[:frames] = torch.as_tensor(constraint.mask, device=dev)
    # full-rate displacements are already per full-rate frame: the stage's unit
    k_low, m_low = downsample_constraint(
        np.asarray(constraint.known, np.float32),
        np.asarray(constraint.mask, bool),
        method.factor,
        n_low,
        tuple(method.representation.root_velocity_channels),
    )
    base = None
    if m_low.any():
        known_low = torch.zeros(base_frames, C, device=dev)
        mask_low = torch.zeros(base_frames, C, dtype=torch.bool, device=dev)
        known_low[:n_low] = method.normalize_real(k_low)
        mask_low[:n_low] = torch.as_tensor(m_low, device=dev)
        base = _StageConstraint(known_low, mask_low, k_low, m_low)
    return base, _StageConstraint(known, mask)


def cascade(
    method: DiffDanceMethod,
    music,
    seed: int = 0,
    constraint: Constraint | None = None,
    progress: bool = False,
    chunk_windows: int | None = None,
    ramp: bool | None = None,
    coupled: bool = True,
    **options,
) -> CascadeResult:
    """Both stages for one song of any length: the low-rate dance, then the full-rate one.

    1. The music embedding of the whole song (encoder and adapter, one pass, memory linear in its length).
    2. Base stage over the whole song at ``low_fps``: windows of ``base_window`` frames every half window,
       coupled and chunked (:func:`sample_windows`), stitched by cross-fading.
    3. SSR stage: the low-rate dance upsampled linearly to full rate and noised once to level ``noise_level``,
       then ``ssr_window`` windows every half window, coupled, chunked and stitched.

    Editing: ``constraint`` (full rate, real units) is imposed at the SSR stage as given and at the base stage
    decimated (:func:`~choreo.models.diffdance.framerate.downsample_constraint`), by inpainting after every step;
    both outputs equal it exactly where it holds. A seed motion over the first frames is a continuation.

    Args:
        method: a :class:`~choreo.models.diffdance.method.DiffDanceMethod`.
        music: (L, F) features at the model fps.
        seed: the base windows, the SSR windows and the augmentation noise draw from generators derived
            from (seed, stream, window).
        chunk_windows: most windows per batched forward (default the config's).
        ramp: ramp the guidance from 0 to w over the first half of the steps (default: when a stage has
            more than one coupled window, as EDGE does).
        coupled: False samples windows independently, end to end (an ablation that shows seams).
        options: the sampling options (:data:`~choreo.models.diffdance.config.SAMPLING_OPTIONS`; None or absent:
            the config's), checked by :func:`~choreo.models.diffdance.config.check_sampling`. ``guidance_from``:
            ``nothing``: the base stage's guidance weighs music and style together against neither; ``style``:
            the music against the same style without it (a model trained with ``music_dropout``).
    """
    o = check_sampling(method.sampling_settings(**options), method.config.style_guidance)
    style_idx = method.style_index(o["style"])
    m = method.check_music(music)
    L, C, r = m.shape[0], method.representation.dim, method.factor
    if constraint is not None and constraint.known.shape != (L, C):
        raise ChoreoError(f"edit constraint has shape {constraint.known.shape}, expected ({L}, {C})")
    n_low = low_frames(L, r)
    Wb, Ws = method.base_window, method.ssr_window
    base_plan = plan_windows(n_low, Wb, None if coupled else Wb)
    ssr_plan = plan_windows(L, Ws, None if coupled else Ws)
    full = max(r * (base_plan.padded_frames - 1) + 1, ssr_plan.padded_frames)
    feats = torch.as_tensor(pad_frames(m.cpu().numpy(), full), device=method.device)
    emb = method.embed_music(feats[None])[0]  # (full, E)
    cond_low = decimate(emb[None], r, base_plan.padded_frames)
    cond_low = method.with_style(cond_low, torch.full((1,), style_idx, device=method.device))[0]
    edit_low, edit = _stage_constraints(method, constraint, L, n_low, ssr_plan.padded_frames, base_plan.padded_frames)

    chunk = max(1, int(chunk_windows or method.config.chunk_windows))
    total = o["steps"] * -(-base_plan.n_windows // chunk) + o["ssr_steps"] * -(-ssr_plan.n_windows // chunk)
    bar = progress_bar(total, progress)
    blend = make_blend(method.representation)

    def weights(w: float, n_steps: int, plan: WindowPlan) -> list[float]:
        use = (plan.n_windows > 1 and coupled) if ramp is None else ramp
        return guidance_ramp(w, n_steps) if use else [w] * n_steps

    common = dict(sampler=o["sampler"], eta=o["eta"], chunk_windows=chunk, coupled=coupled, on_step=bar.update)
    common["clip"] = clip_bounds(method.normalizer, method.device)
    with network_precision(str(o["precision"]), method.device):
        low_w = sample_windows(
            method.base,
            method.diffusion,
            base_plan,
            cond_low,
            C,
            weights=weights(o["guidance"], o["steps"], base_plan),
            steps=o["steps"],
            generators=stage_generators(seed, BASE_STREAM, base_plan.n_windows),
            known=None if edit_low is None else edit_low.known,
            mask=None if edit_low is None else edit_low.mask,
            null=o["guidance_from"],
            **common,
        )
        stage_real = stitch(method.denormalize_real(low_w), base_plan, blend)  # (n_low, C), stage units
        if edit_low is not None:
            stage_real = np.where(edit_low.real_mask, edit_low.real, stage_real).astype(np.float32)

        level = int(round(o["noise_level"] * (method.config.n_timesteps - 1)))
        up = upsample(method.normalize_real(stage_real), r, ssr_plan.padded_frames)
        z = method.diffusion.q_sample(up, level, randn_like(up, stage_generators(seed, LEVEL_STREAM, 1)[0]))
        out = sample_windows(
            method.ssr,
            method.diffusion,
            ssr_plan,
            emb[: ssr_plan.padded_frames],
            C,
            weights=weights(o["ssr_guidance"], o["ssr_steps"], ssr_plan),
            steps=o["ssr_steps"],
            generators=stage_generators(seed, SSR_STREAM, ssr_plan.n_windows),
            low=z,
            level=level,
            known=None if edit is None else edit.known,
            mask=None if edit is None else edit.mask,
            **common,
        )
    bar.close()
    motion = stitch(method.denormalize_real(out), ssr_plan, blend)
    travel = list(method.representation.root_velocity_channels)
    if o["ssr_root"] == "base" and travel:
        # stage units hold displacements per full-rate frame already: interpolate, do not rescale
        up_real = upsample(torch.as_tensor(stage_real[None]), r, motion.shape[0])[0].numpy()
        motion[:, travel] = up_real[:, travel]
    if constraint is not None:
        motion = np.where(constraint.mask, constraint.known, motion).astype(np.float32)
    low = (stage_real * method.stage_scale.cpu().numpy()).astype(np.float32)
    return CascadeResult(motion.astype(np.float32), low, method.low_fps)
