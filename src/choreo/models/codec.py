"""choreo's audio codec: a residual-VQ VAE on log-mel frames, decoded to audio by Griffin-Lim.

D2M-GAN generates the continuous latent of an audio codec and decodes its nearest codewords to audio. Its
codec, Jukebox's VQ-VAE, needs a large GPU and weights that are not available here, so choreo trains its
own, small enough for 2 CPU cores in hours:

- **Front end** (:class:`LogMel`): mono audio at ``sample_rate`` (22050 Hz) -> ``log10(max(M, 1e-5))`` with
  ``M = mel_basis @ |STFT|`` (n_fft 1024, Hann, hop 256, 80 Slaney mel bands, librosa's filters and
  ``center=True`` framing, so ``librosa.feature.melspectrogram(power=1)`` gives the same magnitudes):
  86.1 mel frames per second, frame ``i`` centred on sample ``i * 256``.
- **Encoder**: 1D convolutions over time with dilated residual blocks, ``log2(down)`` stride-2 stages:
  ``down`` (4) mel frames per latent frame, so one ``latent_dim`` (64) vector every 1024 samples (21.5 Hz).
- **Quantiser** (:class:`ResidualVQ`): ``n_codebooks`` residual levels of ``codebook_size`` codewords;
  nearest-codeword lookup, commitment loss, EMA codebook updates with Laplace smoothing, dead-code restarts
  from the batch's own vectors (every codeword starts dead, so the first batch initialises the codebooks).
- **Decoder**: the mirror image (transposed stride-2 convolutions) back to log-mel frames; differentiable,
  which D2M-GAN's mel loss needs.
- **Audio**: Griffin-Lim on the decoded mel (:mod:`choreo.audio.griffinlim`), in chunks.

:class:`AudioCodec` is the interface the dance-to-music method uses, so another codec (Jukebox's VQ-VAE for
someone with its weights and a GPU) can plug in: ``encode``, ``quantize``, ``lookup``, ``decode_mel``,
``log_mel``, ``decode`` plus ``sample_rate``, ``hop``, ``latent_dim`` and the latent timing.

:class:`CodecMethod` (``choreo train --method codec --data MUSIC_DIR``) trains it on waveform windows from
any folder of audio files (:mod:`choreo.data.audio_windows`). No file IO here.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from choreo.errors import ChoreoError
from choreo.models.method import Method, config_from_dict

# ---- distributed helpers (the codebooks must stay identical on every process) ---------------------------


def _dist():
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def _all_sum(t: torch.Tensor) -> torch.Tensor:
    d = _dist()
    if d is not None and d.get_world_size() > 1:
        t = t.clone()
        d.all_reduce(t)
    return t


def _all_max(t: torch.Tensor) -> torch.Tensor:
    d = _dist()
    if d is not None and d.get_world_size() > 1:
        t = t.clone()
        d.all_reduce(t, op=d.ReduceOp.MAX)
    return t


def _all_cat(t: torch.Tensor) -> torch.Tensor:
    """Concatenate equal-shaped tensors of every process in rank order (= the single-process batch order)."""
    d = _dist()
    if d is None or d.get_world_size() == 1:
        return t
    parts = [torch.empty_like(t) for _ in range(d.get_world_size())]
    d.all_gather(parts, t.contiguous())
    return torch.cat(parts)


# ---- building blocks -------------------------------------------------------------------------------------


class LogMel(nn.Module):
    """Mono audio -> log10 mel magnitudes, differentiable.

    ``forward(y (B, N)) -> (B, n_mels, 1 + N // hop)``: ``log10(max(mel_basis @ |STFT(y)|, 1e-5))`` with a Hann
    window of ``n_fft`` samples, ``center=True`` zero padding (librosa >= 0.10's default), librosa's Slaney
    filter bank between ``fmin`` and ``fmax`` Hz.
    """

    def __init__(self, sample_rate: int, n_fft: int, hop: int, n_mels: int, fmin: float, fmax: float | None):
        super().__init__()
        from choreo.audio.griffinlim import mel_filters

        self.sample_rate, self.n_fft, self.hop, self.n_mels = int(sample_rate), int(n_fft), int(hop), int(n_mels)
        self.fmin, self.fmax = float(fmin), fmax
        basis = np.array(mel_filters(self.sample_rate, self.n_fft, self.n_mels, self.fmin, fmax))
        # constants rebuilt from the config, not weights: kept out of the checkpoint
        self.register_buffer("basis", torch.from_numpy(basis), persistent=False)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        y = y.float()
        spec = torch.stft(
            y,
            self.n_fft,
            self.hop,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        mag = spec.abs()
        return torch.log10(torch.clamp(self.basis @ mag, min=1e-5))


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


class ResidualVQ(nn.Module):
    """Residual vector quantisation with EMA codebooks and dead-code restarts.

    Level 0 quantises the latent, level l > 0 quantises what the levels before it left over; the
    quantised latent is the sum of the chosen codewords. Codebooks are buffers, updated (in training only,
    ``update=True``) by exponential moving averages of the vectors assigned to each codeword:

        N_k <- d N_k + (1 - d) n_k,      S_k <- d S_k + (1 - d) s_k,
        e_k = S_k / N'_k,   N'_k = (N_k + eps) / (sum N + K eps) * sum N     (Laplace smoothing)

    with ``n_k`` the count and ``s_k`` the sum of the batch vectors whose nearest codeword is k (summed over
    every process). A codeword whose ``N_k`` falls below ``threshold`` is dead: it is restarted at a vector of
    the batch drawn at random (``N_k = threshold``, ``S_k = threshold * vector``), so it must win at least
    about ``threshold`` vectors per batch to live. A level never updated (all counts 0) is initialised from the
    first training batch: every codeword a vector of it drawn at random.

    Args:
        levels: residual levels L; size: codewords per level K; dim: vector size D.
        decay: EMA decay d; eps: Laplace smoothing; threshold: dead-code threshold (in EMA counts).
    """

    def __init__(self, levels: int, size: int, dim: int, decay: float, eps: float, threshold: float):
        super().__init__()
        self.levels, self.size, self.dim = int(levels), int(size), int(dim)
        self.decay, self.eps, self.threshold = float(decay), float(eps), float(threshold)
        self.register_buffer("embed", torch.zeros(self.levels, self.size, self.dim))
        self.register_buffer("cluster_size", torch.zeros(self.levels, self.size))
        self.register_buffer("embed_sum", torch.zeros(self.levels, self.size, self.dim))

    def nearest(self, x: torch.Tensor, level: int) -> torch.Tensor:
        """(M, D) -> (M,) int64 index of the nearest codeword (squared Euclidean; ties: the lowest index)."""
        e = self.embed[level]
        d = (x * x).sum(1, keepdim=True) - 2.0 * (x @ e.t()) + (e * e).sum(1)[None, :]
        return d.argmin(dim=1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """(..., L') int64 codes of the first L' levels -> (..., D) quantised latent (sum of their codewords)."""
        out = 0
        for lv in range(codes.shape[-1]):
            out = out + F.embedding(codes[..., lv], self.embed[lv])
        return out if torch.is_tensor(out) else torch.zeros(*codes.shape[:-1], self.dim, device=self.embed.device)

    def forward(
        self, z: torch.Tensor, update: bool = False, seed: int = 0, levels: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Quantise (B, T, D) latents.

        Args:
            z: continuous latents.
            update: update the codebooks from this batch (training; every process must call it together).
            seed: seeds the dead-code restarts' draws (the same on every process).
            levels: use only the first levels (default all).

        Returns:
            ``(zq (B, T, D), codes (B, T, L) int64, commitment (B,))``: the quantised latent (no gradient: apply
            the straight-through estimator outside), the codes, and per sample the sum over levels of the mean
            squared distance between each level's input and its codeword (gradient to ``z`` only).
        """
        B, T, D = z.shape
        n_lv = self.levels if levels is None else int(levels)
        residual = z
        zq = torch.zeros_like(z)
        codes = []
        commit = z.new_zeros(B)
        for lv in range(n_lv):
            flat = residual.reshape(-1, D)
            if update and not bool(self.cluster_size[lv].any()):
                self._initialise(lv, flat.detach().float(), seed)
            idx = self.nearest(flat.detach().float(), lv)
            q = self.embed[lv][idx].reshape(B, T, D).to(z.dtype)
            commit = commit + (residual - q.detach()).pow(2).mean(dim=(1, 2))
            if update:
                self._ema_update(lv, flat.detach().float(), idx, seed)
            zq = zq + q
            residual = residual - q.detach()
            codes.append(idx.reshape(B, T))
        return zq.detach(), torch.stack(codes, dim=-1), commit

    def _draw(self, x: torch.Tensor, n: int, seed: int, lv: int) -> torch.Tensor:
        """``n`` vectors drawn (with replacement) from the global batch ``x`` (M, D), seeded by (seed, level)."""
        pool = _all_cat(x)  # the whole global batch, in the single-process order
        g = torch.Generator().manual_seed((int(seed) ^ (lv * 0x9E3779B97F4A7C15)) & (2**63 - 1))
        pick = torch.randint(0, pool.shape[0], (n,), generator=g).to(pool.device)
        return pool[pick]

    @torch.no_grad()
    def _initialise(self, lv: int, x: torch.Tensor, seed: int) -> None:
        """An untouched level (every count 0): every codeword becomes a vector of the batch, with count 1."""
        self.embed[lv].copy_(self._draw(x, self.size, seed, lv))
        self.cluster_size[lv].fill_(max(self.threshold, 1e-3))
        self.embed_sum[lv].copy_(self.embed[lv] * self.cluster_size[lv][:, None])

    @torch.no_grad()
    def _ema_update(self, lv: int, x: torch.Tensor, idx: torch.Tensor, seed: int) -> None:
        K = self.size
        onehot = F.one_hot(idx, K).to(x.dtype)  # (M, K)
        counts = _all_sum(onehot.sum(0))
        sums = _all_sum(onehot.t() @ x)
        d = self.decay
        self.cluster_size[lv].mul_(d).add_(counts, alpha=1.0 - d)
        self.embed_sum[lv].mul_(d).add_(sums, alpha=1.0 - d)
        dead = self.cluster_size[lv] < self.threshold
        n_dead = int(dead.sum())
        if n_dead:
            self.cluster_size[lv][dead] = self.threshold
            self.embed_sum[lv][dead] = self._draw(x, n_dead, seed + 1, lv) * self.threshold
        n = self.cluster_size[lv].sum()
        smoothed = (self.cluster_size[lv] + self.eps) / (n + K * self.eps) * n
        self.embed[lv].copy_(self.embed_sum[lv] / smoothed[:, None])


# ---- the codec interface -------------------------------------------------------------------------------


class AudioCodec(nn.Module):
    """What a dance-to-music method needs from an audio codec (subclass it to plug another codec in).

    Attributes:
        sample_rate: audio rate (Hz). hop: audio samples per latent frame. latent_dim: D.
        mel_hop, n_mels: the log-mel frames ``decode_mel`` / ``log_mel`` use (``mel_hop`` samples per frame).
        down: mel frames per latent frame (``hop = down * mel_hop``).
    """

    sample_rate: int
    hop: int
    latent_dim: int
    mel_hop: int
    n_mels: int
    down: int

    # timing -------------------------------------------------------------------------------------------------
    def n_mel_frames(self, n_samples: int) -> int:
        """Mel frames of ``n_samples`` samples (centred framing): ``1 + n // mel_hop``."""
        return 1 + int(n_samples) // self.mel_hop

    def n_latents(self, n_samples: int) -> int:
        """Latent frames that cover ``n_samples`` samples: ``ceil(mel frames / down)``."""
        return -(-self.n_mel_frames(n_samples) // self.down)

    def latent_times(self, n: int) -> np.ndarray:
        """(n,) seconds at the centre of each latent frame: latent k spans mel frames ``[down k, down (k + 1))``."""
        centre = np.arange(int(n), dtype=np.float64) * self.down + (self.down - 1) / 2.0
        return centre * self.mel_hop / self.sample_rate

    def latent_bound(self) -> float:
        """A bound on |latent| values seen in training (D2M-GAN's tanh scale; 0 if unknown)."""
        return 0.0

    # the model --------------------------------------------------------------------------------------------
    def log_mel(self, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        """(B, N) audio -> (B, n_mels, n_mel_frames(N)) log10 mel magnitudes (differentiable)."""
        raise NotImplementedError

    def encode(self, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        """(B, N) audio -> (B, n_latents(N), D) continuous latents."""
        raise NotImplementedError

    def quantize(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover - interface
        """(B, T, D) -> (nearest-codeword latent (B, T, D), codes (B, T, L) int64); no codebook update."""
        raise NotImplementedError

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        """(B, T, L) int64 codes -> (B, T, D) quantised latent."""
        raise NotImplementedError

    def decode_mel(self, zq: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        """(B, T, D) latents -> (B, n_mels, T * down) log10 mel magnitudes (differentiable)."""
        raise NotImplementedError

    def mel_to_audio(
        self, log_mel: np.ndarray, n_samples: int | None = None, seed: int = 0, n_iter: int | None = None
    ) -> np.ndarray:
        """(n_mels, T) log10 mel -> (n_samples,) float32 audio (not differentiable; ``n_iter``: vocoder effort,
        None: the codec's own)."""
        raise NotImplementedError  # pragma: no cover - interface

    # built on the above --------------------------------------------------------------------------------
    @torch.no_grad()
    def decode(
        self,
        latents_or_codes: torch.Tensor,
        n_samples: int | None = None,
        seed: int = 0,
        chunk_latents: int = 256,
        n_iter: int | None = None,
    ) -> np.ndarray:
        """Audio of one sequence of quantised latents (T, D) float or codes (T, L) int64: (n_samples,) float32.

        Decoded chunk by chunk (``chunk_latents`` latent frames plus a margin each side), so memory is bounded
        by the chunk, not the song. ``n_samples`` defaults to ``T * hop``; ``n_iter`` is passed to
        :meth:`mel_to_audio`.
        """
        x = latents_or_codes
        if x.ndim != 2:
            raise ChoreoError(f"decode takes one sequence (T, D) or (T, L), got shape {tuple(x.shape)}")
        dev = self.device
        zq = self.lookup(x[None].to(dev))[0] if not torch.is_floating_point(x) else x.to(dev, torch.float32)
        T = zq.shape[0]
        n = T * self.hop if n_samples is None else int(n_samples)
        n_mel = min(self.n_mel_frames(n), T * self.down)
        margin = self.decoder_margin()
        step = max(1, int(chunk_latents))
        from choreo.audio.griffinlim import overlap_chunks

        def mel_range(a: int, b: int) -> np.ndarray:
            la, lb = a // self.down, -(-b // self.down)
            ca, cb = max(0, la - margin), min(T, lb + margin)
            mel = self.decode_mel(zq[None, ca:cb])[0]
            off = ca * self.down
            return mel[:, a - off : b - off].float().cpu().numpy()

        counter = {"k": 0}

        def make(a: int, b: int) -> np.ndarray:
            k = counter["k"]
            counter["k"] += 1
            return self.mel_to_audio(mel_range(a, b), (b - a) * self.mel_hop, seed + k, n_iter)

        return overlap_chunks(n_mel, self.mel_hop, n, make, step * self.down, 32)

    def decoder_margin(self) -> int:
        """Latent frames of context each side that make a chunk's decoded mel equal the whole sequence's."""
        return 16

    @property
    def device(self) -> torch.device:
        for t in self.parameters():
            return t.device
        for t in self.buffers():
            return t.device
        return torch.device("cpu")


# ---- choreo's codec ------------------------------------------------------------------------------------


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
        commitment: weight of the commitment loss. loss_l2: weight of an extra squared mel error.
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
    loss_l2: float = 0.0
    gl_iters: int = 32

    @classmethod
    def from_dict(cls, d: dict | None) -> CodecConfig:
        """Build from a plain dict (unknown keys are an error naming them)."""
        cfg = config_from_dict(cls, d, "codec")
        if cfg.down < 1 or cfg.down & (cfg.down - 1):
            raise ChoreoError(f"codec down must be a power of 2, got {cfg.down}")
        if min(cfg.channels, cfg.latent_dim, cfg.n_codebooks, cfg.codebook_size, cfg.n_mels) < 1:
            raise ChoreoError("codec sizes (channels, latent_dim, n_codebooks, codebook_size, n_mels) must be >= 1")
        if not 0.0 <= cfg.ema_decay < 1.0:
            raise ChoreoError(f"codec ema_decay must be in [0, 1), got {cfg.ema_decay}")
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


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

        Returns per-sample (B,) ``recon`` (mean |log10 mel error|), ``l2`` (mean squared error), ``commit``
        and scalar ``perplexity`` (of level 0's codes in this batch) and ``dead`` (fraction restarted).
        """
        mel = self.log_mel(y)
        z = self.encode_mel(mel)
        with torch.no_grad():
            m = _all_max(z.detach().abs().amax().float())
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
            "l2": err.pow(2).mean(dim=(1, 2)),
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


class CodecMethod(Method):
    """The codec as a trainable method: ``choreo train --method codec --data MUSIC_DIR``.

    It trains on batches ``{"audio": (B, N) waveform windows at the codec's rate, "seed": (B,)}`` (an
    :class:`~choreo.data.audio_windows.AudioWindowDataset`; ``trains_on = "audio"`` tells the trainer).
    Loss per sample: ``recon + loss_l2 * l2 + commitment * commit``. The codebooks are EMA buffers, not
    optimised; the weights get no extra EMA copy (``ema_components = ()``: an averaged encoder with the live
    codebooks would not match). ``produces = "codec"``: a component for music methods, not a generator.
    """

    name = "codec"
    produces = "codec"
    trains_on: ClassVar[str] = "audio"
    ema_components = ()

    def __init__(self, config: CodecConfig, spec):
        super().__init__(config, spec)
        sr = int(getattr(spec, "audio_sr", 0) or 0)
        if sr and sr != config.sample_rate:
            raise ChoreoError(f"the data's audio is at {sr} Hz but the codec works at {config.sample_rate} Hz")
        self.codec = MelVQCodec(config)

    def training_loss(
        self, batch: dict, phase: str = "main", step: int = 0, epoch: float = 0.0
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor | float]]:
        """Reconstruction + commitment per sample on ``batch["audio"]`` (B, N); updates the codebooks."""
        if "audio" not in batch:
            raise ChoreoError("the codec trains on audio windows: its data must carry 'audio' (data.audio_sr)")
        y = batch["audio"].to(self.device, torch.float32)
        # the restarts' random draws: a function of the global batch (the same on every process)
        seed = int(_all_cat(batch["seed"].reshape(-1)[:1].to(self.device))[0])
        t = self.codec.losses(y, seed=seed)
        cfg = self.config
        loss = t["recon"] + cfg.loss_l2 * t["l2"] + cfg.commitment * t["commit"]
        return loss, {
            "recon": t["recon"].detach(),
            "commit": t["commit"].detach(),
            "perplexity": float(t["perplexity"]),
            "dead": float(t["dead"]),
        }

    @property
    def sample_rate(self) -> int:
        return int(self.config.sample_rate)


def build_codec(model_config: dict | None, spec) -> CodecMethod:
    """Registry entry: a :class:`CodecMethod` from its config dict and the data spec."""
    return CodecMethod(CodecConfig.from_dict(model_config), spec)


#: codec kinds a music method can embed: kind -> (config class, codec class).
CODECS: dict[str, tuple[type, type]] = {"melvq": (CodecConfig, MelVQCodec)}


def build_audio_codec(kind: str, config: dict) -> AudioCodec:
    """An (untrained) codec of a registered kind from its config dict (weights come from a checkpoint)."""
    try:
        cfg_cls, codec_cls = CODECS[kind]
    except KeyError:
        raise ChoreoError(f"unknown codec kind {kind!r} (known: {', '.join(CODECS)})") from None
    return codec_cls(cfg_cls.from_dict(config))
