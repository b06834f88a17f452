"""D2M-GAN's generator: a dance (B, W, C) at its frame rate -> continuous codec latents (B, n, D) at their times.

Time-aligned on purpose (the released code treats the motion frames as convolution channels and loses the time
axis): the motion is encoded frame by frame with 1D convolutions over time, resampled by linear interpolation to
the codec's latent frame times, joined with per-latent-frame conditions (noise, the optional dance style), and
refined by a dilated residual stack with a bounded receptive field, so latent k hears the dance around its own time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from choreo.models.d2m.config import D2MConfig


class ResBlock(nn.Module):
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
    interpolation to the latent times; the conditions of each latent frame (:meth:`conditions`: noise, style)
    joined by a 1x1 convolution; the dilated residual stack; ``tanh * sigma``. Every step is local in time: the
    receptive field is :meth:`receptive` seconds each side.

    Another condition (a beat grid, say) is one more entry of :meth:`conditions`, its width added to
    :meth:`condition_channels`: it joins the dance at the latent frames' times like the noise does.
    """

    def __init__(self, motion_dim: int, latent_dim: int, config: D2MConfig, n_styles: int, sigma: float):
        super().__init__()
        H = config.hidden
        self.noise_dim = int(config.noise_dim)
        self.n_styles = int(n_styles)
        self.motion_in = nn.Conv1d(motion_dim, H, 3, padding=1)
        self.motion_blocks = nn.Sequential(*[ResBlock(H, 2**i) for i in range(config.motion_blocks)])
        # style n_styles is "withheld" (and the label -1 maps to it)
        self.style = nn.Embedding(self.n_styles + 1, config.style_dim) if self.n_styles else None
        self.join = nn.Conv1d(H + self.condition_channels(config), H, 1)
        self.stack = nn.Sequential(*[ResBlock(H, int(d)) for d in config.dilations])
        self.out = nn.Conv1d(H, latent_dim, 3, padding=1)
        self.register_buffer("sigma", torch.tensor(float(sigma)))
        self.motion_radius = 1 + sum(2**i for i in range(config.motion_blocks))  # frames each side
        self.latent_radius = 1 + sum(int(d) for d in config.dilations)  # latent frames each side

    def condition_channels(self, config: D2MConfig) -> int:
        """Channels per latent frame that :meth:`conditions` adds to the dance's."""
        return self.noise_dim + (config.style_dim if self.n_styles else 0)

    def receptive(self, fps: float, latent_rate: float) -> float:
        """Seconds of dance each side of a latent frame's time that can change it."""
        return (self.motion_radius + 1) / fps + self.latent_radius / latent_rate

    def conditions(
        self, B: int, n: int, like: torch.Tensor, noise: torch.Tensor | None, style: torch.Tensor | None
    ) -> list[torch.Tensor]:
        """The per-latent-frame inputs beside the dance, each (B, c, n) in ``like``'s dtype and device: the noise
        (zeros when None) and the style embedding (withheld when None, -1 or out of range)."""
        parts = []
        if self.noise_dim:
            nz = noise.transpose(1, 2) if noise is not None else like.new_zeros(B, self.noise_dim, n)
            parts.append(nz.to(like.dtype))
        if self.style is not None:
            s = torch.full((B,), self.n_styles, dtype=torch.long, device=like.device) if style is None else style.long()
            s = torch.where((s < 0) | (s >= self.n_styles), torch.full_like(s, self.n_styles), s)
            parts.append(self.style(s)[:, :, None].expand(B, -1, n))
        return parts

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
        x = torch.cat([h, *self.conditions(B, h.shape[-1], h, noise, style)], dim=1)
        x = self.stack(self.join(x))
        return (torch.tanh(self.out(F.leaky_relu(x, 0.2))) * self.sigma).transpose(1, 2)
