"""Rotation conversions in PyTorch: batched over leading dims, differentiable, float32 and float64.

Conventions (shared by the whole library):

- Matrices act on column vectors: ``v' = R @ v``.
- Quaternions are ``(w, x, y, z)`` (real part first), Hamilton product; ``q`` and ``-q`` are the same
  rotation. Functions that return quaternions return unit quaternions with ``w >= 0``.
- Axis-angle is a vector ``a = theta * axis`` (radians), ``|a| <= pi`` when produced here.
- 6D (Zhou et al. 2019) is the first two *columns* of the matrix, concatenated: ``(R[:,0], R[:,1])``,
  shape ``(..., 6)``; :func:`rot6d_to_matrix` maps any 6-vector back by Gram-Schmidt.
- Euler angles are radians. An upper-case order such as ``"ZXY"`` is *intrinsic* (each rotation about the
  already rotated axes), which is what BVH channels mean: ``R = Rz(a0) @ Rx(a1) @ Ry(a2)``. A lower-case
  order (``"zxy"``) is extrinsic (fixed axes): ``R = Ry(a2) @ Rx(a1) @ Rz(a0)``. Both follow
  :meth:`scipy.spatial.transform.Rotation.from_euler`. Proper Euler orders (``"ZXZ"``) are accepted too.

Near-zero and near-pi angles use series expansions or branch selection so values and gradients stay
finite.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "axis_angle_to_quat",
    "quat_to_axis_angle",
    "quat_to_matrix",
    "matrix_to_quat",
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "matrix_to_rot6d",
    "rot6d_to_matrix",
    "quat_multiply",
    "quat_apply",
    "quat_inverse",
    "quat_normalize",
    "quat_slerp",
    "euler_to_matrix",
    "matrix_to_euler",
    "euler_to_quat",
    "quat_to_euler",
]

# Below this squared angle the Taylor series (to 4th order) is exact to float64 precision.
_SMALL2 = 1e-6


def _as_tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(x)


def quat_normalize(q: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Scale quaternions ``(..., 4)`` to unit length."""
    q = _as_tensor(q)
    return q / q.norm(dim=-1, keepdim=True).clamp_min(eps)


def _standardize(q: torch.Tensor) -> torch.Tensor:
    """Pick the representative with ``w >= 0`` (q and -q are the same rotation)."""
    return torch.where(q[..., :1] < 0, -q, q)


def axis_angle_to_quat(aa: torch.Tensor) -> torch.Tensor:
    """Axis-angle ``(..., 3)`` -> unit quaternion ``(..., 4)`` (w, x, y, z)."""
    aa = _as_tensor(aa)
    t2 = (aa * aa).sum(-1, keepdim=True)
    small = t2 < _SMALL2
    t = torch.sqrt(torch.where(small, torch.ones_like(t2), t2))
    half = 0.5 * t
    # sin(t/2)/t and cos(t/2) as series near zero, so the gradient at aa = 0 is finite.
    s = torch.where(small, 0.5 - t2 / 48.0 + t2 * t2 / 3840.0, torch.sin(half) / t)
    w = torch.where(small, 1.0 - t2 / 8.0 + t2 * t2 / 384.0, torch.cos(half))
    return torch.cat([w, aa * s], dim=-1)


def quat_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    """Quaternion ``(..., 4)`` -> axis-angle ``(..., 3)`` with angle in [0, pi]."""
    q = _standardize(quat_normalize(q))
    w, v = q[..., :1], q[..., 1:]
    n2 = (v * v).sum(-1, keepdim=True)
    small = n2 < _SMALL2
    n = torch.sqrt(torch.where(small, torch.ones_like(n2), n2))
    # angle / n = 2 atan2(n, w) / n; near n = 0 (so w ~ 1): 2/w - 2 n^2 / (3 w^3)
    ws = torch.where(small, w, torch.ones_like(w))
    ratio = torch.where(small, 2.0 / ws - 2.0 * n2 / (3.0 * ws**3), 2.0 * torch.atan2(n, w) / n)
    return v * ratio


