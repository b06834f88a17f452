"""DiffDance's training objective: the contrastive loss of stages 1-2 and the diffusion loss of both cascade stages.

Every random number of training sample i is drawn from generators seeded with the sample's seed and a purpose
(:func:`~choreo.seeding.sample_generators`), so resumed and multi-process runs draw the same numbers:

==========  ==============================================================================================
purpose     draws
==========  ==============================================================================================
1           the start of the contrastive clip in the window
2           base and SSR timesteps, condition dropout, noise, SSR augmentation level and noise, SSR crop
3           style dropout
4           music dropout (style kept)
==========  ==============================================================================================

Diffusion losses are EDGE's four terms (:func:`~choreo.models.edge.geometric_terms`) with the geometric ones
weighted per sample by :func:`timestep_weight`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch

from choreo.errors import ChoreoError
from choreo.models.diffdance.align import clamp_logit_scale, info_nce, overlap_mask, pool
from choreo.models.diffdance.framerate import decimate, upsample
from choreo.models.edge import geometric_terms
from choreo.seeding import sample_generators

if TYPE_CHECKING:
    from choreo.models.diffdance.method import DiffDanceMethod

CLIP_STARTS, DIFFUSION_DRAWS, STYLE_DROPOUT, MUSIC_DROPOUT = 1, 2, 3, 4


def timestep_weight(t: torch.Tensor, n_timesteps: int, decay: float = 0.1) -> torch.Tensor:
    """Weight of the geometric losses of a sample noised to timestep t (DiffDance's dynamic loss weight).

    The paper says the weight falls with t with a decay coefficient of 0.1 but gives no formula. choreo's:

        lambda(t) = decay ** (t / (T - 1))

    1 for the cleanest sample (t = 0), ``decay`` (0.1) for pure noise (t = T - 1), log-linear in between
    (sqrt(0.1) = 0.316 half-way); ``decay`` 1 weighs every timestep alike (EDGE). Rationale: at large t the
    network's x0 is a blurry mean of many dances whose joint speeds and foot contacts are not meant to match one
    of them, so velocity, FK and foot terms mostly add variance there; near t = 0 they carry the fine detail.

    Args:
        t: (B,) integer timesteps in 0 .. T - 1.
        n_timesteps: T.
    Returns:
        (B,) float weights.
    """
    frac = t.float() / max(1, n_timesteps - 1)
    return torch.pow(torch.tensor(float(decay), device=t.device), frac)


@contextlib.contextmanager
def eval_mode(*modules: torch.nn.Module) -> Iterator[None]:
    """Run frozen modules in eval mode (no dropout) inside a training step, then restore their modes."""
    modes = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        yield
    finally:
        for m, mode in zip(modules, modes, strict=True):
            m.train(mode)


def _clips(
    method: DiffDanceMethod, x: torch.Tensor, music: torch.Tensor, seeds: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random ``clip_seconds`` clip of every window (its start drawn from the sample's seed)."""
    W, n = x.shape[1], method.clip_frames
    if n >= W:
        return x, music
    starts = [int(torch.randint(0, W - n + 1, (1,), generator=g)) for g in sample_generators(seeds, CLIP_STARTS)]
    return (
        torch.stack([x[i, s : s + n] for i, s in enumerate(starts)]),
        torch.stack([music[i, s : s + n] for i, s in enumerate(starts)]),
    )


def contrastive_loss(
    method: DiffDanceMethod, x: torch.Tensor, music: torch.Tensor, seeds: torch.Tensor, phase: str
) -> tuple[torch.Tensor, float]:
    """Stage 1 (both encoders) or stage 2 (the adapter, encoders frozen): per-sample InfoNCE (B,) on clips.

    Args:
        x: (B, W, C) normalised motion windows; music: (B, W, F) their features; seeds: (B,) per-sample seeds.
        phase: ``encoders`` or ``adapter``.
    Returns:
        the loss (B,) and the stage's temperature (1 / the capped logit scale).
    """
    cfg = method.config
    motion_clip, music_clip = _clips(method, x, music, seeds)
    exclude = overlap_mask(music_clip) if cfg.mask_overlaps else None
    if phase == "encoders":
        a = method.music_encoder(music_clip)
        b = method.motion_encoder(motion_clip)
        scale = clamp_logit_scale(method.music_encoder.logit_scale, cfg.max_logit_scale)
    else:
        with torch.no_grad(), eval_mode(method.music_encoder, method.motion_encoder):
            frames = method.music_encoder(music_clip)
            b = method.motion_encoder(motion_clip)
        a = method.adapter(frames)
        scale = clamp_logit_scale(method.adapter.logit_scale, cfg.max_logit_scale)
    return info_nce(pool(a), pool(b), scale, exclude), float(1.0 / scale.detach())


def train_styles(method: DiffDanceMethod, labels: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
    """(B,) style labels (-1: unknown) -> (B,) indices, each made unknown with probability ``style_dropout``
    (its own draw per sample, so that turning styles on leaves every other random number as it was)."""
    unknown = len(method.styles)
    lab = labels.reshape(-1).long().cpu()
    lab = torch.where((lab < 0) | (lab >= unknown), torch.full_like(lab, unknown), lab)
    gens = sample_generators(seeds, STYLE_DROPOUT)
    drop = torch.cat([torch.rand(1, generator=g) < method.config.style_dropout for g in gens])
    return torch.where(drop, torch.full_like(lab, unknown), lab).to(method.device)


def _check_alignment(method: DiffDanceMethod, x: torch.Tensor, low: torch.Tensor) -> None:
    """The low-rate windows must start on full-rate frames that are multiples of r (exact decimation)."""
    js, r = method.representation.joints_start, method.factor
    n = min(low.shape[1], -(-x.shape[1] // r))
    err = (x[:, ::r][:, :n, js:] - low[:, :n, js:]).abs().max() if js < x.shape[2] else 0.0
    if float(err) > 1e-3:
        raise ChoreoError(
            f"the {method.low_fps:g} fps windows do not line up with the {method.fps:g} fps ones: make the "
            f"training stride a multiple of {r} frames (data.stride_seconds x fps)"
        )


def diffusion_loss(
    method: DiffDanceMethod,
    x: torch.Tensor,
    music: torch.Tensor,
    low: torch.Tensor,
    seeds: torch.Tensor,
    style: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict]:
    """Base and SSR losses per sample (B,) on the same windows (the encoders and adapter frozen).

    Args:
        x: (B, W, C) normalised full-rate windows; music: (B, W, F); low: (B, W / r, C) the same windows at
            ``low_fps`` (normalised real encoding); seeds: (B,); style: (B,) style indices or None.
    Returns:
        the loss and the terms to log: ``base_*`` and ``ssr_*`` (x0, vel, fk, foot; unweighted, (B,)) and
        ``geo_weight`` (the two stages' mean :func:`timestep_weight`).
    """
    cfg, r, T = method.config, method.factor, method.config.n_timesteps
    _check_alignment(method, x, low)
    B, W, C = x.shape
    x_low = method.to_stage(low)
    Wl = x_low.shape[1]
    Ws = min(method.ssr_window, W)
    aug_top = int(round(cfg.ssr_aug_max * (T - 1)))
    dev = x.device
    t_b, keep_b, noise_b, t_s, keep_s, noise_s, level, noise_aug, crops = ([] for _ in range(9))
    for g in sample_generators(seeds, DIFFUSION_DRAWS):  # every random number of sample i, in a fixed order
        t_b.append(torch.randint(0, T, (1,), generator=g))
        keep_b.append(torch.rand(1, generator=g) >= cfg.cond_dropout)
        noise_b.append(torch.randn((Wl, C), generator=g))
        t_s.append(torch.randint(0, T, (1,), generator=g))
        keep_s.append(torch.rand(1, generator=g) >= cfg.cond_dropout)
        noise_s.append(torch.randn((Ws, C), generator=g))
        level.append(torch.randint(0, aug_top + 1, (1,), generator=g))
        noise_aug.append(torch.randn((Ws, C), generator=g))
        crops.append(int(torch.randint(0, (W - Ws) // r + 1, (1,), generator=g)) * r)
    t_b, keep_b, t_s, keep_s, level = (torch.cat(v).to(dev) for v in (t_b, keep_b, t_s, keep_s, level))
    keep_style = None
    if cfg.music_dropout > 0 and style is not None:  # its own draws: every other random number stays as it was
        gens = sample_generators(seeds, MUSIC_DROPOUT)
        drop = torch.cat([torch.rand(1, generator=g) < cfg.music_dropout for g in gens])
        keep_style = drop.to(dev) & keep_b
        keep_b = keep_b & ~keep_style
    noise_b, noise_s, noise_aug = (torch.stack(v).to(dev) for v in (noise_b, noise_s, noise_aug))

    with torch.no_grad(), eval_mode(method.music_encoder, method.adapter):  # as at sampling: no dropout
        emb = method.embed_music(music)  # (B, W, E)
    # base stage: the low-rate dance over the whole window
    cond_b = method.with_style(decimate(emb, r, Wl), style)
    pred_b = method.base(method.diffusion.q_sample(x_low, t_b, noise_b), t_b, cond_b, keep_b, keep_style=keep_style)
    terms_b = _terms(method, pred_b, x_low, method.stage_to_real)
    # SSR stage: a crop of the full-rate window, given the upsampled, noised low-rate dance
    up = upsample(x_low, r, W)
    x_s = torch.stack([x[i, c : c + Ws] for i, c in enumerate(crops)])
    up_s = torch.stack([up[i, c : c + Ws] for i, c in enumerate(crops)])
    emb_s = torch.stack([emb[i, c : c + Ws] for i, c in enumerate(crops)])
    z = method.diffusion.q_sample(up_s, level, noise_aug)
    pred_s = method.ssr(method.diffusion.q_sample(x_s, t_s, noise_s), t_s, emb_s, keep_s, z, level)
    terms_s = _terms(method, pred_s, x_s, method.normalizer.denormalize)
    w_b = timestep_weight(t_b, T, cfg.loss_decay)
    w_s = timestep_weight(t_s, T, cfg.loss_decay)
    loss = weighted_loss(cfg, terms_b, w_b) + weighted_loss(cfg, terms_s, w_s)
    logs = {f"base_{k}": v.detach() for k, v in terms_b.items()}
    logs.update({f"ssr_{k}": v.detach() for k, v in terms_s.items()})
    logs["geo_weight"] = (0.5 * (w_b + w_s)).detach()
    return loss, logs


def _terms(method: DiffDanceMethod, pred: torch.Tensor, x0: torch.Tensor, denormalize) -> dict[str, torch.Tensor]:
    return geometric_terms(
        pred,
        x0,
        method.representation,
        denormalize,
        method.motion_channels,
        method.foot_joints,
        method.foot_contacts,
        method.config.contact_threshold,
    )


def weighted_loss(cfg, terms: dict[str, torch.Tensor], weight: torch.Tensor) -> torch.Tensor:
    """``loss_x0 L_x0 + weight (loss_vel L_vel + loss_fk L_fk + loss_foot L_foot)`` per sample (B,).

    Args:
        cfg: the :class:`~choreo.models.diffdance.config.DiffDanceConfig` (its loss weights).
        terms: ``x0``, ``vel``, ``fk``, ``foot``, each (B,); weight: (B,) :func:`timestep_weight`.
    """
    geo = cfg.loss_vel * terms["vel"] + cfg.loss_fk * terms["fk"] + cfg.loss_foot * terms["foot"]
    return cfg.loss_x0 * terms["x0"] + weight.to(geo.dtype) * geo
