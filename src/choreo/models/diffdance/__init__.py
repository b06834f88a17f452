"""DiffDance (Qi et al., ACM MM 2023): cascaded music-to-dance diffusion with a contrastive music embedding.

One idea per module:

- :mod:`.config`: the settings, the one check of the sampling options, the removed experiments;
- :mod:`.align`: the music and motion encoders, the adapter and their InfoNCE loss (stages 1-2);
- :mod:`.denoiser`: the network of both diffusion stages (base and SSR);
- :mod:`.framerate`: conversions between the base stage's low frame rate and the full rate;
- :mod:`.phases`: the schedule of the contrastive and diffusion stages and their optimisers;
- :mod:`.loss`: the training losses of every stage;
- :mod:`.sampling`: windowed sampling of one stage and the cascade of both;
- :mod:`.method`: :class:`DiffDanceMethod`, the components and the units between stages.

docs/diffdance.md tells the design and the measurements behind each setting.
"""

from choreo.models.diffdance.config import REMOVED_AT, REMOVED_OPTIONS, SAMPLING_OPTIONS, DiffDanceConfig
from choreo.models.diffdance.framerate import decimate, downsample_constraint, low_frames, upsample
from choreo.models.diffdance.loss import timestep_weight
from choreo.models.diffdance.method import DiffDanceMethod, build_diffdance
from choreo.models.diffdance.sampling import CascadeResult

__all__ = [
    "REMOVED_AT",
    "REMOVED_OPTIONS",
    "SAMPLING_OPTIONS",
    "CascadeResult",
    "DiffDanceConfig",
    "DiffDanceMethod",
    "build_diffdance",
    "decimate",
    "downsample_constraint",
    "low_frames",
    "timestep_weight",
    "upsample",
]
