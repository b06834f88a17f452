"""Forward kinematics (rotations -> joint positions) and inverse kinematics (positions -> rotations).

Convention (EDGE's ``SMPLSkeleton.forward``, BVH): the root joint sits at ``root``; for every other
joint ``j`` with parent ``p``, ``P[j] = P[p] + W[p] @ offsets[j]`` and ``W[j] = W[p] @ R[j]``, where
``R[j]`` is j's local rotation and ``W`` the accumulated world rotation (the root's world rotation is its
local one). The root's own offset is never used. Joints may come in any order: the traversal follows
the parents (parent first), so skeletons such as OpenPose's, where a parent can have a larger index
than its child, work too.
"""

from __future__ import annotations

import numpy as np
import torch

from choreo.errors import ChoreoError
from choreo.motion.rotations import matrix_to_quat
from choreo.motion.skeleton import Skeleton, traversal_order

__all__ = ["forward_kinematics", "inverse_kinematics", "traversal_order"]


def forward_kinematics(local_rot: torch.Tensor, root: torch.Tensor, offsets, parents) -> torch.Tensor:
    """Joint positions from local rotations.

    Args:
        local_rot: (..., J, 3, 3) local rotation matrices (parent frame; the root's is its world rotation).
        root: (..., 3) world position of the root joint.
        offsets: (J, 3) rest offsets from each joint's parent (same units as ``root``).
        parents: (J,) parent index per joint, -1 for the root.
    Returns:
        (..., J, 3) world joint positions, same dtype and device as ``local_rot``. Differentiable.
    """
    local_rot = torch.as_tensor(local_rot)
    root = torch.as_tensor(root, dtype=local_rot.dtype, device=local_rot.device)
    offsets = torch.as_tensor(np.asarray(offsets), dtype=local_rot.dtype, device=local_rot.device)
    parents = np.asarray(parents, dtype=np.int64)
    J = len(parents)
    if local_rot.shape[-3:] != (J, 3, 3) or offsets.shape != (J, 3):
        raise ValueError(f"shapes disagree: local_rot {tuple(local_rot.shape)}, offsets {tuple(offsets.shape)}, J={J}")
    world_rot: list[torch.Tensor | None] = [None] * J
    pos: list[torch.Tensor | None] = [None] * J
    for j in traversal_order(parents):
        p = int(parents[j])
        if p < 0:
            world_rot[j] = local_rot[..., j, :, :]
            pos[j] = root
        else:
            pos[j] = pos[p] + (world_rot[p] @ offsets[j].unsqueeze(-1)).squeeze(-1)
            world_rot[j] = world_rot[p] @ local_rot[..., j, :, :]
    return torch.stack(pos, dim=-2)


# --- inverse kinematics (numpy, float64) ----------------------------------------------------------------


def _unit(v: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3, 3) smallest rotations taking unit vectors ``a`` to unit vectors ``b``.

    Antiparallel pairs (no unique smallest rotation) turn by pi about an axis perpendicular to ``a``.
    """
    a, b = np.broadcast_arrays(_unit(a), _unit(b))
    v = np.cross(a, b)
    c = np.sum(a * b, axis=-1)
    # Rodrigues with k = v / |v|, sin = |v|, cos = c: R = I + [v]x + [v]x^2 / (1 + c)
    vx = np.zeros(v.shape[:-1] + (3, 3))
    vx[..., 0, 1], vx[..., 0, 2] = -v[..., 2], v[..., 1]
    vx[..., 1, 0], vx[..., 1, 2] = v[..., 2], -v[..., 0]
    vx[..., 2, 0], vx[..., 2, 1] = -v[..., 1], v[..., 0]
    opposite = c < -1.0 + 1e-9
    denom = np.where(opposite, 1.0, 1.0 + c)
    R = np.eye(3) + vx + (vx @ vx) / denom[..., None, None]
    if np.any(opposite):
        ao = a[opposite]
        # any axis perpendicular to a: cross with the coordinate axis least aligned with it
        helper = np.eye(3)[np.argmin(np.abs(ao), axis=-1)]
        k = _unit(np.cross(ao, helper))
        R[opposite] = 2.0 * k[:, :, None] * k[:, None, :] - np.eye(3)
    return R


def _kabsch(rest: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations R minimising sum_k |R rest_k - obs_tk|^2.

    Args:
        rest: (K, 3) vectors in the joint's local frame.
        obs: (T, K, 3) observed world vectors.
    """
    H = np.einsum("ki,tkj->tij", rest, obs)  # sum_k rest_k obs_k^T
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(np.swapaxes(Vt, -1, -2) @ np.swapaxes(U, -1, -2)))
    d = np.where(d == 0, 1.0, d)
    D = np.zeros_like(H)
    D[:, 0, 0] = 1.0
    D[:, 1, 1] = 1.0
    D[:, 2, 2] = d
    return np.swapaxes(Vt, -1, -2) @ D @ np.swapaxes(U, -1, -2)


