"""A differentiable, phase-free measure of musical pulse, for losses on generated log-mel spectrograms.

The onset envelope is the spectral flux of a log-mel spectrogram (the mean over bands of the positive change
from one frame to the next: librosa's onset strength without its max filter). Its autocorrelation over a range
of lags, divided by the lag-0 value, is the *pulse profile*: peaks at the beat period and its multiples,
whatever the phase. Two clips at the same tempo have similar profiles even when their beats fall at different
times, so a loss on profiles rewards a steady pulse at the right tempo without asking for sample-exact onsets,
which a dance does not determine (a point-wise L1 on the spectrogram averages uncertain onsets away).

Uncentred (the default), the profile also says how sharp the onsets are: a steady hum (a flat envelope) gives
1 at every lag, clicks give about 1 at their period and about 0 between; a blurred pulse lies in between
(``E[e_t e_t+k] / E[e_t^2]``, whose floor is ``1 / (1 + cv^2)``, cv the envelope's coefficient of variation).
Centred (the mean removed first), it is a plain normalised autocorrelation: periodicity only.

Shapes: log-mel (B, n_mels, T) at the spectrogram's frame rate; envelope (B, T - 1); profile (B, L).
"""

from __future__ import annotations

import torch


def onset_envelope(log_mel: torch.Tensor) -> torch.Tensor:
    """(B, T - 1) spectral flux of a (B, n_mels, T) log-mel: mean over bands of ``relu(M[:, :, t] - M[:, :, t-1])``."""
    return torch.relu(log_mel[..., 1:] - log_mel[..., :-1]).mean(dim=-2)


def pulse_profile(
    envelope: torch.Tensor, min_lag: int, max_lag: int, centre: bool = False, eps: float = 1e-6
) -> torch.Tensor:
    """(B, max_lag - min_lag + 1) autocorrelation of the envelope at lags ``min_lag..max_lag`` frames, each
    lag's sum divided by its number of products and by the lag-0 value (1 for a lag where the envelope
    repeats exactly). ``centre``: remove the mean first (then about 0 for noise; see the module docstring).

    Raises:
        ValueError: when the envelope is not longer than ``max_lag`` frames or the lags are not 1 <= min <= max.
    """
    n = envelope.shape[-1]
    if not 1 <= min_lag <= max_lag or n <= max_lag:
        raise ValueError(f"pulse lags {min_lag}..{max_lag} need 1 <= min <= max < envelope length {n}")
    e = envelope - envelope.mean(dim=-1, keepdim=True) if centre else envelope
    energy = (e * e).mean(dim=-1, keepdim=True) + eps
    lags = [(e[..., : n - k] * e[..., k:]).mean(dim=-1) for k in range(min_lag, max_lag + 1)]
    return torch.stack(lags, dim=-1) / energy


def pulse_lags(frame_rate: float, slowest_s: float = 1.5, fastest_s: float = 0.12) -> tuple[int, int]:
    """The lag range in frames covering periods from ``fastest_s`` (eighth notes at 250 BPM) to ``slowest_s``
    (a bar of a slow waltz) at ``frame_rate`` frames per second."""
    return max(1, int(round(fastest_s * frame_rate))), max(1, int(round(slowest_s * frame_rate)))
