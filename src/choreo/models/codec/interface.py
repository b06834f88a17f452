"""What a dance-to-music method needs from an audio codec: :class:`AudioCodec` (subclass it to plug another in)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from choreo.errors import ChoreoError
from choreo.models.method import module_device


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
        return module_device(self)
