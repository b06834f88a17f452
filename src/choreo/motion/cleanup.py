"""Post-processing of generated dances: foot-skate cleanup (:func:`lock_feet`) and fixed bones (:func:`fit_skeleton`).

Foot locking pins feet to the floor while they are in contact.

Generated dances (EDGE's included) let planted feet drift a few centimetres; animators fix this with
"foot locking". :func:`lock_feet` does it for position-based motions. During each contact of a foot joint
(ankle or toe), that joint is held at the contact's mean horizontal position, so a heel-raised pivot keeps
the toe still. The joints below the ankle move with it; a foot joint that is not planted follows its
partner's correction; the knee follows the ankle half-way, so the shin keeps most of its length. The
correction fades in and out linearly over ``blend_seconds`` around each contact, so nothing jumps.
Heights are never changed.

The skeleton fit then gives the dance constant bone lengths (a network's positions let bones stretch a few
centimetres from frame to frame, which a BVH or GLB rig cannot show): one least-squares fit of every bone's
direction and the root's position to the positions, feet weighted so they stay where foot locking put them.
"""

from __future__ import annotations

import numpy as np

from choreo.motion.motion import Motion

__all__ = ["lock_feet", "contact_segments", "fit_skeleton", "bone_lengths"]


def contact_segments(on: np.ndarray, min_frames: int = 1) -> list[tuple[int, int]]:
    """``[(a, b), ...]``: runs of True in a (T,) bool array, b exclusive, at least ``min_frames`` long."""
    on = np.asarray(on, dtype=bool)
    edges = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
    starts, stops = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True) if b - a >= min_frames]


def _descendants(parents: np.ndarray, j: int) -> list[int]:
    out, frontier = [j], [j]
    while frontier:
        frontier = [int(c) for p in frontier for c in np.nonzero(parents == p)[0]]
        out += frontier
    return out


def fade_near(weight_at: np.ndarray, blend: int) -> np.ndarray:
    """(T,) weights: 1 inside the True frames, falling linearly to 0 over ``blend`` frames outside them."""
    T = len(weight_at)
    if not weight_at.any():
        return np.zeros(T)
    idx = np.nonzero(weight_at)[0]
    # distance of every frame to the nearest True frame
    pos = np.searchsorted(idx, np.arange(T))
    left = np.abs(np.arange(T) - idx[np.clip(pos - 1, 0, len(idx) - 1)])
    right = np.abs(idx[np.clip(pos, 0, len(idx) - 1)] - np.arange(T))
    dist = np.minimum(left, right)
    return np.clip(1.0 - dist / (blend + 1), 0.0, 1.0)


