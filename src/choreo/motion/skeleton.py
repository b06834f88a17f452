"""Skeletons: joint names, parents, rest offsets, feet, and left/right pairs.

A :class:`Skeleton` is the static description of a body. Poses live in :class:`choreo.motion.Motion`.
Conventions: exactly one root (parent -1); for SMPL-24 and BVH every parent comes before its children,
while Dance with Melody (root: joint 2, the two head points come first) and OpenPose BODY_25 keep their
datasets' own joint order (use :attr:`Skeleton.order` for a parent-first traversal); rest ``offsets[j]``
is joint j's position relative to its parent in the rest pose, in metres, y-up.

Skeletons that are not built in get their feet, left/right pairs and upper body from
:func:`recognise_skeleton` (joint-name conventions; SMPL-24's parents mean SMPL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from choreo.errors import ChoreoError


def traversal_order(parents) -> list[int]:
    """Joint indices, parents before children (breadth first from the single root).

    Raises:
        ChoreoError: no root, several roots, a cycle or a detached joint.
    """
    parents = np.asarray(parents, dtype=np.int64)
    roots = np.nonzero(parents == -1)[0]
    if len(roots) != 1:
        raise ChoreoError(f"a skeleton needs exactly one root (parent -1), found {len(roots)}")
    order = [int(roots[0])]
    i = 0
    while i < len(order):
        order.extend(int(c) for c in np.nonzero(parents == order[i])[0])
        i += 1
    if len(order) != len(parents):
        raise ChoreoError("skeleton parents contain a cycle or a detached joint")
    return order


@dataclass(frozen=True, eq=False)
class Skeleton:
    """A kinematic tree.

    Attributes:
        name: short identifier (``"smpl24"``, ``"dwm23"``, ``"body25"``, or a BVH file's own).
        joint_names: (J,) names, unique.
        parents: (J,) int64, parent index per joint, -1 for the one root.
        offsets: (J, 3) float64 rest offsets from the parent in metres (y-up), or None when the
            skeleton is known by positions only (bone lengths then come from the data).
        feet: indices of (left ankle, left toe, right ankle, right toe); -1 where a joint is absent.
        mirror_pairs: (left, right) joint index pairs swapped by mirroring.
        dim: 3 for 3D skeletons, 2 for image-plane keypoints.
        upper_body: joint indices counted as upper body for editing (the rest is lower body).
    """

    name: str
    joint_names: tuple[str, ...]
    parents: np.ndarray
    offsets: np.ndarray | None = None
    feet: tuple[int, int, int, int] = (-1, -1, -1, -1)
    mirror_pairs: tuple[tuple[int, int], ...] = ()
    dim: int = 3
    upper_body: tuple[int, ...] = field(default=())
    order: tuple[int, ...] = field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        parents = np.asarray(self.parents, dtype=np.int64)
        object.__setattr__(self, "parents", parents)
        object.__setattr__(self, "joint_names", tuple(str(n) for n in self.joint_names))
        n = len(self.joint_names)
        if parents.shape != (n,):
            raise ChoreoError(f"skeleton {self.name!r}: {n} joint names but {parents.shape[0]} parents")
        if len(set(self.joint_names)) != n:
            raise ChoreoError(f"skeleton {self.name!r}: joint names are not unique")
        if n == 0 or np.sum(parents == -1) != 1 or np.any(parents < -1) or np.any(parents >= n):
            raise ChoreoError(f"skeleton {self.name!r}: parents must name exactly one root (-1) and valid joints")
        object.__setattr__(self, "order", tuple(traversal_order(parents)))
        if self.offsets is not None:
            off = np.asarray(self.offsets, dtype=np.float64)
            if off.shape != (n, 3):
                raise ChoreoError(f"skeleton {self.name!r}: offsets have shape {off.shape}, expected ({n}, 3)")
            object.__setattr__(self, "offsets", off)

    @property
    def root(self) -> int:
        return self.order[0]

    @property
    def n_joints(self) -> int:
        return len(self.joint_names)

    def index(self, name: str) -> int:
        """Index of a joint by name (raises ChoreoError naming the skeleton if absent)."""
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise ChoreoError(f"skeleton {self.name!r} has no joint {name!r}") from None

    def children(self, j: int) -> list[int]:
        return [int(c) for c in np.nonzero(self.parents == j)[0]]

    @property
    def mirror_map(self) -> np.ndarray:
        """(J,) permutation that swaps every left joint with its right partner."""
        perm = np.arange(self.n_joints)
        for a, b in self.mirror_pairs:
            perm[a], perm[b] = b, a
        return perm

    @property
    def lower_body(self) -> tuple[int, ...]:
        upper = set(self.upper_body)
        return tuple(j for j in range(self.n_joints) if j not in upper)

    def with_offsets(self, offsets: np.ndarray) -> Skeleton:
        """The same skeleton with other rest offsets (e.g. bone lengths measured from data)."""
        return Skeleton(
            self.name,
            self.joint_names,
            self.parents,
            np.asarray(offsets, np.float64),
            self.feet,
            self.mirror_pairs,
            self.dim,
            self.upper_body,
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for npz/checkpoint storage (inverse: :meth:`from_arrays`)."""
        out = {
            "skeleton_name": np.array(self.name),
            "joint_names": np.array(self.joint_names),
            "parents": self.parents.copy(),
            "feet": np.array(self.feet, np.int64),
            "mirror_pairs": np.array(self.mirror_pairs, np.int64).reshape(-1, 2),
            "upper_body": np.array(self.upper_body, np.int64),
            "dim": np.array(self.dim),
        }
        if self.offsets is not None:
            out["offsets"] = self.offsets.copy()
        return out

    @classmethod
    def from_arrays(cls, d: dict) -> Skeleton:
        return cls(
            name=str(d.get("skeleton_name", "custom")),
            joint_names=tuple(str(x) for x in d["joint_names"]),
            parents=np.asarray(d["parents"]),
            offsets=d.get("offsets"),
            feet=tuple(int(x) for x in d.get("feet", (-1, -1, -1, -1))),
            mirror_pairs=tuple(tuple(int(v) for v in p) for p in np.asarray(d.get("mirror_pairs", np.zeros((0, 2))))),
            dim=int(d.get("dim", 3)),
            upper_body=tuple(int(x) for x in d.get("upper_body", ())),
        )

    def same_structure(self, other: Skeleton) -> bool:
        return self.joint_names == other.joint_names and np.array_equal(self.parents, other.parents)


def _pairs(names: tuple[str, ...], left: str = "left_", right: str = "right_") -> tuple[tuple[int, int], ...]:
    out = []
    for i, n in enumerate(names):
        if n.startswith(left):
            out.append((i, names.index(right + n[len(left) :])))
    return tuple(out)


# --- SMPL-24 -------------------------------------------------------------------------------------------
SMPL24_NAMES = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
)
SMPL24_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
# EDGE's hard-coded rest offsets (vis.py), metres, y-up; joint 0's offset is never used by FK.
SMPL24_OFFSETS = (
    (0.0, 0.0, 0.0),
    (0.05858135, -0.08228004, -0.01766408),
    (-0.06030973, -0.09051332, -0.01354254),
    (0.00443945, 0.12440352, -0.03838522),
    (0.04345142, -0.38646945, 0.008037),
    (-0.04325663, -0.38368791, -0.00484304),
    (0.00448844, 0.1379564, 0.02682033),
    (-0.01479032, -0.42687458, -0.037428),
    (0.01905555, -0.4200455, -0.03456167),
    (-0.00226458, 0.05603239, 0.00285505),
    (0.04105436, -0.06028581, 0.12204243),
    (-0.03483987, -0.06210566, 0.13032329),
    (-0.0133902, 0.21163553, -0.03346758),
    (0.07170245, 0.11399969, -0.01889817),
    (-0.08295366, 0.11247234, -0.02370739),
    (0.01011321, 0.08893734, 0.05040987),
    (0.12292141, 0.04520509, -0.019046),
    (-0.11322832, 0.04685326, -0.00847207),
    (0.2553319, -0.01564902, -0.02294649),
    (-0.26012748, -0.01436928, -0.03126873),
    (0.26570925, 0.01269811, -0.00737473),
    (-0.26910836, 0.00679372, -0.00602676),
    (0.08669055, -0.01063603, -0.01559429),
    (-0.0887537, -0.00865157, -0.01010708),
)

