"""DiffDance (Qi et al., ACM MM 2023): cascaded music-to-dance diffusion with a contrastive music embedding.

:class:`DiffDanceMethod` is one method with five named components:

- ``music_encoder`` and ``motion_encoder`` (:class:`~choreo.models.align.SequenceEncoder`): per-frame
  embeddings of the music features and of the motion, trained together with InfoNCE (stage 1);
- ``adapter`` (:class:`~choreo.models.align.Adapter`): the paper's 2-layer MLP on the music embedding,
  trained with InfoNCE against the frozen motion encoder (stage 2);
- ``base`` (:class:`~choreo.models.cascade.StageDenoiser`): diffusion over the dance at the low frame rate
  ``low_fps`` (the data's ``motion@<low_fps>``, paper 15 fps) over the long training window (paper 20 s);
  with ``style_cond`` (choreo's addition) it also takes the dance style as a one-hot code beside the music;
- ``ssr``: sequence super-resolution diffusion at the full rate, conditioned on the low-rate dance
  (channel-concatenated, noised to a conditioning-augmentation level s that is an input).

Training runs in one run folder with three optimisers, one stage after the other (:meth:`phases`): the
encoders for ``encoder_steps`` steps, the adapter for ``adapter_steps``, then base and SSR together to the
end; each has its own learning-rate schedule over its own steps. Diffusion losses are EDGE's four terms with
the geometric ones weighted per sample by :func:`timestep_weight`.

Units: motion tensors are normalised to [-1, 1] by the data's (full-rate) normaliser. The base stage works
on the low-rate dance with its ``+rootvel`` displacement channels divided by the rate ratio ``r`` (metres per
full-rate frame, the unit the normaliser was fitted on, so they stay in range and upsample directly).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from choreo.errors import ChoreoError
from choreo.models.align import (
    Adapter,
    SequenceEncoder,
    augment_features,
    clamp_logit_scale,
    frame_info_nce,
    info_nce,
    overlap_mask,
    pool,
)
from choreo.models.cascade import (
    CONDITIONING,
    GUIDANCE_FROM,
    StageDenoiser,
    decimate,
    downsample_constraint,
    low_frames,
    sample_windows,
    upsample,
)
from choreo.models.diffusion import SAMPLERS, GaussianDiffusion, clip_bounds, guidance_ramp, randn_like
from choreo.models.edge import _non_contact_channels, geometric_terms, make_blend
from choreo.models.editing import Constraint
from choreo.models.longform import pad_frames, plan_windows, stitch
from choreo.models.method import Method, Optimization, config_from_dict, style_index
from choreo.models.precision import autocast as network_precision
from choreo.models.precision import resolve as resolve_precision

WEIGHTINGS = ("exponential", "constant")
#: where the full-rate dance's root travel comes from (:attr:`DiffDanceConfig.ssr_root`)
SSR_ROOTS = ("ssr", "base")
PHASES = ("encoders", "adapter", "diffusion")


def check_ssr_root(name: str) -> None:
    """A ChoreoError unless ``name`` is one of :data:`SSR_ROOTS`."""
    if name not in SSR_ROOTS:
        raise ChoreoError(f"unknown ssr_root {name!r} (known: {', '.join(SSR_ROOTS)})")


def check_guidance_from(name: str) -> None:
    if name not in GUIDANCE_FROM:
        raise ChoreoError(f"guidance_from must be one of {', '.join(GUIDANCE_FROM)}, got {name!r}")


def timestep_weight(t: torch.Tensor, n_timesteps: int, decay: float = 0.1, kind: str = "exponential") -> torch.Tensor:
    """Weight of the geometric losses of a sample noised to timestep t (DiffDance's dynamic loss weight).

    The paper says the weight falls with t with a decay coefficient of 0.1 but gives no formula. choreo's:

        lambda(t) = decay ** (t / (T - 1))    (``exponential``; ``constant``: lambda = 1, EDGE)

    1 for the cleanest sample (t = 0), ``decay`` (0.1) for pure noise (t = T - 1), log-linear in between
    (sqrt(0.1) = 0.316 half-way). Rationale: at large t the network's x0 is a blurry mean of many dances whose
    joint speeds and foot contacts are not meant to match one of them, so velocity, FK and foot terms
    mostly add variance there; near t = 0 they carry the fine detail.

    Args:
        t: (B,) integer timesteps in 0 .. T - 1.
        n_timesteps: T.
    Returns:
        (B,) float weights.
    """
    if kind == "constant":
        return torch.ones(t.shape, dtype=torch.float32, device=t.device)
    if kind != "exponential":
        raise ChoreoError(f"unknown loss weighting {kind!r} (known: {', '.join(WEIGHTINGS)})")
    frac = t.float() / max(1, n_timesteps - 1)
    return torch.pow(torch.tensor(float(decay), device=t.device), frac)


@dataclass
class DiffDanceConfig:
    """DiffDance's settings. Defaults follow the paper where it says (research.md), choreo's choice elsewhere.

    Attributes:
        low_fps: the base stage's frame rate (None: the data's first ``extra_fps``); it must divide the data
            fps by a whole number r (25 -> 12.5: r = 2; 60 -> 15: r = 4).
        base_window: base window in low-rate frames (None: the training window at the low rate).
        ssr_window: SSR window in full-rate frames (training crop and sampling window; hop half of it).
        embed_dim, encoder_width, encoder_layers, encoder_kernel: the two encoders (E, hidden, depth, kernel).
        adapter_hidden: the adapter's hidden units (paper 512).
        clip_seconds: length of the contrastive clips (paper 6 s; cut at random from each training window).
        temperature: initial InfoNCE temperature of both contrastive stages (learned); max_logit_scale: cap
            of its inverse.
        encoder_steps, adapter_steps: global steps of stage 1 and 2 (the diffusion stage runs to the end).
        encoder_lr, adapter_lr, align_weight_decay, align_warmup: AdamW for both contrastive stages (cosine
            decay to 10 % over each stage, linear warm-up of at most ``align_warmup`` steps).
        music_standardize: standardise the music features per channel inside the music encoder (statistics
            of the first training batch, kept in the checkpoint); off in checkpoints made before it existed.
        encoder_dropout: dropout inside both encoders' blocks (stage 1 only: frozen encoders run without it).
        mask_overlaps: drop from the InfoNCE negatives the clips of the same recording at overlapping times
            (:func:`~choreo.models.align.overlap_mask`): they are the same dance, not a negative.
        music_noise, music_shift, music_gain: augmentation of the music clips in both contrastive stages
            (:func:`~choreo.models.align.augment_features`, in standard deviations of each channel; the 0/1
            beat and onset channels are left exact). motion_noise: Gaussian noise on the normalised motion
            clips (stage 1).
        clip_nce, frame_nce: weights of the two contrastive terms in both stages: the paper's InfoNCE on
            clip embeddings (mean of the frames, normalised) and the InfoNCE on the time-aligned similarity
            ``mean_t cos(music_t, dance_t)`` (:func:`~choreo.models.align.frame_similarity`), which can see
            whether the dance's steps fall on the music's beats; one temperature serves both.
        conditioning: ``add`` (music embedding added to the timestep embedding, the paper's) or ``cross``.
        width, layers, heads, ff_size: the base transformer; ssr_width, ssr_layers, ssr_heads, ssr_ff_size:
            the SSR one (paper 12 layers, width 768, 6 heads for both); dropout: both (paper 0.1).
        n_timesteps, schedule, cosine_s: the diffusion of both stages.
        cond_dropout: probability of training with the null music (paper 10 %).
        style_cond: the base stage also takes the dance style (not in the paper; choreo's, MODEL_CARD.md):
            a one-hot code beside the music embedding, from ``data.style_labels`` in training. At sampling the
            style is the ``style`` option, else what :class:`~choreo.metrics.music_style.StyleClassifier`
            hears in the song (``choreo.generate``), else unknown. style_dropout: probability of training a
            window with its style unknown (independent of ``cond_dropout``), so that unknown is a style too.
        music_dropout: probability of training a base window with its music dropped and its style kept (the
            null embedding plus the style; its own draw, independent of the two above), so that guidance can
            start from the style alone (``guidance_from: style``). Needs ``style_cond``.
        ssr_aug_max: the SSR's conditioning augmentation draws s uniformly in 0 .. ssr_aug_max (T - 1) in
            training (a fraction of the SSR's noise schedule).
        loss_x0, loss_vel, loss_fk, loss_foot: loss weights (paper: 1.0 for every geometric loss).
        loss_weighting, loss_decay: :func:`timestep_weight` (``exponential`` with 0.1, or ``constant``).
        contact_threshold: predicted contact above which the foot loss applies (EDGE's 0.95).
        guidance, steps, sampler, eta: sampling defaults of the base stage (paper: w = 2.5, 100 steps).
        precision: the networks' precision at sampling, ``fp32``, ``bf16`` or ``auto`` (:mod:`choreo.models.precision`).
        ssr_guidance, ssr_steps: the SSR stage's (None: the base stage's).
        noise_level: s at sampling, a fraction of the SSR schedule (0: the base output as it is).
        style: the style to dance (a name the model knows; None: from the song, else unknown).
        guidance_from: what the base stage's guidance weighs the music and style against: ``nothing`` (the
            null condition, the paper's) or ``style`` (the same style with the music dropped: guidance then
            weighs only the music; a model trained with ``music_dropout``).
        guide_root_height: guide the root's height channel with the rest (True, as published). False takes
            it from the conditional prediction (guidance 1) while the body is guided: guidance multiplies any
            offset between the two predictions' heights, which made a standardised model's dancer float
            (docs/diffdance.md, "Guidance from the style").
        guidance_rescale: phi of guidance rescale (Lin et al., WACV 2024) at both stages, 0 (plain guidance, as
            published) .. 1: each window's guided x0 is pulled back to the conditional prediction's spread
            (:func:`~choreo.models.diffusion.rescale_guided`).
        ssr_root: where the full-rate dance's root travel (the ``+rootvel`` horizontal displacements) comes
            from: ``ssr`` (the SSR's output, as published) or ``base`` (the base stage's, upsampled linearly; the
            SSR then refines the body and the root height). An undertrained SSR can lose the travel of a base
            dance unlike the real ones it was trained on (MODEL_CARD.md).
        chunk_windows: most windows per batched forward at sampling (bounds memory).
        rotary_theta: base of the rotary position frequencies.
    """

    low_fps: float | None = None
    base_window: int | None = None
    ssr_window: int = 120
    embed_dim: int = 256
    encoder_width: int = 256
    encoder_layers: int = 4
    encoder_kernel: int = 5
    adapter_hidden: int = 512
    clip_seconds: float = 6.0
    temperature: float = 0.07
    max_logit_scale: float = 100.0
    encoder_steps: int = 2000
    adapter_steps: int = 1000
    encoder_lr: float = 3e-4
    adapter_lr: float = 1e-4
    align_weight_decay: float = 0.01
    align_warmup: int = 100
    music_standardize: bool = False
    encoder_dropout: float = 0.0
    mask_overlaps: bool = False
    music_noise: float = 0.0
    music_shift: float = 0.0
    music_gain: float = 0.0
    motion_noise: float = 0.0
    clip_nce: float = 1.0
    frame_nce: float = 0.0
    conditioning: str = "add"
    width: int = 768
    layers: int = 12
    heads: int = 6
    ff_size: int = 3072
    ssr_width: int = 768
    ssr_layers: int = 12
    ssr_heads: int = 6
    ssr_ff_size: int = 3072
    dropout: float = 0.1
    n_timesteps: int = 1000
    schedule: str = "cosine"
    cosine_s: float = 0.008
    cond_dropout: float = 0.1
    style_cond: bool = False
    style_dropout: float = 0.1
    music_dropout: float = 0.0
    ssr_aug_max: float = 0.5
    loss_x0: float = 1.0
    loss_vel: float = 1.0
    loss_fk: float = 1.0
    loss_foot: float = 1.0
    loss_weighting: str = "exponential"
    loss_decay: float = 0.1
    contact_threshold: float = 0.95
    guidance: float = 2.5
    steps: int = 100
    sampler: str = "ddim"
    eta: float = 1.0
    precision: str = "fp32"
    ssr_guidance: float | None = None
    ssr_steps: int | None = None
    noise_level: float = 0.05
    ssr_root: str = "ssr"
    style: str | None = None
    guidance_from: str = "nothing"
    guide_root_height: bool = True
    guidance_rescale: float = 0.0
    chunk_windows: int = 16
    rotary_theta: float = 10000.0

    @classmethod
    def from_dict(cls, d: dict | None) -> DiffDanceConfig:
        """Build from a plain dict (unknown keys and impossible values are a ChoreoError naming them)."""
        cfg = config_from_dict(cls, d, "DiffDance model")
        if cfg.sampler not in SAMPLERS:
            raise ChoreoError(f"unknown sampler {cfg.sampler!r} (known: {', '.join(SAMPLERS)})")
        if cfg.conditioning not in CONDITIONING:
            raise ChoreoError(f"unknown conditioning {cfg.conditioning!r} (known: {', '.join(CONDITIONING)})")
        if cfg.loss_weighting not in WEIGHTINGS:
            raise ChoreoError(f"unknown loss weighting {cfg.loss_weighting!r} (known: {', '.join(WEIGHTINGS)})")
        if cfg.encoder_steps < 0 or cfg.adapter_steps < 0:
            raise ChoreoError("encoder_steps and adapter_steps must be >= 0")
        if not 0.0 <= cfg.ssr_aug_max <= 1.0 or not 0.0 <= cfg.noise_level <= 1.0:
            raise ChoreoError("ssr_aug_max and noise_level are fractions of the noise schedule, in 0..1")
        check_ssr_root(cfg.ssr_root)
        if not 0.0 < cfg.loss_decay <= 1.0:
            raise ChoreoError(f"loss_decay must be in (0, 1], got {cfg.loss_decay}")
        if not 0.0 <= cfg.encoder_dropout < 1.0:
            raise ChoreoError(f"encoder_dropout must be in [0, 1), got {cfg.encoder_dropout}")
        amounts = (cfg.music_noise, cfg.music_shift, cfg.music_gain, cfg.motion_noise)
        if min(amounts) < 0:
            raise ChoreoError("music_noise, music_shift, music_gain and motion_noise must be >= 0")
        if not 0.0 <= cfg.style_dropout <= 1.0:
            raise ChoreoError(f"style_dropout is a probability, got {cfg.style_dropout}")
        if not 0.0 <= cfg.music_dropout <= 1.0:
            raise ChoreoError(f"music_dropout is a probability, got {cfg.music_dropout}")
        if cfg.music_dropout > 0 and not cfg.style_cond:
            raise ChoreoError("music_dropout keeps the style while the music is dropped: it needs style_cond: true")
        check_guidance_from(cfg.guidance_from)
        if min(cfg.clip_nce, cfg.frame_nce) < 0 or cfg.clip_nce + cfg.frame_nce <= 0:
            raise ChoreoError("clip_nce and frame_nce must be >= 0, and not both 0")
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class CascadeResult(NamedTuple):
    """What :meth:`DiffDanceMethod.cascade` makes: ``motion`` (L, C) at the full rate and ``low`` (n, C) at
    ``low_fps`` from the base stage, both real units in the representation's own encoding."""

    motion: np.ndarray
    low: np.ndarray
    low_fps: float


def _generators(seed: int, stage: int, n: int) -> list[torch.Generator]:
    """``n`` independent CPU generators for one stage of one sampling run, from (seed, stage, k)."""
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(seed) >> 32 & 0xFFFFFFFF, 0xD1FF, int(stage)])
    return [torch.Generator().manual_seed(int(s.generate_state(1, np.uint64)[0] >> np.uint64(1))) for s in ss.spawn(n)]


