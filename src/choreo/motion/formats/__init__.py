"""Motion file formats: one entry point to read and one to write, chosen by extension or folder.

=====================================  ======  =====  ====================================================
input                                  read    write  notes
=====================================  ======  =====  ====================================================
``.npz``                               yes     yes    choreo's interchange format (:mod:`.npz`)
``.pkl`` / ``.pickle``                 yes     yes    AIST++ SMPL motion; EDGE output pickles (:mod:`.aistpp`);
                                                      other skeletons are mapped onto SMPL-24 on writing
``.bvh``                               yes     yes    any hierarchy in; clean hierarchy out (:mod:`.bvh`)
``.glb``                               yes     yes    glTF 2.0 binary: skinned skeleton + animation (:mod:`.glb`)
Dance with Melody folder / skeletons   yes     no     :mod:`.dwm`, 25 fps, cm -> m, links the song
OpenPose folder of ``*.json``          yes     no     BODY_25 2D keypoints (:mod:`.keypoints2d`)
=====================================  ======  =====  ====================================================

Every reader returns a :class:`~choreo.motion.Motion` in choreo's canonical space (metres, y-up) and
raises :class:`~choreo.errors.ChoreoError` naming the file for any bad input. Writers go through
:func:`choreo.fileio.atomic_path`, so a failed write leaves no file behind.
"""

from __future__ import annotations

import os
from pathlib import Path

from choreo.errors import ChoreoError
from choreo.motion.motion import Motion
from choreo.motion.skeleton import Skeleton

#: suffixes ``read_motion`` understands (folders are recognised by their content).
MOTION_EXTENSIONS = (".npz", ".pkl", ".pickle", ".bvh", ".glb", ".json")
#: suffixes ``write_motion`` can produce.
WRITE_EXTENSIONS = (".npz", ".pkl", ".pickle", ".bvh", ".glb")


def motion_format(path: str | os.PathLike) -> str:
    """The format name for a path: ``npz``, ``pkl``, ``bvh``, ``glb``, ``dwm`` or ``openpose``."""
    p = Path(path)
    from choreo.motion.formats import dwm, keypoints2d

    if p.is_dir():
        if dwm.is_dwm(p):
            return "dwm"
        if keypoints2d.is_openpose_dir(p):
            return "openpose"
        if not p.exists():
            raise ChoreoError("not found", p)
        raise ChoreoError("folder is neither a Dance with Melody sequence nor OpenPose JSON frames", p)
    suffix = p.suffix.lower()
    if suffix == ".npz":
        return "npz"
    if suffix in (".pkl", ".pickle"):
        return "pkl"
    if suffix == ".bvh":
        return "bvh"
    if suffix == ".glb":
        return "glb"
    if suffix == ".json":
        if p.name == "skeletons.json":
            return "dwm"
        return "openpose"
    raise ChoreoError(
        f"unknown motion format {suffix or '(no extension)'!r}; expected one of {', '.join(MOTION_EXTENSIONS)} "
        "or a Dance with Melody / OpenPose folder",
        p,
    )


def read_motion(path: str | os.PathLike, fps: float | None = None, scale: float | None = None) -> Motion:
    """Read a motion file or folder.

    Args:
        path: a .npz, .pkl, .bvh, .glb, a Dance with Melody folder (or its skeletons.json), or a folder of
            OpenPose JSON frames (or one such .json file).
        fps: frame rate for formats that do not store one (OpenPose: default 30; AIST++ pickles: 60);
            for the others it overrides the stored rate (no resampling: use ``Motion.resample`` for that).
        scale: metres per file unit where the format's unit is not fixed (BVH: detected, cm or m;
            Dance with Melody: 0.01).
    Returns:
        the motion, metres, y-up; ``meta["source"]`` is the path.
    """
    p = Path(path)
    if not p.exists():
        raise ChoreoError("file not found", p)
    fmt = motion_format(p)
    if fmt == "npz":
        from choreo.motion.formats.npz import read_npz

        return read_npz(p, fps=fps, scale=scale)
    if fmt == "pkl":
        from choreo.motion.formats.aistpp import read_aistpp

        return read_aistpp(p, fps=fps, scale=scale)
    if fmt == "bvh":
        from choreo.motion.formats.bvh import read_bvh

        return read_bvh(p, fps=fps, scale=scale)
    if fmt == "glb":
        from choreo.motion.formats.glb import read_glb

        return read_glb(p, fps=fps, scale=scale)
    if fmt == "dwm":
        from choreo.motion.formats.dwm import read_dwm

        return read_dwm(p, fps=fps, scale=scale)
    from choreo.motion.formats.keypoints2d import read_openpose

    return read_openpose(p, fps=fps, scale=scale)


def write_problem(skeleton: Skeleton, fmt: str) -> str | None:
    """Why a motion on ``skeleton`` cannot be written as ``fmt`` (``npz``, ``pkl``, ``bvh``, ``glb``; a leading
    dot is allowed), or None when it can. Needs the skeleton only: a command checks its outputs before it
    computes the motion. ``pkl`` takes SMPL-24 or any 3D skeleton that maps onto it by joint roles; ``bvh`` and
    ``glb`` any 3D skeleton; ``npz`` anything."""
    fmt = fmt.lower().lstrip(".")
    if fmt == "npz":
        return None
    if fmt in ("pkl", "pickle"):
        from choreo.motion.formats.aistpp import smpl24_problem

        return smpl24_problem(skeleton)
    if fmt in ("bvh", "glb"):
        if skeleton.dim != 3:
            return f"{fmt.upper()} needs a 3D motion; skeleton {skeleton.name!r} is {skeleton.dim}D"
        return None
    return f"cannot write motion format {fmt!r}; choose one of {', '.join(WRITE_EXTENSIONS)}"


def write_motion(motion: Motion, path: str | os.PathLike) -> None:
    """Write a motion; the format comes from the extension (.npz, .pkl, .bvh, .glb). Atomic.

    A .pkl of a skeleton other than SMPL-24 is mapped onto SMPL-24 by joint roles (see
    :func:`choreo.motion.formats.aistpp.write_aistpp`); :func:`write_problem` says beforehand what cannot be
    written.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".npz":
        from choreo.motion.formats.npz import write_npz

        return write_npz(motion, p)
    if suffix in (".pkl", ".pickle"):
        from choreo.motion.formats.aistpp import write_aistpp

        return write_aistpp(motion, p)
    if suffix == ".bvh":
        from choreo.motion.formats.bvh import write_bvh

        return write_bvh(motion, p)
    if suffix == ".glb":
        from choreo.motion.formats.glb import write_glb

        return write_glb(motion, p)
    raise ChoreoError(
        f"cannot write motion format {suffix or '(no extension)'!r}; choose one of {', '.join(WRITE_EXTENSIONS)}", p
    )


__all__ = ["read_motion", "write_motion", "write_problem", "motion_format", "MOTION_EXTENSIONS", "WRITE_EXTENSIONS"]