SMPL24 = Skeleton(
    name="smpl24",
    joint_names=SMPL24_NAMES,
    parents=np.array(SMPL24_PARENTS),
    offsets=np.array(SMPL24_OFFSETS),
    feet=(7, 10, 8, 11),  # EDGE's contact joints: L ankle, L toe (foot), R ankle, R toe
    mirror_pairs=_pairs(SMPL24_NAMES),
    upper_body=(3, 6, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23),
)

# --- OpenPose BODY_25 (2D, image plane) --------------------------------------------------------------
BODY25_NAMES = (
    "nose",
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "mid_hip",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_eye",
    "left_eye",
    "right_ear",
    "left_ear",
    "left_big_toe",
    "left_small_toe",
    "left_heel",
    "right_big_toe",
    "right_small_toe",
    "right_heel",
)
# OpenPose's joint order is kept (index 8 is MidHip, as every BODY_25 tool expects); the tree is rooted
# at mid_hip, so some parents follow their children: traverse with Skeleton.order.
_BODY25_PARENT = {
    8: -1,
    1: 8,
    0: 1,
    2: 1,
    3: 2,
    4: 3,
    5: 1,
    6: 5,
    7: 6,
    9: 8,
    10: 9,
    11: 10,
    12: 8,
    13: 12,
    14: 13,
    15: 0,
    16: 0,
    17: 15,
    18: 16,
    19: 14,
    20: 19,
    21: 14,
    22: 11,
    23: 22,
    24: 11,
}
BODY25 = Skeleton(
    name="body25",
    joint_names=BODY25_NAMES,
    parents=np.array([_BODY25_PARENT[j] for j in range(25)]),
    feet=(14, 19, 11, 22),
    mirror_pairs=_pairs(BODY25_NAMES),
    dim=2,
    upper_body=(0, 1, 2, 3, 4, 5, 6, 7, 15, 16, 17, 18),
)

