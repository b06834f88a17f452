"""Map a dance onto another skeleton by joint roles (positions only): a BVH rig onto Dance with Melody's 23 joints.

Models are trained on one skeleton; a dance may come on any other. :func:`retarget_positions` moves the joint
*positions* of a motion onto a target skeleton:

1. every joint of both skeletons gets a role from its name (:func:`joint_roles`): ``root``, ``head``, ``neck``
   and, per side, ``shoulder`` (the upper-arm joint), ``elbow``, ``wrist``, ``hand``, ``hip``, ``knee``,
   ``ankle``, ``heel``, ``toe``; names are read without namespace and side (``mixamorig:LeftUpLeg``,
   ``UpperLeg_L``, ``left_hip``, ``lhip``). Patterns are tried in priority order and each joint takes at most
   one role: ``UpperArm`` is the shoulder before ``Shoulder`` (a clavicle in BVH rigs), ``Hand`` is the wrist
   when there is no ``wrist``, ``Foot`` the ankle when there is no ``ankle`` and the toe otherwise (SMPL);
2. the source is scaled so that its mean leg length (hip -> knee -> ankle) equals the target's rest leg;
3. a target joint takes the position of the source joint with its role (the target's root is put where its
   rest pose has it relative to the hips); a sided target joint whose role the
   source has only in the middle (Dance with Melody's two head points from one ``Head``) sits that far to its
   side along the shoulder line (the target's rest offset's x); a target joint with no counterpart at all is
   extrapolated along its parent bone (parent + unit(parent - grandparent) x its rest length): a hand beyond
   the wrist, a heel below the ankle; except that a joint with a mapped joint below it sits on the straight
   line from its parent to that joint, at its share of the rest lengths (SMPL's spine between the pelvis and
   the neck, its collars between the chest and the shoulders);
4. the result stands on the floor: heights are shifted so that the lowest joint is at y = 0 (5th percentile
   over frames).

Rest lengths come from the target skeleton's offsets, or for Dance with Melody (positions only) from its rest
pose table. Joints the source cannot place (a root, both hips, knees, ankles, shoulders, elbows and wrists
are needed) raise a :class:`~choreo.errors.ChoreoError` naming them.
"""

from __future__ import annotations

import re

import numpy as np

from choreo.errors import ChoreoError
from choreo.motion.motion import Motion
from choreo.motion.skeleton import Skeleton, _body_part, side_of

#: role -> base-name patterns (full match on the lower-case name without side, namespace and separators).
ROLE_PATTERNS: dict[str, tuple[str, ...]] = {
    "root": (r"pelvis", r"hips?", r"hipcenter", r"midhip", r"root"),
    "head": (r"head", r"headtop", r"skull", r"nose"),
    "neck": (r"neck\d*", r"lowerneck"),
    "shoulder": (r"upperarm", r"uparm", r"arm", r"humerus", r"shoulder"),
    "elbow": (r"elbow", r"lowerarm", r"forearm", r"lowarm"),
    "wrist": (r"wrist", r"hand"),
    "hand": (r"hand", r"handend", r"handtip", r"palm"),
    "hip": (r"hip", r"upleg", r"upperleg", r"thigh", r"femur"),
    "knee": (r"knee", r"lowerleg", r"lowleg", r"leg", r"shin", r"calf"),
    "ankle": (r"ankle", r"foot"),
    "heel": (r"heel",),
    "toe": (r"toes?", r"toebase", r"toesend", r"toeend", r"ball", r"foot", r"footend"),
}
CENTRE_ROLES = ("root", "head", "neck")
SIDED_ROLES = ("shoulder", "elbow", "wrist", "hand", "hip", "knee", "ankle", "heel", "toe", "head")
#: roles a source must have for the mapping to mean anything (per side where sided).
REQUIRED = ("root", "hip", "knee", "ankle", "shoulder", "elbow", "wrist")

Role = tuple[str, str | None]  # (role, "l" / "r" / None)


def _base(name: str) -> str:
    return re.sub(r"^joint", "", _body_part(name)) or _body_part(name)


