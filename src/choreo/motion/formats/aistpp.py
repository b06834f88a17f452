"""AIST++ SMPL motion pickles and EDGE's output pickles.

AIST++ ``annotation/motions/<name>.pkl`` is a dict with ``smpl_poses`` (N, 72) axis-angle for the 24
SMPL joints (joint 0 = global orientation), ``smpl_trans`` (N, 3) and ``smpl_scaling`` (1,), at 60 fps,
y-up. The root position in metres (generic SMPL scale) is ``smpl_trans / smpl_scaling``, as EDGE and the
AIST++ API do; forward kinematics uses EDGE's SMPL-24 rest offsets (:data:`choreo.motion.SMPL24`).

EDGE writes its generated dances as ``{"smpl_poses", "smpl_trans", "full_pose"}`` with no scaling
(trans is the root position) in its model space, which is z-up: EDGE turns AIST++ data by +90 degrees
about x before training. Such a file (``full_pose`` present, ``smpl_scaling`` absent) is turned back to
y-up on reading, and defaults to EDGE's 30 fps.

choreo writes the AIST++ layout with ``smpl_scaling = [1.0]`` (so trans is the root position), y-up,
plus an ``fps`` entry that AIST++/EDGE loaders ignore and choreo reads back.

Pickles can run code when loaded: read only files you trust (the format gives no alternative).
"""

from __future__ import annotations

import os
import pickle

import numpy as np

from choreo.errors import ChoreoError
from choreo.fileio import atomic_path
from choreo.motion.motion import Motion
from choreo.motion.skeleton import SMPL24, Skeleton

AISTPP_FPS = 60.0
EDGE_FPS = 30.0