@contextlib.contextmanager
def _eval_mode(*modules: torch.nn.Module) -> Iterator[None]:
    """Run frozen modules in eval mode (no dropout) inside a training step, then restore their modes."""
    modes = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        yield
    finally:
        for m, mode in zip(modules, modes, strict=True):
            m.train(mode)


def _sample_generators(seeds: torch.Tensor, purpose: int) -> list[torch.Generator]:
    """One generator per training sample, from its seed and what the draws are for."""
    from choreo.train.sampling import mix_seed

    return [torch.Generator().manual_seed(int(mix_seed(int(s), purpose))) for s in seeds.reshape(-1).tolist()]


class DiffDanceMethod(Method):
    """DiffDance as a trainable and samplable method (see the module docstring).

    Args:
        config: :class:`DiffDanceConfig`.
        spec: the data spec: ``representation``, ``normalizer``, ``feature_dim``, ``fps``, ``window_frames``
            and ``extra_fps`` (must hold ``low_fps``: set ``data.extra_fps`` in the run config).
    """

    name = "diffdance"
    produces = "dance"
    ema_components = ("base", "ssr")
    sampling_options = (
        "guidance",
        "steps",
        "sampler",
        "eta",
        "precision",
        "ssr_guidance",
        "ssr_steps",
        "noise_level",
        "ssr_root",
        "style",
        "guidance_from",
        "guide_root_height",
        "guidance_rescale",
    )

    def __init__(self, config: DiffDanceConfig, spec):
        super().__init__(config, spec)
        if spec.representation is None or spec.normalizer is None:
            raise ChoreoError("DiffDance needs a motion representation and a fitted normaliser")
        rep = spec.representation
        self.representation, self.normalizer = rep, spec.normalizer
        self.feature_dim, self.fps = int(spec.feature_dim), float(spec.fps)
        extra = tuple(float(f) for f in (spec.extra_fps or ()))
        low = float(config.low_fps) if config.low_fps is not None else (extra[0] if extra else None)
        if low is None or low <= 0:
            raise ChoreoError(
                "DiffDance's base stage needs the motion at a lower frame rate: set data.extra_fps (e.g. "
                f"[{self.fps / 2:g}]) and optionally model.low_fps"
            )
        ratio = self.fps / low
        if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            raise ChoreoError(
                f"the base frame rate {low:g} must divide the data's {self.fps:g} fps a whole number of times"
            )
        self.low_fps, self.factor = low, int(round(ratio))
        self.low_key = f"motion@{low:g}"
        W = int(spec.window_frames)
        self.window_frames = W
        self.base_window = int(config.base_window or max(2, int(round(W / self.factor))))
        self.ssr_window = int(max(2, config.ssr_window))
        self.clip_frames = max(2, min(W, int(round(config.clip_seconds * self.fps))))
        C, E = rep.dim, int(config.embed_dim)
        self.styles: tuple[str, ...] = tuple(str(s) for s in (getattr(spec, "styles", None) or ()))
        if config.style_cond and not self.styles:
            raise ChoreoError(
                "style_cond needs style labels: set data.style_labels: true, with a data folder whose sequence "
                "names tell their styles (Dance with Melody, AIST++)"
            )
        if not config.style_cond:
            self.styles = ()

        self.music_encoder = SequenceEncoder(
            self.feature_dim,
            config.encoder_width,
            E,
            config.encoder_layers,
            config.encoder_kernel,
            config.encoder_dropout,
            temperature=config.temperature,
            standardize=config.music_standardize,
        )
        self.motion_encoder = SequenceEncoder(
            C, config.encoder_width, E, config.encoder_layers, config.encoder_kernel, config.encoder_dropout
        )
        self.adapter = Adapter(E, config.adapter_hidden, config.temperature)
        self.base = StageDenoiser(
            C,
            E,
            config.width,
            config.layers,
            config.heads,
            config.ff_size,
            config.dropout,
            0,
            config.conditioning,
            config.rotary_theta,
            len(self.styles) + 1 if self.styles else 0,
        )
        self.ssr = StageDenoiser(
            C,
            E,
            config.ssr_width,
            config.ssr_layers,
            config.ssr_heads,
            config.ssr_ff_size,
            config.dropout,
            C,
            config.conditioning,
            config.rotary_theta,
        )
        self.diffusion = GaussianDiffusion(config.n_timesteps, config.schedule, config.cosine_s)
        self._motion_channels = torch.as_tensor(_non_contact_channels(rep))
        contacts = np.arange(rep.dim)[rep.contact_channels]
        feet = [(i, j) for i, j in enumerate(rep.skeleton.feet) if j >= 0 and i < len(contacts)]
        self._foot_joints = [j for _, j in feet]
        self._foot_contacts = [int(contacts[i]) for i, _ in feet]
        # low-rate displacement channels are kept per full-rate frame (see the module docstring)
        scale = np.ones(C, np.float32)
        scale[list(rep.root_velocity_channels)] = float(self.factor)
        self.register_buffer("_stage_scale", torch.from_numpy(scale), persistent=False)

    # ---- units -------------------------------------------------------------------------------------------
    def _to_stage(self, low: torch.Tensor) -> torch.Tensor:
        """Normalised low-rate data (real encoding at ``low_fps``) -> normalised stage units."""
        if not self.representation.root_velocity_channels:
            return low
        real = self.normalizer.denormalize(low.double()) / self._stage_scale.double()
        return self.normalizer.normalize(real).to(low.dtype)

    def _stage_to_real(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised stage units -> real units of the encoding at ``low_fps`` (differentiable)."""
        return self.normalizer.denormalize(x) * self._stage_scale.to(x.dtype)

    def embed_music(self, music: torch.Tensor) -> torch.Tensor:
        """(B, T, F) features -> (B, T, E) adapted per-frame embedding, the diffusion models' condition."""
        return self.adapter(self.music_encoder(music))

    @torch.inference_mode()
    def clip_embeddings(self, motion: torch.Tensor, music: torch.Tensor, batch: int = 256) -> dict[str, torch.Tensor]:
        """Unit-length clip embeddings of paired clips, for retrieval (:func:`~choreo.models.align.retrieval_report`).

        Args:
            motion: (N, T, C) normalised motion clips at the model fps; music: (N, T, F) their features.
        Returns:
            ``{"motion": (N, E), "music": (N, E) before the adapter (stage 1), "adapted": (N, E) after it}``.
        """
        out: dict[str, list[torch.Tensor]] = {"motion": [], "music": [], "adapted": []}
        for a in range(0, motion.shape[0], batch):
            x = motion[a : a + batch].to(self.device, torch.float32)
            m = music[a : a + batch].to(self.device, torch.float32)
            frames = self.music_encoder(m)
            out["motion"].append(self.motion_encoder.embed(x).cpu())
            out["music"].append(pool(frames).cpu())
            out["adapted"].append(pool(self.adapter(frames)).cpu())
        return {k: torch.cat(v) for k, v in out.items()}

    @torch.inference_mode()
    def frame_embeddings(self, motion: torch.Tensor, music: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-frame embeddings of paired clips, for time-aligned retrieval (``align.frame_similarity``).

        Args:
            motion: (N, T, C) normalised motion clips; music: (N, T, F) their features.
        Returns:
            ``{"motion", "music", "adapted"}``, each (N, T, E) (not normalised).
        """
        x = motion.to(self.device, torch.float32)
        frames = self.music_encoder(music.to(self.device, torch.float32))
        return {"motion": self.motion_encoder(x).cpu(), "music": frames.cpu(), "adapted": self.adapter(frames).cpu()}

    def phase_of(self, step: int) -> str:
        """``encoders``, ``adapter`` or ``diffusion``: which stage global step ``step`` trains."""
        cfg = self.config
        if step < cfg.encoder_steps:
            return "encoders"
        if step < cfg.encoder_steps + cfg.adapter_steps:
            return "adapter"
        return "diffusion"

    # ---- training ----------------------------------------------------------------------------------------
    def configure_optimizers(self, train) -> dict[str, Optimization]:
        """Three optimisers, each with its own schedule over its own stage's steps.

        ``encoders`` and ``adapter``: AdamW (``encoder_lr`` / ``adapter_lr``, weight decay on matrices only,
        never on the temperature), warm-up then cosine to 10 %; ``diffusion``: the run's optimiser and schedule
        (``train.optimizer``, ``lr``, ``warmup_steps``, ``schedule``) over the steps left after both stages.
        """
        from choreo.optim import build_optimizer, warmup_schedule

        cfg = self.config

        def groups(modules) -> list[dict]:
            decay, plain = [], []
            for m in modules:
                for p in m.parameters():
                    (decay if p.ndim >= 2 else plain).append(p)
            return [{"params": decay}, {"params": plain, "weight_decay": 0.0}]

        def align_opt(modules, lr: float, steps: int) -> Optimization:
            g = groups(modules)
            opt = build_optimizer(
                g, train, optimizer="adamw", lr=lr, weight_decay=cfg.align_weight_decay, betas=(0.9, 0.999)
            )
            warm = min(cfg.align_warmup, max(0, steps // 10))
            sched = warmup_schedule(opt, warm, max(1, steps), "cosine", 0.1)
            return Optimization(opt, sched, [p for x in g for p in x["params"]])

        diff_params = list(self.base.parameters()) + list(self.ssr.parameters())
        opt = build_optimizer(diff_params, train)
        left = max(1, int(train.steps) - cfg.encoder_steps - cfg.adapter_steps)
        sched = warmup_schedule(opt, train.warmup_steps, left, train.schedule, train.min_lr_ratio)
        return {
            "encoders": align_opt([self.music_encoder, self.motion_encoder], cfg.encoder_lr, cfg.encoder_steps),
            "adapter": align_opt([self.adapter], cfg.adapter_lr, cfg.adapter_steps),
            "diffusion": Optimization(opt, sched, diff_params),
        }

    def phases(self, step: int) -> tuple[str, ...]:
        return (self.phase_of(step),)

    def training_loss(
        self, batch: dict, phase: str = "diffusion", step: int = 0, epoch: float = 0.0
    ) -> tuple[torch.Tensor, dict]:
        """Per-sample loss (B,) of one stage on ``{"motion", "music", "motion@<low_fps>", "seed"}``.

        Every phase logs the same terms (NaN where the phase does not compute them, so that one log.csv
        holds all stages): ``stage`` (0, 1, 2), ``nce`` and ``temperature`` (contrastive stages),
        ``base_*`` and ``ssr_*`` (x0, vel, fk, foot; unweighted) and ``geo_weight`` (diffusion).
        """
        if phase not in PHASES:
            raise ChoreoError(f"DiffDance has no training phase {phase!r} ({', '.join(PHASES)})")
        dev = self.device
        x = batch["motion"].to(dev, torch.float32)
        seeds = batch.get("seed")
        if seeds is None:
            seeds = torch.arange(x.shape[0])
        nan = float("nan")
        logs: dict = {"stage": float(PHASES.index(phase)), "nce": nan, "temperature": nan, "geo_weight": nan}
        for stage in ("base", "ssr"):
            for k in ("x0", "vel", "fk", "foot"):
                logs[f"{stage}_{k}"] = nan
        music = batch["music"].to(dev, torch.float32)
        if self.training:  # the first training batch sets the music standardisation (a no-op afterwards)
            self.music_encoder.fit_input_stats(music)
        if phase in ("encoders", "adapter"):
            loss, temp = self._contrastive_loss(x, music, seeds, phase)
            logs.update(nce=loss.detach(), temperature=temp)
            return loss, logs
        if self.low_key not in batch:
            raise ChoreoError(
                f"the batches lack {self.low_key!r}: set data.extra_fps: [{self.low_fps:g}] in the config"
            )
        style = None
        if self.styles:
            if "style" not in batch:
                raise ChoreoError("this model takes dance styles: the batches lack 'style' (data.style_labels: true)")
            style = self._train_styles(batch["style"], seeds)
        loss, terms = self._diffusion_loss(x, music, batch[self.low_key].to(dev, torch.float32), seeds, style)
        logs.update(terms)
        return loss, logs

    def _clips(self, x: torch.Tensor, music: torch.Tensor, seeds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A random ``clip_seconds`` clip of every window (its start drawn from the sample's seed)."""
        W, n = x.shape[1], self.clip_frames
        if n >= W:
            return x, music
        starts = [int(torch.randint(0, W - n + 1, (1,), generator=g)) for g in _sample_generators(seeds, 1)]
        return (
            torch.stack([x[i, s : s + n] for i, s in enumerate(starts)]),
            torch.stack([music[i, s : s + n] for i, s in enumerate(starts)]),
        )

    def _contrastive_loss(
        self, x: torch.Tensor, music: torch.Tensor, seeds: torch.Tensor, phase: str
    ) -> tuple[torch.Tensor, float]:
        """Stage 1 (both encoders) or stage 2 (the adapter, encoders frozen): per-sample InfoNCE (B,)."""
        cfg = self.config
        motion_clip, music_clip = self._clips(x, music, seeds)
        # false negatives are found on the clips as cut, before any augmentation changes their frames
        exclude = overlap_mask(music_clip) if cfg.mask_overlaps else None
        if self.training:
            motion_clip, music_clip = self._augment(motion_clip, music_clip, seeds, phase)
        cap = cfg.max_logit_scale
        if phase == "encoders":
            a = self.music_encoder(music_clip)
            b = self.motion_encoder(motion_clip)
            scale = clamp_logit_scale(self.music_encoder.logit_scale, cap)
        else:
            with torch.no_grad(), _eval_mode(self.music_encoder, self.motion_encoder):
                frames = self.music_encoder(music_clip)
                b = self.motion_encoder(motion_clip)
            a = self.adapter(frames)
            scale = clamp_logit_scale(self.adapter.logit_scale, cap)
        loss = torch.zeros(a.shape[0], device=a.device)
        if cfg.clip_nce > 0:
            loss = loss + cfg.clip_nce * info_nce(pool(a), pool(b), scale, exclude)
        if cfg.frame_nce > 0:
            loss = loss + cfg.frame_nce * frame_info_nce(a, b, scale, exclude)
        return loss, float(1.0 / scale.detach())

    def _augment(
        self, motion: torch.Tensor, music: torch.Tensor, seeds: torch.Tensor, phase: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The contrastive stages' augmentation of paired clips (B, n, C) and (B, n, F), from the samples' seeds.

        Music: :func:`~choreo.models.align.augment_features` in units of the encoder's standardisation (the
        batch's own spread without it). Motion: Gaussian noise (stage 1 only; stage 2's motion side is a
        frozen target).
        """
        cfg = self.config
        gens = _sample_generators(seeds, 3)
        enc = self.music_encoder
        if enc.standardize and bool(enc.in_fitted):
            std = enc.in_std
        else:
            std = music.detach().reshape(-1, music.shape[-1]).std(dim=0)
        music = augment_features(music, std, gens, cfg.music_noise, cfg.music_shift, cfg.music_gain)
        if phase == "encoders" and cfg.motion_noise > 0:
            noise = torch.stack([torch.randn(motion.shape[1:], generator=g) for g in gens]).to(motion)
            motion = motion + cfg.motion_noise * noise
        return motion, music

    def _check_alignment(self, x: torch.Tensor, low: torch.Tensor) -> None:
        """The low-rate windows must start on full-rate frames that are multiples of r (exact decimation)."""
        js = self.representation.joints_start
        n = min(low.shape[1], -(-x.shape[1] // self.factor))
        err = (x[:, :: self.factor][:, :n, js:] - low[:, :n, js:]).abs().max() if js < x.shape[2] else 0.0
        if float(err) > 1e-3:
            raise ChoreoError(
                f"the {self.low_fps:g} fps windows do not line up with the {self.fps:g} fps ones: make the "
                f"training stride a multiple of {self.factor} frames (data.stride_seconds x fps)"
            )

    # ---- styles ------------------------------------------------------------------------------------------
    def _train_styles(self, labels: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
        """(B,) style labels (-1: unknown) -> (B,) indices, each made unknown with probability style_dropout
        (its own draw per sample, so that turning styles on leaves every other random number as it was)."""
        unknown = len(self.styles)
        lab = labels.reshape(-1).long().cpu()
        lab = torch.where((lab < 0) | (lab >= unknown), torch.full_like(lab, unknown), lab)
        drop = torch.cat([torch.rand(1, generator=g) < self.config.style_dropout for g in _sample_generators(seeds, 3)])
        return torch.where(drop, torch.full_like(lab, unknown), lab).to(self.device)

    def style_index(self, style: str | int | None) -> int:
        """A style's index for this model (None or "": unknown, ``len(styles)``); a ChoreoError for a style it
        does not know (:func:`~choreo.models.method.style_index`)."""
        return style_index(self.styles, style, unknown=len(self.styles))

    def _with_style(self, cond: torch.Tensor, style: torch.Tensor | None) -> torch.Tensor:
        """(B, T, E) base condition -> (B, T, E + S + 1) with each sample's one-hot style (index S: unknown);
        unchanged for a model without styles."""
        if not self.styles:
            return cond
        code = F.one_hot(style.long(), len(self.styles) + 1).to(cond.dtype)  # (B, S + 1)
        return torch.cat((cond, code[:, None, :].expand(-1, cond.shape[1], -1)), dim=-1)

    def _diffusion_loss(
        self,
        x: torch.Tensor,
        music: torch.Tensor,
        low: torch.Tensor,
        seeds: torch.Tensor,
        style: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict]:
        """Base and SSR losses per sample on the same windows (the encoders and adapter frozen)."""
        cfg, r, T = self.config, self.factor, self.config.n_timesteps
        self._check_alignment(x, low)
        B, W, C = x.shape
        x_low = self._to_stage(low)
        Wl = x_low.shape[1]
        Ws = min(self.ssr_window, W)
        aug_top = int(round(cfg.ssr_aug_max * (T - 1)))
        dev = x.device
        t_b, keep_b, noise_b, t_s, keep_s, noise_s, level, noise_aug, crops = ([] for _ in range(9))
        for g in _sample_generators(seeds, 2):  # every random number of sample i, in a fixed order
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
            drop = torch.cat([torch.rand(1, generator=g) < cfg.music_dropout for g in _sample_generators(seeds, 4)])
            keep_style = drop.to(dev) & keep_b
            keep_b = keep_b & ~keep_style
        noise_b, noise_s, noise_aug = (torch.stack(v).to(dev) for v in (noise_b, noise_s, noise_aug))

        with torch.no_grad(), _eval_mode(self.music_encoder, self.adapter):  # as at sampling: no dropout
            emb = self.embed_music(music)  # (B, W, E)
        # base stage: the low-rate dance over the whole window
        cond_b = self._with_style(decimate(emb, r, Wl), style)
        pred_b = self.base(self.diffusion.q_sample(x_low, t_b, noise_b), t_b, cond_b, keep_b, keep_style=keep_style)
        terms_b = self._terms(pred_b, x_low, self._stage_to_real)
        # SSR stage: a crop of the full-rate window, given the upsampled, noised low-rate dance
        up = upsample(x_low, r, W)
        x_s = torch.stack([x[i, c : c + Ws] for i, c in enumerate(crops)])
        up_s = torch.stack([up[i, c : c + Ws] for i, c in enumerate(crops)])
        emb_s = torch.stack([emb[i, c : c + Ws] for i, c in enumerate(crops)])
        z = self.diffusion.q_sample(up_s, level, noise_aug)
        pred_s = self.ssr(self.diffusion.q_sample(x_s, t_s, noise_s), t_s, emb_s, keep_s, z, level)
        terms_s = self._terms(pred_s, x_s, self.normalizer.denormalize)
        w_b = timestep_weight(t_b, T, cfg.loss_decay, cfg.loss_weighting)
        w_s = timestep_weight(t_s, T, cfg.loss_decay, cfg.loss_weighting)
        loss = self.weighted_loss(terms_b, w_b) + self.weighted_loss(terms_s, w_s)
        logs = {f"base_{k}": v.detach() for k, v in terms_b.items()}
        logs.update({f"ssr_{k}": v.detach() for k, v in terms_s.items()})
        logs["geo_weight"] = (0.5 * (w_b + w_s)).detach()
        return loss, logs

    def _terms(self, pred: torch.Tensor, x0: torch.Tensor, denormalize) -> dict[str, torch.Tensor]:
        return geometric_terms(
            pred,
            x0,
            self.representation,
            denormalize,
            self._motion_channels,
            self._foot_joints,
            self._foot_contacts,
            self.config.contact_threshold,
        )

    def weighted_loss(self, terms: dict[str, torch.Tensor], weight: torch.Tensor) -> torch.Tensor:
        """``loss_x0 L_x0 + weight (loss_vel L_vel + loss_fk L_fk + loss_foot L_foot)`` per sample (B,)."""
        cfg = self.config
        geo = cfg.loss_vel * terms["vel"] + cfg.loss_fk * terms["fk"] + cfg.loss_foot * terms["foot"]
        return cfg.loss_x0 * terms["x0"] + weight.to(geo.dtype) * geo

    # ---- sampling ----------------------------------------------------------------------------------------
    def _settings(self, **options) -> dict:
        o = self.sampling_settings(**options)
        o["steps"] = int(o["steps"])
        o["ssr_steps"] = o["steps"] if o["ssr_steps"] is None else int(o["ssr_steps"])
        o["guidance"] = float(o["guidance"])
        o["ssr_guidance"] = o["guidance"] if o["ssr_guidance"] is None else float(o["ssr_guidance"])
        if o["steps"] < 1 or o["ssr_steps"] < 1:
            raise ChoreoError(f"the number of denoising steps must be at least 1, got {o['steps']} / {o['ssr_steps']}")
        if o["sampler"] not in SAMPLERS:
            raise ChoreoError(f"unknown sampler {o['sampler']!r} (known: {', '.join(SAMPLERS)})")
        resolve_precision(str(o["precision"]), self.device)  # validates the name
        if not 0.0 <= float(o["noise_level"]) <= 1.0:
            raise ChoreoError(f"noise_level is a fraction of the noise schedule (0..1), got {o['noise_level']}")
        check_ssr_root(o["ssr_root"])
        check_guidance_from(o["guidance_from"])
        if not isinstance(o["guide_root_height"], (bool, np.bool_)):
            raise ChoreoError(f"guide_root_height is true or false, got {o['guide_root_height']!r}")
        try:
            o["guidance_rescale"] = float(o["guidance_rescale"])
        except (TypeError, ValueError):
            raise ChoreoError(f"guidance_rescale is a number in 0..1, got {o['guidance_rescale']!r}") from None
        if not 0.0 <= o["guidance_rescale"] <= 1.0:
            raise ChoreoError(f"guidance_rescale is a number in 0..1, got {o['guidance_rescale']}")
        if o["guidance_from"] == "style" and not (self.styles and self.config.music_dropout > 0):
            raise ChoreoError(
                "guidance_from 'style' needs a model trained with styles and music_dropout > 0 "
                "(this one never learned to dance a style without its music)"
            )
        return o

    def _check_music(self, music) -> torch.Tensor:
        m = torch.as_tensor(np.asarray(music, np.float32) if not torch.is_tensor(music) else music)
        if m.ndim != 2 or m.shape[-1] != self.feature_dim:
            raise ChoreoError(
                f"music features have shape {tuple(m.shape)}, expected (frames, F) with F = {self.feature_dim}"
            )
        if m.shape[0] < 1:
            raise ChoreoError("no music frames to dance to")
        if not torch.isfinite(m).all():
            raise ChoreoError("music features contain NaN or infinite values")
        return m.to(self.device, torch.float32)

    def _normalize(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(self.normalizer.normalize(x), np.float32), device=self.device)

    @torch.inference_mode()
    def cascade(
        self,
        music,
        seed: int = 0,
        constraint: Constraint | None = None,
        progress: bool = False,
        guidance: float | None = None,
        steps: int | None = None,
        sampler: str | None = None,
        eta: float | None = None,
        precision: str | None = None,
        ssr_guidance: float | None = None,
        ssr_steps: int | None = None,
        noise_level: float | None = None,
        ssr_root: str | None = None,
        style: str | int | None = None,
        guidance_from: str | None = None,
        guide_root_height: bool | None = None,
        guidance_rescale: float | None = None,
        chunk_windows: int | None = None,
        ramp: bool | None = None,
        coupled: bool = True,
    ) -> CascadeResult:
        """Both stages for one song of any length: the low-rate dance, then the full-rate one.

        1. The music embedding of the whole song (encoder and adapter, one pass, memory linear in its length).
        2. Base stage over the whole song at ``low_fps``: windows of ``base_window`` frames every half window,
           coupled and chunked (:func:`~choreo.models.cascade.sample_windows`), stitched by cross-fading.
        3. SSR stage: the low-rate dance upsampled linearly to full rate and noised once to level
           ``noise_level``, then ``ssr_window`` windows every half window, coupled, chunked and stitched.

        Editing: ``constraint`` (full rate, real units) is imposed at the SSR stage as given and at the base
        stage decimated (:func:`~choreo.models.cascade.downsample_constraint`), by inpainting after every step;
        both outputs equal it exactly where it holds. A seed motion over the first frames is a continuation.

        Args:
            music: (L, F) features at the model fps.
            seed: the base windows, the SSR windows and the augmentation noise draw from generators derived
                from (seed, stage, window).
            guidance, steps, sampler, eta, precision, ssr_guidance, ssr_steps, noise_level, ssr_root: sampling options
                (defaults from the config).
            style: the dance style of the base stage (a model with ``styles``; None: unknown).
            guidance_from: ``nothing``: the base stage's guidance weighs music and style together against
                neither; ``style``: the music against the same style without it (a model trained with
                ``music_dropout``).
            guide_root_height: False leaves the root's height unguided at both stages (the config's
                ``guide_root_height``).
            guidance_rescale: phi of the guidance rescale at both stages (the config's ``guidance_rescale``).
            chunk_windows: most windows per batched forward (default the config's).
            ramp: ramp the guidance from 0 to w over the first half of the steps (default: when a stage has
                more than one coupled window, as EDGE does).
            coupled: False samples windows independently, end to end (an ablation that shows seams).
        """
        o = self._settings(
            guidance=guidance,
            steps=steps,
            sampler=sampler,
            eta=eta,
            precision=precision,
            ssr_guidance=ssr_guidance,
            ssr_steps=ssr_steps,
            noise_level=noise_level,
            ssr_root=ssr_root,
            style=style,
            guidance_from=guidance_from,
            guide_root_height=guide_root_height,
            guidance_rescale=guidance_rescale,
        )
        style_idx = self.style_index(o["style"])
        m = self._check_music(music)
        L, C, r = m.shape[0], self.representation.dim, self.factor
        if constraint is not None and constraint.known.shape != (L, C):
            raise ChoreoError(f"edit constraint has shape {constraint.known.shape}, expected ({L}, {C})")
        n_low = low_frames(L, r)
        Wb, Ws = self.base_window, self.ssr_window
        base_plan = plan_windows(n_low, Wb, None if coupled else Wb)
        ssr_plan = plan_windows(L, Ws, None if coupled else Ws)
        full = max(r * (base_plan.padded_frames - 1) + 1, ssr_plan.padded_frames)
        feats = torch.as_tensor(pad_frames(m.cpu().numpy(), full), device=self.device)
        emb = self.embed_music(feats[None])[0]  # (full, E)
        cond_low = decimate(emb[None], r, base_plan.padded_frames)
        cond_low = self._with_style(cond_low, torch.full((1,), style_idx, device=self.device))[0]

        known = mask = known_low = mask_low = None
        if constraint is not None and constraint.mask.any():
            known = torch.zeros(ssr_plan.padded_frames, C, device=self.device)
            mask = torch.zeros(ssr_plan.padded_frames, C, dtype=torch.bool, device=self.device)
            known[:L] = self._normalize(constraint.known)
            mask[:L] = torch.as_tensor(constraint.mask, device=self.device)
            # full-rate displacements are already per full-rate frame: the stage's unit
            k_low, m_low = downsample_constraint(
                np.asarray(constraint.known, np.float32),
                np.asarray(constraint.mask, bool),
                r,
                n_low,
                tuple(self.representation.root_velocity_channels),
            )
            if m_low.any():
                known_low = torch.zeros(base_plan.padded_frames, C, device=self.device)
                mask_low = torch.zeros(base_plan.padded_frames, C, dtype=torch.bool, device=self.device)
                known_low[:n_low] = self._normalize(k_low)
                mask_low[:n_low] = torch.as_tensor(m_low, device=self.device)

        chunk = max(1, int(chunk_windows or self.config.chunk_windows))
        total = o["steps"] * -(-base_plan.n_windows // chunk) + o["ssr_steps"] * -(-ssr_plan.n_windows // chunk)
        bar = _progress(total, progress)
        blend = make_blend(self.representation)

        def weights(w: float, n_steps: int, plan) -> list[float]:
            use = (plan.n_windows > 1 and coupled) if ramp is None else ramp
            return guidance_ramp(w, n_steps) if use else [w] * n_steps

        clip = clip_bounds(self.normalizer, self.device)
        # the root's vertical channel (y is up in 3D and 2D alike)
        plain = () if bool(o["guide_root_height"]) else (self.representation.root_channels.start + 1,)
        with network_precision(str(o["precision"]), self.device):
            low_w = sample_windows(
                self.base,
                self.diffusion,
                base_plan,
                cond_low,
                C,
                weights=weights(o["guidance"], o["steps"], base_plan),
                steps=o["steps"],
                sampler=o["sampler"],
                eta=float(o["eta"]),
                generators=_generators(seed, 0, base_plan.n_windows),
                known=known_low,
                mask=mask_low,
                chunk_windows=chunk,
                coupled=coupled,
                on_step=bar.update,
                clip=clip,
                null=o["guidance_from"],
                plain_channels=plain,
                rescale=o["guidance_rescale"],
            )
            stage_real = stitch(self._denormalize(low_w), base_plan, blend)  # (n_low, C), stage units
            if mask_low is not None:
                stage_real = np.where(m_low, k_low, stage_real).astype(np.float32)

            level = int(round(float(o["noise_level"]) * (self.config.n_timesteps - 1)))
            up = upsample(self._normalize(stage_real), r, ssr_plan.padded_frames)
            z = self.diffusion.q_sample(up, level, randn_like(up, _generators(seed, 2, 1)[0]))
            out = sample_windows(
                self.ssr,
                self.diffusion,
                ssr_plan,
                emb[: ssr_plan.padded_frames],
                C,
                weights=weights(o["ssr_guidance"], o["ssr_steps"], ssr_plan),
                steps=o["ssr_steps"],
                sampler=o["sampler"],
                eta=float(o["eta"]),
                generators=_generators(seed, 1, ssr_plan.n_windows),
                low=z,
                level=level,
                known=known,
                mask=mask,
                chunk_windows=chunk,
                coupled=coupled,
                on_step=bar.update,
                clip=clip,
                plain_channels=plain,
                rescale=o["guidance_rescale"],
            )
        bar.close()
        motion = stitch(self._denormalize(out), ssr_plan, blend)
        travel = list(self.representation.root_velocity_channels)
        if o["ssr_root"] == "base" and travel:
            # stage units hold displacements per full-rate frame already: interpolate, do not rescale
            up_real = upsample(torch.as_tensor(stage_real[None]), r, motion.shape[0])[0].numpy()
            motion[:, travel] = up_real[:, travel]
        if constraint is not None:
            motion = np.where(constraint.mask, constraint.known, motion).astype(np.float32)
        low = (stage_real * self._stage_scale.cpu().numpy()).astype(np.float32)
        return CascadeResult(motion.astype(np.float32), low, self.low_fps)

    def generate(
        self,
        music,
        seed: int = 0,
        constraint: Constraint | None = None,
        progress: bool = False,
        **settings,
    ) -> np.ndarray:
        """A dance of any length for one song: (L, F) features at the model fps -> (L, C) real units.

        ``settings``: the sampling options (guidance, steps, sampler, eta, precision, ssr_guidance, ssr_steps,
        noise_level, ssr_root, style) and ``chunk_windows``, ``ramp``, ``coupled`` (see :meth:`cascade`).
        """
        return self.cascade(music, seed=seed, constraint=constraint, progress=progress, **settings).motion

    def _denormalize(self, x: torch.Tensor) -> np.ndarray:
        return np.asarray(self.normalizer.denormalize(x.detach().cpu().numpy()), np.float32)


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="denoising", unit="step", disable=not enabled, leave=False)


def build_diffdance(model_config: dict | None, spec) -> DiffDanceMethod:
    """Registry entry: a :class:`DiffDanceMethod` from its config dict and the data spec."""
    return DiffDanceMethod(DiffDanceConfig.from_dict(model_config), spec)
