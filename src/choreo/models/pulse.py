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

The *beat accent* is phase-specific where the pulse profile is not: how much stronger the onset envelope is on
given beats (within a small tolerance) than on average. A dance fixes where the beats are (the steps fall on
them) but not every onset between, so a loss on the accent asks for accents on the dance's beats without
asking for each onset.

The *spectrum statistics* distance is phase-free too, for the timbre rather than the rhythm: L1 between the
per-band mean and standard deviation over time of two log-mels (the song's sound, loudness and dynamics,
whenever its notes fall).

The *envelope distribution* distance compares the values an onset envelope takes (sorted, a 1-D Wasserstein
distance), not their order: music whose transients are as sharp and as even as a real song's, wherever they fall.

Shapes: log-mel (B, n_mels, T) at the spectrogram's frame rate; envelope (B, T - 1); profile (B, L).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


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


def beat_accent(envelope: torch.Tensor, beats: torch.Tensor, tolerance: int = 2, eps: float = 1e-6) -> torch.Tensor:
    """(B,) mean onset envelope on the beats over its mean everywhere (1: no accent; clicks on the beats: large).

    Args:
        envelope: (B, N) onset envelope (:func:`onset_envelope`).
        beats: (B, N) 0/1 mask of the envelope frames holding a beat.
        tolerance: frames each side of a beat where its onset may fall (the envelope's maximum there counts).

    Returns:
        (B,); 0 for a clip without beats (nothing to accent).
    """
    peak = F.max_pool1d(envelope[:, None], 2 * tolerance + 1, stride=1, padding=tolerance)[:, 0]
    n_beats = beats.sum(dim=-1)
    on_beats = (peak * beats).sum(dim=-1) / n_beats.clamp(min=1)
    return torch.where(n_beats > 0, on_beats / (envelope.mean(dim=-1) + eps), torch.zeros_like(on_beats))


def spectrum_stats_distance(log_mel_a: torch.Tensor, log_mel_b: torch.Tensor) -> torch.Tensor:
    """(B,) mean over bands of ``|mean_a - mean_b| + |std_a - std_b|``, the statistics taken over time per band
    of two (B, n_mels, T) log-mels (the lengths may differ). Unchanged by any reordering of either's frames."""
    mean = (log_mel_a.mean(dim=-1) - log_mel_b.mean(dim=-1)).abs()
    std = (log_mel_a.std(dim=-1) - log_mel_b.std(dim=-1)).abs()
    return (mean + std).mean(dim=-1)


def envelope_distribution_distance(
    envelope_a: torch.Tensor, envelope_b: torch.Tensor, pooled: bool = False
) -> torch.Tensor:
    """(B,) 1-D Wasserstein distance between the values of two (B, N) onset envelopes: the mean absolute
    difference of their sorted values (``N`` the same for both). How sharp and how even the onsets are, in
    distribution, whenever they fall: unchanged by any reordering of either's frames.

    ``pooled``: compare the values of the whole batch at once (each sample gets that one distance): the
    distribution of all the music rather than of each window, whose own loudness a model may not know.
    """
    if envelope_a.shape != envelope_b.shape:
        raise ValueError(f"envelopes of different shapes: {tuple(envelope_a.shape)} and {tuple(envelope_b.shape)}")
    if pooled:
        d = (envelope_a.flatten().sort().values - envelope_b.flatten().sort().values).abs().mean()
        return d.expand(envelope_a.shape[0])
    return (envelope_a.sort(dim=-1).values - envelope_b.sort(dim=-1).values).abs().mean(dim=-1)
