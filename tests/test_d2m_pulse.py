"""The pulse profile behind D2M-GAN's optional pulse loss: hand-made click trains and a real song's tempo."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from choreo.models.pulse import onset_envelope, pulse_lags, pulse_profile

torch.set_num_threads(1)


def clicks(period: int, phase: int, frames: int = 400, bands: int = 8) -> torch.Tensor:
    """(1, bands, frames) log-mel of a click every ``period`` frames from ``phase``: loud on click frames."""
    m = torch.full((1, bands, frames), -3.0)
    m[..., phase::period] = 0.0
    return m


def test_envelope_is_the_positive_spectral_flux():
    m = torch.tensor([[[0.0, 1.0, 0.5, 2.0], [0.0, 3.0, 3.0, 1.0]]])  # (1, 2, 4)
    torch.testing.assert_close(onset_envelope(m), torch.tensor([[(1 + 3) / 2, 0.0, (1.5 + 0) / 2]]))


@pytest.mark.parametrize("centre", [False, True])
def test_profile_peaks_at_the_period_whatever_the_phase(centre):
    lo, hi = 5, 100
    a = pulse_profile(onset_envelope(clicks(40, 0)), lo, hi, centre)[0]
    b = pulse_profile(onset_envelope(clicks(40, 17)), lo, hi, centre)[0]
    assert int(torch.argmax(a)) + lo == 40
    torch.testing.assert_close(a, b, atol=0.05, rtol=0)  # phase-free
    # a click train at another tempo gives another profile
    c = pulse_profile(onset_envelope(clicks(30, 0)), lo, hi, centre)[0]
    assert int(torch.argmax(c)) + lo in (30, 60, 90) and float(c[40 - lo]) < 0.3 < 0.8 < float(a[40 - lo])
    noise = onset_envelope(torch.randn(1, 8, 400, generator=torch.Generator().manual_seed(0)))
    p = pulse_profile(noise, lo, hi, centre)
    if centre:  # noise has no pulse: every lag near 0
        assert float(p.abs().max()) < 0.35
    else:  # a busy, unpulsed envelope: flat at 1 / (1 + cv^2)
        cv2 = float(noise.var(unbiased=False) / noise.mean() ** 2)
        torch.testing.assert_close(p, torch.full_like(p, 1 / (1 + cv2)), atol=0.08, rtol=0)


def test_uncentred_profile_says_how_sharp_the_pulse_is():
    """The same period, blurred: the uncentred profile's dips between beats fill in; a hum is flat at 1."""
    lo, hi = 5, 100
    sharp = pulse_profile(onset_envelope(clicks(40, 0)), lo, hi)[0]
    t = torch.arange(400.0)
    blurred_env = 1 + torch.cos(2 * torch.pi * t / 40)  # the same period, smooth
    blurred = pulse_profile(blurred_env[None], lo, hi)[0]
    hum = pulse_profile(torch.ones(1, 400), lo, hi)[0]
    assert float(sharp[20 - lo]) < 0.05 < 0.3 < float(blurred[20 - lo]) < 0.4  # (1 - 1/2) / (1 + 1/2) = 1/3
    torch.testing.assert_close(hum, torch.ones_like(hum))


def test_the_gradient_reaches_the_spectrogram_and_bad_lags_are_refused():
    m = clicks(40, 3).requires_grad_(True)
    target = pulse_profile(onset_envelope(clicks(30, 0)), 5, 100)
    (pulse_profile(onset_envelope(m), 5, 100) - target).abs().mean().backward()
    assert m.grad is not None and float(m.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="envelope length"):
        pulse_profile(torch.zeros(1, 50), 5, 60)
    assert pulse_lags(22050 / 256) == (10, 129)


def test_a_real_song_peaks_at_its_beat_period(data_dir):
    """DANCE_W_3's song: the profile's strongest lag agrees with the song's tempo (choreo.audio.beats),
    up to an octave."""
    from choreo.audio.io import load_audio
    from choreo.metrics.music import music_tempo
    from choreo.models.codec import LogMel

    y, sr = load_audio(data_dir / "dance_with_melody" / "DANCE_W_3" / "audio.mp3", sr=22050, start=30.0, end=45.0)
    mel = LogMel(22050, 1024, 256, 80, 0.0, None)(torch.as_tensor(np.asarray(y, np.float32))[None])
    lo, hi = pulse_lags(22050 / 256)
    best = (int(torch.argmax(pulse_profile(onset_envelope(mel), lo, hi, centre=True)[0])) + lo) * 256 / 22050
    tempo = music_tempo(np.asarray(y), 22050)
    beats_per_lag = best * tempo / 60
    assert min(abs(beats_per_lag - k) for k in (1, 2, 3, 4)) < 0.06, (best, tempo)
