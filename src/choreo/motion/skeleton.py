"""Skeletons: joint names, parents, rest offsets, feet, and left/right pairs.

A :class:`Skeleton` is the static description of a body. Poses live in :class:`choreo.motion.Motion`.
Conventions: exactly one root (parent -1); for SMPL-24 and BVH every parent comes before its children,
while Dance with Melody (root: joint 2, the two head points come first) and OpenPose BODY_25 keep their
datasets' own joint order (use :attr:`Skeleton.order` for a parent-first traversal); rest ``offsets[j]``
is joint j's position relative to its parent in the rest pose, in metres, y-up.
"""

from __future__ import annotations

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
