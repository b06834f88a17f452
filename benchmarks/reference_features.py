"""Baseline for bench_metrics.py: the reference feature extraction re-implemented the way it runs.

Bailando / AIST++ compute their features with pure-Python loops: for every joint and every frame the kinetic
features call a helper that loops over a +-2 frame window and builds small numpy arrays; the geometric
features build a Python list of 32 booleans per frame, each from a few numpy calls on 3-vectors. This file
does the same work with the same loop structure and per-call numpy usage (written from the conventions in
``fixtures/metrics/README.md``), so its speed stands for the reference's. It reproduces ``features.npz``
(checked by ``bench_metrics.py`` before timing). Not used by choreo itself.
"""

from __future__ import annotations

import numpy as np

from choreo.metrics.features import GEOMETRIC_ROLES, GEOMETRIC_TESTS, HIP_WIDTH, HUMERUS_LENGTH, SHOULDER_WIDTH

FRAME_TIME = 1 / 60.0
TIME_PER_FRAME = 1 / 120.0
WINDOW = 2


def _velocity_sum(positions, i, j):
    total = np.zeros(3)
    count = 0
    for k in range(-WINDOW, WINDOW + 1):
        if i + k - 1 < 0 or i + k >= len(positions):
            continue
        total += positions[i + k][j] - positions[i + k - 1][j]
        count += 1
    return total, count


def _horizontal(positions, i, j):
    total, count = _velocity_sum(positions, i, j)
    return np.linalg.norm(np.array([total[0], total[2]]) / (count * FRAME_TIME))


def _vertical(positions, i, j):
    total, count = _velocity_sum(positions, i, j)
    return np.linalg.norm(np.array([total[1]]) / (count * FRAME_TIME))


def _acceleration(positions, i, j):
    total = np.zeros(3)
    count = 0
    for k in range(-WINDOW, WINDOW + 1):
        if i + k - 1 < 0 or i + k + 1 >= len(positions):
            continue
        v2 = (positions[i + k + 1][j] - positions[i + k][j]) / FRAME_TIME
        v1 = positions[i + k][j] - positions[i + k - 1][j] / FRAME_TIME  # the reference's precedence
        total += (v2 - v1) / FRAME_TIME
        count += 1
    return np.linalg.norm(total / count)


def kinetic_loop(positions: np.ndarray) -> np.ndarray:
    """(T, J, 3) -> (3 J,) float32, one joint and one frame at a time."""
    out = []
    T = len(positions)
    for j in range(positions.shape[1]):
        h = v = e = 0.0
        for i in range(1, T):
            h += _horizontal(positions, i, j) ** 2
        for i in range(1, T):
            v += _vertical(positions, i, j) ** 2
        for i in range(1, T):
            e += _acceleration(positions, i, j)
        out.extend([h / (T - 1.0), v / (T - 1.0), e / (T - 1.0)])
    return np.array(out, dtype=np.float32)


_LENGTH = {"hl": HUMERUS_LENGTH, "sw": SHOULDER_WIDTH, "hw": HIP_WIDTH}


def _point(frame, name):
    if name == "zero":
        return np.array([0.0, 0.0, 0.0])
    if name == "y_unit":
        return np.array([0.0, 1.0, 0.0])
    if name == "minus_y_unit":
        return np.array([0.0, -1.0, 0.0])
    if name == "y_min":
        return np.array([0.0, min(y for (_, y, _) in frame), 0.0])
    return np.array(frame[GEOMETRIC_ROLES[name]])


def _test(cur, prev, kind, names, arg) -> bool:
    if kind == "angle":
        j1, j2, k1, k2 = (_point(cur, n) for n in names)
        u, w = j2 - j1, k2 - k1
        angle = np.degrees(np.arccos(np.dot(u, w) / (np.linalg.norm(u) * np.linalg.norm(w))))
        return bool(arg[0] < angle < arg[1])
    threshold = arg[0] * _LENGTH[arg[1]]
    if kind == "fast":
        p, q = _point(cur, names[0]), _point(prev, names[0])
        return bool(np.linalg.norm(p - q) / TIME_PER_FRAME > threshold)
    if kind == "nplane":
        n1, n2, a, p = (_point(cur, n) for n in names)
        normal = n2 - n1
        return bool(np.dot(normal, p - a) / np.linalg.norm(normal) > threshold)
    if kind == "plane":
        a, b, c, p = (_point(cur, n) for n in names)
        normal = np.cross(c - a, b - a)
        return bool(np.dot(normal, p - a) / np.linalg.norm(normal) > threshold)
    j1, j2, j3, j4 = (_point(cur, n) for n in names)
    if kind == "move":
        p1, p3 = _point(prev, names[0]), _point(prev, names[2])
        vel = j3 - j1 - (p3 - p1)
        direction = j2 - j1
    else:  # nmove
        p1, p4 = _point(prev, names[0]), _point(prev, names[3])
        vel = j4 - j1 - (p4 - p1)
        direction = np.cross(j3 - j1, j2 - j1)
    return bool(np.dot(vel, direction) / np.linalg.norm(direction) / TIME_PER_FRAME > threshold)


def geometric_loop(positions: np.ndarray) -> np.ndarray:
    """(T, J, 3) -> (32,) float32, one frame and one test at a time."""
    rows = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for t in range(1, len(positions)):
            cur, prev = positions[t], positions[t - 1]
            rows.append([_test(cur, prev, kind, names, arg) for kind, names, arg in GEOMETRIC_TESTS])
    return np.array(rows, dtype=np.float32).mean(axis=0)
