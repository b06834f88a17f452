"""D2M-GAN (Zhu et al., ECCV 2022) as a method of choreo's trainer: the generator against its discriminators over
a frozen audio codec, and the sampler that turns a whole dance into music.

What differs from the released code (see ``research.md``), on purpose:

- **time alignment** (:mod:`.generator`): latent k hears the dance around its own time;
- **the mel loss carries gradient**: L1 between the log-mel of the real audio and the codec's *differentiable*
  decoder applied to the generated latent (straight-through over the nearest-codeword snap). In the released code
  the waveform and mel terms are computed under ``torch.no_grad()``;
- there is no waveform L1 term: the codec's mel -> audio step is Griffin-Lim, which has no gradient;
- the dance-style label is optional and dropped at random in training (``style_dropout``), so the
  generator also works, and is evaluated, without it (the released code gives the genre at test time);
- two optional terms of choreo's (:class:`~.config.D2MConfig`): the pulse term and a mel discriminator.

Kept as published: generator output ``tanh(x) * sigma``; discriminator of 3 scales (1x, 2x, 4x average
pooling), MelGAN-style, on the continuous latent; hinge loss; generator loss
``adv + 3 feature matching + 5 L1(latent) + 8 L1(quantised latent) + 15 L1(log-mel)``; Adam 1e-4 with betas
(0.5, 0.9) for both networks; discriminator step, then generator step, every global step.

The trained codec is a frozen component (``codec``) of the checkpoint, so a D2M-GAN checkpoint is self-contained.
A new run is built on a trained codec that the loader reads (the setting ``codec_checkpoint``,
:meth:`D2MGANMethod.trained_parts`) and hands to :func:`build_d2mgan`; no file IO here.

Tensors: motion (B, W, C) normalised at the data's fps; audio (B, N) at the codec's rate; latents
(B, T, D) at ``codec.sample_rate / codec.hop`` frames per second (21.5 Hz for choreo's codec).
"""

from __future__ import annotations

import numpy as np
import torch

from choreo.errors import ChoreoError
from choreo.models.codec import AudioCodec, CodecMethod, build_audio_codec, codec_spec
from choreo.models.d2m.config import D2MConfig
from choreo.models.d2m.discriminators import MultiScaleDiscriminator
from choreo.models.d2m.generator import D2MGenerator
from choreo.models.d2m.losses import discriminator_hinge, generator_adversarial, l1, pulse_distance
from choreo.models.method import Method, Optimization, style_index


