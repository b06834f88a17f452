"""D2M-GAN's loss terms, each per sample (B,) so that the trainer can average them over the global batch.

- hinge (discriminator): ``relu(1 - score)`` on real, ``relu(1 + score)`` on generated sequences, averaged over
  scales (:func:`discriminator_hinge`);
- adversarial and feature matching (generator): ``-score`` of the generated sequence, and the L1 between the
  discriminator's intermediate features of the generated and the real sequence (:func:`generator_adversarial`);
- L1 towards the real latent, the real quantised latent and the real log-mel (:func:`l1`);
- choreo's pulse term: L1 between phase-free pulse profiles of two log-mels (:func:`pulse_distance`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from choreo.models.pulse import onset_envelope, pulse_lags, pulse_profile


def per_sample(x: torch.Tensor) -> torch.Tensor:
    """(B, ...) -> (B,) mean over everything but the batch."""
    return x.reshape(x.shape[0], -1).mean(dim=1)


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B,) mean absolute difference of two same-shaped (B, ...) tensors."""
    return per_sample((a - b).abs())


def hinge(scores: list[list[torch.Tensor]], target: float) -> torch.Tensor:
    """Per-sample hinge ``relu(1 - target * score)`` (B,) of multi-scale outputs, averaged over scales
    (target 1: judged real, -1: judged fake)."""
    return sum(per_sample(F.relu(1 - target * o[-1])) for o in scores) / len(scores)


def discriminator_hinge(disc: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The discriminator's per-sample hinge terms (B,) on real and (detached) generated (B, T, C) sequences."""
    return hinge(disc(real), 1.0), hinge(disc(fake), -1.0)


def generator_adversarial(disc: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The generator's per-sample adversarial term and feature matching (B,) against one multi-scale discriminator,
    on (B, T, C) sequences (the discriminator's features of the real sequence carry no gradient)."""
    d_fake = disc(fake)
    with torch.no_grad():
        d_real = disc(real)
    adv = sum(per_sample(-o[-1]) for o in d_fake) / len(d_fake)
    fm_terms = [
        per_sample((f - r.detach()).abs()) for of, orr in zip(d_fake, d_real, strict=True)
        for f, r in zip(of[:-1], orr[:-1], strict=True)
    ]  # fmt: skip
    return adv, sum(fm_terms) / len(fm_terms)


def pulse_distance(mel_fake: torch.Tensor, mel_real: torch.Tensor, frame_rate: float) -> torch.Tensor:
    """(B,) L1 between the pulse profiles (:mod:`choreo.models.pulse`) of two (B, n_mels, T) log-mels at
    ``frame_rate`` mel frames per second: a steady beat at the real music's tempo scores well wherever it falls."""
    lags = pulse_lags(frame_rate)
    return l1(pulse_profile(onset_envelope(mel_fake), *lags), pulse_profile(onset_envelope(mel_real), *lags))