def joint_roles(skeleton: Skeleton) -> dict[int, Role]:
    """Joint index -> (role, side) for the joints whose names say what they are (see the module docstring)."""
    names = skeleton.joint_names
    sides = {j: {"left": "l", "right": "r"}.get(side_of(n) or "") for j, n in enumerate(names)}
    bases = {j: _base(n) for j, n in enumerate(names)}
    order = list(skeleton.order)  # parents first: of two "hip" joints the one nearer the root wins
    out: dict[int, Role] = {}
    for role in ("root", "neck", "head", *SIDED_ROLES[:-1]):
        for side in (None,) if role in CENTRE_ROLES else ("l", "r"):
            for pat in ROLE_PATTERNS[role]:
                hit = next(
                    (j for j in order if j not in out and sides[j] == side and re.fullmatch(pat, bases[j])), None
                )
                if hit is not None:
                    out[hit] = (role, side)
                    break
    for side in ("l", "r"):  # sided head points (Dance with Melody)
        hit = next((j for j in order if j not in out and sides[j] == side and bases[j] == "head"), None)
        if hit is not None:
            out[hit] = ("head", side)
    if not any(r == ("root", None) for r in out.values()):
        out.setdefault(skeleton.root, ("root", None))
    return out


def rest_offsets(skeleton: Skeleton) -> np.ndarray | None:
    """(J, 3) rest offsets (metres) of a skeleton: its own, or Dance with Melody's rest table; None if unknown."""
    if skeleton.offsets is not None:
        return np.asarray(skeleton.offsets, np.float64)
    if skeleton.name == "dwm23":
        from choreo.motion.formats.dwm import DWM23_REST

        return np.asarray(DWM23_REST, np.float64)
    return None


def _leg_length(pos: np.ndarray, by_role: dict[Role, int]) -> float:
    out = []
    for s in ("l", "r"):
        h, k, a = by_role.get(("hip", s)), by_role.get(("knee", s)), by_role.get(("ankle", s))
        if h is not None and k is not None and a is not None:
            out.append(
                np.linalg.norm(pos[:, h] - pos[:, k], axis=-1).mean()
                + np.linalg.norm(pos[:, k] - pos[:, a], axis=-1).mean()
            )
    return float(np.mean(out)) if out else 0.0


def _nearest_mapped_descendant(skeleton: Skeleton, j: int, mapped: np.ndarray) -> int | None:
    """The first joint below ``j`` (breadth first) that ``mapped`` marks, or None."""
    frontier = skeleton.children(j)
    while frontier:
        hit = next((c for c in frontier if mapped[c]), None)
        if hit is not None:
            return hit
        frontier = [g for c in frontier for g in skeleton.children(c)]
    return None


def mapping_problem(source: Skeleton, target: Skeleton) -> str | None:
    """Why ``source`` cannot be mapped onto ``target`` (a sentence), or None when it can: both must be 3D and
    the source needs a joint for every required role (a root, and per side a hip, knee, ankle, shoulder, elbow
    and wrist). Needs the skeletons only, so a command can refuse before it computes anything."""
    if target.dim != 3 or source.dim != 3:
        return f"retargeting works on 3D skeletons ({source.name!r} is {source.dim}D, {target.name!r} {target.dim}D)"
    if source.same_structure(target):
        return None
    roles = set(joint_roles(source).values())
    missing = [
        f"{ {'l': 'left ', 'r': 'right '}.get(s or '', '') }{role}"
        for role in REQUIRED
        for s in ((None,) if role in CENTRE_ROLES else ("l", "r"))
        if (role, s) not in roles
    ]
    if not missing:
        return None
    names = source.joint_names
    return (
        f"cannot map skeleton {source.name!r} onto {target.name!r}: no joint for {', '.join(missing)} "
        f"(joints: {', '.join(names[:30])}{' ...' if len(names) > 30 else ''})"
    )