#: Built-in skeletons by name. Dance with Melody 23 is defined in choreo.motion.formats.dwm (its left/right
#: choice is derived from data) and added here when ``choreo.motion`` is imported.
BUILTIN = {"smpl24": SMPL24, "body25": BODY25}


# --- skeletons recognised by their joint names ----------------------------------------------------------
# One recogniser for every reader that meets a skeleton it does not know (BVH hierarchies, npz files
# written by other tools): it finds the left/right sides, the mirror pairs, the feet and the upper body
# from the joint names alone (plus parents, to prefer a toe below its ankle).

_SEPARATORS = "_.- "
#: Body words a one-letter side may be glued to (``lankle``, ``rtoes``, CMU's ``LHipJoint``): only these,
#: so that ``root``, ``rhythm`` or ``lowerback`` are not read as sides. Matched as a prefix of the rest.
SIDE_BODY_WORDS = (
    "hip", "thigh", "upleg", "upperleg", "leg", "femur", "knee", "shin", "calf", "tibia", "lowerleg",
    "ankle", "foot", "feet", "heel", "toe", "ball",
    "shoulder", "inshoulder", "collar", "clavicle", "scapula", "arm", "uparm", "upperarm", "humerus",
    "elbow", "forearm", "lowerarm", "radius", "ulna", "wrist", "hand", "palm", "finger", "thumb", "index",
    "middle", "ring", "pinky",
    "eye", "ear", "brow", "cheek",
)  # fmt: skip
_SIDE_WORD = re.compile(r"left|right", re.IGNORECASE)
_SIDE_LETTER = re.compile(r"(?:^|(?<=[_.\- ]))([LlRr])(?=[_.\- ]|$)")


