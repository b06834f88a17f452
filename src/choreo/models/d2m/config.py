"""D2M-GAN's settings (:class:`D2MConfig`) and the experiments that were removed from it.

The research round tried ten more options on top of the published loss; the packaged model uses none of them, so
they went in the consolidation (issue 30). Their results stay in ``docs/d2mgan.md`` with the commit that last had
them (:data:`REMOVED_IN`). A checkpoint or config that still carries one loads as before when it holds the value
that switched the experiment off; any other value is a ChoreoError naming the experiment, so a model is never run
without a part it was trained with.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from choreo.errors import ChoreoError
from choreo.models.method import config_from_dict

#: the last commit whose D2M-GAN had the removed experiments (``git show REMOVED_IN:src/choreo/models/d2m.py``)
REMOVED_IN = "4af5476"

#: a removed parameter of a removed term: it did nothing while that term was off, whatever its value
_ANY = object()

#: removed setting -> the value that switched it off (the option's old default)
REMOVED: dict[str, object] = {
    "motion_input": "raw",  # the generator read rhythm descriptors of the dance (models/motion_rhythm.py, also gone)
    "loss_beat": 0.0,  # beat accent of the generated mel on the real music's beats
    "loss_mel_stats": 0.0,  # per-band mean and std of the log-mel over time
    "loss_dance_beat": 0.0,  # hinge on the accent of the generated mel on the dance's kinematic beats
    "dance_beat_accent": _ANY,  # the accent loss_dance_beat asked for
    "loss_onset_dist": 0.0,  # 1-D Wasserstein distance between onset-envelope values
    "onset_dist_pooled": _ANY,  # loss_onset_dist over the batch's values pooled
    "mel_disc_motion": 0,  # a mel discriminator that also reads the dance
    "mel_disc_mismatch": 0.0,  # its matching-aware term (real music under another window's dance)
    "loss_fm_mel": None,  # feature matching against the mel discriminator weighed apart from loss_fm
}


@dataclass
class D2MConfig:
    """D2M-GAN's settings (defaults as published where the paper or code gives them).

    Attributes:
        codec: the embedded codec: ``{"kind": "melvq", "config": {...}}`` (filled from the trained codec a new run
            is built on; a checkpoint always carries it).
        codec_checkpoint: the trained codec (file, run folder or packaged name, e.g. ``codec``) a new run is built
            on; the loader reads it (:meth:`D2MGANMethod.trained_parts`), the method never does.
        hidden: generator width. motion_blocks: residual blocks at the motion's frame rate (dilations 1, 2, ...).
        dilations: the generator's dilated residual stack at the latent rate (1, 3, 9, 27 as published).
        noise_dim: noise channels per latent frame (0: a deterministic generator).
        style_dim: style embedding size; style_dropout: probability of training a window without its label.
        sigma: the tanh scale (0: 1.25 x the codec's latent bound seen in its training, else 4).
        disc_channels: first discriminator width (ndf 32); disc_layers: strided layers per scale;
            disc_scales: 3 (1x, 2x, 4x).
        loss_adv, loss_fm, loss_latent, loss_quantized, loss_mel: generator loss weights (published: 1, 3, 5, 8, 15).
        loss_pulse: weight of choreo's pulse term (not in D2M-GAN; 0 = the published loss): L1 between the
            pulse profiles (:mod:`choreo.models.pulse`: autocorrelation of the onset envelope, lags 0.12-1.5 s)
            of the generated and the real log-mel. Phase-free, so it asks for a steady beat at the song's
            tempo without the sample-exact onsets that a dance does not determine.
        loss_adv_mel: weight of choreo's second discriminator (not in D2M-GAN; 0 = none): a multi-scale
            discriminator of the same design on the *decoded log-mel* (bands as channels), real = the codec's
            decoding of the real music's quantised latent, fake = its decoding of the generated one (both
            through the same decoder, so the codec's own blur gives nothing away). Its hinge loss and feature
            matching (``loss_fm``) join the generator's; it trains in the ``discriminator`` phase. A
            point-wise L1 under an uncertain target averages onsets away; a judge of whole spectrograms
            penalises the blur.
        betas: Adam betas for both optimisers (the learning rate is the run's ``train.lr``).
        style: sampling default: a style name to condition on (None: withheld).
        gl_iters: sampling default: Griffin-Lim iterations (0: the codec's).
        chunk_seconds: sampling: seconds of latents generated and decoded per chunk (bounded memory).
    """

    codec: dict | None = None
    codec_checkpoint: str | None = None
    hidden: int = 256
    motion_blocks: int = 2
    dilations: list[int] = field(default_factory=lambda: [1, 3, 9, 27])
    noise_dim: int = 8
    style_dim: int = 32
    style_dropout: float = 0.5
    sigma: float = 0.0
    disc_channels: int = 32
    disc_layers: int = 3
    disc_scales: int = 3
    loss_adv: float = 1.0
    loss_fm: float = 3.0
    loss_latent: float = 5.0
    loss_quantized: float = 8.0
    loss_mel: float = 15.0
    loss_pulse: float = 0.0
    loss_adv_mel: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.5, 0.9])
    style: str | None = None
    gl_iters: int = 0
    chunk_seconds: float = 30.0

    @classmethod
    def from_dict(cls, d: dict | None) -> D2MConfig:
        """Build from a plain dict: unknown keys are an error naming them; a removed experiment's key is dropped
        when it holds its off value and an error naming the experiment otherwise (module docstring)."""
        cfg = config_from_dict(cls, drop_removed(d), "D2M-GAN")
        if len(cfg.betas) != 2:
            raise ChoreoError(f"D2M-GAN takes two Adam betas, got {cfg.betas}")
        if cfg.disc_scales < 1 or cfg.disc_layers < 1 or cfg.hidden < 1:
            raise ChoreoError("D2M-GAN sizes (hidden, disc_layers, disc_scales) must be >= 1")
        if not 0.0 <= cfg.style_dropout <= 1.0:
            raise ChoreoError(f"style_dropout must be within [0, 1], got {cfg.style_dropout}")
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def drop_removed(d: dict | None) -> dict:
    """``d`` without the removed experiments' keys (:data:`REMOVED`), each checked to hold its off value.

    Raises:
        ChoreoError: a removed experiment switched on, naming it and the commit that last had it.
    """
    d = dict(d or {})
    on = []
    for key, off in REMOVED.items():
        if key not in d:
            continue
        value = d.pop(key)
        if off is _ANY or value == off or (key == "loss_fm_mel" and _inert_fm_mel(value, d)):
            continue
        on.append(f"{key}={value!r}")
    if on:
        raise ChoreoError(
            f"this D2M-GAN uses {', '.join(on)}: a research experiment removed from choreo after commit {REMOVED_IN} "
            f"(docs/d2mgan.md has its results; `git checkout {REMOVED_IN}` runs it)"
        )
    return d


def _inert_fm_mel(value: object, d: dict) -> bool:
    """``loss_fm_mel`` changed nothing when it equalled ``loss_fm`` or when there was no mel discriminator."""
    return value == d.get("loss_fm", D2MConfig.loss_fm) or not d.get("loss_adv_mel", D2MConfig.loss_adv_mel)
