"""Dance with Melody (Tang et al., ACM MM 2018): the 23-joint skeleton ``DWM23`` and the sequence reader.

A sequence is a folder with ``skeletons.json`` (``length``, ``center`` (T, 3), ``skeletons`` (T, 23, 3)),
``config.json`` (``start_position``, ``end_position``: frame indices at 25 fps into ``audio.mp3``) and
``audio.mp3``. Reading gives 25 fps, metres (the file is in centimetres), y-up, absolute joint position
``skeletons + center``, cropped to ``min(length, end_position - start_position)`` frames, with
``meta["audio"]`` = the mp3 and ``meta["audio_start"]`` = ``start_position / 25`` seconds.

The skeleton (bones as the dataset's own drawing code connects them, see ``SOURCE.md``): joint 2 is the
root (pelvis); it carries the two hips, the two shoulders and the two head points (the drawing's spine and
neck end at the shoulders' midpoint, which is not a joint). Arms run shoulder -> elbow -> wrist -> hand,
each with one extra "hand direction" point (added by the authors for their Unity demo): 22 hangs off
joint 6 and 21 off joint 14, the joints they lie closest to. Legs run hip -> knee -> ankle, and the ankle
carries both foot points. The two head points come before the pelvis, so no parent-first order exists
in the dataset's own joint order; the original order is kept and :attr:`Skeleton.order` gives the
parent-first traversal.

How left and right were decided (the dataset does not say). Measured over all 61,655 frames of the 38
sequences here, in the file's own axes (y up):

- Forward = the direction the knee bends: the knee's offset from the hip-ankle line, made horizontal,
  over the frames where that knee is bent below 160 degrees (33,858 frames for the leg through joint 8,
  34,962 for the leg through joint 17). Right = forward x up (right-handed, y up: facing +z, right is -x).
  Joint 7 lies on the right side of joint 16 in 99.99 % of those frames (either knee as the reference),
  and joint 3 on the right side of joint 12 in 99.98-99.99 %. Using the foot direction (10 -> 11,
  19 -> 20) as forward instead agrees in 97-99 % (hips) and 96-97 % (shoulders) of all frames.
  So chain 3-11 is the RIGHT side and chain 12-20 the LEFT side.
- Joint 10 lies behind joint 11 (along the knee's forward) in 98.8 % of bent-knee frames: 10/19 are the
  heels, 11/20 the toes (the feet are ``(18, 20, 9, 11)``: left ankle, left toe, right ankle, right toe).
- The head points are about 10.6 cm apart, the vector 0 -> 1 is perpendicular to the neck -> head
  axis (median cosine 0.03) and points to the body's left (left component 0.84-0.90 in the cha-cha and
  rumba takes, where the head faces forward): joint 0 is the right side of the head, joint 1 the left.
- Arms: right 3 -> 4 -> 5 -> 6 (+22), left 12 -> 13 -> 14 -> 15 (+21). The mean segment lengths differ
  between the sides (4-5 11.7 cm but 13-14 17.0 cm), so the arm points are marker-like rather than
  anatomical; the names follow their order along each arm and the mirror pairs pair them by that order.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from choreo.errors import ChoreoError
from choreo.motion.motion import Motion
from choreo.motion.skeleton import Skeleton, _pairs

FPS = 25.0
CM = 0.01

DWM23_NAMES = (
    "right_head",  # 0
    "left_head",  # 1
    "pelvis",  # 2 (root)
    "right_shoulder",  # 3
    "right_elbow",  # 4
    "right_wrist",  # 5
    "right_hand",  # 6
    "right_hip",  # 7
    "right_knee",  # 8
    "right_ankle",  # 9
    "right_heel",  # 10
    "right_toe",  # 11
    "left_shoulder",  # 12
    "left_elbow",  # 13
    "left_wrist",  # 14
    "left_hand",  # 15
    "left_hip",  # 16
    "left_knee",  # 17
    "left_ankle",  # 18
    "left_heel",  # 19
    "left_toe",  # 20
    "left_hand_dir",  # 21
    "right_hand_dir",  # 22
)
DWM23_PARENTS = (2, 2, -1, 2, 3, 4, 5, 2, 7, 8, 9, 9, 2, 12, 13, 14, 2, 16, 17, 18, 18, 14, 6)

DWM23 = Skeleton(
    name="dwm23",
    joint_names=DWM23_NAMES,
    parents=np.array(DWM23_PARENTS),
    offsets=None,  # positions only: bone lengths come from the data (they vary frame to frame)
    feet=(18, 20, 9, 11),
    mirror_pairs=_pairs(DWM23_NAMES),
    upper_body=(0, 1, 3, 4, 5, 6, 12, 13, 14, 15, 21, 22),
)

#: A rest pose for writing rotations (BVH): a T-pose facing +z with left = +x, metres, bone lengths the
#: mean over the dataset. Only the directions matter to inverse kinematics (lengths come from the data).
DWM23_REST = np.array(
    [
        (-0.05, 0.48, 0.0),  # 0 right_head (from pelvis)
        (0.05, 0.48, 0.0),  # 1 left_head
        (0.0, 0.0, 0.0),  # 2 pelvis
        (-0.14, 0.31, 0.0),  # 3 right_shoulder
        (-0.30, 0.0, 0.0),  # 4 right_elbow
        (-0.12, 0.0, 0.0),  # 5 right_wrist
        (-0.14, 0.0, 0.0),  # 6 right_hand
        (-0.11, -0.15, 0.0),  # 7 right_hip
        (0.0, -0.47, 0.0),  # 8 right_knee
        (0.0, -0.33, 0.0),  # 9 right_ankle
        (0.0, -0.07, -0.10),  # 10 right_heel
        (0.0, -0.08, 0.16),  # 11 right_toe
        (0.14, 0.31, 0.0),  # 12 left_shoulder
        (0.29, 0.0, 0.0),  # 13 left_elbow
        (0.17, 0.0, 0.0),  # 14 left_wrist
        (0.12, 0.0, 0.0),  # 15 left_hand
        (0.11, -0.15, 0.0),  # 16 left_hip
        (0.0, -0.48, 0.0),  # 17 left_knee
        (0.0, -0.33, 0.0),  # 18 left_ankle
        (0.0, -0.07, -0.10),  # 19 left_heel
        (0.0, -0.08, 0.15),  # 20 left_toe
        (0.06, 0.0, 0.0),  # 21 left_hand_dir
        (-0.05, 0.0, 0.0),  # 22 right_hand_dir
    ]
)


def _load_json(path: Path):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise ChoreoError("file not found", path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ChoreoError(f"not valid JSON ({exc})", path) from None


def is_dwm(path: str | os.PathLike) -> bool:
    """True for a Dance with Melody sequence folder or its skeletons.json."""
    p = Path(path)
    if p.is_dir():
        return (p / "skeletons.json").is_file()
    return p.name == "skeletons.json"


def read_dwm(path: str | os.PathLike, fps: float | None = None, scale: float | None = None) -> Motion:
    """Read a Dance with Melody sequence (folder or its ``skeletons.json``) as a DWM23 motion.

    Args:
        path: the sequence folder, or its skeletons.json (config.json and audio.mp3 are looked for
            beside it; without config.json nothing is cropped and no audio is linked).
        fps: frame rate override (the dataset is 25 fps).
        scale: metres per file unit (default 0.01: the files are in centimetres).
    """
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    skel_path = folder / "skeletons.json" if p.is_dir() else p
    data = _load_json(skel_path)
    if not isinstance(data, dict) or "skeletons" not in data or "center" not in data:
        raise ChoreoError("not a Dance with Melody skeletons.json (needs 'skeletons' and 'center')", skel_path)
    try:
        sk = np.asarray(data["skeletons"], dtype=np.float64)
        center = np.asarray(data["center"], dtype=np.float64)
    except (ValueError, TypeError):
        raise ChoreoError("'skeletons' or 'center' is not a regular array of numbers", skel_path) from None
    if sk.ndim != 3 or sk.shape[1:] != (23, 3):
        raise ChoreoError(f"'skeletons' has shape {sk.shape}, expected (frames, 23, 3)", skel_path)
    if center.shape != (len(sk), 3):
        raise ChoreoError(f"'center' has shape {center.shape}, expected ({len(sk)}, 3)", skel_path)
    n = len(sk)
    length = data.get("length")
    if isinstance(length, int | float) and length >= 0:
        n = min(n, int(length))
    meta: dict = {"source": os.fspath(path), "format": "dwm"}
    config = folder / "config.json"
    if config.is_file():
        cfg = _load_json(config)
        try:
            start, end = int(cfg["start_position"]), int(cfg["end_position"])
        except (KeyError, TypeError, ValueError):
            raise ChoreoError("config.json needs integer start_position and end_position", config) from None
        n = min(n, end - start)
        meta["audio_start"] = start / FPS
        meta["audio_end"] = end / FPS
        audio = folder / "audio.mp3"
        if audio.is_file():
            meta["audio"] = os.fspath(audio)
    if n <= 0:
        raise ChoreoError("the sequence has zero frames", skel_path)
    positions = (sk[:n] + center[:n, None, :]) * (CM if scale is None else float(scale))
    return Motion(DWM23, FPS if fps is None else fps, positions=positions, meta=meta)