def lock_feet(
    motion: Motion,
    contacts: np.ndarray | None = None,
    blend_seconds: float = 0.2,
    min_seconds: float = 0.08,
    keep: np.ndarray | None = None,
) -> Motion:
    """Hold feet still on the floor while they are in contact.

    Args:
        motion: a 3D motion with joint ``positions`` (metres, y-up). Motions given by rotations are
            returned unchanged (locking them needs IK on the rotations; not done here).
        contacts: (T, 4) bool for (left ankle, left toe, right ankle, right toe); default
            ``motion.meta["contacts"]`` (what a model predicted), else ``motion.foot_contacts()``. A foot
            is planted while its ankle (toe) is pinned while the ankle (toe) is in contact.
        blend_seconds: the correction fades in and out over this long around each contact.
        min_seconds: shorter contacts are left alone.
        keep: optional (T,) bool, frames that must not change (e.g. frames an edit constrains); the
            correction fades out towards them.

    Returns:
        a new Motion with corrected positions (``meta["foot_lock"]`` records the settings).
    """
    if motion.positions is None or motion.skeleton.dim != 3:
        return motion
    T = motion.n_frames
    sk = motion.skeleton
    if contacts is None:
        contacts = motion.meta.get("contacts")
    if contacts is None:
        contacts = motion.foot_contacts()
    c = np.asarray(contacts, dtype=bool)
    if c.shape != (T, 4):
        raise ValueError(f"contacts must be ({T}, 4), got {c.shape}")
    blend = max(1, int(round(blend_seconds * motion.fps)))
    min_frames = max(1, int(round(min_seconds * motion.fps)))
    freeze_weight = np.ones(T) if keep is None else 1.0 - fade_near(np.asarray(keep, dtype=bool), blend)

    P = np.array(motion.positions, dtype=np.float64, copy=True)
    flat = [0, 2]

    def pinned(on: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Joint j's own correction (T, 2) while ``on`` (T,), faded, and its fade weight (T,)."""
        segments = contact_segments(on, min_frames)
        if not segments:
            return np.zeros((T, 2)), np.zeros(T)
        offset = np.zeros((T, 2))
        inside = np.zeros(T, dtype=bool)
        for a, b in segments:
            xz = P[a:b, j][:, flat]
            offset[a:b] = xz.mean(axis=0) - xz
            inside[a:b] = True
        # outside the segments: carry the nearest segment edge's offset, faded to 0 over `blend` frames
        idx = np.nonzero(inside)[0]
        t = np.arange(T)
        pos = np.searchsorted(idx, t)
        after, before = idx[np.clip(pos, 0, len(idx) - 1)], idx[np.clip(pos - 1, 0, len(idx) - 1)]
        pick = np.where(np.abs(t - before) <= np.abs(after - t), before, after)
        weight = fade_near(inside, blend) * freeze_weight
        return np.where(inside[:, None], offset, offset[pick]) * weight[:, None], weight

    for ankle_k, toe_k in ((0, 1), (2, 3)):
        ankle, toe = sk.feet[ankle_k], sk.feet[toe_k]
        if ankle < 0:
            continue
        a_on = c[:, ankle_k]
        if toe == ankle:  # one joint stands for the whole foot (a coarse skeleton)
            a_on, toe = a_on | c[:, toe_k], -1
        a_off, a_w = pinned(a_on, ankle)
        t_off, t_w = (np.zeros((T, 2)), np.zeros(T)) if toe < 0 else pinned(c[:, toe_k], toe)
        # the foot is rigid-ish: a joint that is not planted follows the other one's correction
        ankle_off = a_off + (1.0 - a_w)[:, None] * t_off
        toe_off = t_off + (1.0 - t_w)[:, None] * a_off
        toe_part = set(_descendants(sk.parents, toe)) if toe >= 0 else set()
        for j in _descendants(sk.parents, ankle):
            P[:, j, flat] += toe_off if j in toe_part else ankle_off
        knee = int(sk.parents[ankle])
        if knee >= 0 and knee != sk.root:
            P[:, knee, flat] += 0.5 * ankle_off
    out = motion.copy(positions=P.astype(motion.positions.dtype, copy=False))
    out.meta["foot_lock"] = {"blend_seconds": blend_seconds, "min_seconds": min_seconds}
    return out


def bone_lengths(motion: Motion) -> np.ndarray:
    """(T, J) length in metres of the bone from each joint's parent to the joint, per frame (the root's is 0)."""
    P = motion.joint_positions()
    parents = np.asarray(motion.skeleton.parents)
    out = np.zeros(P.shape[:2])
    child = parents >= 0
    out[:, child] = np.linalg.norm(P[:, child] - P[:, parents[child]], axis=-1)
    return out


def fit_skeleton(
    motion: Motion,
    lengths: np.ndarray | None = None,
    foot_weight: float = 10.0,
    iterations: int = 60,
    weights: np.ndarray | None = None,
) -> Motion:
    """The motion on a skeleton with constant bone lengths, fitted once to its joint positions.

    A generated dance (positions straight from a network) lets its bones stretch from frame to frame; a BVH or
    GLB skeleton cannot, so each export would tell a slightly different dance. This fits, frame by frame, the
    root position and every bone's direction (one free direction per bone, as the BVH writer's ``_link`` joints
    give every child of a branching joint) so that a skeleton with the fixed ``lengths`` comes as close as it
    can to the positions, in the weighted least-squares sense: sum over joints of ``w_j |x_j - p_j|^2``, with
    feet (``skeleton.feet`` and the joints below them) weighted ``foot_weight`` so that they stay where foot
    locking put them as far as the fixed bones allow. Bone directions start at the observed ones and are
    refined by L-BFGS (``iterations`` steps, all frames at once: frames are independent, so the sum is).

    Args:
        motion: a 3D motion with joint positions (metres, y-up). Motions given by rotations with rest offsets
            already have fixed bones and are returned unchanged, as are 2D motions.
        lengths: (J,) bone lengths in metres (the root's ignored); default: the skeleton's own (its rest
            offsets' lengths) when it has offsets, else each bone's median length over the dance.
        foot_weight: weight of the foot joints against 1 for the others.
        iterations: L-BFGS iterations.
        weights: optional (T, J) extra weight per frame and joint (multiplies the foot weights), e.g. large on
            the joints an edit keeps so that they stay on their reference as far as the fixed bones allow.

    Returns:
        a new positions-only Motion whose bone lengths are ``lengths`` in every frame (to float32 rounding);
        ``meta["fit_skeleton"]`` records the lengths and the fit's mean and largest joint displacement (m).
    """
    import torch

    sk = motion.skeleton
    if sk.dim != 3 or (motion.rotations is not None and sk.offsets is not None):
        return motion
    P = motion.joint_positions()
    T, J = P.shape[:2]
    parents = np.asarray(sk.parents)
    root = int(sk.root)
    if lengths is None:
        lengths = np.linalg.norm(sk.offsets, axis=-1) if sk.offsets is not None else np.median(bone_lengths(motion), 0)
    L = np.asarray(lengths, np.float64).copy()
    L[root] = 0.0
    if L.shape != (J,) or not np.all(np.isfinite(L)) or np.any(L < 0):
        raise ValueError(f"lengths must be ({J},) finite and >= 0, got shape {L.shape}")
    w = np.ones(J)
    for f in sk.feet:
        if f >= 0:
            w[_descendants(parents, int(f))] = foot_weight

    wt = np.broadcast_to(w, (T, J)).copy()
    if weights is not None:
        weights = np.asarray(weights, np.float64)
        if weights.shape != (T, J) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError(f"weights must be ({T}, {J}), finite and >= 0, got shape {weights.shape}")
        wt *= weights
    target = torch.from_numpy(P)
    weight = torch.from_numpy(wt)[:, :, None]
    lengths_t = torch.from_numpy(L)[None, :, None]
    child = parents >= 0
    init = np.zeros_like(P)
    init[:, child] = P[:, child] - P[:, parents[child]]
    # a zero-length observed bone has no direction: give it its rest direction, or straight up
    flat = np.linalg.norm(init, axis=-1) < 1e-9
    if flat.any():
        fallback = sk.offsets if sk.offsets is not None else np.tile([0.0, 1.0, 0.0], (J, 1))
        init[flat] = np.broadcast_to(fallback, init.shape)[flat]
    dirs = torch.tensor(init, requires_grad=True)
    root_pos = torch.tensor(P[:, root].copy(), requires_grad=True)

    # x_j = root + sum of the bones on the path from the root to j: one matrix product for every joint
    path = np.zeros((J, J))
    for j in range(J):
        k = j
        while parents[k] >= 0:
            path[j, k] = 1.0
            k = int(parents[k])
    path_t = torch.from_numpy(path)

    def chain() -> torch.Tensor:
        unit = dirs / dirs.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return root_pos[:, None, :] + torch.einsum("jk,tkd->tjd", path_t, unit * lengths_t)

    opt = torch.optim.LBFGS([dirs, root_pos], lr=1.0, max_iter=iterations, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (weight * (chain() - target) ** 2).sum() / T
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        X = chain().numpy()
    moved = np.linalg.norm(X - P, axis=-1)
    dtype = motion.positions.dtype if motion.positions is not None else np.float32
    out = motion.copy(positions=X.astype(dtype), rotations=None, root=None)
    out.meta["fit_skeleton"] = {
        "lengths": [round(float(v), 6) for v in L],
        "mean_moved": round(float(moved.mean()), 6),
        "max_moved": round(float(moved.max()), 6),
    }
    return out
