"""D2M-GAN (Zhu et al., ECCV 2022): music from dance through an audio codec's latent space, time-aligned.

The generator maps a motion window to the continuous latent sequence of an audio codec
(:class:`~choreo.models.codec.AudioCodec`); the latent is snapped to the codec's codebooks and decoded to audio.
One idea per module:

- :mod:`.config`: the settings, and the research experiments removed from them (with the commit that had them);
- :mod:`.generator`: dance -> latents, time-aligned (:class:`D2MGenerator`);
- :mod:`.discriminators`: the multi-scale judges of latent (and decoded log-mel) sequences;
- :mod:`.losses`: hinge, adversarial, feature matching, L1 and pulse terms, per sample;
- :mod:`.method`: :class:`D2MGANMethod` (training phases, the sampler) and its registry builder.
"""

from __future__ import annotations

from choreo.models.d2m.config import D2MConfig
from choreo.models.d2m.discriminators import LatentDiscriminator, MultiScaleDiscriminator
from choreo.models.d2m.generator import D2MGenerator, interpolate_frames
from choreo.models.d2m.method import D2MGANMethod, build_d2mgan

__all__ = [
    "D2MConfig",
    "D2MGANMethod",
    "D2MGenerator",
    "LatentDiscriminator",
    "MultiScaleDiscriminator",
    "build_d2mgan",
    "interpolate_frames",
]