def quat_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """Quaternion ``(..., 4)`` (need not be unit) -> rotation matrix ``(..., 3, 3)``."""
    q = _as_tensor(q)
    w, x, y, z = q.unbind(-1)
    s = 2.0 / (q * q).sum(-1)
    xx, yy, zz = x * x * s, y * y * s, z * z * s
    xy, xz, yz = x * y * s, x * z * s, y * z * s
    wx, wy, wz = w * x * s, w * y * s, w * z * s
    m = torch.stack(
        [
            1.0 - (yy + zz),
            xy - wz,
            xz + wy,
            xy + wz,
            1.0 - (xx + zz),
            yz - wx,
            xz - wy,
            yz + wx,
            1.0 - (xx + yy),
        ],
        dim=-1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


def matrix_to_quat(m: torch.Tensor) -> torch.Tensor:
    """Rotation matrix ``(..., 3, 3)`` -> unit quaternion ``(..., 4)`` with ``w >= 0``.

    Shepperd's method: of the four candidate formulas the one with the largest denominator is used,
    so it is accurate for every angle including pi.
    """
    m = _as_tensor(m)
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    # 4 w^2, 4 x^2, 4 y^2, 4 z^2
    sq = torch.stack(
        [1.0 + m00 + m11 + m22, 1.0 + m00 - m11 - m22, 1.0 - m00 + m11 - m22, 1.0 - m00 - m11 + m22], dim=-1
    )
    best = sq.argmax(dim=-1, keepdim=True)
    # The chosen entry is >= 1 (the four sum to 4); clamping the others keeps sqrt's gradient finite.
    r = torch.sqrt(sq.clamp_min(0.25))  # 2|w|, 2|x|, 2|y|, 2|z| for the chosen branch
    cand = torch.stack(
        [
            torch.stack([r[..., 0] * r[..., 0], m21 - m12, m02 - m20, m10 - m01], dim=-1) / (2 * r[..., 0:1]),
            torch.stack([m21 - m12, r[..., 1] * r[..., 1], m10 + m01, m02 + m20], dim=-1) / (2 * r[..., 1:2]),
            torch.stack([m02 - m20, m10 + m01, r[..., 2] * r[..., 2], m12 + m21], dim=-1) / (2 * r[..., 2:3]),
            torch.stack([m10 - m01, m20 + m02, m21 + m12, r[..., 3] * r[..., 3]], dim=-1) / (2 * r[..., 3:4]),
        ],
        dim=-2,
    )  # (..., 4 candidates, 4)
    q = torch.gather(cand, -2, best[..., None].expand(best.shape[:-1] + (1, 4))).squeeze(-2)
    return _standardize(quat_normalize(q))


def axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    """Axis-angle ``(..., 3)`` -> rotation matrix ``(..., 3, 3)``."""
    return quat_to_matrix(axis_angle_to_quat(aa))


def matrix_to_axis_angle(m: torch.Tensor) -> torch.Tensor:
    """Rotation matrix ``(..., 3, 3)`` -> axis-angle ``(..., 3)``, angle in [0, pi]."""
    return quat_to_axis_angle(matrix_to_quat(m))


def matrix_to_rot6d(m: torch.Tensor) -> torch.Tensor:
    """Rotation matrix ``(..., 3, 3)`` -> 6D ``(..., 6)``: first column then second column."""
    m = _as_tensor(m)
    return torch.cat([m[..., :, 0], m[..., :, 1]], dim=-1)


def rot6d_to_matrix(d6: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """6D ``(..., 6)`` -> rotation matrix ``(..., 3, 3)`` by Gram-Schmidt on the two columns."""
    d6 = _as_tensor(d6)
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / a1.norm(dim=-1, keepdim=True).clamp_min(eps)
    a2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    b2 = a2 / a2.norm(dim=-1, keepdim=True).clamp_min(eps)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def quat_multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product ``a * b`` of quaternions ``(..., 4)`` (rotation b first, then a)."""
    a, b = _as_tensor(a), _as_tensor(b)
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def quat_inverse(q: torch.Tensor) -> torch.Tensor:
    """Inverse ``q^-1 = conj(q) / |q|^2`` of quaternions ``(..., 4)``."""
    q = _as_tensor(q)
    conj = torch.cat([q[..., :1], -q[..., 1:]], dim=-1)
    return conj / (q * q).sum(-1, keepdim=True)


def quat_apply(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors ``v (..., 3)`` by unit quaternions ``q (..., 4)``: ``q v q^-1``."""
    q, v = _as_tensor(q), _as_tensor(v)
    w, u = q[..., :1], q[..., 1:]
    u, v = torch.broadcast_tensors(u, v)
    t = 2.0 * torch.linalg.cross(u, v, dim=-1)
    return v + w * t + torch.linalg.cross(u, t, dim=-1)


def quat_slerp(q0: torch.Tensor, q1: torch.Tensor, t) -> torch.Tensor:
    """Spherical linear interpolation along the shortest arc.

    Args:
        q0, q1: unit quaternions ``(..., 4)``.
        t: interpolation weight, a float or a tensor broadcastable to ``(..., 1)``; 0 gives q0, 1 gives q1.
    Returns:
        unit quaternions ``(..., 4)``.
    """
    q0, q1 = quat_normalize(q0), quat_normalize(q1)
    t = torch.as_tensor(t, dtype=q0.dtype, device=q0.device)
    if t.ndim == 0 or t.shape[-1] != 1:
        t = t[..., None]
    dot = (q0 * q1).sum(-1, keepdim=True)
    q1 = torch.where(dot < 0, -q1, q1)
    dot = dot.abs().clamp(max=1.0)
    near = dot > 1.0 - 1e-6
    theta = torch.acos(torch.where(near, torch.zeros_like(dot), dot))
    sin_t = torch.sin(theta)
    sin_safe = torch.where(near, torch.ones_like(sin_t), sin_t)
    w0 = torch.where(near, 1.0 - t, torch.sin((1.0 - t) * theta) / sin_safe)
    w1 = torch.where(near, t, torch.sin(t * theta) / sin_safe)
    return quat_normalize(w0 * q0 + w1 * q1)


_AXIS = {"x": 0, "y": 1, "z": 2}


def _check_order(order: str) -> tuple[list[int], bool]:
    if len(order) != 3 or not (order.isupper() or order.islower()) or any(c not in "xyzXYZ" for c in order):
        raise ValueError(f"Euler order must be 3 letters of xyz, all upper (intrinsic) or lower (extrinsic): {order!r}")
    axes = [_AXIS[c.lower()] for c in order]
    if axes[0] == axes[1] or axes[1] == axes[2]:
        raise ValueError(f"Euler order {order!r} repeats an axis in consecutive rotations")
    return axes, order.isupper()


def _elementary(axis: int, angle: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(c), torch.zeros_like(c)
    if axis == 0:
        rows = [one, zero, zero, zero, c, -s, zero, s, c]
    elif axis == 1:
        rows = [c, zero, s, zero, one, zero, -s, zero, c]
    else:
        rows = [c, -s, zero, s, c, zero, zero, zero, one]
    return torch.stack(rows, dim=-1).reshape(angle.shape + (3, 3))


def euler_to_matrix(angles: torch.Tensor, order: str) -> torch.Tensor:
    """Euler angles ``(..., 3)`` in radians -> rotation matrix ``(..., 3, 3)``.

    ``angles[..., i]`` is the rotation about axis ``order[i]``; see the module docstring for intrinsic
    (upper case, as BVH) versus extrinsic (lower case).
    """
    angles = _as_tensor(angles)
    axes, intrinsic = _check_order(order)
    mats = [_elementary(a, angles[..., i]) for i, a in enumerate(axes)]
    if intrinsic:
        return mats[0] @ mats[1] @ mats[2]
    return mats[2] @ mats[1] @ mats[0]


def euler_to_quat(angles: torch.Tensor, order: str) -> torch.Tensor:
    """Euler angles ``(..., 3)`` in radians -> unit quaternion ``(..., 4)``."""
    return matrix_to_quat(euler_to_matrix(angles, order))


def quat_to_euler(q: torch.Tensor, order: str) -> torch.Tensor:
    """Unit quaternion ``(..., 4)`` -> Euler angles ``(..., 3)`` in radians, each in [-pi, pi].

    Tait-Bryan orders give the middle angle in [-pi/2, pi/2]; proper Euler orders give it in [0, pi].
    At gimbal lock the third angle (intrinsic) or first angle (extrinsic) is set to zero, as scipy does.
    Uses the quaternion method of Bernardes and Viollet (2022), valid for all twelve orders.
    """
    q = quat_normalize(q)
    axes, intrinsic = _check_order(order)
    if intrinsic:  # intrinsic ABC == extrinsic cba with the angles reversed
        axes = axes[::-1]
    i, j, k = axes
    symmetric = i == k
    if symmetric:
        k = 3 - i - j
    sign = float((i - j) * (j - k) * (k - i) // 2)
    w = q[..., 0]
    qi, qj, qk = q[..., 1 + i], q[..., 1 + j], q[..., 1 + k]
    if symmetric:
        a, b, c, d = w, qi, qj, qk * sign
    else:
        a, b, c, d = w - qj, qi + qk * sign, qj + w, qk * sign - qi
    theta2 = 2.0 * torch.atan2(torch.hypot(c, d), torch.hypot(a, b))
    half_sum = torch.atan2(b, a)
    half_diff = torch.atan2(d, c)
    eps = 1e-7 if q.dtype == torch.float64 else 1e-4
    lock0 = theta2.abs() <= eps
    lockpi = (theta2 - math.pi).abs() <= eps
    normal = ~(lock0 | lockpi)
    theta1 = half_sum - half_diff
    theta3 = half_sum + half_diff
    # At gimbal lock only theta1 + theta3 (theta2 = 0) or theta3 - theta1 (theta2 = pi) is defined; like
    # scipy, the last angle of the sequence as reported is set to zero.
    zero = torch.zeros_like(theta1)
    if intrinsic:  # reported last = theta1 of the extrinsic sequence
        theta1 = torch.where(normal, theta1, zero)
        theta3 = torch.where(normal, theta3, torch.where(lock0, 2.0 * half_sum, 2.0 * half_diff))
    else:
        theta3 = torch.where(normal, theta3, zero)
        theta1 = torch.where(normal, theta1, torch.where(lock0, 2.0 * half_sum, -2.0 * half_diff))
    if not symmetric:
        theta3 = theta3 * sign
        theta2 = theta2 - math.pi / 2
    out = torch.stack([theta1, theta2, theta3], dim=-1)
    if intrinsic:
        out = out.flip(-1)
    return torch.remainder(out + math.pi, 2 * math.pi) - math.pi


def matrix_to_euler(m: torch.Tensor, order: str) -> torch.Tensor:
    """Rotation matrix ``(..., 3, 3)`` -> Euler angles ``(..., 3)`` in radians (see :func:`quat_to_euler`)."""
    return quat_to_euler(matrix_to_quat(m), order)
