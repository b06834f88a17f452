"""D2M-GAN's judges: MelGAN-style multi-scale discriminators over (B, T, channels) sequences.

The published one judges the codec's continuous latent sequence (channels = latent dimensions); choreo's second
one (``loss_adv_mel``) is the same design over the decoded log-mel (channels = mel bands).
"""

from __future__ import annotations

import torch
from torch import nn


class LatentDiscriminator(nn.Module):
    """One MelGAN-style discriminator over (B, D, T) sequences; returns every layer's output (the last is the
    (B, 1, T') score map)."""

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
    """``scales`` discriminators on the sequence average-pooled by 1, 2, 4, ... (MelGAN: AvgPool1d(4, 2, 1))."""

    def __init__(self, latent_dim: int, ndf: int, n_layers: int, scales: int):
        super().__init__()
        self.discs = nn.ModuleList(LatentDiscriminator(latent_dim, ndf, n_layers) for _ in range(scales))
        self.pool = nn.AvgPool1d(4, stride=2, padding=1, count_include_pad=False)

    def forward(self, z: torch.Tensor) -> list[list[torch.Tensor]]:
        """(B, T, D) sequence -> per scale, the list of layer outputs (last: score map)."""
        x = z.transpose(1, 2)
        out = []
        for i, d in enumerate(self.discs):
            if i:
                x = self.pool(x)
            out.append(d(x))
        return out