def _split_namespace(name: str) -> tuple[str, str]:
    """(``"mixamorig:"``, ``"LeftFoot"``): a ``namespace:`` or Maya ``a|b|`` path before the joint's own name."""
    cut = max(name.rfind(":"), name.rfind("|")) + 1
    return name[:cut], name[cut:]


def _side_span(local: str) -> tuple[str, int, int] | None:
    """The side of a namespace-free joint name and where its side token is: (side, start, end)."""
    # 1. the words left/right: a prefix in any case, glued or not (LeftFoot, leftfoot, LEFT_FOOT), or a
    #    separate word further on (Foot_Left, FootLeft); "upright" has no word boundary before "right".
    for m in _SIDE_WORD.finditer(local):
        i, j = m.span()
        before_ok = (
            i == 0
            or local[i - 1] in _SEPARATORS
            or (local[i].isupper() and (local[i - 1].islower() or local[i - 1].isdigit()))
        )
        after_ok = i == 0 or j == len(local) or local[j] in _SEPARATORS or local[j].isdigit() or local[j].isupper()
        if before_ok and after_ok and j - i < len(local):
            return ("left" if m.group(0).lower() == "left" else "right"), i, j
    # 2. a one-letter side standing alone between separators: Foot_L, foot.r, L_Hand, r_knee, Bip01_L_Foot
    m = _SIDE_LETTER.search(local)
    if m and len(local) > 1:
        return ("left" if m.group(1) in "Ll" else "right"), m.start(1), m.end(1)
    # 3. a one-letter side glued to a body word: lankle, rtoes, LHip, RHipJoint (but not root, rhythm)
    if len(local) > 1 and local[0] in "LlRr" and local[1:].lower().startswith(SIDE_BODY_WORDS):
        return ("left" if local[0] in "Ll" else "right"), 0, 1
    return None


def side_of(name: str) -> str | None:
    """``"left"``, ``"right"`` or None for a joint name, in any of the common naming conventions.

    Understood: the words Left/Right as a prefix in any case, glued or separated (``LeftFoot``,
    ``leftfoot``, ``LEFT_FOOT``), or as a separate word later (``Foot_Left``, ``FootRight``); a single
    L/R letter between separators (``Foot_L``, ``Foot.R``, ``hand_l``, ``L_Hand``, ``r_knee``,
    ``Bip01_L_Foot``); a single l/r letter glued to a body word of :data:`SIDE_BODY_WORDS` (Bailando's
    ``lankle``/``rtoes``, CMU's ``LHip``). A ``namespace:`` prefix (Mixamo's ``mixamorig:``) is ignored.
    Names such as ``root``, ``rhythm``, ``lowerback`` or ``upright`` have no side.
    """
    span = _side_span(_split_namespace(name)[1])
    return None if span is None else span[0]


def other_side(name: str) -> str | None:
    """The name of the mirror joint (same convention and letter case), or None for a name without a side.

    ``"mixamorig:LeftFoot"`` -> ``"mixamorig:RightFoot"``, ``"Foot.L"`` -> ``"Foot.R"``,
    ``"lankle"`` -> ``"rankle"``, ``"LEFT_HIP"`` -> ``"RIGHT_HIP"``.
    """
    ns, local = _split_namespace(name)
    span = _side_span(local)
    if span is None:
        return None
    side, i, j = span
    token = local[i:j]
    new = "right" if side == "left" else "left"
    if len(token) == 1:
        new = new[0]
    if token.isupper():
        new = new.upper()
    elif token[0].isupper():
        new = new.capitalize()
    return ns + local[:i] + new + local[j:]


def _body_part(name: str) -> str:
    """A joint name without namespace and side, lower case, letters and digits only (``toebase``)."""
    local = _split_namespace(name)[1]
    span = _side_span(local)
    if span is not None:
        local = local[: span[1]] + local[span[2] :]
    return re.sub(r"[^0-9a-z]", "", local.lower())