def retarget_positions(motion: Motion, target: Skeleton) -> Motion:
    """The motion's joint positions placed on ``target`` (see the module docstring); same frames and fps.

    Raises:
        ChoreoError: the source lacks joints for the required roles, or the target is not a 3D skeleton.
    """
    src = motion.skeleton
    if target.dim != 3 or src.dim != 3:
        raise ChoreoError(f"retargeting works on 3D skeletons ({src.name!r} -> {target.name!r})")
    if src.same_structure(target):
        return motion
    pos = np.asarray(motion.joint_positions(), np.float64)
    problem = mapping_problem(src, target)
    if problem:
        raise ChoreoError(problem, motion.meta.get("source"))
    src_roles = {r: j for j, r in joint_roles(src).items()}
    rest = rest_offsets(target)
    tgt_roles = joint_roles(target)
    tgt_by_role = {r: j for j, r in tgt_roles.items()}
    # scale: the source's legs to the target's rest legs (a tall rig dances in a short dancer's range)
    src_leg = _leg_length(pos, src_roles)
    if rest is not None and src_leg > 0:
        legs = [
            np.linalg.norm(rest[tgt_by_role[("knee", s)]]) + np.linalg.norm(rest[tgt_by_role[("ankle", s)]])
            for s in ("l", "r")
            if ("knee", s) in tgt_by_role and ("ankle", s) in tgt_by_role
        ]
        tgt_leg = float(np.mean(legs)) if legs else 0.0
        if tgt_leg > 0:
            pos = pos * (tgt_leg / src_leg)
    T, J = pos.shape[0], target.n_joints
    out = np.zeros((T, J, 3))
    done = np.zeros(J, bool)
    lateral = None
    if ("shoulder", "l") in src_roles and ("shoulder", "r") in src_roles:
        lat = pos[:, src_roles[("shoulder", "l")]] - pos[:, src_roles[("shoulder", "r")]]
        lateral = lat / np.maximum(np.linalg.norm(lat, axis=-1, keepdims=True), 1e-9)
    hips = [src_roles.get(("hip", s)) for s in ("l", "r")]
    t_hips = [tgt_by_role.get(("hip", s)) for s in ("l", "r")]
    for j in target.order:  # joints with a counterpart (by role) in the source
        role = tgt_roles.get(j)
        if role == ("root", None) and rest is not None and None not in hips and None not in t_hips:
            # where the target's root sits relative to its hips (Dance with Melody's pelvis point is 15 cm above
            # them; a BVH Hips joint is level with them): the hips' midpoint minus the rest hip offsets' mean
            mid = 0.5 * (pos[:, hips[0]] + pos[:, hips[1]])
            out[:, j] = mid - 0.5 * (rest[t_hips[0]] + rest[t_hips[1]])
        elif role is not None and role in src_roles:
            out[:, j] = pos[:, src_roles[role]]
        elif role is not None and role[1] is not None and (role[0], None) in src_roles and lateral is not None:
            width = abs(rest[j][0]) if rest is not None else 0.05
            sign = 1.0 if role[1] == "l" else -1.0  # choreo's convention: a body's left is its +x at rest
            out[:, j] = pos[:, src_roles[(role[0], None)]] + sign * width * lateral
        elif role is not None and role[1] is None and (role[0], "l") in src_roles and (role[0], "r") in src_roles:
            out[:, j] = 0.5 * (pos[:, src_roles[(role[0], "l")]] + pos[:, src_roles[(role[0], "r")]])
        elif role == ("neck", None) and ("shoulder", "l") in src_roles and ("shoulder", "r") in src_roles:
            out[:, j] = 0.5 * (pos[:, src_roles[("shoulder", "l")]] + pos[:, src_roles[("shoulder", "r")]])
        else:
            continue
        done[j] = True
    mapped = done.copy()
    for j in target.order:  # the rest: between the parent and a mapped joint below, else along the parent bone
        if done[j]:
            continue
        p = int(target.parents[j])
        if p < 0:
            raise ChoreoError(f"cannot place the root of {target.name!r} from {src.name!r}")
        below = _nearest_mapped_descendant(target, j, mapped)
        length = float(np.linalg.norm(rest[j])) if rest is not None else 0.1
        if below is not None and rest is not None:
            # a spine joint between the pelvis and the neck, a collar between the chest and the shoulder: on the
            # straight line from the parent to that joint, at its share of the rest lengths along the way
            k, further = below, 0.0
            while k != j:
                further += float(np.linalg.norm(rest[k]))
                k = int(target.parents[k])
            share = length / (length + further) if length + further > 0 else 0.0
            out[:, j] = out[:, p] + share * (out[:, below] - out[:, p])
        else:
            g = int(target.parents[p])
            if g >= 0 and done[g]:
                d = out[:, p] - out[:, g]
                d = d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9)
                out[:, j] = out[:, p] + length * d
            else:
                out[:, j] = out[:, p] + (rest[j] if rest is not None else 0.0)
        done[j] = True
    meta = dict(motion.meta)
    meta["retargeted_from"] = src.name
    # stand it on the floor (y = 0 under the feet): capture setups put the ground at different heights
    return Motion(target, motion.fps, positions=out.astype(np.float32), meta=meta).grounded()
