"""Map a skeleton's joints onto the SMPL roles that the 32 geometric features read.

The geometric tests (:data:`choreo.metrics.features.GEOMETRIC_TESTS`) name 18 SMPL joints ("root", "lhip",
"belly", "chest", "neck", "lshoulder", ...). For SMPL-24 the indices are fixed; for other skeletons (BVH such as
Bandai Namco's ``Hips/Spine/Chest/.../UpperArm_L/Foot_L/Toes_L``, Mixamo's ``LeftUpLeg/LeftArm/LeftToeBase``,
Dance with Melody) joints are matched by name patterns:

* a name is split into words (``snake_case``, ``CamelCase``, ``prefix:`` namespaces removed); the words
  ``l``/``left`` and ``r``/``right`` (also ``lhip``-style prefixes) give the side, the rest the base name;
* each role takes the first joint whose base matches its patterns, in priority order. The SMPL "shoulder" is the
  upper-arm joint, so ``UpperArm``/``Arm`` win over ``Shoulder`` (a clavicle in BVH rigs); the ankle is
  ``ankle`` or ``foot``, the toe ``toe(s)``/``toebase``/``ball`` or, when ``foot`` was not taken by the ankle
  (SMPL's ``left_foot`` is the toe), ``foot``;
* ``belly`` is the spine joint nearest the root, ``chest`` an explicit chest / upper spine joint or else the
  neck's parent.

Skeletons without a spine (Dance with Melody has pelvis, shoulders and head points only) get **derived**
joints, appended after the real ones (:meth:`GeometricJoints.extend`): ``neck`` = the shoulders' midpoint
(where the dataset's own drawing puts it), ``belly`` and ``chest`` on the root -> neck segment at 0.23 and 0.60
of its length (SMPL's rest proportions: spine1 and spine3 between pelvis and neck). They are convex
combinations of real joints, so the lowest joint (``y_min``) is unchanged. Every derivation is reported.

A role that can be neither matched nor derived raises :class:`~choreo.errors.ChoreoError` naming it (pass
``overrides`` to name the joint yourself).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from choreo.errors import ChoreoError
from choreo.metrics.features import GEOMETRIC_ROLES
from choreo.motion.skeleton import SMPL24, Skeleton

_SIDE_WORDS = {"l": "l", "left": "l", "r": "r", "right": "r"}
_BODY_WORDS = ("hip", "knee", "ankle", "foot", "toe", "toes", "shoulder", "elbow", "wrist", "hand", "arm", "leg")

# role (without side) -> base-name patterns (regex, full match), in priority order.
_LIMB_PATTERNS: dict[str, tuple[str, ...]] = {
    "hip": (r"hip", r"upleg", r"upperleg", r"thigh", r"femur", r"legupper"),
    "knee": (r"knee", r"lowerleg", r"lowleg", r"leg", r"shin", r"calf", r"tibia", r"leglower"),
    "ankle": (r"ankle", r"foot"),
    "toes": (r"toes?", r"toebase", r"toes?end", r"ball", r"foot"),
    "shoulder": (r"upperarm", r"uparm", r"arm", r"humerus", r"shoulder"),
    "elbow": (r"elbow", r"lowerarm", r"forearm", r"lowarm", r"armlower"),
    "wrist": (r"wrist", r"hand"),
}
_ROOT_PATTERNS = (r"pelvis", r"hips?", r"root", r"hip ?center", r"midhip")
_NECK_PATTERNS = (r"neck\d*", r"lowerneck")
_CHEST_PATTERNS = (r"chest", r"upperchest", r"spine3", r"thorax", r"upperback")
_SPINE_PATTERNS = r"(spine\d*|abdomen|belly|torso|lowerback|back|waist|chest|upperchest|thorax)"


def split_name(name: str) -> tuple[str | None, str]:
    """(side "l" / "r" / None, base name) of a joint name, e.g. ``"Foot_L"`` -> ("l", "foot")."""
    s = re.split(r"[:|]", name)[-1]
    words = [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", s)]
    side = None
    rest = []
    for w in words:
        if side is None and w in _SIDE_WORDS:
            side = _SIDE_WORDS[w]
        else:
            rest.append(w)
    if side is None and rest and rest[0][:1] in ("l", "r"):
        # "lhip", "rtoes", "lshoulder": a one-letter side glued to a body word
        tail = rest[0][1:]
        if any(tail.startswith(b) for b in _BODY_WORDS) or tail in ("upleg", "forearm", "upperarm"):
            side, rest = rest[0][0], [tail] + rest[1:]
    base = "".join(rest)
    base = re.sub(r"^joint", "", base) or base
    return side, base


def _first(cands: list[tuple[int, str]], patterns: tuple[str, ...], taken: set[int]) -> int | None:
    for pat in patterns:
        for j, base in cands:
            if j not in taken and re.fullmatch(pat, base):
                return j
    return None


#: Where derived spine joints sit on the root -> neck segment (SMPL rest pose: spine1 and spine3).
BELLY_FRACTION = 0.23
CHEST_FRACTION = 0.60


@dataclass(frozen=True)
class GeometricJoints:
    """The joints the geometric features read on one skeleton.

    Attributes:
        roles: role -> joint index; indices >= J refer to derived joints appended by :meth:`extend`.
        derived: each appended joint as ((joint index, weight), ...), a weighted sum of real joints.
        notes: how each derived joint was made.
    """

    roles: dict[str, int]
    derived: tuple[tuple[tuple[int, float], ...], ...] = ()
    notes: tuple[str, ...] = field(default=())

    def extend(self, positions: np.ndarray) -> np.ndarray:
        """(..., J, 3) -> (..., J + len(derived), 3) with the derived joints appended (no copy if none)."""
        if not self.derived:
            return positions
        extra = [sum(w * positions[..., j, :] for j, w in combo) for combo in self.derived]
        return np.concatenate([positions, np.stack(extra, axis=-2)], axis=-2)


def geometric_joints(skeleton: Skeleton, overrides: Mapping[str, str] | None = None) -> GeometricJoints:
    """Roles (and derived joints where needed) for the geometric features on ``skeleton``.

    Raises:
        ChoreoError: naming the roles that no joint matches and that cannot be derived.
    """
    roles = _match_roles(skeleton, overrides)
    derived: list[tuple[tuple[int, float], ...]] = []
    notes: list[str] = []
    J = skeleton.n_joints
    names = skeleton.joint_names
    if "neck" not in roles and "lshoulder" in roles and "rshoulder" in roles:
        ls, rs = roles["lshoulder"], roles["rshoulder"]
        derived.append(((ls, 0.5), (rs, 0.5)))
        roles["neck"] = J + len(derived) - 1
        notes.append(f"neck = midpoint of {names[ls]} and {names[rs]}")
    if "neck" in roles and "root" in roles:
        neck = derived[roles["neck"] - J] if roles["neck"] >= J else ((roles["neck"], 1.0),)
        root = roles["root"]
        for role, frac in (("belly", BELLY_FRACTION), ("chest", CHEST_FRACTION)):
            if role not in roles:
                derived.append(((root, 1.0 - frac),) + tuple((j, w * frac) for j, w in neck))
                roles[role] = J + len(derived) - 1
                notes.append(f"{role} = {names[root]} + {frac:g} (neck - {names[root]})")
    missing = [r for r in GEOMETRIC_ROLES if r not in roles]
    if missing:
        raise ChoreoError(
            f"skeleton {skeleton.name!r}: cannot map joints for the geometric features' roles {missing} "
            f"(joints: {', '.join(names)}); name them with a joint map"
        )
    return GeometricJoints({r: roles[r] for r in GEOMETRIC_ROLES}, tuple(derived), tuple(notes))


def geometric_roles(skeleton: Skeleton, overrides: Mapping[str, str] | None = None) -> dict[str, int]:
    """Joint index for every role of :data:`GEOMETRIC_ROLES` on ``skeleton``, real joints only.

    Args:
        skeleton: the skeleton (3D).
        overrides: role -> joint name, taking precedence over the name patterns.

    Raises:
        ChoreoError: naming the roles that no joint matches (use :func:`geometric_joints` to derive a spine).
    """
    roles = _match_roles(skeleton, overrides)
    missing = [r for r in GEOMETRIC_ROLES if r not in roles]
    if missing:
        raise ChoreoError(
            f"skeleton {skeleton.name!r}: cannot map joints for the geometric features' roles {missing} "
            f"(joints: {', '.join(skeleton.joint_names)}); name them with a joint map"
        )
    return {r: roles[r] for r in GEOMETRIC_ROLES}


def _match_roles(skeleton: Skeleton, overrides: Mapping[str, str] | None) -> dict[str, int]:
    if skeleton.same_structure(SMPL24) and not overrides:
        return dict(GEOMETRIC_ROLES)
    parts = [split_name(n) for n in skeleton.joint_names]
    order = list(skeleton.order)
    centre = [(j, parts[j][1]) for j in order if parts[j][0] is None]
    roles: dict[str, int] = {}
    for role, name in (overrides or {}).items():
        roles[role] = skeleton.index(name)
    taken = set(roles.values())

    def put(role: str, j: int | None) -> None:
        if role not in roles and j is not None:
            roles[role] = j
            taken.add(j)

    put("root", _first(centre, _ROOT_PATTERNS, taken))
    put("root", skeleton.root)
    for side in ("l", "r"):
        cands = [(j, parts[j][1]) for j in order if parts[j][0] == side]
        for limb in ("hip", "knee", "ankle", "toes", "shoulder", "elbow", "wrist"):
            put(side + limb, _first(cands, _LIMB_PATTERNS[limb], taken))
    put("neck", _first(centre, _NECK_PATTERNS, taken))
    spine = [j for j, base in centre if j not in taken and re.fullmatch(_SPINE_PATTERNS, base)]
    if spine:
        put("belly", spine[0])
    put("chest", _first(centre, _CHEST_PATTERNS, taken))
    if "chest" not in roles and "neck" in roles:
        parent = int(skeleton.parents[roles["neck"]])
        if parent >= 0 and parent != roles.get("root"):
            put("chest", parent)
    return roles
