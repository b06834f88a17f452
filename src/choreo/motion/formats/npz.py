"""choreo's own interchange format: a NumPy ``.npz`` (no pickled objects; ``np.load(path)`` reads it).

Keys (format version 1):

=====================  ==========  ==============================================================
key                    dtype       meaning
=====================  ==========  ==============================================================
``positions``          float32     (T, J, D) world joint positions, metres, y-up (D = 3, or 2 for
                                   image-plane keypoints). Always written, also for rotation data.
``fps``                float64     () frames per second.
``joint_names``        unicode     (J,) joint names.
``parents``            int64       (J,) parent index per joint, -1 for the root.
``rotations``          float32     optional (T, J, 4) local joint rotations, unit quaternions
                                   (w, x, y, z), each in its parent's frame (the root's in the world).
``root``               float32     optional (T, 3) root joint position, metres (with ``rotations``).
``offsets``            float64     optional (J, 3) rest offsets from each parent, metres, y-up.
``skeleton_name``      unicode     () e.g. ``smpl24``, ``dwm23``, ``body25`` or a BVH file's stem.
``feet``               int64       (4,) left ankle, left toe, right ankle, right toe (-1: absent).
``mirror_pairs``       int64       (P, 2) left/right joint pairs.
``upper_body``         int64       (U,) upper-body joints (editing masks).
``dim``                int64       () 3 or 2.
``meta_json``          unicode     () JSON object: provenance such as ``audio`` (path) and
                                   ``audio_start`` (seconds); only JSON-representable entries.
``format_version``     int64       () 1.
=====================  ==========  ==============================================================

With ``rotations`` the forward kinematics of (rotations, root, offsets, parents) equals ``positions``
(to float32 precision). Readers need only ``positions``, ``fps``, ``joint_names`` and ``parents``.

A file that gives no feet (``feet`` absent or all -1) or no mirror pairs (``mirror_pairs`` absent or
empty), e.g. one written by another tool, is completed by
:func:`~choreo.motion.skeleton.recognise_skeleton`: each of ``feet``, ``mirror_pairs`` and ``upper_body``
the file lacks comes from the joint names (Bailando's ``lankle``/``rtoes``, Mixamo's ``LeftFoot``,
``Foot_L``, ...) or, for a 24-joint tree with SMPL's parents, from SMPL-24. What a file does give is kept.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import replace

import numpy as np

from choreo.errors import ChoreoError
from choreo.fileio import atomic_path
from choreo.motion.motion import Motion
from choreo.motion.skeleton import Skeleton, recognise_skeleton

FORMAT_VERSION = 1
REQUIRED = ("positions", "fps", "joint_names", "parents")


def _json_meta(meta: dict) -> str:
    out = {}
    for k, v in meta.items():
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            continue
        out[str(k)] = v
    return json.dumps(out)


def write_npz(motion: Motion, path: str | os.PathLike) -> None:
    """Write ``motion`` to ``path`` (.npz) atomically."""
    sk = motion.skeleton
    arrays = sk.to_arrays()
    arrays["positions"] = motion.joint_positions().astype(np.float32)
    arrays["fps"] = np.array(float(motion.fps))
    if motion.rotations is not None:
        arrays["rotations"] = np.asarray(motion.rotations, dtype=np.float32)
        arrays["root"] = np.asarray(motion.root, dtype=np.float32)
    elif motion.root is not None:
        arrays["root"] = np.asarray(motion.root, dtype=np.float32)
    arrays["meta_json"] = np.array(_json_meta(motion.meta))
    arrays["format_version"] = np.array(FORMAT_VERSION)
    with atomic_path(path) as tmp:
        # np.savez appends ".npz" to names without it; the temp name keeps the target's suffix.
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def _complete(skeleton: Skeleton, d: dict[str, np.ndarray]) -> Skeleton:
    """``skeleton`` with the feet / mirror pairs / upper body the file lacks recognised from its names."""
    no_feet = "feet" not in d or bool(np.all(np.asarray(d["feet"]) == -1))
    no_pairs = "mirror_pairs" not in d or np.asarray(d["mirror_pairs"]).size == 0
    if not (no_feet or no_pairs):
        return skeleton  # a complete file (every file choreo writes for a known body) is read as it is
    found = recognise_skeleton(skeleton.name, skeleton.joint_names, skeleton.parents, skeleton.offsets, skeleton.dim)
    return replace(
        skeleton,
        feet=found.feet if no_feet else skeleton.feet,
        mirror_pairs=found.mirror_pairs if no_pairs else skeleton.mirror_pairs,
        upper_body=found.upper_body if "upper_body" not in d else skeleton.upper_body,
    )


def read_npz(path: str | os.PathLike, fps: float | None = None, scale: float | None = None) -> Motion:
    """Read a choreo npz. ``fps`` overrides the stored rate; ``scale`` multiplies lengths (default 1)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise ChoreoError("file not found", path) from None
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ChoreoError(f"not a readable npz archive ({exc})", path) from None
    except ValueError as exc:
        raise ChoreoError(f"npz holds pickled objects or is damaged ({exc})", path) from None
    missing = [k for k in REQUIRED if k not in d]
    if missing:
        raise ChoreoError(f"not a choreo motion npz: missing {', '.join(missing)}", path)
    try:
        skeleton = _complete(Skeleton.from_arrays(d), d)
    except ChoreoError as exc:
        raise ChoreoError(exc.message, path) from None
    except (KeyError, ValueError, TypeError) as exc:
        raise ChoreoError(f"bad skeleton arrays ({exc})", path) from None
    s = 1.0 if scale is None else float(scale)
    meta = {}
    if "meta_json" in d:
        try:
            meta = json.loads(str(d["meta_json"]))
        except json.JSONDecodeError:
            meta = {}
    meta["source"] = os.fspath(path)
    meta["format"] = "npz"
    if skeleton.offsets is not None and s != 1.0:
        skeleton = skeleton.with_offsets(skeleton.offsets * s)
    rotations = d.get("rotations")
    root = d.get("root")
    positions = np.asarray(d["positions"]).astype(np.float64) * s
    if rotations is not None and (root is None or skeleton.offsets is None):
        rotations = None
    try:
        rate = float(d["fps"]) if fps is None else float(fps)
        return Motion(
            skeleton,
            rate,
            positions=positions,
            rotations=None if rotations is None else rotations.astype(np.float64),
            root=None if root is None else root.astype(np.float64) * s,
            meta=meta,
        )
    except ChoreoError as exc:
        raise ChoreoError(exc.message, path) from None
    except (TypeError, ValueError) as exc:
        raise ChoreoError(f"bad motion arrays ({exc})", path) from None