def _is_toe(part: str) -> bool:
    return "toe" in part or ("ball" in part and "eye" not in part)


def name_mirror_pairs(joint_names) -> tuple[tuple[int, int], ...]:
    """(left, right) index pairs of joints whose names are each other's :func:`other_side`.

    Pairs are listed in the left joints' index order; every joint appears in at most one pair.
    """
    names = [str(n) for n in joint_names]
    index = {n: i for i, n in enumerate(names)}
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    for i, n in enumerate(names):
        if side_of(n) != "left":
            continue
        partner = other_side(n)
        k = index.get(partner) if partner is not None else None
        # both directions must agree, so a pair is the same whichever of its joints it is read from
        if k is None or k == i or side_of(names[k]) != "right" or other_side(names[k]) != n:
            continue
        if i in used or k in used:
            continue
        pairs.append((i, k))
        used.update((i, k))
    return tuple(pairs)


def name_feet(joint_names, parents) -> tuple[int, int, int, int]:
    """(left ankle, left toe, right ankle, right toe) found by joint names; -1 where none fits.

    Per side (:func:`side_of`), the joint nearest the root whose name (side, namespace and separators
    removed) contains ``ankle`` is the ankle; failing that, ``foot`` without ``toe``/``ball``/``heel``
    (Mixamo's ``LeftFoot``, Bandai's ``Foot_L``); failing that, ``heel`` (the only joint at the back of
    the foot is still on the ground when the foot is). The toe is the nearest descendant of that ankle
    named ``toe``/``toes``/``toebase``/``toe_end``/``ball`` (so ``LeftToeBase`` wins over its own
    ``LeftToe_End``); failing that, the nearest ``foot`` joint below the ankle (SMPL's ``left_foot`` is
    the toe); then, for trees that do not hang the toe below the ankle, any toe-named joint on that side;
    then the ankle's first child that is not a heel.
    """
    names = [str(n) for n in joint_names]
    parents = np.asarray(parents, dtype=np.int64)
    order = traversal_order(parents)
    depth = np.zeros(len(names), dtype=np.int64)
    for j in order[1:]:
        depth[j] = depth[parents[j]] + 1

    def descendants(a: int) -> set[int]:
        out: set[int] = set()
        for j in order:  # parents come first, so one pass collects the whole subtree
            if parents[j] == a or parents[j] in out:
                out.add(j)
        return out

    def nearest(cands: list[int]) -> int | None:
        return min(cands, key=lambda j: (depth[j], j)) if cands else None

    parts = [_body_part(n) for n in names]
    feet = [-1, -1, -1, -1]
    for k, side in ((0, "left"), (2, "right")):
        own = [j for j, n in enumerate(names) if side_of(n) == side]
        ankle = nearest([j for j in own if "ankle" in parts[j]])
        if ankle is None:
            ankle = nearest([j for j in own if "foot" in parts[j] and not _is_toe(parts[j]) and "heel" not in parts[j]])
        if ankle is None:
            ankle = nearest([j for j in own if "heel" in parts[j]])
        if ankle is None:
            continue
        below = descendants(ankle)
        toe = nearest([j for j in own if j in below and _is_toe(parts[j])])
        if toe is None:
            toe = nearest([j for j in own if j in below and "foot" in parts[j]])
        if toe is None:
            toe = nearest([j for j in own if j != ankle and _is_toe(parts[j])])
        if toe is None:
            kids = [int(c) for c in np.nonzero(parents == ankle)[0] if "heel" not in parts[c]]
            toe = kids[0] if kids else None
        feet[k] = ankle
        feet[k + 1] = -1 if toe is None else toe
    return (feet[0], feet[1], feet[2], feet[3])


_LEG_WORDS = ("upleg", "upperleg", "thigh", "leg", "hip", "knee", "foot", "ankle", "toe")


