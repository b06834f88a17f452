"""DiffDance's settings, the experiments that were removed from them, and the one check of the sampling options.

:func:`check_sampling` is the only place a sampling option is validated: :meth:`DiffDanceConfig.from_dict` runs it
on the config's own defaults when a model is built (or loaded), and the sampler runs it on the caller's options on
top of those defaults, so a value that is refused in a config file is refused as an argument with the same words.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from choreo.errors import ChoreoError
from choreo.models.diffusion import SAMPLERS
from choreo.models.method import config_from_dict
from choreo.models.precision import PRECISIONS

#: where the full-rate dance's root travel comes from (:attr:`DiffDanceConfig.ssr_root`)
SSR_ROOTS = ("ssr", "base")
#: what classifier-free guidance of the base stage starts from: the null condition, or the null music with the
#: style kept (:attr:`DiffDanceConfig.guidance_from`)
GUIDANCE_FROM = ("nothing", "style")

#: options of the research round that no recipe used, with the value that made each a no-op. A checkpoint or
#: config that holds one at that value loads as before; any other value is refused (:func:`drop_removed_options`).
#: Their measured results are in docs/diffdance.md ("Removed experiments").
REMOVED_OPTIONS: dict[str, Any] = {
    "music_noise": 0.0,
    "music_shift": 0.0,
    "music_gain": 0.0,
    "motion_noise": 0.0,
    "clip_nce": 1.0,
    "frame_nce": 0.0,
    "music_standardize": False,
    "conditioning": "add",
    "loss_weighting": "exponential",
    "guide_root_height": True,
    "guidance_rescale": 0.0,
}
#: the last commit whose code had them
REMOVED_AT = "4af5476"


def drop_removed_options(d: dict) -> dict:
    """``d`` without the keys of :data:`REMOVED_OPTIONS` that hold their neutral value.

    A removed key with any other value is a ChoreoError naming it: the model it describes was trained or sampled
    with code that no longer exists, so loading it as if the option were off would silently change it.
    """
    out = dict(d)
    for key, neutral in REMOVED_OPTIONS.items():
        if key not in out:
            continue
        value = out.pop(key)
        if value != neutral:
            raise ChoreoError(
                f"DiffDance option {key}: {value!r} was an experiment, removed after commit {REMOVED_AT} "
                f"(only {key}: {neutral!r}, its no-op value, still loads; docs/diffdance.md, 'Removed experiments')"
            )
    return out


def check_sampling(options: dict[str, Any], style_guidance: bool) -> dict[str, Any]:
    """Validate and complete DiffDance's sampling options; the one check, for configs and for callers alike.

    Args:
        options: every name of :data:`SAMPLING_OPTIONS` (the config's defaults with the caller's values on top).
        style_guidance: whether the model can guide from the style (trained with ``style_cond`` and
            ``music_dropout`` > 0); ``guidance_from: style`` needs it.
    Returns:
        a copy with ``steps``, ``ssr_steps`` as ints and ``guidance``, ``ssr_guidance`` as floats, the SSR's
        None resolved to the base stage's value.
    """
    o = dict(options)
    try:
        o["steps"] = int(o["steps"])
        o["ssr_steps"] = o["steps"] if o["ssr_steps"] is None else int(o["ssr_steps"])
        o["guidance"] = float(o["guidance"])
        o["ssr_guidance"] = o["guidance"] if o["ssr_guidance"] is None else float(o["ssr_guidance"])
        o["eta"] = float(o["eta"])
        o["noise_level"] = float(o["noise_level"])
    except (TypeError, ValueError) as exc:
        raise ChoreoError(f"a DiffDance sampling option is not a number: {exc}") from None
    if o["steps"] < 1 or o["ssr_steps"] < 1:
        raise ChoreoError(f"the number of denoising steps must be at least 1, got {o['steps']} / {o['ssr_steps']}")
    if o["sampler"] not in SAMPLERS:
        raise ChoreoError(f"unknown sampler {o['sampler']!r} (known: {', '.join(SAMPLERS)})")
    if o["precision"] not in PRECISIONS:
        raise ChoreoError(f"unknown precision {o['precision']!r} (known: {', '.join(PRECISIONS)})")
    if not 0.0 <= o["noise_level"] <= 1.0:
        raise ChoreoError(f"noise_level is a fraction of the noise schedule (0..1), got {o['noise_level']}")
    if o["ssr_root"] not in SSR_ROOTS:
        raise ChoreoError(f"unknown ssr_root {o['ssr_root']!r} (known: {', '.join(SSR_ROOTS)})")
    if o["guidance_from"] not in GUIDANCE_FROM:
        raise ChoreoError(f"guidance_from must be one of {', '.join(GUIDANCE_FROM)}, got {o['guidance_from']!r}")
    if o["guidance_from"] == "style" and not style_guidance:
        raise ChoreoError(
            "guidance_from 'style' needs a model trained with styles and music_dropout > 0 "
            "(this one never learned to dance a style without its music)"
        )
    return o


#: the sampler's options, in the order :class:`~choreo.models.diffdance.method.DiffDanceMethod` lists them
SAMPLING_OPTIONS = (
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
)


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
        encoder_dropout: dropout inside both encoders' blocks (stage 1 only: frozen encoders run without it).
        mask_overlaps: drop from the InfoNCE negatives the clips of the same recording at overlapping times
            (:func:`~choreo.models.diffdance.align.overlap_mask`): they are the same dance, not a negative.
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
        loss_decay: the geometric losses' weight at pure noise, :func:`~choreo.models.diffdance.loss.timestep_weight`
            (paper 0.1; 1.0 weighs every timestep alike, as EDGE does).
        contact_threshold: predicted contact above which the foot loss applies (EDGE's 0.95).
        guidance, steps, sampler, eta: sampling defaults of the base stage (paper: w = 2.5, 100 steps).
        precision: the networks' precision at sampling, ``fp32``, ``bf16`` or ``auto`` (:mod:`choreo.models.precision`).
        ssr_guidance, ssr_steps: the SSR stage's (None: the base stage's).
        noise_level: s at sampling, a fraction of the SSR schedule (0: the base output as it is).
        ssr_root: where the full-rate dance's root travel (the ``+rootvel`` horizontal displacements) comes
            from: ``ssr`` (the SSR's output, as published) or ``base`` (the base stage's, upsampled linearly; the
            SSR then refines the body and the root height). An undertrained SSR can lose the travel of a base
            dance unlike the real ones it was trained on (MODEL_CARD.md).
        style: the style to dance (a name the model knows; None: from the song, else unknown).
        guidance_from: what the base stage's guidance weighs the music and style against: ``nothing`` (the
            null condition, the paper's) or ``style`` (the same style with the music dropped: guidance then
            weighs only the music; a model trained with ``music_dropout``).
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
    encoder_dropout: float = 0.0
    mask_overlaps: bool = False
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
    chunk_windows: int = 16
    rotary_theta: float = 10000.0

    @classmethod
    def from_dict(cls, d: dict | None) -> DiffDanceConfig:
        """Build from a plain dict (unknown keys, removed experiments and impossible values are a ChoreoError)."""
        cfg = config_from_dict(cls, drop_removed_options(d or {}), "DiffDance model")
        if cfg.encoder_steps < 0 or cfg.adapter_steps < 0:
            raise ChoreoError("encoder_steps and adapter_steps must be >= 0")
        if not 0.0 <= cfg.ssr_aug_max <= 1.0:
            raise ChoreoError(f"ssr_aug_max is a fraction of the noise schedule (0..1), got {cfg.ssr_aug_max}")
        if not 0.0 < cfg.loss_decay <= 1.0:
            raise ChoreoError(f"loss_decay must be in (0, 1], got {cfg.loss_decay}")
        if not 0.0 <= cfg.encoder_dropout < 1.0:
            raise ChoreoError(f"encoder_dropout must be in [0, 1), got {cfg.encoder_dropout}")
        if not 0.0 <= cfg.style_dropout <= 1.0:
            raise ChoreoError(f"style_dropout is a probability, got {cfg.style_dropout}")
        if not 0.0 <= cfg.music_dropout <= 1.0:
            raise ChoreoError(f"music_dropout is a probability, got {cfg.music_dropout}")
        if cfg.music_dropout > 0 and not cfg.style_cond:
            raise ChoreoError("music_dropout keeps the style while the music is dropped: it needs style_cond: true")
        check_sampling(cfg.sampling_defaults(), cfg.style_guidance)
        return cfg

    @property
    def style_guidance(self) -> bool:
        """Whether a model of this config can guide from the style (``guidance_from: style``)."""
        return bool(self.style_cond and self.music_dropout > 0)

    def sampling_defaults(self) -> dict[str, Any]:
        """The config's value of every sampling option."""
        return {k: getattr(self, k) for k in SAMPLING_OPTIONS}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
