"""D2M-GAN (Zhu et al., ECCV 2022): music from dance through an audio codec's latent space, time-aligned.

The generator maps a motion window to the continuous latent sequence of an audio codec
(:class:`~choreo.models.codec.AudioCodec`); the latent is snapped to the codec's codebooks and decoded to
audio. A multi-scale discriminator judges latent sequences. What differs from the released code (see
``research.md``), on purpose:

- **time alignment**: the motion is encoded frame by frame with 1D convolutions over time, resampled
  (linear interpolation) to the codec's latent frame times, and refined by dilated convolutions with a
  bounded receptive field. Latent k hears the dance around its own time; the released motion encoder
  treats the frames as convolution channels and loses the time axis;
- **the mel loss carries gradient**: L1 between the log-mel of the real audio and the codec's
  *differentiable* decoder applied to the generated latent (straight-through over the nearest-codeword
  snap). In the released code the waveform and mel terms are computed under ``torch.no_grad()``;
- there is no waveform L1 term: the codec's mel -> audio step is Griffin-Lim, which has no gradient;
- the dance-style label is optional and dropped at random in training (``style_dropout``), so the
  generator also works, and is evaluated, without it (the released code gives the genre at test time).

Kept as published: generator output ``tanh(x) * sigma``; discriminator of 3 scales (1x, 2x, 4x average
pooling), MelGAN-style, on the continuous latent; hinge loss; generator loss
``adv + 3 feature matching + 5 L1(latent) + 8 L1(quantised latent) + 15 L1(log-mel)``; Adam 1e-4 with betas
(0.5, 0.9) for both networks; discriminator step, then generator step, every global step.

The trained codec is a frozen component (``codec``) of the checkpoint, so a D2M-GAN checkpoint is
self-contained. No file IO here, except that :func:`build_d2mgan` reads the codec checkpoint a new run
names (``codec_checkpoint``) through :mod:`choreo.checkpoint`.

Tensors: motion (B, W, C) normalised at the data's fps; audio (B, N) at the codec's rate; latents
(B, T, D) at ``codec.sample_rate / codec.hop`` frames per second (21.5 Hz for choreo's codec).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from choreo.errors import ChoreoError
from choreo.models.codec import AudioCodec, build_audio_codec
from choreo.models.method import Method, Optimization, config_from_dict, style_index
from choreo.models.motion_rhythm import N_DESCRIPTORS, motion_rhythm
from choreo.models.pulse import (
    beat_accent,
    envelope_distribution_distance,
    onset_envelope,
    pulse_lags,
    pulse_profile,
    spectrum_stats_distance,
)

#: what the generator can read of the dance (:attr:`D2MConfig.motion_input`)
MOTION_INPUTS = ("raw", "rhythm", "both")

#: seconds by which the codec's spectral flux leads the beat of a feature frame, beyond that frame's own lag
#: (see :meth:`D2MGANMethod.beats_on_envelope`): the shift that maximised the real songs' own beat accent was
#: 70 ms at 25 fps and 50-60 ms at 30 fps (8 Dance with Melody songs, 10 ms steps), i.e. one frame + ~30 ms.
BEAT_LEAD_S = 0.03


@dataclass
class D2MConfig:
    """D2M-GAN's settings (defaults as published where the paper or code gives them).

    Attributes:
        codec: the embedded codec: ``{"kind": "melvq", "config": {...}}`` (filled from ``codec_checkpoint``
            when a run starts; a checkpoint always carries it).
        codec_checkpoint: a trained codec (file, run folder or packaged name, e.g. ``codec``) a new run takes
            its codec from.
        motion_input: what the generator reads of the dance: ``raw`` (the normalised representation, as
            published), ``rhythm`` (only :mod:`choreo.models.motion_rhythm`'s five song-independent descriptors:
            relative speed and acceleration, kinematic beats and their phase) or ``both``. With a few dozen
            training dances a generator on raw joints can learn where *their* beats fall by heart.
        hidden: generator width. motion_blocks: residual blocks at the motion's frame rate (dilations 1, 2, ...).
        dilations: the generator's dilated residual stack at the latent rate (1, 3, 9, 27 as published).
        noise_dim: noise channels per latent frame (0: a deterministic generator).
        style_dim: style embedding size; style_dropout: probability of training a window without its label.
        sigma: the tanh scale (0: 1.25 x the codec's latent bound seen in its training, else 4).
        disc_channels: first discriminator width (ndf 32); disc_layers: strided layers per scale;
            disc_scales: 3 (1x, 2x, 4x).
        loss_adv, loss_fm, loss_latent, loss_quantized, loss_mel: generator loss weights.
        loss_pulse: weight of choreo's pulse term (not in D2M-GAN; 0 = the published loss): L1 between the
            pulse profiles (:mod:`choreo.models.pulse`: autocorrelation of the onset envelope, lags 0.12-1.5 s)
            of the generated and the real log-mel. Phase-free, so it asks for a steady beat at the song's
            tempo without the sample-exact onsets that a dance does not determine.
        loss_adv_mel: weight of choreo's second discriminator (not in D2M-GAN; 0 = none): a multi-scale
            discriminator of the same design on the *decoded log-mel* (bands as channels), real = the codec's
            decoding of the real music's quantised latent, fake = its decoding of the generated one (both
            through the same decoder, so the codec's own blur gives nothing away). Its hinge loss and feature
            matching (``loss_fm``) join the generator's; it trains in the ``discriminator`` phase. A
            point-wise L1 under an uncertain target averages onsets away; a judge of whole spectrograms
            penalises the blur.
        loss_beat: weight of choreo's beat-accent term (not in D2M-GAN; 0 = none): L1 between the beat accents
            (:func:`choreo.models.pulse.beat_accent`: onset envelope on the beats over its mean) of the generated
            and the real log-mel, on the real music's beats. Phase-specific at the level a dance fixes (the
            beats its steps fall on) and tolerant below it (+-3 mel frames, 35 ms). Needs a feature set with a
            beat column (``rhythm``, ``baseline35``, ``dr438``): the batches' ``music`` carries the beats.
        loss_mel_stats: weight of choreo's spectrum term (not in D2M-GAN; 0 = none): L1 between the per-band
            mean and standard deviation over time of the generated and the real log-mel. Phase-free like the
            pulse term: it asks for the song's timbre, loudness and dynamics (its style) without asking when
            each sound starts, which a dance does not determine (``scripts/dance_music_sync.py``).
        loss_dance_beat: weight of choreo's dance-beat term (not in D2M-GAN; 0 = none): a hinge
            ``relu(dance_beat_accent - accent)`` on the beat accent of the generated log-mel on the *dance's own*
            kinematic beats (speed minima, :mod:`choreo.models.motion_rhythm`), +-3 mel frames. The phase of
            the real song's beats is not in the dance (``scripts/dance_music_sync.py``), so ``loss_beat`` can
            only be met on average, i.e. not at all; the dance's own steps are known at sampling, and music
            that accents them follows the dancer.
        dance_beat_accent: the accent ``loss_dance_beat`` asks for at least (1: none). In the codec's spectral
            flux the Dance with Melody training songs accent their own beats by 4.5 (median) and their dances'
            kinematic beats by 1.9 (``docs/d2mgan.md``); the forked run there asked for 4.0.
        loss_onset_dist: weight of choreo's onset-distribution term (not in D2M-GAN; 0 = none): the 1-D
            Wasserstein distance between the values of the generated and the real music's onset envelopes
            (:func:`choreo.models.pulse.envelope_distribution_distance`), so that the onsets are as sharp and as
            even as the real song's, whenever they fall. Phase-free like ``loss_pulse``.
        onset_dist_pooled: compare the batch's envelope values pooled (one distribution for all the windows)
            rather than window by window: a window's own loudness is not in its dance, so a per-window target
            is met on average only by its median.
        mel_disc_motion: channels of dance the mel discriminator sees (0: it judges spectrograms alone). With
            > 0 it is a *conditional* judge: its own small motion encoder (two convolutions over time), resampled
            to the decoded mel frames, joins the bands as channels, so it can tell music that does not go with
            its dance (onsets off the steps) from music that does, and the generator is pushed towards music
            that fits the dance rather than towards the mean of all music that could.
        mel_disc_mismatch: weight of the matching-aware term (Reed et al. 2016, GAN-INT-CLS; needs
            ``mel_disc_motion``): the real music of a window paired with another window's dance is also scored
            as fake, so the conditional judge must look at the pairing and not only at how real the music sounds.
        loss_fm_mel: feature-matching weight against the mel discriminator (None: ``loss_fm``). Feature matching
            compares the generated music with the real music of the same window, point by point, so it
            averages uncertain onsets like an L1 does.
        betas: Adam betas for both optimisers (the learning rate is the run's ``train.lr``).
        style: sampling default: a style name to condition on (None: withheld).
        gl_iters: sampling default: Griffin-Lim iterations (0: the codec's).
        chunk_seconds: sampling: seconds of latents generated and decoded per chunk (bounded memory).
    """

    codec: dict | None = None
    codec_checkpoint: str | None = None
    motion_input: str = "raw"
    hidden: int = 256
    motion_blocks: int = 2
    dilations: list[int] = field(default_factory=lambda: [1, 3, 9, 27])
    noise_dim: int = 8
    style_dim: int = 32
    style_dropout: float = 0.5
    sigma: float = 0.0
    disc_channels: int = 32
    disc_layers: int = 3
    disc_scales: int = 3
    loss_adv: float = 1.0
    loss_fm: float = 3.0
    loss_latent: float = 5.0
    loss_quantized: float = 8.0
    loss_mel: float = 15.0
    loss_pulse: float = 0.0
    loss_adv_mel: float = 0.0
    loss_beat: float = 0.0
    loss_mel_stats: float = 0.0
    loss_dance_beat: float = 0.0
    dance_beat_accent: float = 2.0
    loss_onset_dist: float = 0.0
    onset_dist_pooled: bool = True
    mel_disc_motion: int = 0
    mel_disc_mismatch: float = 0.0
    loss_fm_mel: float | None = None
    betas: list[float] = field(default_factory=lambda: [0.5, 0.9])
    style: str | None = None
    gl_iters: int = 0
    chunk_seconds: float = 30.0

    @classmethod
    def from_dict(cls, d: dict | None) -> D2MConfig:
        """Build from a plain dict (unknown keys are an error naming them)."""
        cfg = config_from_dict(cls, d, "D2M-GAN")
        if len(cfg.betas) != 2:
            raise ChoreoError(f"D2M-GAN takes two Adam betas, got {cfg.betas}")
        if cfg.disc_scales < 1 or cfg.disc_layers < 1 or cfg.hidden < 1:
            raise ChoreoError("D2M-GAN sizes (hidden, disc_layers, disc_scales) must be >= 1")
        if cfg.motion_input not in MOTION_INPUTS:
            raise ChoreoError(f"unknown motion_input {cfg.motion_input!r} (one of {', '.join(MOTION_INPUTS)})")
        if cfg.mel_disc_motion < 0 or cfg.mel_disc_mismatch < 0:
            raise ChoreoError("mel_disc_motion and mel_disc_mismatch must be >= 0")
        if (cfg.mel_disc_motion or cfg.mel_disc_mismatch) and cfg.loss_adv_mel <= 0:
            raise ChoreoError("mel_disc_motion and mel_disc_mismatch need the mel discriminator (loss_adv_mel > 0)")
        if cfg.mel_disc_mismatch and not cfg.mel_disc_motion:
            raise ChoreoError("mel_disc_mismatch needs a discriminator that sees the dance (mel_disc_motion > 0)")
        if cfg.loss_dance_beat < 0 or cfg.dance_beat_accent < 0 or cfg.loss_onset_dist < 0:
            raise ChoreoError("loss_dance_beat, dance_beat_accent and loss_onset_dist must be >= 0")
        if not 0.0 <= cfg.style_dropout <= 1.0:
            raise ChoreoError(f"style_dropout must be within [0, 1], got {cfg.style_dropout}")
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class _Res(nn.Module):
    """MelGAN's residual block: ``shortcut(x) + conv1x1(lrelu(conv_k3_dilated(lrelu(x))))`` over (B, C, T)."""

    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.proj = nn.Conv1d(channels, channels, 1)
        self.shortcut = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.proj(F.leaky_relu(self.conv(F.leaky_relu(x, 0.2)), 0.2))


def interpolate_frames(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of (B, C, W) at fractional frame ``positions`` (n,) -> (B, C, n) (clamped to [0, W-1])."""
    W = x.shape[-1]
    pos = positions.to(x.device, x.dtype).clamp(0, W - 1)
    i0 = pos.floor().long().clamp(max=W - 1)
    i1 = (i0 + 1).clamp(max=W - 1)
    w = (pos - i0.to(pos.dtype))[None, None, :]
    return x[..., i0] * (1 - w) + x[..., i1] * w


class D2MGenerator(nn.Module):
    """Motion (B, W, C) at ``fps`` -> continuous codec latents (B, n, D) at given times.

    Motion convolutions (kernel 3, then ``motion_blocks`` residual blocks) at the motion's rate; linear
    interpolation to the latent times; noise and style channels joined by a 1x1 convolution; the dilated
    residual stack; ``tanh * sigma``. Every step is local in time: the receptive field is
    :meth:`receptive_seconds` each side.
    """

    def __init__(self, motion_dim: int, latent_dim: int, config: D2MConfig, n_styles: int, sigma: float):
        super().__init__()
        H = config.hidden
        self.noise_dim = int(config.noise_dim)
        self.n_styles = int(n_styles)
        self.motion_in = nn.Conv1d(motion_dim, H, 3, padding=1)
        self.motion_blocks = nn.Sequential(*[_Res(H, 2**i) for i in range(config.motion_blocks)])
        # style n_styles is "withheld" (and the label -1 maps to it)
        self.style = nn.Embedding(self.n_styles + 1, config.style_dim) if self.n_styles else None
        extra = self.noise_dim + (config.style_dim if self.n_styles else 0)
        self.join = nn.Conv1d(H + extra, H, 1)
        self.stack = nn.Sequential(*[_Res(H, int(d)) for d in config.dilations])
        self.out = nn.Conv1d(H, latent_dim, 3, padding=1)
        self.register_buffer("sigma", torch.tensor(float(sigma)))
        self.motion_radius = 1 + sum(2**i for i in range(config.motion_blocks))  # frames each side
        self.latent_radius = 1 + sum(int(d) for d in config.dilations)  # latent frames each side

    def receptive(self, fps: float, latent_rate: float) -> float:
        """Seconds of dance each side of a latent frame's time that can change it."""
        return (self.motion_radius + 1) / fps + self.latent_radius / latent_rate

    def forward(
        self,
        motion: torch.Tensor,
        positions: torch.Tensor,
        noise: torch.Tensor | None = None,
        style: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Latents for one batch.

        Args:
            motion: (B, W, C) normalised motion.
            positions: (n,) fractional motion-frame index of each latent frame's time.
            noise: (B, n, noise_dim) or None (zeros).
            style: (B,) int64 style index, -1 or ``n_styles`` for withheld; None: withheld for all.
        Returns:
            (B, n, D) in (-sigma, sigma).
        """
        B = motion.shape[0]
        h = self.motion_blocks(self.motion_in(motion.transpose(1, 2)))
        h = interpolate_frames(h, positions)
        n = h.shape[-1]
        parts = [h]
        if self.noise_dim:
            nz = noise.transpose(1, 2) if noise is not None else h.new_zeros(B, self.noise_dim, n)
            parts.append(nz.to(h.dtype))
        if self.style is not None:
            s = torch.full((B,), self.n_styles, dtype=torch.long, device=h.device) if style is None else style.long()
            s = torch.where((s < 0) | (s >= self.n_styles), torch.full_like(s, self.n_styles), s)
            parts.append(self.style(s)[:, :, None].expand(B, -1, n))
        x = self.stack(self.join(torch.cat(parts, dim=1)))
        return (torch.tanh(self.out(F.leaky_relu(x, 0.2))) * self.sigma).transpose(1, 2)


class LatentDiscriminator(nn.Module):
    """One MelGAN-style discriminator over (B, D, T) latent sequences; returns every layer's output (the last is
    the (B, 1, T') score map)."""

    def __init__(self, latent_dim: int, ndf: int, n_layers: int):
        super().__init__()
        layers = [nn.Sequential(nn.Conv1d(latent_dim, ndf, 7, padding=3), nn.LeakyReLU(0.2))]
        nf = ndf
        for _ in range(n_layers):
            nxt = min(nf * 2, 512)
            groups = max(1, nf // 16)
            layers.append(nn.Sequential(nn.Conv1d(nf, nxt, 5, stride=2, padding=2, groups=groups), nn.LeakyReLU(0.2)))
            nf = nxt
        layers.append(nn.Sequential(nn.Conv1d(nf, nf, 5, padding=2), nn.LeakyReLU(0.2)))
        layers.append(nn.Conv1d(nf, 1, 3, padding=1))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for layer in self.layers:
            x = layer(x)
            out.append(x)
        return out


class MultiScaleDiscriminator(nn.Module):
    """``scales`` discriminators on the latent sequence average-pooled by 1, 2, 4, ... (MelGAN: AvgPool1d(4, 2, 1))."""

    def __init__(self, latent_dim: int, ndf: int, n_layers: int, scales: int):
        super().__init__()
        self.discs = nn.ModuleList(LatentDiscriminator(latent_dim, ndf, n_layers) for _ in range(scales))
        self.pool = nn.AvgPool1d(4, stride=2, padding=1, count_include_pad=False)

    def forward(self, z: torch.Tensor) -> list[list[torch.Tensor]]:
        """(B, T, D) latents -> per scale, the list of layer outputs (last: score map)."""
        x = z.transpose(1, 2)
        out = []
        for i, d in enumerate(self.discs):
            if i:
                x = self.pool(x)
            out.append(d(x))
        return out


class DanceConditionedDiscriminator(nn.Module):
    """A :class:`MultiScaleDiscriminator` over decoded log-mel (B, T, n_mels) with the dance as extra channels.

    The dance (B, W, C) at its own frame rate goes through two convolutions over time (kernel 3) to
    ``motion_channels`` features, is resampled to the mel frames' times (``positions``: fractional motion
    frames, (T,)) and joins the bands, so each scale judges music and dance together.
    """

    def __init__(self, n_mels: int, motion_dim: int, motion_channels: int, ndf: int, n_layers: int, scales: int):
        super().__init__()
        self.motion = nn.Sequential(
            nn.Conv1d(motion_dim, 2 * motion_channels, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv1d(2 * motion_channels, motion_channels, 3, padding=1),
        )
        self.judge = MultiScaleDiscriminator(n_mels + motion_channels, ndf, n_layers, scales)

    def forward(self, mel: torch.Tensor, motion: torch.Tensor, positions: torch.Tensor) -> list[list[torch.Tensor]]:
        """(B, T, n_mels) log-mel, (B, W, C) dance, (T,) positions -> per scale, the layer outputs."""
        h = interpolate_frames(self.motion(motion.transpose(1, 2)), positions).transpose(1, 2)
        return self.judge(torch.cat([mel, h.to(mel.dtype)], dim=-1))


def _per_sample(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1).mean(dim=1)


def _hinge_d(
    disc: MultiScaleDiscriminator, real: torch.Tensor, fake: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The discriminator's per-sample hinge terms (B,) on real and (detached) fake (B, T, D) sequences,
    averaged over scales."""
    return _hinge(disc(real), 1.0), _hinge(disc(fake), -1.0)


def _hinge(scores: list[list[torch.Tensor]], target: float) -> torch.Tensor:
    """Per-sample hinge ``relu(1 - target * score)`` (B,) of multi-scale outputs, averaged over scales
    (target 1: judged real, -1: judged fake)."""
    return sum(_per_sample(F.relu(1 - target * o[-1])) for o in scores) / len(scores)


def _adversarial_g(
    disc: MultiScaleDiscriminator, real: torch.Tensor, fake: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The generator's per-sample hinge term and feature matching (B,) against one multi-scale discriminator,
    on (B, T, D) sequences."""
    d_fake = disc(fake)
    with torch.no_grad():
        d_real = disc(real)
    adv = sum(_per_sample(-o[-1]) for o in d_fake) / len(d_fake)
    fm_terms = [
        _per_sample((f - r.detach()).abs()) for of, orr in zip(d_fake, d_real, strict=True)
        for f, r in zip(of[:-1], orr[:-1], strict=True)
    ]  # fmt: skip
    return adv, sum(fm_terms) / len(fm_terms)


class D2MGANMethod(Method):
    """D2M-GAN on choreo's trainer: components ``generator``, ``discriminator`` and the frozen ``codec``.

    Batches: ``motion`` (B, W, C) normalised, ``audio`` (B, N) at the codec's rate (``data.audio_sr``), ``seed``,
    optionally ``style`` (B,) (``data.style_labels``). Phases ``("discriminator", "generator")``, each with its
    own Adam optimiser.
    """

    name = "d2mgan"
    produces = "music"
    ema_components = ("generator",)
    sampling_options = ("style", "gl_iters")

    def __init__(self, config: D2MConfig, spec, codec: AudioCodec):
        super().__init__(config, spec)
        if spec.representation is None or spec.normalizer is None:
            raise ChoreoError("D2M-GAN needs a motion representation and a fitted normaliser")
        if spec.audio_sr and int(spec.audio_sr) != int(codec.sample_rate):
            raise ChoreoError(
                f"the data's audio is at {spec.audio_sr} Hz but the codec works at {codec.sample_rate} Hz: "
                f"set data.audio_sr: {codec.sample_rate}"
            )
        self.beat_column = None
        if config.loss_beat > 0:
            from choreo.audio.features import get_feature_set

            self.beat_column = get_feature_set(spec.feature_set or "mel").beats
            if self.beat_column is None:
                raise ChoreoError(
                    f"loss_beat needs the real music's beats: the feature set {spec.feature_set!r} has none "
                    "(set data.feature_set: rhythm)"
                )
        self.codec = codec.eval().requires_grad_(False)
        self.representation = spec.representation
        self.normalizer = spec.normalizer
        self.styles = tuple(spec.styles)
        sigma = float(config.sigma) or (1.25 * codec.latent_bound() if codec.latent_bound() > 0 else 4.0)
        widths = {
            "raw": spec.representation.dim,
            "rhythm": N_DESCRIPTORS,
            "both": spec.representation.dim + N_DESCRIPTORS,
        }
        self.generator = D2MGenerator(widths[config.motion_input], codec.latent_dim, config, len(self.styles), sigma)
        self.discriminator = MultiScaleDiscriminator(
            codec.latent_dim, config.disc_channels, config.disc_layers, config.disc_scales
        )
        if config.loss_adv_mel > 0 and config.mel_disc_motion > 0:
            self.mel_discriminator = DanceConditionedDiscriminator(
                codec.n_mels,
                spec.representation.dim,
                config.mel_disc_motion,
                config.disc_channels,
                config.disc_layers,
                config.disc_scales,
            )
        elif config.loss_adv_mel > 0:
            self.mel_discriminator = MultiScaleDiscriminator(
                codec.n_mels, config.disc_channels, config.disc_layers, config.disc_scales
            )
        else:
            self.mel_discriminator = None

    @property
    def sample_rate(self) -> int:
        return int(self.codec.sample_rate)

    @property
    def latent_rate(self) -> float:
        return self.codec.sample_rate / self.codec.hop

    def train(self, mode: bool = True) -> D2MGANMethod:
        super().train(mode)
        self.codec.eval()  # frozen: never in training mode
        return self

    # ---- training ------------------------------------------------------------------------------------
    def configure_optimizers(self, train) -> dict[str, Optimization]:
        """Adam (betas from the config, no weight decay) for the discriminator and the generator."""
        from choreo.optim import build_optimizer, warmup_schedule

        betas = tuple(float(b) for b in self.config.betas)
        out = {}
        judges = [self.discriminator] + ([self.mel_discriminator] if self.mel_discriminator is not None else [])
        for name, modules in (("discriminator", judges), ("generator", [self.generator])):
            params = [p for m in modules for p in m.parameters() if p.requires_grad]
            opt = build_optimizer(params, train, optimizer="adam", betas=betas, weight_decay=0.0)
            sched = warmup_schedule(opt, train.warmup_steps, train.steps, train.schedule, train.min_lr_ratio)
            out[name] = Optimization(opt, sched, params)
        return out

    def phases(self, step: int) -> tuple[str, ...]:
        return ("discriminator", "generator")

    def positions(self, n_latents: int, offset_s: float = 0.0) -> torch.Tensor:
        """(n,) fractional motion frames at the latent frames' times (seconds + offset) x fps."""
        t = self.codec.latent_times(n_latents) + offset_s
        return torch.as_tensor(t * float(self.spec.fps), dtype=torch.float32)

    def _draws(self, seeds: torch.Tensor, n: int, styles: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample noise (B, n, noise_dim) and the style labels after dropout (B,), from each sample's seed."""
        noises, keep = [], []
        for s in seeds.reshape(-1).tolist():
            g = torch.Generator().manual_seed(int(s))
            keep.append(bool(torch.rand(1, generator=g) >= self.config.style_dropout))
            noises.append(torch.randn(n, self.generator.noise_dim, generator=g))
        noise = torch.stack(noises).to(self.device)
        B = len(keep)
        if styles is None:
            lab = torch.full((B,), -1, dtype=torch.long, device=self.device)
        else:
            lab = styles.to(self.device).long()
            lab = torch.where(torch.tensor(keep, device=self.device), lab, torch.full_like(lab, -1))
        return noise, lab

    def _targets(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            mel = self.codec.log_mel(audio)
            z = self.codec.encode_mel(mel) if hasattr(self.codec, "encode_mel") else self.codec.encode(audio)
            zq, _ = self.codec.quantize(z)
        return z, zq, mel

    def training_loss(
        self, batch: dict, phase: str = "generator", step: int = 0, epoch: float = 0.0
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor | float]]:
        """Per-sample hinge loss of the discriminator, or the generator's weighted loss (module docstring)."""
        if "audio" not in batch:
            raise ChoreoError("D2M-GAN trains on motion with its audio: set data.audio_sr to the codec's rate")
        cfg = self.config
        dev = self.device
        motion = batch["motion"].to(dev, torch.float32)
        audio = batch["audio"].to(dev, torch.float32)
        z_real, zq_real, mel_real = self._targets(audio)
        n = z_real.shape[1]
        noise, style = self._draws(batch["seed"], n, batch.get("style"))
        z_fake = self.generator(self.generator_input(motion), self.positions(n), noise, style)
        judge_mel = self.mel_discriminator is not None
        if judge_mel:  # the second judge sees both sides through the same decoder, as (B, T, n_mels)
            with torch.no_grad():
                decoded_real = self.codec.decode_mel(zq_real).transpose(1, 2)
            mel_judge = self._mel_judge(motion, decoded_real.shape[1])
        if phase == "discriminator":
            real, fake = _hinge_d(self.discriminator, z_real, z_fake.detach())
            logs = {"d_real": real.detach(), "d_fake": fake.detach()}
            if judge_mel:
                with torch.no_grad():
                    decoded_fake = self.codec.decode_mel(self.codec.quantize(z_fake)[0]).transpose(1, 2)
                mel_real_d, mel_fake_d = _hinge_d(mel_judge, decoded_real, decoded_fake)
                logs.update(d_mel_real=mel_real_d.detach(), d_mel_fake=mel_fake_d.detach())
                if cfg.mel_disc_mismatch > 0 and motion.shape[0] > 1:
                    # the real music under another window's dance: real sound, wrong pairing
                    other = self._mel_judge(motion.roll(1, dims=0), decoded_real.shape[1])
                    mismatch = _hinge(other(decoded_real), -1.0)
                    logs["d_mel_mismatch"] = mismatch.detach()
                    mel_fake_d = mel_fake_d + cfg.mel_disc_mismatch * mismatch
                real, fake = real + mel_real_d, fake + mel_fake_d
            return real + fake, logs
        zq_fake, _ = self.codec.quantize(z_fake)
        zq_st = z_fake + (zq_fake - z_fake).detach()  # nearest codeword forward, identity backward
        adv, fm = _adversarial_g(self.discriminator, z_real, z_fake)
        latent = _per_sample((z_fake - z_real).abs())
        quant = _per_sample((zq_st - zq_real).abs())
        decoded_fake = self.codec.decode_mel(zq_st)
        mel_fake = decoded_fake[..., : mel_real.shape[-1]]
        mel = _per_sample((mel_fake - mel_real).abs())
        total = cfg.loss_adv * adv + cfg.loss_fm * fm + cfg.loss_latent * latent + cfg.loss_quantized * quant
        total = total + cfg.loss_mel * mel
        terms = {"adv": adv, "fm": fm, "latent": latent, "quantized": quant, "mel": mel}
        if judge_mel:
            adv_mel, fm_mel = _adversarial_g(mel_judge, decoded_real, decoded_fake.transpose(1, 2))
            terms.update(adv_mel=adv_mel, fm_mel=fm_mel)
            fm_weight = cfg.loss_fm if cfg.loss_fm_mel is None else cfg.loss_fm_mel
            total = total + cfg.loss_adv_mel * adv_mel + fm_weight * fm_mel
        if cfg.loss_mel_stats > 0:
            terms["mel_stats"] = spectrum_stats_distance(mel_fake, mel_real)
            total = total + cfg.loss_mel_stats * terms["mel_stats"]
        if cfg.loss_pulse > 0 or cfg.loss_beat > 0 or cfg.loss_dance_beat > 0 or cfg.loss_onset_dist > 0:
            envelope_fake, envelope_real = onset_envelope(mel_fake), onset_envelope(mel_real)
        if cfg.loss_pulse > 0:
            lags = pulse_lags(self.codec.sample_rate / self.codec.mel_hop)
            profile_fake = pulse_profile(envelope_fake, *lags)
            profile_real = pulse_profile(envelope_real, *lags)
            terms["pulse"] = _per_sample((profile_fake - profile_real).abs())
            total = total + cfg.loss_pulse * terms["pulse"]
        if cfg.loss_beat > 0:
            if "music" not in batch:
                raise ChoreoError("loss_beat needs the batches' music features (their beat column)")
            beats = self.beats_on_envelope(batch["music"][..., self.beat_column], envelope_real.shape[-1])
            accent_fake = beat_accent(envelope_fake, beats, tolerance=3)
            terms["beat"] = (accent_fake - beat_accent(envelope_real, beats, tolerance=3)).abs()
            total = total + cfg.loss_beat * terms["beat"]
        if cfg.loss_onset_dist > 0:
            terms["onset_dist"] = envelope_distribution_distance(envelope_fake, envelope_real, cfg.onset_dist_pooled)
            total = total + cfg.loss_onset_dist * terms["onset_dist"]
        if cfg.loss_dance_beat > 0:
            steps = motion_rhythm(motion, float(self.spec.fps))[..., 2]
            beats = self.beats_on_envelope(steps, envelope_fake.shape[-1], lag_frames=0)
            accent = beat_accent(envelope_fake, beats, tolerance=3)
            # a window without a kinematic beat asks for nothing
            terms["dance_beat"] = torch.relu(cfg.dance_beat_accent - accent) * (beats.sum(dim=-1) > 0)
            total = total + cfg.loss_dance_beat * terms["dance_beat"]
        return total, {k: v.detach() for k, v in terms.items()}

    def beats_on_envelope(self, beats: torch.Tensor, n: int, lag_frames: int = 1) -> torch.Tensor:
        """(B, W) beat one-hot at the motion's fps -> (B, n) 0/1 mask on onset-envelope frames.

        Envelope frame i is the change into mel frame i + 1, centred at ``(i + 1) * mel_hop / sr`` s. Two
        conventions meet here: a feature set's beat one-hot sits on the frame at or just after the beat
        (librosa's onset envelope rises within a frame after an attack), and the codec's spectral flux rises
        as its centred window first takes the attack in, about half a window early. So the beat of feature
        frame f is put at ``(f - lag_frames) / fps - BEAT_LEAD_S`` s, measured on real songs (module constant);
        ``lag_frames`` is 1 for a feature set's beats and 0 for events that sit on their own frame (a dance's
        kinematic beats).
        """
        beats = beats.to(self.device, torch.float32)
        frame_s = torch.arange(beats.shape[-1], device=self.device, dtype=torch.float32) - float(lag_frames)
        frame_s = frame_s / float(self.spec.fps) - BEAT_LEAD_S
        idx = torch.round(frame_s * (self.codec.sample_rate / self.codec.mel_hop)).long() - 1
        idx = idx.clamp(0, n - 1)[None].expand_as(beats)
        return torch.zeros(beats.shape[0], n, device=self.device).scatter_add_(1, idx, beats).clamp(max=1.0)

    def generator_input(self, motion: torch.Tensor) -> torch.Tensor:
        """What the generator reads of (B, W, C) normalised motion (``motion_input``): (B, W, C), (B, W, 5) or
        both joined."""
        if self.config.motion_input == "raw":
            return motion
        rhythm = motion_rhythm(motion, float(self.spec.fps))
        return rhythm if self.config.motion_input == "rhythm" else torch.cat([motion, rhythm], dim=-1)

    def _mel_judge(self, motion: torch.Tensor, n_frames: int):
        """The mel discriminator as a function of (B, T, n_mels) spectrograms, for ``motion`` (B, W, C) when it
        is conditioned on the dance (decoded mel frame j is centred at ``j * mel_hop / sr`` seconds)."""
        if not isinstance(self.mel_discriminator, DanceConditionedDiscriminator):
            return self.mel_discriminator
        t = torch.arange(n_frames, dtype=torch.float32) * (self.codec.mel_hop / self.codec.sample_rate)
        positions = t * float(self.spec.fps)
        return lambda mel: self.mel_discriminator(mel, motion, positions)

    # ---- sampling ------------------------------------------------------------------------------------
    def _style_index(self, style: str | int | None) -> int:
        return style_index(self.styles, style, unknown=-1)

    @torch.inference_mode()
    def latents(
        self, motion: np.ndarray, seed: int = 0, style: str | int | None = None, quantize: bool = True
    ) -> torch.Tensor:
        """Quantised latents (T_lat, D) for a whole dance (T, C) in real units, generated chunk by chunk
        (``quantize=False``: the generator's continuous output).

        Each chunk of ``chunk_seconds`` of latents gets a margin of dance (the generator's receptive field) on
        both sides, so the result does not depend on the chunking (up to float rounding); noise for latent k is
        drawn once for the whole dance from ``seed``.
        """
        x = np.asarray(motion, np.float32)
        if x.ndim != 2 or x.shape[1] != self.representation.dim:
            raise ChoreoError(f"motion has shape {x.shape}, expected (frames, {self.representation.dim})")
        if x.shape[0] == 0:
            raise ChoreoError("the dance has no frames")
        if not np.all(np.isfinite(x)):
            raise ChoreoError("the dance contains NaN or infinite values")
        fps = float(self.spec.fps)
        m = torch.as_tensor(np.asarray(self.normalizer.normalize(x), np.float32), device=self.device)
        T = m.shape[0]
        if T < 3 and self.config.motion_input != "raw":
            raise ChoreoError(f"the dance is too short for this model ({T} frames; it reads the rhythm of 3 or more)")
        m = self.generator_input(m[None])[0]  # over the whole dance: the descriptors do not depend on chunks
        n_samples = int(round(T / fps * self.sample_rate))
        n_lat = self.codec.n_latents(max(1, n_samples))
        g = torch.Generator().manual_seed(int(seed) & (2**63 - 1))
        noise = torch.randn(n_lat, self.generator.noise_dim, generator=g).to(self.device)
        lab = torch.tensor([self._style_index(style)], device=self.device)
        times = self.codec.latent_times(n_lat)
        chunk = max(1, int(round(self.config.chunk_seconds * self.latent_rate)))
        margin_s = self.generator.receptive(fps, self.latent_rate) + 1.0 / self.latent_rate
        margin_lat = int(np.ceil(margin_s * self.latent_rate))
        out = torch.empty(n_lat, self.codec.latent_dim, device=self.device)
        for a in range(0, n_lat, chunk):
            b = min(n_lat, a + chunk)
            la, lb = max(0, a - margin_lat), min(n_lat, b + margin_lat)
            fa = max(0, int(np.floor((times[la] - margin_s) * fps)))
            fb = min(T, int(np.ceil((times[lb - 1] + margin_s) * fps)) + 1)
            fa = min(fa, T - 1)
            pos = torch.as_tensor(times[la:lb] * fps - fa, dtype=torch.float32)
            z = self.generator(m[None, fa:fb], pos, noise[None, la:lb], lab)
            out[a:b] = z[0, a - la : b - la]
        if not quantize:
            return out
        zq, _ = self.codec.quantize(out[None])
        return zq[0]

    @torch.inference_mode()
    def compose(
        self,
        motion: np.ndarray,
        seed: int = 0,
        progress: bool = False,
        style: str | int | None = None,
        gl_iters: int | None = None,
    ) -> np.ndarray:
        """Music for a whole dance: (T, C) real units at the model's fps -> (round(T / fps * sr),) float32 samples.

        The latents come from :meth:`latents`; they are decoded to mel and inverted by Griffin-Lim in chunks
        that overlap and are cross-faded (bounded memory for any length).
        """
        zq = self.latents(motion, seed=seed, style=style)
        n_samples = int(round(np.asarray(motion).shape[0] / float(self.spec.fps) * self.sample_rate))
        chunk = max(1, int(round(self.config.chunk_seconds * self.latent_rate)))
        iters = int(gl_iters) if gl_iters else None  # 0 / None: the codec's own
        return self.codec.decode(zq, n_samples=n_samples, seed=seed, chunk_latents=chunk, n_iter=iters)


def _codec_from_checkpoint(path: str) -> dict:
    """``{"kind", "config", "state"}`` of a trained codec checkpoint (a ``codec`` run or file)."""
    from choreo.checkpoint import load_checkpoint
    from choreo.packaged import resolve_model

    path = resolve_model(path, produces="codec")  # a file, a run folder or a packaged codec's name
    state = load_checkpoint(path)
    if state.get("method") != "codec":
        raise ChoreoError(f"codec_checkpoint is a {state.get('method')!r} checkpoint, not a codec", path)
    comps = {**(state.get("components") or {}), **(state.get("ema") or {})}
    if "codec" not in comps:
        raise ChoreoError("the codec checkpoint holds no codec weights", path)
    return {"kind": "melvq", "config": dict((state.get("config") or {}).get("model") or {}), "state": comps["codec"]}


def build_d2mgan(model_config: dict | None, spec) -> D2MGANMethod:
    """Registry entry: a :class:`D2MGANMethod` from its config dict and the data spec.

    The codec's architecture comes from ``model_config["codec"]`` (a checkpoint's config always has it; its
    weights are then loaded with the other components) or, for a new run, from the trained codec at
    ``codec_checkpoint``, whose weights are loaded here and whose config is embedded in the method's.
    """
    cfg = D2MConfig.from_dict(model_config)
    if cfg.codec:
        codec = build_audio_codec(str(cfg.codec.get("kind", "melvq")), dict(cfg.codec.get("config") or {}))
    elif cfg.codec_checkpoint:
        trained = _codec_from_checkpoint(cfg.codec_checkpoint)
        codec = build_audio_codec(trained["kind"], trained["config"])
        try:
            codec.load_state_dict(trained["state"])
        except (RuntimeError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0][:200]
            raise ChoreoError(f"the codec weights do not fit its config ({first})", cfg.codec_checkpoint) from None
        cfg.codec = {"kind": trained["kind"], "config": codec.config.to_dict()}
    else:
        raise ChoreoError("D2M-GAN needs a trained codec: set model.codec_checkpoint (choreo train --method codec)")
    return D2MGANMethod(cfg, spec, codec)