def _targets(j: int, children: list[list[int]], lengths: np.ndarray, eps: float) -> list[tuple[int, list[int]]]:
    """The joints whose direction j's rotation must explain: j's children, looking through zero-length bones.

    Returns (target joint, path of joints from j's child to the target) pairs.
    """
    out = []
    stack = [(c, [c]) for c in children[j]]
    while stack:
        c, path = stack.pop(0)
        if lengths[c] > eps or not children[c]:
            out.append((c, path))
        else:
            stack[:0] = [(g, path + [g]) for g in children[c]]
    return out


def inverse_kinematics(
    positions: np.ndarray, skeleton: Skeleton, rest: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local joint rotations that reproduce joint positions by forward kinematics.

    Bone directions drive the rotations: a joint with one child gets the smallest rotation (relative to
    its parent's frame, so no spurious twist) that points the rest bone along the observed bone; a
    joint with several children gets the best-fit rotation (Kabsch/SVD, weighted by bone length) that
    aligns its rest child offsets with the observed child vectors; end joints get the identity.
    Zero-length bones are looked through (their children count for the joint above).

    Rest offsets use per-bone mean lengths over the frames (measured data such as Dance with Melody
    varies per frame), so FK of the result gives back each bone's *direction* exactly at single-child
    joints and in the best-fit sense at branching joints, and positions up to the bone-length variation.

    Args:
        positions: (T, J, 3) joint positions (any consistent unit).
        skeleton: gives the parents; its ``offsets`` (if any) give the rest directions.
        rest: (J, 3) rest-pose vectors from each parent whose *directions* define the rest pose (e.g. a
            T-pose); overrides ``skeleton.offsets``. With neither, the first frame is the rest pose.
    Returns:
        rotations (T, J, 4) unit quaternions (w, x, y, z), root (T, 3) = root joint positions,
        offsets (J, 3) rest offsets (rest direction x mean bone length; the root's is zero).
    """
    P = np.asarray(positions, dtype=np.float64)
    parents = np.asarray(skeleton.parents)
    T, J = P.shape[:2]
    if P.ndim != 3 or P.shape[2] != 3 or J != len(parents):
        raise ChoreoError(f"inverse kinematics needs (frames, {len(parents)}, 3) positions, got {P.shape}")
    order = traversal_order(parents)
    root = order[0]
    children: list[list[int]] = [[] for _ in range(J)]
    for j in order[1:]:
        children[int(parents[j])].append(j)

    bone = np.zeros_like(P)
    nonroot = parents >= 0
    bone[:, nonroot] = P[:, nonroot] - P[:, parents[nonroot]]
    lengths = np.linalg.norm(bone, axis=-1).mean(axis=0)
    lengths[root] = 0.0
    scale = max(float(lengths.max()), 1e-12)
    eps = 1e-9 * scale

    template = rest if rest is not None else skeleton.offsets
    if template is None:
        template = bone[0]
    template = np.asarray(template, dtype=np.float64)
    dirs = _unit(template)
    # where the template has a zero-length bone but the data does not, fall back to the first frame
    missing = (np.linalg.norm(template, axis=-1) < 1e-12) & (lengths > eps)
    dirs[missing] = _unit(bone[0, missing])
    offsets = dirs * lengths[:, None]
    offsets[root] = 0.0

    world = np.zeros((T, J, 3, 3))
    for j in order:
        p = int(parents[j])
        W_parent = np.broadcast_to(np.eye(3), (T, 3, 3)) if p < 0 else world[:, p]
        targets = _targets(j, children, lengths, eps)
        if not targets:
            world[:, j] = W_parent
            continue
        # rest vector from j to each target (sum of offsets along the path) and the observed one
        rest_vecs = np.stack([offsets[path].sum(axis=0) for _, path in targets])
        obs = np.stack([P[:, t] - P[:, j] for t, _ in targets], axis=1)  # (T, K, 3)
        if len(targets) == 1:
            world[:, j] = _swing(W_parent @ rest_vecs[0], obs[:, 0]) @ W_parent
        else:
            obs_scaled = _unit(obs) * np.linalg.norm(rest_vecs, axis=-1)[None, :, None]
            world[:, j] = _kabsch(rest_vecs, obs_scaled)

    local = np.empty_like(world)
    for j in order:
        p = int(parents[j])
        local[:, j] = world[:, j] if p < 0 else np.swapaxes(world[:, p], -1, -2) @ world[:, j]
    quats = matrix_to_quat(torch.from_numpy(local)).numpy()
    return quats, P[:, root].copy(), offsets
