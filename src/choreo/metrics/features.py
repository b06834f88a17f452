"""Kinetic (72) and geometric / "manual" (32) motion features, as AIST++ / Bailando compute them.

Both functions take joint positions ``(N, T, J, 3)`` (a batch of clips) or ``(T, J, 3)`` (one clip) in
metres, y-up, at ``fps`` frames per second, and are vectorised over clips, frames and joints.

Variants (chosen by name, never mixed):

* ``"reference"`` (default) reproduces Bailando ``utils/features/{kinetic,manual_new,utils}.py`` (and the
  bit-identical AIST++ API ``aist_plusplus/features``) including their quirks:

  - kinetic energy expenditure: the reference computes ``v1 = p[m] - p[m-1] / dt`` (operator precedence),
    so the "acceleration" contains ``p[m] / dt**2`` and depends on absolute position (values ~500-1400);
  - geometric velocity tests divide by ``time_per_frame = 1/120`` s whatever the frame rate (AIST++ is 60 fps),
    so every velocity threshold is effectively halved.

* ``"corrected"`` fixes both: ``v1 = (p[m] - p[m-1]) / dt`` and velocity tests divide by ``1 / fps``.

Conventions shared by both variants: the features are computed on frames ``1..T-1`` and averaged over those
``T-1`` frames; the kinetic velocity at frame i is the mean of the frame differences in a window of +-2 frames
(clipped at the ends, with its own count), the acceleration the mean of second differences over the same
window; the result is float32, as the reference returns it. Kinetic features are laid out joint-major
(``[h_0, v_0, e_0, h_1, ...]``): horizontal kinetic energy (mean ``|v_xz|^2``), vertical kinetic energy
(mean ``v_y^2``), energy expenditure (mean ``|a|``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

VARIANTS = ("reference", "corrected")

#: The joints (by SMPL role) that the 32 geometric tests read, with their SMPL-24 indices.
GEOMETRIC_ROLES: dict[str, int] = {
    "root": 0,
    "lhip": 1,
    "rhip": 2,
    "belly": 3,
    "lknee": 4,
    "rknee": 5,
    "lankle": 7,
    "rankle": 8,
    "chest": 9,
    "ltoes": 10,
    "rtoes": 11,
    "neck": 12,
    "lshoulder": 16,
    "rshoulder": 17,
    "lelbow": 18,
    "relbow": 19,
    "lwrist": 20,
    "rwrist": 21,
}

# Body proportions from fixed SMPL rest positions (metres), as in the reference ManualFeatures.__init__.
_L_SHOULDER = np.array([1.99113488e-01, 2.36807942e-01, -1.80702247e-02])
_L_ELBOW = np.array([4.54445392e-01, 2.21158922e-01, -4.10167128e-02])
_R_SHOULDER = np.array([-1.91692337e-01, 2.36928746e-01, -1.23055102e-02])
_L_HIP = np.array([5.64076714e-02, -3.23069185e-01, 1.09197125e-02])
_R_HIP = np.array([-6.24834076e-02, -3.31302464e-01, 1.50412619e-02])
HUMERUS_LENGTH = float(np.linalg.norm(_L_SHOULDER - _L_ELBOW))
SHOULDER_WIDTH = float(np.linalg.norm(_L_SHOULDER - _R_SHOULDER))
HIP_WIDTH = float(np.linalg.norm(_L_HIP - _R_HIP))

# The 32 tests in the reference's order: (kind, joints, threshold as (scale, body length) or angle range).
# Kinds follow the reference's method names: nmove (velocity along a plane normal), nplane (signed distance
# along a direction), move (velocity along a direction), angle (degrees, open interval), plane (signed
# distance from a plane through three joints), fast (speed). Special points: "zero", "y_unit",
# "minus_y_unit", and "y_min" = (0, lowest joint height in the current frame, 0).
_HL, _SW, _HW = "hl", "sw", "hw"
GEOMETRIC_TESTS: tuple[tuple[str, tuple[str, ...], tuple], ...] = (
    ("nmove", ("neck", "rhip", "lhip", "rwrist"), (1.8, _HL)),
    ("nmove", ("neck", "lhip", "rhip", "lwrist"), (1.8, _HL)),
    ("nplane", ("chest", "neck", "neck", "rwrist"), (0.2, _HL)),
    ("nplane", ("chest", "neck", "neck", "lwrist"), (0.2, _HL)),
    ("move", ("belly", "chest", "chest", "rwrist"), (1.8, _HL)),
    ("move", ("belly", "chest", "chest", "lwrist"), (1.8, _HL)),
    ("angle", ("relbow", "rshoulder", "relbow", "rwrist"), (0, 110)),
    ("angle", ("lelbow", "lshoulder", "lelbow", "lwrist"), (0, 110)),
    ("nplane", ("lshoulder", "rshoulder", "lwrist", "rwrist"), (2.5, _SW)),
    ("move", ("lwrist", "rwrist", "rwrist", "lwrist"), (1.4, _HL)),
    ("move", ("rwrist", "root", "lwrist", "root"), (1.4, _HL)),
    ("move", ("lwrist", "root", "rwrist", "root"), (1.4, _HL)),
    ("fast", ("rwrist",), (2.5, _HL)),
    ("fast", ("lwrist",), (2.5, _HL)),
    ("plane", ("root", "lhip", "ltoes", "rankle"), (0.38, _HL)),
    ("plane", ("root", "rhip", "rtoes", "lankle"), (0.38, _HL)),
    ("nplane", ("zero", "y_unit", "y_min", "rankle"), (1.2, _HL)),
    ("nplane", ("zero", "y_unit", "y_min", "lankle"), (1.2, _HL)),
    ("nplane", ("lhip", "rhip", "lankle", "rankle"), (2.1, _HW)),
    ("angle", ("rknee", "rhip", "rknee", "rankle"), (0, 110)),
    ("angle", ("lknee", "lhip", "lknee", "lankle"), (0, 110)),
    ("fast", ("rankle",), (2.5, _HL)),
    ("fast", ("lankle",), (2.5, _HL)),
    ("angle", ("neck", "root", "rshoulder", "relbow"), (25, 180)),
    ("angle", ("neck", "root", "lshoulder", "lelbow"), (25, 180)),
    ("angle", ("neck", "root", "rhip", "rknee"), (50, 180)),
    ("angle", ("neck", "root", "lhip", "lknee"), (50, 180)),
    ("plane", ("rankle", "neck", "lankle", "root"), (0.5, _HL)),
    ("angle", ("neck", "root", "zero", "y_unit"), (70, 110)),
    ("nplane", ("zero", "minus_y_unit", "y_min", "rwrist"), (-1.2, _HL)),
    ("nplane", ("zero", "minus_y_unit", "y_min", "lwrist"), (-1.2, _HL)),
    ("fast", ("root",), (2.3, _HL)),
)
_LENGTHS = {_HL: HUMERUS_LENGTH, _SW: SHOULDER_WIDTH, _HW: HIP_WIDTH}
#: Frame time the reference's geometric velocity tests divide by, whatever the data's frame rate.
REFERENCE_TIME_PER_FRAME = 1 / 120.0

# Array elements per processing block: bounds temporary memory; the kinetic pass is memory-bound and runs
# fastest on blocks that stay in cache, the geometric pass on larger ones (measured, 2-core x86).
_KINETIC_BLOCK = 400_000
_GEOMETRIC_BLOCK = 1_000_000


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown feature variant {variant!r}; choose one of {VARIANTS}")


def _as_batch(positions: np.ndarray) -> tuple[np.ndarray, bool]:
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim == 3 and p.shape[-1] == 3:
        return p[None], True
    if p.ndim != 4 or p.shape[-1] != 3:
        raise ValueError(f"positions must be (N, T, J, 3) or (T, J, 3), got {p.shape}")
    return p, False


def _blocks(n: int, per_clip: int, budget: int):
    step = max(1, budget // max(1, per_clip))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def root_zero(positions: np.ndarray, root: int = 0) -> np.ndarray:
    """Subtract the first frame's root position from every joint of every frame (all three axes).

    This is Bailando's ``calc_and_save_feats`` convention (``joint3d - tile(joint3d[:1, :3])``): the height
    is zeroed too. ``positions`` is ``(..., T, J, 3)``; returns a new float64 array of the same shape.
    """
    p = np.asarray(positions, dtype=np.float64)
    return p - p[..., :1, root : root + 1, :]


def _window_sum(x: np.ndarray, n_out: int, left: int, size: int = 5) -> np.ndarray:
    """Windowed sums along axis 1: ``out[q] = sum over k in [0, size) of x[q - left + k]`` (terms outside x skipped).

    Terms are added in window order onto zeros, like the reference's running sum, so the sums match it bit for
    bit.
    """
    out = np.zeros((x.shape[0], n_out) + x.shape[2:], dtype=x.dtype)
    for k in range(size):
        s = k - left
        lo, hi = max(0, -s), min(n_out, x.shape[1] - s)
        if hi > lo:
            out[:, lo:hi] += x[:, lo + s : hi + s]
    return out


def _kinetic_block(p: np.ndarray, dt: float, up: int, variant: str, window: int) -> np.ndarray:
    n, T, J, _ = p.shape
    size = 2 * window + 1
    i = np.arange(1, T)  # frames the reference loops over
    # Velocity at frame i: mean of d[m] = p[m] - p[m-1] for m in [i-w, i+w] ∩ [1, T-1].
    d = p[:, 1:] - p[:, :-1]  # d[m-1]
    vsum = _window_sum(d, T - 1, left=window, size=size)  # vsum[i-1] = sum_{m=i-w}^{i+w} d[m-1]
    del d
    vcount = (np.minimum(T - 1, i + window) - np.maximum(1, i - window) + 1).astype(np.float64)
    scale = (vcount * dt)[None, :, None]
    a, b = (ax for ax in range(3) if ax != up)
    va = vsum[..., a] / scale
    vb = vsum[..., b] / scale
    va *= va
    vb *= vb
    va += vb
    horizontal = np.sqrt(va, out=va) ** 2  # |v_h|^2 through the norm, as the reference squares a norm
    vertical = np.abs(vsum[..., up] / scale) ** 2
    del vsum, va, vb
    # Acceleration at frame i: mean of (v2 - v1) / dt over m in [i-w, i+w] ∩ [1, T-2].
    acc = p[:, 2:] - p[:, 1:-1]
    acc /= dt  # v2
    if variant == "reference":
        v1 = p[:, :-2] / dt
        np.subtract(p[:, 1:-1], v1, out=v1)  # the reference's precedence: only p[m-1] is divided by dt
    else:
        v1 = p[:, 1:-1] - p[:, :-2]
        v1 /= dt
    acc -= v1
    acc /= dt  # acc[m-1]
    del v1
    asum = _window_sum(acc, T - 1, left=window, size=size)
    del acc
    acount = (np.minimum(T - 2, i + window) - np.maximum(1, i - window) + 1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        asum /= acount[None, :, None, None]
    asum *= asum
    energy = np.sqrt(asum[..., 0] + asum[..., 1] + asum[..., 2])  # explicit: reductions over a size-3 axis are slow
    out = np.stack([horizontal.sum(1), vertical.sum(1), energy.sum(1)], axis=-1) / (T - 1.0)  # (n, J, 3)
    return out.reshape(n, J * 3)


def kinetic_features(
    positions: np.ndarray,
    fps: float = 60.0,
    variant: str = "reference",
    up_axis: int = 1,
    window: int = 2,
) -> np.ndarray:
    """Kinetic features: 3 per joint (horizontal KE, vertical KE, energy expenditure), joint-major.

    Args:
        positions: (N, T, J, 3) or (T, J, 3) joint positions in metres, ``up_axis`` up (y = 1), T >= 3.
            Bailando root-zeroes them first (:func:`root_zero`); with the reference variant the energy
            expenditure depends on that (see the module docstring).
        fps: frames per second; the frame time is ``1 / fps`` (the reference hard-codes 1/60 for 60 fps data).
        variant: ``"reference"`` (Bailando / AIST++ as published) or ``"corrected"`` (acceleration fixed).
        up_axis: index of the vertical axis.
        window: half-width of the velocity / acceleration averaging window in frames (reference: 2).

    Returns:
        (N, 3 * J) float32, or (3 * J,) for a single clip.
    """
    _check_variant(variant)
    p, single = _as_batch(positions)
    n, T, J, _ = p.shape
    if T < 3:
        raise ValueError(f"kinetic features need at least 3 frames, got {T}")
    out = np.empty((n, 3 * J), dtype=np.float64)
    for sl in _blocks(n, T * J * 3, _KINETIC_BLOCK):
        out[sl] = _kinetic_block(p[sl], 1.0 / fps, up_axis, variant, window)
    out = out.astype(np.float32)
    return out[0] if single else out


# Vectors in the geometric tests are (3, n, T-1) arrays, component first, so that every operation runs over
# contiguous rows; the arithmetic order matches the reference's np.dot / np.cross / np.linalg.norm on 3-vectors.
def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _norm(a: np.ndarray) -> np.ndarray:
    return np.sqrt(_dot(a, a))


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _geometric_block(p: np.ndarray, roles: Mapping[str, int], tpf: float) -> np.ndarray:
    """Counts of true tests over frames 1..T-1: (n, 32) int64."""
    names = sorted(set(roles))
    slot = {name: k for k, name in enumerate(names)}
    q = np.ascontiguousarray(p[:, :, [roles[name] for name in names], :].transpose(2, 3, 0, 1))  # (R, 3, n, T)
    cur, prev = q[:, :, :, 1:], q[:, :, :, :-1]
    shape = (3,) + cur.shape[2:]
    zeros = np.zeros(shape)
    unit = zeros.copy()
    unit[1] = 1.0
    ymin = zeros.copy()
    ymin[1] = p[:, 1:, :, 1].min(axis=-1)  # lowest joint (of all J) in the current frame
    specials = {"zero": zeros, "y_unit": unit, "minus_y_unit": -unit, "y_min": ymin}

    def at(name: str) -> np.ndarray:
        return specials[name] if name in specials else cur[slot[name]]

    def before(name: str) -> np.ndarray:
        return prev[slot[name]]

    counts = np.empty((p.shape[0], len(GEOMETRIC_TESTS)), dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        for t, (kind, names, arg) in enumerate(GEOMETRIC_TESTS):
            if kind in ("angle",):
                lo, hi = arg
            else:
                threshold = arg[0] * _LENGTHS[arg[1]]
            if kind == "nmove":  # velocity of j4 relative to j1 along the normal of plane (j1, j2, j3)
                j1, j2, j3, j4 = names
                vel = (at(j4) - at(j1)) - (before(j4) - before(j1))
                direction = _cross(at(j3) - at(j1), at(j2) - at(j1))
                hit = _dot(vel, direction) / _norm(direction) / tpf > threshold
            elif kind == "move":  # velocity of j3 relative to j1 along j1 -> j2 (j4 is unused, as in the reference)
                j1, j2, j3, _ = names
                vel = (at(j3) - at(j1)) - (before(j3) - before(j1))
                direction = at(j2) - at(j1)
                hit = _dot(vel, direction) / _norm(direction) / tpf > threshold
            elif kind == "nplane":  # signed distance of j4 from j3 along j1 -> j2
                n1, n2, a, q = names
                normal = at(n2) - at(n1)
                hit = _dot(normal, at(q) - at(a)) / _norm(normal) > threshold
            elif kind == "plane":  # signed distance of j4 from the plane through j1, j2, j3
                a, b, c, q = names
                normal = _cross(at(c) - at(a), at(b) - at(a))
                hit = _dot(normal, at(q) - at(a)) / _norm(normal) > threshold
            elif kind == "angle":  # angle between j1 -> j2 and j3 -> j4 in the open interval (lo, hi) degrees
                j1, j2, k1, k2 = names
                u, v = at(j2) - at(j1), at(k2) - at(k1)
                angle = np.degrees(np.arccos(_dot(u, v) / (_norm(u) * _norm(v))))
                hit = (angle > lo) & (angle < hi)
            elif kind == "fast":
                (j1,) = names
                hit = _norm(at(j1) - before(j1)) / tpf > threshold
            else:  # pragma: no cover - the table above is fixed
                raise AssertionError(kind)
            counts[:, t] = np.count_nonzero(hit, axis=-1)
    return counts


def geometric_features(
    positions: np.ndarray,
    fps: float = 60.0,
    variant: str = "reference",
    roles: Mapping[str, int] | None = None,
) -> np.ndarray:
    """The 32 boolean pose tests of Bailando ``manual_new.py``, each averaged over frames 1..T-1.

    Args:
        positions: (N, T, J, 3) or (T, J, 3) joint positions in metres, y-up, T >= 2. ``y_min`` is taken
            over all J joints of each frame.
        fps: frames per second; only the ``"corrected"`` variant uses it (velocity tests divide by 1/fps).
        variant: ``"reference"`` (velocity tests divide by 1/120 s) or ``"corrected"``.
        roles: joint index for each name in :data:`GEOMETRIC_ROLES` (default: SMPL-24 indices). Build it
            for other skeletons with :func:`choreo.metrics.joint_map.geometric_roles`.

    Returns:
        (N, 32) float32 fractions of frames (count / (T-1), divided in float32 like the reference), or (32,).
    """
    _check_variant(variant)
    p, single = _as_batch(positions)
    n, T, J, _ = p.shape
    if T < 2:
        raise ValueError(f"geometric features need at least 2 frames, got {T}")
    roles = dict(GEOMETRIC_ROLES if roles is None else roles)
    missing = sorted(set(GEOMETRIC_ROLES) - set(roles))
    if missing:
        raise ValueError(f"geometric features need joints for roles {missing}")
    tpf = REFERENCE_TIME_PER_FRAME if variant == "reference" else 1.0 / fps
    counts = np.empty((n, len(GEOMETRIC_TESTS)), dtype=np.int64)
    for sl in _blocks(n, T * J * 3, _GEOMETRIC_BLOCK):
        counts[sl] = _geometric_block(p[sl], roles, tpf)
    out = counts.astype(np.float32) / np.float32(T - 1)
    return out[0] if single else out


def feature_names(joint_names: Sequence[str]) -> tuple[list[str], list[str]]:
    """Labels for the kinetic (3 per joint) and geometric (32) feature dimensions."""
    kin = [f"{j}:{k}" for j in joint_names for k in ("ke_horizontal", "ke_vertical", "energy_expenditure")]
    geo = [f"{kind}({','.join(names)})" for kind, names, _ in GEOMETRIC_TESTS]
    return kin, geo
