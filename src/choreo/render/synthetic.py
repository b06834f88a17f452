"""A made-up SMPL-24 dance for demos, tests and benchmarks (no data files needed).

The body (EDGE's rest offsets) travels round a circle, bobs on the beat, sways its hips, swings its arms
and lifts each foot in turn, so both feet alternate between contact and swing.
"""

from __future__ import annotations

import numpy as np

from choreo.motion.motion import Motion
from choreo.motion.skeleton import SMPL24, Skeleton


def rest_positions(skeleton: Skeleton) -> np.ndarray:
    """(J, 3) rest-pose joint positions (root at the origin) from the skeleton's offsets."""
    pos = np.zeros((skeleton.n_joints, 3))
    for j in skeleton.order[1:]:
        pos[j] = pos[skeleton.parents[j]] + skeleton.offsets[j]
    return pos


def _axis_rotation(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations by ``angle`` (T,) radians about the unit ``axis`` (3,) (Rodrigues)."""
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    a = np.asarray(angle, float)[:, None, None]
    return np.eye(3) + np.sin(a) * K + (1 - np.cos(a)) * (K @ K)


def _subtree(skeleton: Skeleton, j: int) -> list[int]:
    out, todo = [], [j]
    while todo:
        k = todo.pop()
        out.append(k)
        todo.extend(skeleton.children(k))
    return out


def _rotate_subtree(pos: np.ndarray, skeleton: Skeleton, joint: int, axis, angle: np.ndarray) -> None:
    """Rotate the joints below ``joint`` about it, in place (pos (T, J, 3))."""
    R = _axis_rotation(np.asarray(axis, float), angle)
    idx = _subtree(skeleton, joint)[1:]
    centre = pos[:, joint : joint + 1]
    pos[:, idx] = np.einsum("tij,tnj->tni", R, pos[:, idx] - centre) + centre


def demo_dance(seconds: float = 4.0, fps: float = 30.0, bpm: float = 120.0, radius: float = 1.0) -> Motion:
    """A synthetic SMPL-24 dance in choreo's space (metres, y up, feet on y = 0).

    Args:
        seconds: length of the dance.
        fps: frames per second.
        bpm: beats per minute: one bob per beat, one step (a foot lifted) every two beats.
        radius: metres, radius of the circle the dancer travels round (once per 8 seconds).

    Returns:
        A positions-only Motion with ``meta["name"] == "demo"``.
    """
    sk = SMPL24
    T = max(1, int(round(seconds * fps)))
    t = np.arange(T) / fps
    beat = bpm / 60.0
    rest = rest_positions(sk)
    pos = np.repeat(rest[None], T, axis=0)
    # Legs: bend a knee (heel goes back and up), left and right alternately every other beat.
    step = np.sin(np.pi * beat * t)
    for knee, phase in ((sk.index("left_knee"), 1.0), (sk.index("right_knee"), -1.0)):
        _rotate_subtree(pos, sk, knee, [1, 0, 0], 1.1 * np.maximum(phase * step, 0.0))
    # Arms: raise and lower sideways, out of phase.
    swing = np.sin(2 * np.pi * beat / 2 * t)
    _rotate_subtree(pos, sk, sk.index("left_shoulder"), [0, 0, 1], 0.9 + 0.5 * swing)
    _rotate_subtree(pos, sk, sk.index("right_shoulder"), [0, 0, 1], -(0.9 - 0.5 * swing))
    _rotate_subtree(pos, sk, sk.index("left_elbow"), [0, 1, 0], 0.6 + 0.4 * swing)
    _rotate_subtree(pos, sk, sk.index("right_elbow"), [0, 1, 0], -(0.6 - 0.4 * swing))
    # Whole body: sway (yaw) about the root, stand on the floor, bob on the beat, go round the circle.
    yaw = 0.35 * np.sin(2 * np.pi * beat / 4 * t)
    R = _axis_rotation(np.array([0.0, 1.0, 0.0]), yaw)
    pos = np.einsum("tij,tnj->tni", R, pos)
    feet = [f for f in sk.feet if f >= 0]
    pos[..., 1] -= rest[feet, 1].min()
    ang = 2 * np.pi * t / 8.0
    root = np.stack(
        [radius * np.sin(ang), 0.04 * (1 - np.cos(2 * np.pi * beat * t)) / 2, radius * (np.cos(ang) - 1)], axis=1
    )
    pos += root[:, None, :]
    return Motion(skeleton=sk, fps=fps, positions=pos, meta={"name": "demo"})