def name_upper_body(joint_names, parents) -> tuple[int, ...]:
    """Upper-body joints by name: all but the root and every subtree that starts at a leg joint.

    A leg joint's name contains upleg, upperleg, thigh, leg, hip, knee, foot, ankle or toe (``Hips`` and
    ``pelvis`` themselves are the body's centre, not a leg).
    """
    names = [_split_namespace(str(n))[1].lower() for n in joint_names]
    parents = np.asarray(parents, dtype=np.int64)
    root = traversal_order(parents)[0]
    lower = {root}
    centre = ("hips", "hip", "pelvis")
    lower.update(i for i, n in enumerate(names) if i != root and n not in centre and any(w in n for w in _LEG_WORDS))
    for j in traversal_order(parents):  # parents first: a leg joint's whole subtree follows it down
        if j not in lower and parents[j] in lower and parents[j] != root:
            lower.add(j)
    return tuple(i for i in range(len(names)) if i not in lower)


def recognise_skeleton(
    name: str,
    joint_names,
    parents,
    offsets: np.ndarray | None = None,
    dim: int = 3,
) -> Skeleton:
    """A skeleton whose feet, mirror pairs and upper body come from its joint names (and tree).

    A 24-joint tree whose parents are SMPL's (:data:`SMPL24_PARENTS`) is taken as SMPL in SMPL order
    whatever its names (Bailando's ``root, lhip, rhip, belly, ...`` or any other): it gets SMPL-24's feet
    (7, 10, 8, 11), mirror pairs and upper body, and keeps its own names. Any other tree gets
    :func:`name_feet`, :func:`name_mirror_pairs` and :func:`name_upper_body`.

    Args:
        name: the skeleton's name (e.g. a file's stem).
        joint_names: (J,) unique joint names.
        parents: (J,) parent index per joint, -1 for the one root.
        offsets: optional (J, 3) rest offsets, metres.
        dim: 3, or 2 for image-plane keypoints.

    Raises:
        ChoreoError: the names or parents do not form a valid skeleton.
    """
    plain = Skeleton(name=name, joint_names=tuple(joint_names), parents=parents, offsets=offsets, dim=dim)
    if plain.n_joints == len(SMPL24_PARENTS) and np.array_equal(plain.parents, SMPL24_PARENTS):
        feet, pairs, upper = SMPL24.feet, SMPL24.mirror_pairs, SMPL24.upper_body
    else:
        feet = name_feet(plain.joint_names, plain.parents)
        pairs = name_mirror_pairs(plain.joint_names)
        upper = name_upper_body(plain.joint_names, plain.parents)
    return Skeleton(
        name=plain.name,
        joint_names=plain.joint_names,
        parents=plain.parents,
        offsets=plain.offsets,
        feet=feet,
        mirror_pairs=pairs,
        dim=dim,
        upper_body=upper,
    )


def _name_side(name: str) -> int:
    """+1 for a name that says left, -1 for right, 0 when it says neither."""
    low = name.lower()
    if "left" in low:
        return 1
    if "right" in low:
        return -1
    # BVH and OpenPose habits: "LHip", "RightArm", "l_ankle", "R.Knee".
    if re.match(r"^l[_\-. ]", low) or re.match(r"^L[A-Z]", name):
        return 1
    if re.match(r"^r[_\-. ]", low) or re.match(r"^R[A-Z]", name):
        return -1
    return 0


def joint_sides(skeleton: Skeleton) -> np.ndarray:
    """(J,) int8: +1 for left joints, -1 for right joints, 0 for the centre line.

    ``skeleton.mirror_pairs`` are (left, right) pairs; where both joint names clearly say the opposite,
    the names win. Without mirror pairs, the names alone decide.
    """
    sides = np.zeros(skeleton.n_joints, np.int8)
    names = skeleton.joint_names
    if skeleton.mirror_pairs:
        for a, b in skeleton.mirror_pairs:
            if _name_side(names[a]) == -1 and _name_side(names[b]) == 1:
                a, b = b, a
            sides[a], sides[b] = 1, -1
    else:
        for j, n in enumerate(names):
            sides[j] = _name_side(n)
    return sides