def _rx(deg: float) -> np.ndarray:
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def read_aistpp(path: str | os.PathLike, fps: float | None = None, scale: float | None = None) -> Motion:
    """Read an AIST++ or EDGE SMPL pickle as an SMPL-24 motion with rotations (metres, y-up).

    Args:
        fps: frame rate (default: the file's ``fps`` entry, else 60 for AIST++ and 30 for EDGE output).
        scale: extra factor on the root position (default 1).
    """
    import torch

    from choreo.motion.rotations import axis_angle_to_quat, matrix_to_quat, quat_multiply

    try:
        with open(path, "rb") as fh:
            data = pickle.load(fh)
    except FileNotFoundError:
        raise ChoreoError("file not found", path) from None
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, ValueError, TypeError) as exc:
        raise ChoreoError(f"not a readable pickle ({type(exc).__name__}: {exc})", path) from None
    if not isinstance(data, dict):
        raise ChoreoError(f"expected a dict with smpl_poses and smpl_trans, found {type(data).__name__}", path)
    missing = [k for k in ("smpl_poses", "smpl_trans") if k not in data]
    if missing:
        raise ChoreoError(
            f"not an AIST++/EDGE SMPL motion: missing {', '.join(missing)} (keys: {', '.join(map(str, data))})", path
        )
    try:
        poses = np.asarray(data["smpl_poses"], dtype=np.float64)
        trans = np.asarray(data["smpl_trans"], dtype=np.float64)
        scaling = np.asarray(data.get("smpl_scaling", [1.0]), dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ChoreoError("smpl_poses / smpl_trans / smpl_scaling are not numeric arrays", path) from None
    if poses.ndim == 3 and poses.shape[1:] == (24, 3):
        poses = poses.reshape(len(poses), 72)
    if poses.ndim != 2 or poses.shape[1] != 72:
        raise ChoreoError(f"smpl_poses has shape {poses.shape}, expected (frames, 72)", path)
    if trans.shape != (len(poses), 3):
        raise ChoreoError(f"smpl_trans has shape {trans.shape}, expected ({len(poses)}, 3) to match smpl_poses", path)
    if len(poses) == 0:
        raise ChoreoError("the motion has zero frames", path)
    if scaling.size != 1 or not np.isfinite(scaling[0]) or scaling[0] <= 0:
        raise ChoreoError(f"smpl_scaling must be one positive number, got {scaling.tolist()}", path)
    for name, a in (("smpl_poses", poses), ("smpl_trans", trans)):
        if not np.all(np.isfinite(a)):
            bad = int(np.argwhere(~np.isfinite(a))[0, 0])
            raise ChoreoError(f"{name} contains NaN or infinite values (first at frame {bad})", path)
    edge = "full_pose" in data and "smpl_scaling" not in data
    root = trans / scaling[0] * (1.0 if scale is None else float(scale))
    quats = axis_angle_to_quat(torch.from_numpy(poses.reshape(-1, 24, 3)))
    if edge:  # EDGE's z-up model space -> y-up
        back = _rx(-90.0)
        root = root @ back.T
        qb = matrix_to_quat(torch.from_numpy(back))
        quats[:, 0] = quat_multiply(qb.expand(len(quats), 4), quats[:, 0])
    rate = fps if fps is not None else float(data["fps"]) if "fps" in data else EDGE_FPS if edge else AISTPP_FPS
    meta = {"source": os.fspath(path), "format": "edge" if edge else "aistpp"}
    return Motion(SMPL24, rate, rotations=quats.numpy(), root=root, meta=meta)


def smpl24_problem(skeleton: Skeleton) -> str | None:
    """Why a motion on ``skeleton`` cannot be written as an AIST++ pickle (a sentence), or None when it can: an
    SMPL-24 skeleton as it is, any other 3D skeleton whose joint names give the roles retargeting needs."""
    if skeleton.same_structure(SMPL24):
        return None
    from choreo.motion.retarget import mapping_problem

    problem = mapping_problem(skeleton, SMPL24)
    return None if problem is None else f"the AIST++ pickle holds SMPL-24 motions: {problem}"


def as_smpl24(motion: Motion) -> Motion:
    """The motion on SMPL-24: as it is when it already is, else its joint positions mapped by joint roles
    (:func:`choreo.motion.retarget.retarget_positions`: scaled to SMPL's legs, standing on the floor).

    Raises:
        ChoreoError: a skeleton that cannot be mapped (see :func:`smpl24_problem`).
    """
    if motion.skeleton.same_structure(SMPL24):
        return motion
    problem = smpl24_problem(motion.skeleton)
    if problem:
        raise ChoreoError(problem, motion.meta.get("source"))
    from choreo.motion.retarget import retarget_positions

    return retarget_positions(motion, SMPL24)


def write_aistpp(motion: Motion, path: str | os.PathLike) -> None:
    """Write a motion as an AIST++-layout SMPL-24 pickle (scaling 1, trans = root in metres, y-up).

    Another skeleton is mapped onto SMPL-24 by joint roles first (:func:`as_smpl24`); a positions-only motion
    is turned into rotations by inverse kinematics (SMPL's rest pose gives the directions).

    Raises:
        ChoreoError: a skeleton that cannot be mapped onto SMPL-24 (nothing is written).
    """
    import torch

    from choreo.motion.kinematics import inverse_kinematics
    from choreo.motion.rotations import quat_to_axis_angle

    problem = smpl24_problem(motion.skeleton)
    if problem:
        raise ChoreoError(problem, path)
    motion = as_smpl24(motion)
    if motion.rotations is not None:
        quats, root = np.asarray(motion.rotations, np.float64), np.asarray(motion.root, np.float64)
    else:
        quats, root, _ = inverse_kinematics(motion.joint_positions(), SMPL24)
    aa = quat_to_axis_angle(torch.from_numpy(quats)).numpy().reshape(len(quats), 72)
    data = {
        "smpl_poses": aa.astype(np.float32),
        "smpl_trans": root.astype(np.float32),
        "smpl_scaling": np.array([1.0], dtype=np.float32),
        "fps": float(motion.fps),
    }
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        pickle.dump(data, fh, protocol=4)
