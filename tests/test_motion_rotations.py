"""Rotation conversions against scipy.spatial.transform.Rotation (property tests) and edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.transform import Rotation, Slerp

from choreo.motion import rotations as R

TOL = 1e-12
finite = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)
quats = arrays(np.float64, (8, 4), elements=finite).filter(lambda q: np.all(np.linalg.norm(q, axis=1) > 1e-3))
angles = st.floats(-math.pi, math.pi, allow_nan=False)
vecs = arrays(np.float64, (8, 3), elements=st.floats(-3.0, 3.0, allow_nan=False))


def scipy_from_wxyz(q: np.ndarray) -> Rotation:
    return Rotation.from_quat(q[..., [1, 2, 3, 0]])


def same_rotation(q1: np.ndarray, q2: np.ndarray) -> float:
    """Largest distance between quaternions up to sign."""
    q1 = q1 / np.linalg.norm(q1, axis=-1, keepdims=True)
    q2 = q2 / np.linalg.norm(q2, axis=-1, keepdims=True)
    return float(np.minimum(np.abs(q1 - q2).max(-1), np.abs(q1 + q2).max(-1)).max())


@settings(max_examples=60, deadline=None)
@given(quats)
def test_quat_matrix_axis_angle_match_scipy(q):
    sp = scipy_from_wxyz(q)
    t = torch.from_numpy(q)
    np.testing.assert_allclose(R.quat_to_matrix(t).numpy(), sp.as_matrix(), atol=TOL)
    aa = R.quat_to_axis_angle(t).numpy()
    assert np.all(np.linalg.norm(aa, axis=1) <= math.pi + 1e-12)
    np.testing.assert_allclose(Rotation.from_rotvec(aa).as_matrix(), sp.as_matrix(), atol=TOL)
    away_from_pi = sp.magnitude() < math.pi - 1e-6  # at pi, a and -a are the same rotation
    np.testing.assert_allclose(aa[away_from_pi], sp.as_rotvec()[away_from_pi], atol=TOL)
    m = torch.from_numpy(sp.as_matrix())
    assert same_rotation(R.matrix_to_quat(m).numpy(), q) < TOL
    assert np.all(R.matrix_to_quat(m).numpy()[:, 0] >= 0)
    np.testing.assert_allclose(R.matrix_to_axis_angle(m).numpy()[away_from_pi], sp.as_rotvec()[away_from_pi], atol=TOL)
    aa = torch.from_numpy(sp.as_rotvec())
    np.testing.assert_allclose(R.axis_angle_to_matrix(aa).numpy(), sp.as_matrix(), atol=TOL)
    assert same_rotation(R.axis_angle_to_quat(aa).numpy(), q) < TOL


@settings(max_examples=60, deadline=None)
@given(quats, quats, vecs)
def test_multiply_apply_inverse_match_scipy(a, b, v):
    sa, sb = scipy_from_wxyz(a), scipy_from_wxyz(b)
    ta, tb = R.quat_normalize(torch.from_numpy(a)), R.quat_normalize(torch.from_numpy(b))
    prod = R.quat_multiply(ta, tb).numpy()
    assert same_rotation(prod, (sa * sb).as_quat()[:, [3, 0, 1, 2]]) < TOL
    np.testing.assert_allclose(R.quat_apply(ta, torch.from_numpy(v)).numpy(), sa.apply(v), atol=1e-11)
    assert same_rotation(R.quat_inverse(ta).numpy(), sa.inv().as_quat()[:, [3, 0, 1, 2]]) < TOL


@settings(max_examples=40, deadline=None)
@given(quats, quats, st.floats(0.0, 1.0))
def test_slerp_matches_scipy(a, b, t):
    q = R.quat_slerp(torch.from_numpy(a), torch.from_numpy(b), t).numpy()
    for i in range(len(a)):
        key = Rotation.concatenate([scipy_from_wxyz(a[i]), scipy_from_wxyz(b[i])])
        # scipy's Slerp takes the short way only if the keys are on the same hemisphere; compare rotations
        ref = Slerp([0.0, 1.0], key)([t])
        mid = scipy_from_wxyz(q[i])
        # slerp along the shortest arc: the angle to each end is proportional to t
        total = (key[0].inv() * key[1]).magnitude()
        assert abs((key[0].inv() * mid).magnitude() - t * total) < 1e-9
        assert (ref[0].inv() * mid).magnitude() < 1e-9


def test_slerp_endpoints_and_broadcast():
    a = R.axis_angle_to_quat(torch.tensor([[0.0, 0.0, 0.0]], dtype=torch.float64))
    b = R.axis_angle_to_quat(torch.tensor([[0.0, 2.0, 0.0]], dtype=torch.float64))
    t = torch.linspace(0, 1, 5, dtype=torch.float64)[:, None]
    out = R.quat_slerp(a, b, t)
    np.testing.assert_allclose(R.quat_to_axis_angle(out).numpy()[:, 1], np.linspace(0, 2, 5), atol=1e-12)


@pytest.mark.parametrize("order", ["ZXY", "XYZ", "ZYX", "YXZ", "zxy", "xyz", "ZXZ", "yzy"])
def test_euler_matches_scipy(order):
    rng = np.random.default_rng(1)
    ang = rng.uniform(-math.pi, math.pi, (500, 3))
    proper = order[0].lower() == order[2].lower()
    ang[:, 1] = rng.uniform(0.05, math.pi - 0.05, 500) if proper else rng.uniform(-1.5, 1.5, 500)
    ref = Rotation.from_euler(order, ang)
    m = R.euler_to_matrix(torch.from_numpy(ang), order).numpy()
    np.testing.assert_allclose(m, ref.as_matrix(), atol=TOL)
    back = R.matrix_to_euler(torch.from_numpy(ref.as_matrix()), order).numpy()
    np.testing.assert_allclose(back, ref.as_euler(order), atol=1e-9)  # angles are ill-conditioned near gimbal
    np.testing.assert_allclose(R.euler_to_matrix(torch.from_numpy(back), order).numpy(), ref.as_matrix(), atol=TOL)


@pytest.mark.parametrize("order", ["ZXY", "xyz", "ZXZ"])
def test_euler_gimbal_lock_round_trip(order):
    rng = np.random.default_rng(2)
    ang = rng.uniform(-math.pi, math.pi, (50, 3))
    proper = order[0].lower() == order[2].lower()
    for mid in [0.0, math.pi] if proper else [math.pi / 2, -math.pi / 2]:
        ang[:, 1] = mid
        m = Rotation.from_euler(order, ang).as_matrix()
        back = R.matrix_to_euler(torch.from_numpy(m), order)
        np.testing.assert_allclose(R.euler_to_matrix(back, order).numpy(), m, atol=1e-12)


def test_rot6d_round_trip_and_layout():
    m = torch.from_numpy(Rotation.random(100, random_state=3).as_matrix())
    d6 = R.matrix_to_rot6d(m)
    assert d6.shape == (100, 6)
    np.testing.assert_array_equal(d6[:, :3].numpy(), m[:, :, 0].numpy())  # first column first
    np.testing.assert_allclose(R.rot6d_to_matrix(d6).numpy(), m.numpy(), atol=TOL)
    # any 6-vector (not orthonormal) maps to a proper rotation
    raw = torch.randn(50, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = R.rot6d_to_matrix(raw)
    np.testing.assert_allclose(
        (out.transpose(-1, -2) @ out).numpy(), np.broadcast_to(np.eye(3), (50, 3, 3)), atol=1e-12
    )
    np.testing.assert_allclose(torch.linalg.det(out).numpy(), 1.0, atol=1e-12)


@pytest.mark.parametrize("angle", [0.0, 1e-12, 1e-7, 1e-3, math.pi - 1e-9, math.pi])
def test_near_zero_and_pi(angle):
    rng = np.random.default_rng(4)
    axis = rng.normal(size=(64, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    aa = axis * angle
    ref = Rotation.from_rotvec(aa).as_matrix()
    np.testing.assert_allclose(R.axis_angle_to_matrix(torch.from_numpy(aa)).numpy(), ref, atol=TOL)
    back = R.matrix_to_axis_angle(torch.from_numpy(ref)).numpy()
    np.testing.assert_allclose(Rotation.from_rotvec(back).as_matrix(), ref, atol=TOL)
    np.testing.assert_allclose(np.linalg.norm(back, axis=1), angle, atol=1e-9)


def test_gradients_finite_at_identity_and_pi():
    for aa in ([0.0, 0.0, 0.0], [math.pi, 0.0, 0.0]):
        x = torch.tensor(aa, dtype=torch.float64, requires_grad=True)
        R.matrix_to_axis_angle(R.axis_angle_to_matrix(x)).sum().backward()
        assert torch.isfinite(x.grad).all()
    m = torch.eye(3, dtype=torch.float64, requires_grad=True)
    R.matrix_to_quat(m).sum().backward()
    assert torch.isfinite(m.grad).all()


def test_gradcheck_float64():
    x = torch.tensor([[0.3, -0.2, 0.5], [1e-5, 0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: R.matrix_to_rot6d(R.axis_angle_to_matrix(a)), (x,))
    d = torch.randn(3, 6, dtype=torch.float64, requires_grad=True, generator=torch.Generator().manual_seed(1))
    assert torch.autograd.gradcheck(R.rot6d_to_matrix, (d,))


def test_float32_supported():
    q = torch.from_numpy(Rotation.random(200, random_state=5).as_quat()[:, [3, 0, 1, 2]]).float()
    m = R.quat_to_matrix(q)
    assert m.dtype == torch.float32
    assert same_rotation(R.matrix_to_quat(m).numpy().astype(np.float64), q.numpy().astype(np.float64)) < 1e-5
    e = R.matrix_to_euler(m, "ZXY")
    assert e.dtype == torch.float32
    np.testing.assert_allclose(R.euler_to_matrix(e, "ZXY").numpy(), m.numpy(), atol=1e-5)


def test_bad_euler_order():
    with pytest.raises(ValueError):
        R.euler_to_matrix(torch.zeros(3), "ZZY")
    with pytest.raises(ValueError):
        R.euler_to_matrix(torch.zeros(3), "ZxY")
