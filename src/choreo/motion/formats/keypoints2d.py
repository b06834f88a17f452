"""OpenPose BODY_25 2D keypoints: a folder of per-frame JSON files (``*_keypoints.json``).

Each file holds ``{"people": [{"pose_keypoints_2d": [x0, y0, c0, x1, y1, c1, ...]}, ...]}`` with 25
joints (75 numbers) in image pixels, y pointing down, and a confidence per joint (0 = not detected).
Frames are taken in natural file-name order (``..._2_...`` before ``..._10_...``).

Reading gives a 2D motion on :data:`choreo.motion.BODY25`: positions (T, 25, 2) in pixels with **y
negated** (y up, like every choreo motion), ``meta["units"] = "pixels"``. Only ``people[0]`` is used.
Missing data is filled, never left as OpenPose's (0, 0):

- a joint with confidence 0 in some frames is linearly interpolated in time from the frames where it was
  detected (held constant before the first and after the last detection);
- a frame with nobody in it counts as all joints undetected, so it is interpolated the same way;
- a joint never detected in the whole sequence takes its parent's position (following the tree from the
  mid hip); if nobody is detected in any frame the read fails.

The frame rate is not stored in the files: pass ``fps`` (default 30).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from choreo.errors import ChoreoError
from choreo.motion.motion import Motion
from choreo.motion.skeleton import BODY25

DEFAULT_FPS = 30.0


def _natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _frame_files(folder: Path) -> list[Path]:
    return sorted(
        (f for f in folder.iterdir() if f.suffix.lower() == ".json" and f.is_file()), key=lambda f: _natural_key(f.name)
    )


def is_openpose_dir(path: str | os.PathLike) -> bool:
    """True for a folder that holds .json files (and no Dance with Melody skeletons.json)."""
    p = Path(path)
    return p.is_dir() and not (p / "skeletons.json").exists() and any(f.suffix.lower() == ".json" for f in p.iterdir())


def _read_frame(f: Path) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        with open(f, encoding="utf-8") as fh:
            d = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ChoreoError(f"not valid JSON ({exc})", f) from None
    if not isinstance(d, dict) or not isinstance(d.get("people"), list):
        raise ChoreoError("not an OpenPose keypoint file (no 'people' list)", f)
    if not d["people"]:
        return None
    person = d["people"][0]
    kp = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
    if kp is None:
        raise ChoreoError("people[0] has no pose_keypoints_2d", f)
    try:
        a = np.asarray(kp, dtype=np.float64)
    except (TypeError, ValueError):
        raise ChoreoError("pose_keypoints_2d is not a list of numbers", f) from None
    if a.shape != (75,):
        raise ChoreoError(f"pose_keypoints_2d has {a.size} values, expected 75 (BODY_25: 25 joints x, y, c)", f)
    if not np.all(np.isfinite(a)):
        raise ChoreoError("pose_keypoints_2d contains NaN or infinite values", f)
    a = a.reshape(25, 3)
    return a[:, :2], a[:, 2]


def read_openpose(path: str | os.PathLike, fps: float | None = None, scale: float | None = None) -> Motion:
    """Read OpenPose BODY_25 JSON (a folder of frames, or one file = one frame) as a BODY25 motion.

    Args:
        fps: frames per second (default 30).
        scale: optional factor applied to the pixel coordinates.
    """
    p = Path(path)
    files = _frame_files(p) if p.is_dir() else [p]
    if not files:
        raise ChoreoError("no .json frames in the folder", p)
    T = len(files)
    xy = np.zeros((T, 25, 2))
    seen = np.zeros((T, 25), dtype=bool)
    for t, f in enumerate(files):
        fr = _read_frame(f)
        if fr is None:
            continue
        xy[t], conf = fr
        seen[t] = conf > 0
    if not seen.any():
        raise ChoreoError(f"no person detected in any of the {T} frames", p)
    frames = np.arange(T)
    for j in range(25):
        ok = seen[:, j]
        if ok.any() and not ok.all():
            for d in range(2):
                xy[:, j, d] = np.interp(frames, frames[ok], xy[ok, j, d])
    never = ~seen.any(axis=0)
    for j in BODY25.order:
        if never[j] and BODY25.parents[j] >= 0:
            xy[:, j] = xy[:, BODY25.parents[j]]
    xy[..., 1] *= -1.0  # image y points down; choreo motions are y-up
    if scale is not None:
        xy *= float(scale)
    meta = {
        "source": os.fspath(path),
        "format": "openpose",
        "units": "pixels",
        "frames_without_person": int((~seen.any(axis=1)).sum()),
    }
    return Motion(BODY25, DEFAULT_FPS if fps is None else fps, positions=xy, meta=meta)
