"""Forward kinematics against the reference joints (fixtures), inverse kinematics back to positions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from choreo.motion import SMPL24, Skeleton
from choreo.motion.kinematics import forward_kinematics, inverse_kinematics, traversal_order
from choreo.motion.rotations import axis_angle_to_matrix, quat_to_matrix


def test_fk_reproduces_reference_joints(joints):
    np.testing.assert_array_equal(joints["smpl_parents"], SMPL24.parents)
    np.testing.assert_array_equal(joints["smpl_offsets"], SMPL24.offsets)
    for name in joints["names"]:
        poses = joints[f"poses__{name}"].astype(np.float64).reshape(-1, 24, 3)
        rot = axis_angle_to_matrix(torch.from_numpy(poses))
        P = forward_kinematics(rot, torch.from_numpy(joints[f"root_pos__{name}"]), SMPL24.offsets, SMPL24.parents)
        assert P.dtype == torch.float64
        assert np.abs(P.numpy() - joints[f"joints__{name}"]).max() < 1e-12


def test_fk_float32_and_batched_and_differentiable(joints):
    name = str(joints["names"][0])
    poses = torch.from_numpy(joints[f"poses__{name}"][:8].reshape(2, 4, 24, 3).astype(np.float32))
    root = torch.from_numpy(joints[f"root_pos__{name}"][:8].reshape(2, 4, 3).astype(np.float32))
    P = forward_kinematics(axis_angle_to_matrix(poses), root, SMPL24.offsets, SMPL24.parents)
    assert P.shape == (2, 4, 24, 3) and P.dtype == torch.float32
    assert np.abs(P.numpy().reshape(8, 24, 3) - joints[f"joints__{name}"][:8]).max() < 1e-5
    x = poses[0, :1].double().requires_grad_(True)
    out = forward_kinematics(axis_angle_to_matrix(x), root[0, :1].double(), SMPL24.offsets, SMPL24.parents)
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_fk_any_joint_order_matches_scipy():
    # a tree whose parents come after their children: 2 is the root
    parents = np.array([2, 0, -1, 2, 3])
    offsets = np.array([[0.0, 0.5, 0.0], [0.1, 0.2, 0.0], [0.0, 0.0, 0.0], [0.3, 0.0, 0.0], [0.0, 0.0, 0.4]])
    rots = Rotation.random(5 * 7, random_state=0)
    root = np.random.default_rng(0).normal(size=(7, 3))
    P = forward_kinematics(
        torch.from_numpy(rots.as_matrix().reshape(7, 5, 3, 3)), torch.from_numpy(root), offsets, parents
    )
    mats = rots.as_matrix().reshape(7, 5, 3, 3)
    ref = np.zeros((7, 5, 3))
    for t in range(7):
        W = {2: mats[t, 2]}
        ref[t, 2] = root[t]
        for j in (0, 3, 1, 4):
            p = parents[j]
            ref[t, j] = ref[t, p] + W[p] @ offsets[j]
            W[j] = W[p] @ mats[t, j]
    np.testing.assert_allclose(P.numpy(), ref, atol=1e-12)
    assert traversal_order(parents)[0] == 2


def test_ik_then_fk_gives_rigid_positions_back(joints):
    name = str(joints["names"][1])
    P = joints[f"joints__{name}"]
    q, root, offsets = inverse_kinematics(P, SMPL24)
    assert q.shape == (len(P), 24, 4) and root.shape == (len(P), 3)
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-12)
    # rigid data: mean bone lengths are the true lengths, every joint is reached
    P2 = forward_kinematics(quat_to_matrix(torch.from_numpy(q)), torch.from_numpy(root), offsets, SMPL24.parents)
    assert np.abs(P2.numpy() - P).max() < 1e-9
    # the rest pose follows the skeleton's offsets (same directions)
    cos = np.sum(offsets[1:] * SMPL24.offsets[1:], axis=1) / (
        np.linalg.norm(offsets[1:], axis=1) * np.linalg.norm(SMPL24.offsets[1:], axis=1)
    )
    np.testing.assert_allclose(cos, 1.0, atol=1e-12)


def test_ik_bone_directions_with_varying_lengths():
    # a chain plus a branch, positions with noisy bone lengths; single-child bones keep exact directions
    sk = Skeleton("toy", ("a", "b", "c", "d", "e"), np.array([-1, 0, 1, 0, 3]))
    rng = np.random.default_rng(1)
    T = 50
    P = np.zeros((T, 5, 3))
    P[:, 0] = rng.normal(size=(T, 3))
    for j, p in ((1, 0), (2, 1), (3, 0), (4, 3)):
        d = rng.normal(size=(T, 3))
        P[:, j] = P[:, p] + d / np.linalg.norm(d, axis=1, keepdims=True) * rng.uniform(0.8, 1.2, (T, 1))
    q, root, off = inverse_kinematics(P, sk)
    P2 = forward_kinematics(quat_to_matrix(torch.from_numpy(q)), torch.from_numpy(root), off, sk.parents).numpy()
    np.testing.assert_allclose(P2[:, 0], P[:, 0], atol=1e-12)

    def direction(X, j, p):
        v = X[:, j] - X[:, p]
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    for j, p in ((2, 1), (4, 3)):  # joints 1 and 3 have one child each
        np.testing.assert_allclose(direction(P2, j, p), direction(P, j, p), atol=1e-9)


def test_ik_rejects_wrong_shape():
    from choreo.errors import ChoreoError

    with pytest.raises(ChoreoError):
        inverse_kinematics(np.zeros((4, 23, 3)), SMPL24)
