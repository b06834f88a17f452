"""The field's dance metrics, computed exactly as the reference implementations do (and documented).

Pure numpy functions on joint positions (metres, y-up, a known fps), vectorised over clips:

==========================  ==========================================================================
module                      contents
==========================  ==========================================================================
:mod:`.features`            kinetic (3 per joint) and geometric (32) features, Bailando / AIST++
:mod:`.fid`                 ``normalize`` (gt mean / population std), ``fid``, ``diversity``
:mod:`.beats`               Beat Align Score: ``"bailando"`` and ``"fact"`` variants, motion beats
:mod:`.physics`             PFC (EDGE), foot sliding, jitter, freezing
:mod:`.music`               beat coverage / beat hit of generated music (D2M-GAN)
:mod:`.joint_map`           SMPL roles of the geometric features on other skeletons (by joint name)
:mod:`.suite`               ``evaluate(pred, gt, protocol)``: every number for two sets, protocols
:mod:`.collect`             reading folders of motions and pairing music beats by file stem (IO)
==========================  ==========================================================================

Every convention and every quirk of the reference code, with the name of its corrected variant, is listed
in ``docs/metrics.md``. Reference-exact behaviour is always the default; corrections are opt-in by name
(``variant="corrected"`` for features) and never mixed silently.
"""

from __future__ import annotations

from choreo.metrics.beats import (
    bas_bailando,
    bas_fact,
    beat_align_score,
    beats_to_frames,
    motion_beats_bailando,
    motion_beats_fact,
)
from choreo.metrics.features import geometric_features, kinetic_features, root_zero
from choreo.metrics.fid import diversity, fid, fid_from_statistics, normalize
from choreo.metrics.physics import foot_sliding, freezing, jitter, pfc

__all__ = [
    "kinetic_features",
    "geometric_features",
    "root_zero",
    "normalize",
    "fid",
    "fid_from_statistics",
    "diversity",
    "bas_bailando",
    "bas_fact",
    "beat_align_score",
    "beats_to_frames",
    "motion_beats_bailando",
    "motion_beats_fact",
    "pfc",
    "foot_sliding",
    "jitter",
    "freezing",
]
