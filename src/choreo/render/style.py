"""Colours, sizes and body sides for drawing skeletons.

Left limbs are drawn warm (orange), right limbs cool (blue), the spine and head light grey; a foot in
contact with the ground turns yellow. Colours are RGB tuples (0-255).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from choreo.motion.skeleton import Skeleton, joint_sides  # noqa: F401  (re-exported: drawing asks it)
from choreo.palette import CENTRE, LEFT, RIGHT  # shared with the GLB writer's mesh colours

BACKGROUND_TOP = (22, 25, 33)
BACKGROUND_BOTTOM = (38, 43, 54)
FLOOR = (44, 49, 60)
GRID = (70, 78, 94)
SHADOW = (26, 29, 36)
CONTACT = (255, 235, 60)
TEXT = (235, 235, 235)
BEAT = (255, 80, 110)
DIVIDER = (90, 96, 110)

#: colour per side code: index with ``side + 1`` (-1 right, 0 centre, +1 left).
SIDE_COLOURS = (RIGHT, CENTRE, LEFT)

#: the picture is drawn this many times larger and box-filtered down, which antialiases the lines.
SUPERSAMPLE = 2

#: every colour the renderer draws with, by name (the painter looks its fill values up once per plane).
COLOURS = {
    "floor": FLOOR,
    "grid": GRID,
    "shadow": SHADOW,
    "right": RIGHT,
    "centre": CENTRE,
    "left": LEFT,
    "contact": CONTACT,
    "text": TEXT,
    "beat": BEAT,
    "divider": DIVIDER,
}


# BT.601 (SMPTE 170M) RGB -> limited-range (studio swing) Y'CbCr: the matrix ffmpeg uses for SD video.
_YCC = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]]) / 255.0
_YCC_OFFSET = np.array([16.0, 128.0, 128.0])


def ycbcr(rgb) -> np.ndarray:
    """(..., 3) float Y'CbCr of RGB colours (..., 3), BT.601 limited range: Y 16-235, Cb and Cr 16-240.

    This is what ffmpeg's own RGB to yuv420p conversion computes and what players assume for video that
    does not say otherwise (the MP4 writer also tags it), so colours drawn straight into Y'CbCr planes
    decode to the RGB they were given (within a level of rounding).
    """
    return np.asarray(rgb, np.float64) @ _YCC.T + _YCC_OFFSET


def rgb_from_ycbcr(ycc) -> np.ndarray:
    """(..., 3) float RGB of BT.601 limited-range Y'CbCr (..., 3): the inverse of :func:`ycbcr`, unclipped."""
    return (np.asarray(ycc, np.float64) - _YCC_OFFSET) @ np.linalg.inv(_YCC).T


def bones(skeleton: Skeleton) -> np.ndarray:
    """(B, 2) int64 (parent, child) index pairs, one per non-root joint, in parent-first order."""
    return np.array(
        [(int(skeleton.parents[j]), j) for j in skeleton.order if skeleton.parents[j] >= 0], np.int64
    ).reshape(-1, 2)


def gif_palette() -> list[tuple[int, int, int]]:
    """The colours a frame can hold: the flat colours, the background ramp and antialiasing blends.

    GIF frames are mapped onto this one fixed palette (at most 256 entries), so colours stay the same
    from frame to frame and no per-frame palette has to be computed.
    """
    fg = [LEFT, RIGHT, CENTRE, CONTACT, TEXT, BEAT, GRID, SHADOW, DIVIDER]
    top, bot = np.array(BACKGROUND_TOP, float), np.array(BACKGROUND_BOTTOM, float)
    ramp = [tuple(np.round(top + (bot - top) * k / 11).astype(int)) for k in range(12)]
    bgs = [np.array(c, float) for c in (FLOOR, SHADOW, BACKGROUND_TOP, BACKGROUND_BOTTOM)]
    colours = list(fg) + ramp + [FLOOR]
    for c in fg:
        for bg in bgs:
            for a in (0.25, 0.5, 0.75):
                colours.append(tuple(np.round(bg + (np.array(c, float) - bg) * a).astype(int)))
    for i, a in enumerate(fg[:4]):
        for b in fg[i + 1 : 4]:
            colours.append(tuple(np.round((np.array(a, float) + np.array(b, float)) / 2).astype(int)))
    out = list(dict.fromkeys(tuple(int(v) for v in c) for c in colours))
    return out[:256]


@dataclass(frozen=True)
class Layout:
    """How a skeleton is drawn: its joints plus virtual points, and the segments between them.

    Attributes:
        extra: virtual point k (index J + k) is the mean of these joints (e.g. a neck between shoulders).
        bones: (B, 2) index pairs (into joints followed by virtual points), drawn as segments.
        sides: (J + V,) +1 left, -1 right, 0 centre; a segment takes its second end's colour.
    """

    extra: tuple[tuple[int, ...], ...]
    bones: np.ndarray
    sides: np.ndarray


def layout(skeleton: Skeleton) -> Layout:
    """The drawing of a skeleton: its kinematic tree, except where the tree draws badly.

    Dance with Melody's tree hangs the shoulders and both head points straight off the pelvis; it is
    drawn the way its authors drew it instead: pelvis - neck (mid-shoulders) - shoulders, and neck - head
    centre (between the two head points) - head points.
    """
    sides = joint_sides(skeleton)
    tree = bones(skeleton)
    names = skeleton.joint_names
    want = ("pelvis", "left_shoulder", "right_shoulder", "left_head", "right_head")
    if skeleton.name == "dwm23" and all(n in names for n in want):
        pelvis, ls, rs, lh, rh = (names.index(n) for n in want)
        J = skeleton.n_joints
        neck, head = J, J + 1
        drop = {(pelvis, ls), (pelvis, rs), (pelvis, lh), (pelvis, rh)}
        kept = [tuple(b) for b in tree.tolist() if tuple(b) not in drop]
        added = [(pelvis, neck), (neck, ls), (neck, rs), (neck, head), (head, lh), (head, rh)]
        return Layout(((ls, rs), (lh, rh)), np.array(kept + added, np.int64), np.concatenate([sides, [0, 0]]))
    return Layout((), tree, sides)