class D2MGANMethod(Method):
    """D2M-GAN on choreo's trainer: components ``generator``, ``discriminator`` (and ``mel_discriminator`` with
    ``loss_adv_mel``) and the frozen ``codec``.

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
        self.codec = codec.eval().requires_grad_(False)
        self.representation = spec.representation
        self.normalizer = spec.normalizer
        self.styles = tuple(spec.styles)
        sigma = float(config.sigma) or (1.25 * codec.latent_bound() if codec.latent_bound() > 0 else 4.0)
        self.generator = D2MGenerator(spec.representation.dim, codec.latent_dim, config, len(self.styles), sigma)
        self.discriminator = MultiScaleDiscriminator(
            codec.latent_dim, config.disc_channels, config.disc_layers, config.disc_scales
        )
        self.mel_discriminator = (
            MultiScaleDiscriminator(codec.n_mels, config.disc_channels, config.disc_layers, config.disc_scales)
            if config.loss_adv_mel > 0
            else None
        )

    @classmethod
    def takes_style(cls, model_config: dict) -> bool:
        """D2M-GAN always takes a dance style (withheld unless given; a model trained without styles refuses one)."""
        return True

    @classmethod
    def trained_parts(cls, model_config: dict) -> dict[str, str]:
        """Trained models that these settings build on and that the loader must read and pass to
        :func:`build_d2mgan` by keyword: ``{"codec": codec_checkpoint}`` for a new run; nothing for a checkpoint's
        settings, which embed the codec (its weights are a component)."""
        if model_config.get("codec") or not model_config.get("codec_checkpoint"):
            return {}
        return {"codec": str(model_config["codec_checkpoint"])}

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
        """Adam (betas from the config, no weight decay) for the discriminators and the generator, whatever
        ``train.optimizer`` and ``train.weight_decay`` say (D2M-GAN's published optimiser); ``train.lr`` and the
        schedule apply."""
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
        """The real music's latent (B, T, D), quantised latent (B, T, D) and log-mel (B, n_mels, T_mel)."""
        with torch.no_grad():
            mel = self.codec.log_mel(audio)
            z = self.codec.encode_mel(mel) if hasattr(self.codec, "encode_mel") else self.codec.encode(audio)
            zq, _ = self.codec.quantize(z)
        return z, zq, mel

    def training_loss(
        self, batch: dict, phase: str = "generator", step: int = 0, epoch: float = 0.0
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor | float]]:
        """Per-sample hinge loss of the discriminators, or the generator's weighted loss (module docstring)."""
        if "audio" not in batch:
            raise ChoreoError("D2M-GAN trains on motion with its audio: set data.audio_sr to the codec's rate")
        motion = batch["motion"].to(self.device, torch.float32)
        audio = batch["audio"].to(self.device, torch.float32)
        z_real, zq_real, mel_real = self._targets(audio)
        n = z_real.shape[1]
        noise, style = self._draws(batch["seed"], n, batch.get("style"))
        z_fake = self.generator(motion, self.positions(n), noise, style)
        decoded_real = None
        if self.mel_discriminator is not None:  # the second judge sees both sides through the same decoder
            with torch.no_grad():
                decoded_real = self.codec.decode_mel(zq_real).transpose(1, 2)  # (B, T, n_mels)
        if phase == "discriminator":
            return self._discriminator_loss(z_real, z_fake, decoded_real)
        return self._generator_loss(z_real, zq_real, mel_real, z_fake, decoded_real)

    def _discriminator_loss(
        self, z_real: torch.Tensor, z_fake: torch.Tensor, decoded_real: torch.Tensor | None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        real, fake = discriminator_hinge(self.discriminator, z_real, z_fake.detach())
        logs = {"d_real": real.detach(), "d_fake": fake.detach()}
        if decoded_real is not None:
            with torch.no_grad():
                decoded_fake = self.codec.decode_mel(self.codec.quantize(z_fake)[0]).transpose(1, 2)
            mel_real_d, mel_fake_d = discriminator_hinge(self.mel_discriminator, decoded_real, decoded_fake)
            logs.update(d_mel_real=mel_real_d.detach(), d_mel_fake=mel_fake_d.detach())
            real, fake = real + mel_real_d, fake + mel_fake_d
        return real + fake, logs

    def _generator_loss(
        self,
        z_real: torch.Tensor,
        zq_real: torch.Tensor,
        mel_real: torch.Tensor,
        z_fake: torch.Tensor,
        decoded_real: torch.Tensor | None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg = self.config
        zq_fake, _ = self.codec.quantize(z_fake)
        zq_st = z_fake + (zq_fake - z_fake).detach()  # nearest codeword forward, identity backward
        adv, fm = generator_adversarial(self.discriminator, z_real, z_fake)
        latent = l1(z_fake, z_real)
        quant = l1(zq_st, zq_real)
        decoded_fake = self.codec.decode_mel(zq_st)
        mel_fake = decoded_fake[..., : mel_real.shape[-1]]
        mel = l1(mel_fake, mel_real)
        total = cfg.loss_adv * adv + cfg.loss_fm * fm + cfg.loss_latent * latent + cfg.loss_quantized * quant
        total = total + cfg.loss_mel * mel
        terms = {"adv": adv, "fm": fm, "latent": latent, "quantized": quant, "mel": mel}
        if decoded_real is not None:
            adv_mel, fm_mel = generator_adversarial(self.mel_discriminator, decoded_real, decoded_fake.transpose(1, 2))
            terms.update(adv_mel=adv_mel, fm_mel=fm_mel)
            total = total + cfg.loss_adv_mel * adv_mel + cfg.loss_fm * fm_mel
        if cfg.loss_pulse > 0:
            terms["pulse"] = pulse_distance(mel_fake, mel_real, self.codec.sample_rate / self.codec.mel_hop)
            total = total + cfg.loss_pulse * terms["pulse"]
        return total, {k: v.detach() for k, v in terms.items()}

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


def build_d2mgan(model_config: dict | None, spec, codec: CodecMethod | AudioCodec | None = None) -> D2MGANMethod:
    """Registry entry: a :class:`D2MGANMethod` from its config dict and the data spec.

    Args:
        model_config: :class:`~.config.D2MConfig` fields.
        spec: the data's :class:`~choreo.data.spec.DataSpec`.
        codec: the trained codec a new run is built on (a ``codec`` method or the codec itself, weights loaded),
            read by the loader from ``codec_checkpoint`` (:meth:`D2MGANMethod.trained_parts`); its architecture is
            embedded in the method's config. Without it, ``model_config["codec"]`` gives the architecture (a
            checkpoint's settings always do) and the weights come with the checkpoint's other components.
    """
    cfg = D2MConfig.from_dict(model_config)
    if isinstance(codec, CodecMethod):
        codec = codec.codec
    if codec is not None:
        if not isinstance(codec, AudioCodec):
            what = getattr(codec, "name", type(codec).__name__)
            raise ChoreoError(f"D2M-GAN is built on an audio codec; codec_checkpoint holds method {what!r}")
        cfg.codec = codec_spec(codec)
    elif cfg.codec:
        codec = build_audio_codec(str(cfg.codec.get("kind", "melvq")), dict(cfg.codec.get("config") or {}))
    elif cfg.codec_checkpoint:
        raise ChoreoError(
            f"D2M-GAN's codec_checkpoint ({cfg.codec_checkpoint}) is read by the loader: build a new run with "
            "choreo train (or pass the trained codec to build_d2mgan)"
        )
    else:
        raise ChoreoError("D2M-GAN needs a trained codec: set model.codec_checkpoint (choreo train --method codec)")
    return D2MGANMethod(cfg, spec, codec)
