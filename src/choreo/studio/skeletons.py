"""Which of the studio's models can use an uploaded motion, so that a motion none can use is refused at upload.

A model uses a motion in two ways in the studio:

- a **dance model** keeps parts of it in an edit: the motion must be on the model's own skeleton (same joints,
  same tree), since edits copy joint channels;
- a **music model** makes music for it: the model's skeleton again, or, for a model that works on joint
  positions, any skeleton that joint-role retargeting (:func:`choreo.motion.retarget.retarget_positions`)
  can map onto it. A rotation model cannot take another skeleton.
"""

from __future__ import annotations

from dataclasses import dataclass

from choreo.errors import ChoreoError
from choreo.motion.motion import Motion
from choreo.motion.skeleton import Skeleton

#: frames tried when checking that retargeting works (it is per frame: a few prove it).
PROBE_FRAMES = 4


@dataclass(frozen=True)
class ModelSkeleton:
    """What a model needs of a motion: ``name`` (packaged name or path), ``produces`` (``dance``/``music``),
    its ``skeleton`` and its representation's name (``positions...`` or ``smpl_rot6d``...)."""

    name: str
    produces: str
    skeleton: Skeleton
    representation: str

    @property
    def takes_positions(self) -> bool:
        return "rot6d" not in self.representation


def _retargets(motion: Motion, target: Skeleton) -> str | None:
    """None when the motion maps onto ``target`` by joint roles, else why not."""
    from choreo.motion.retarget import retarget_positions

    try:
        retarget_positions(motion.crop(0, min(motion.n_frames, PROBE_FRAMES)), target)
    except ChoreoError as exc:
        return exc.message
    return None


def models_for(motion: Motion, targets: list[ModelSkeleton]) -> list[str]:
    """The names of the models in ``targets`` that can use ``motion`` (see the module docstring)."""
    out = []
    for t in targets:
        if motion.skeleton.same_structure(t.skeleton):
            out.append(t.name)
        elif t.produces == "music" and t.takes_positions and _retargets(motion, t.skeleton) is None:
            out.append(t.name)
    return out


def require_usable(motion: Motion, targets: list[ModelSkeleton]) -> list[str]:
    """:func:`models_for`, raising a ChoreoError that says why when no model can use the motion.

    With no models known at all there is nothing to check against, and the motion is accepted.
    """
    if not targets:
        return []
    usable = models_for(motion, targets)
    if usable:
        return usable
    sk = motion.skeleton
    joints = ", ".join(sk.joint_names[:12]) + (" ..." if sk.n_joints > 12 else "")
    own = ", ".join(sorted({t.skeleton.name for t in targets}))
    mappable = [t for t in targets if t.produces == "music" and t.takes_positions]
    mapping = "".join(
        f"; {t.name} maps other skeletons by their joints' names, but {_retargets(motion, t.skeleton)}"
        for t in mappable
    )
    raise ChoreoError(
        f"no model here can use this motion ({sk.n_joints} joints: {joints}): the models work on {own}{mapping}"
    )
