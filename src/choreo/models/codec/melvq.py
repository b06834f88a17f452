"""choreo's codec: a residual-VQ VAE on log-mel frames (:class:`MelVQCodec`), decoded to audio by Griffin-Lim."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from choreo.errors import ChoreoError
from choreo.models.codec.frontend import LogMel
from choreo.models.codec.interface import AudioCodec
from choreo.models.codec.quantizer import ResidualVQ
from choreo.models.method import config_from_dict


class ResBlock(nn.Module):
    """``x + conv1x1(act(conv_k3_dilated(act(x))))`` over (B, C, T); length preserved."""

    def __init__(self, channels: int, dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.proj = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj(F.leaky_relu(self.conv(F.leaky_relu(x, 0.2)), 0.2))


def _res_stack(channels: int, n: int) -> list[nn.Module]:
    return [ResBlock(channels, 3**i) for i in range(n)]


@dataclass
class CodecConfig:
    """The mel VQ-VAE's settings.

    Attributes:
        sample_rate: audio rate (Hz). n_fft, mel_hop, n_mels, fmin, fmax: the log-mel front end (fmax None:
            Nyquist).
        mel_mean, mel_std: fixed normalisation of log10 mel values for the networks (music sits near -1.8 +- 0.8).
        channels: convolution width. res_blocks: dilated residual blocks per stage (dilations 1, 3, 9, ...).
        down: mel frames per latent frame (a power of 2).
        latent_dim: D. n_codebooks: residual levels. codebook_size: codewords per level.
        ema_decay, ema_eps, dead_threshold: the codebooks' EMA (see :class:`ResidualVQ`).
        commitment: weight of the commitment loss.
        gl_iters: Griffin-Lim iterations when decoding to audio.
    """

    sample_rate: int = 22050
    n_fft: int = 1024
    mel_hop: int = 256
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float | None = None
    mel_mean: float = -1.8
    mel_std: float = 0.8
    channels: int = 192
    res_blocks: int = 2
    down: int = 4
    latent_dim: int = 64
    n_codebooks: int = 4
    codebook_size: int = 512
    ema_decay: float = 0.99
    ema_eps: float = 1e-5
    dead_threshold: float = 1.0
    commitment: float = 0.25
    gl_iters: int = 32

    @classmethod
    def from_dict(cls, d: dict | None) -> CodecConfig:
        """Build from a plain dict (unknown keys are an error naming them; see :func:`drop_removed`)."""
        cfg = config_from_dict(cls, drop_removed(d), "codec")
        if cfg.down < 1 or cfg.down & (cfg.down - 1):
            raise ChoreoError(f"codec down must be a power of 2, got {cfg.down}")
        if min(cfg.channels, cfg.latent_dim, cfg.n_codebooks, cfg.codebook_size, cfg.n_mels) < 1:
            raise ChoreoError("codec sizes (channels, latent_dim, n_codebooks, codebook_size, n_mels) must be >= 1")
        if not 0.0 <= cfg.ema_decay < 1.0:
            raise ChoreoError(f"codec ema_decay must be in [0, 1), got {cfg.ema_decay}")
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


#: the last commit whose codec had ``loss_l2`` (an extra squared mel error, 0 in every recipe; removed in issue 30)
REMOVED_IN = "4af5476"


def drop_removed(d: dict | None) -> dict:
    """``d`` without ``loss_l2``, which old checkpoints carry (at 0.0: it did nothing).

    Raises:
        ChoreoError: ``loss_l2`` other than 0: a codec trained with the removed term.
    """
    d = dict(d or {})
    value = d.pop("loss_l2", 0.0)
    if value != 0.0:
        raise ChoreoError(
            f"this codec uses loss_l2={value!r}: a research option removed from choreo after commit {REMOVED_IN} "
            f"(`git checkout {REMOVED_IN}` trains it)"
        )
    return d


class MelVQCodec(AudioCodec):
    """The residual-VQ VAE on log-mel frames (see the module docstring). Built from a :class:`CodecConfig`."""

    def __init__(self, config: CodecConfig):
        super().__init__()
        c = config
        self.config = c
        self.sample_rate, self.mel_hop, self.n_mels, self.down = c.sample_rate, c.mel_hop, c.n_mels, c.down
        self.hop = c.mel_hop * c.down
        self.latent_dim = c.latent_dim
        self.frontend = LogMel(c.sample_rate, c.n_fft, c.mel_hop, c.n_mels, c.fmin, c.fmax)
        stages = int(round(math.log2(c.down)))
        C = c.channels
        enc: list[nn.Module] = [nn.Conv1d(c.n_mels, C, 3, padding=1)]
        for _ in range(stages):
            enc += [*_res_stack(C, c.res_blocks), nn.LeakyReLU(0.2), nn.Conv1d(C, C, 4, stride=2, padding=1)]
        enc += [*_res_stack(C, c.res_blocks), nn.LeakyReLU(0.2), nn.Conv1d(C, c.latent_dim, 3, padding=1)]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv1d(c.latent_dim, C, 3, padding=1), *_res_stack(C, c.res_blocks)]
        for _ in range(stages):
            dec += [nn.LeakyReLU(0.2), nn.ConvTranspose1d(C, C, 4, stride=2, padding=1), *_res_stack(C, c.res_blocks)]
        dec += [nn.LeakyReLU(0.2), nn.Conv1d(C, c.n_mels, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)
        self.quantizer = ResidualVQ(
            c.n_codebooks, c.codebook_size, c.latent_dim, c.ema_decay, c.ema_eps, c.dead_threshold
        )
        # EMA of the largest |latent| per training batch: D2M-GAN's tanh scale comes from it
        self.register_buffer("latent_absmax", torch.zeros(()))

    def latent_bound(self) -> float:
        return float(self.latent_absmax)

    def decoder_margin(self) -> int:
        # receptive field of the decoder in latent frames, rounded up (dilated blocks add 2 * 3^i frames each)
        per_stage = sum(2 * 3**i for i in range(self.config.res_blocks))
        stages = int(round(math.log2(self.down)))
        mel_frames = 2 + per_stage * (stages + 1) * self.down + 4 * stages + 2
        return -(-mel_frames // self.down) + 1

    # -- pieces -----------------------------------------------------------------------------------------
    def log_mel(self, y: torch.Tensor) -> torch.Tensor:
        return self.frontend(y.to(self.device))

    def _pad_to_down(self, mel: torch.Tensor) -> torch.Tensor:
        extra = (-mel.shape[-1]) % self.down
        return F.pad(mel, (0, extra), mode="replicate") if extra else mel

    def encode_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, T_mel) log10 mel -> (B, ceil(T_mel / down), D) continuous latents."""
        x = (self._pad_to_down(mel) - self.config.mel_mean) / self.config.mel_std
        return self.encoder(x).transpose(1, 2)

    def encode(self, y: torch.Tensor) -> torch.Tensor:
        y = y.to(self.device)
        return self.encode_mel(self.log_mel(y if y.ndim == 2 else y[None]))

    def quantize(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zq, codes, _ = self.quantizer(z, update=False)
        return zq, codes

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        return self.quantizer.lookup(codes.long())

    def decode_mel(self, zq: torch.Tensor) -> torch.Tensor:
        x = self.decoder(zq.transpose(1, 2))
        return x * self.config.mel_std + self.config.mel_mean

    def mel_to_audio(
        self, log_mel: np.ndarray, n_samples: int | None = None, seed: int = 0, n_iter: int | None = None
    ) -> np.ndarray:
        from choreo.audio.griffinlim import mel_to_audio

        c = self.config
        iters = int(n_iter) if n_iter else c.gl_iters
        return mel_to_audio(log_mel, c.sample_rate, c.n_fft, c.mel_hop, c.fmin, c.fmax, iters, seed, length=n_samples)

    # -- training ---------------------------------------------------------------------------------------
    def losses(self, y: torch.Tensor, seed: int = 0) -> dict[str, torch.Tensor]:
        """Training forward pass on (B, N) audio: updates the codebooks and ``latent_absmax``.

        Returns per-sample (B,) ``recon`` (mean |log10 mel error|) and ``commit``, and scalar ``perplexity`` (of
        level 0's codes in this batch) and ``dead`` (fraction restarted).
        """
        from choreo.train.distributed import all_max  # training only: inference never imports choreo.train

        mel = self.log_mel(y)
        z = self.encode_mel(mel)
        with torch.no_grad():
            m = all_max(z.detach().abs().amax().float())
            a = self.latent_absmax
            a.copy_(torch.where(a > 0, 0.99 * a + 0.01 * m, m))
            before = (self.quantizer.cluster_size < self.quantizer.threshold).float().mean()
        zq, codes, commit = self.quantizer(z, update=True, seed=seed)
        z_st = z + (zq - z).detach()  # straight-through: the decoder's gradient reaches the encoder
        rec = self.decode_mel(z_st)[..., : mel.shape[-1]]
        err = rec - mel
        with torch.no_grad():
            hist = torch.bincount(codes[..., 0].reshape(-1), minlength=self.quantizer.size).float()
            p = hist / hist.sum()
            perplexity = torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum())
        return {
            "recon": err.abs().mean(dim=(1, 2)),
            "commit": commit,
            "perplexity": perplexity,
            "dead": before,
        }

    @torch.no_grad()
    def reconstruct(self, y: np.ndarray, seed: int = 0) -> np.ndarray:
        """Encode, quantise and decode one mono signal at ``sample_rate``: (N,) -> (N,) float32."""
        t = torch.as_tensor(np.asarray(y, np.float32), device=self.device)[None]
        _, codes = self.quantize(self.encode(t))
        return self.decode(codes[0], n_samples=len(y), seed=seed)
