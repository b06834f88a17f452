"""The codec's front end: mono audio -> differentiable log10 mel magnitudes (librosa's conventions)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


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
