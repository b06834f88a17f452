"""The scene to draw: dancers resampled to the output frame rate, their cameras and everything projected.

All the geometry of a render is computed here, vectorised over frames, before any pixel is drawn:
joint pixels and depths, bone widths, the skeleton's shadow on the floor and the foot shadows. The
drawing code (:mod:`choreo.render.draw`) only reads these arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from choreo.errors import ChoreoError
from choreo.motion.motion import Motion
from choreo.render import camera as cam
from choreo.render.style import Layout, joint_sides, layout

#: fastest GIF frame rate: frame delays are whole centiseconds, and browsers slow 1 cs delays to 10 cs.
GIF_MAX_FPS = 50.0
CAMERAS = ("follow", "fixed")
FORMATS = ("mp4", "gif")
#: bone radius and joint radius as fractions of the body's height.
BONE_RADIUS = 0.014
JOINT_RADIUS = 0.02
CONTACT_RADIUS = 0.027
FOOT_SHADOW_RADIUS = 0.045
#: points on each foot-shadow ellipse.
SHADOW_SEGMENTS = 14


@dataclass
class Panel:
    """One dancer, ready to draw: arrays over the N rendered frames.

    Per-joint arrays cover the skeleton's J joints followed by the drawing's virtual points (see
    :class:`~choreo.render.style.Layout`); ``[:, :n_joints]`` are the joints themselves.

    Attributes:
        label: name shown over the panel when two dancers are compared.
        n_joints: J, the skeleton's joints (the first J entries of per-joint arrays).
        dim: 3 (perspective, ground grid and shadows) or 2 (flat keypoints).
        camera: the panel's :class:`~choreo.render.camera.Camera`.
        positions: (N, J, D) joint positions at the rendered frames (y up; metres, or image units in 2D).
        pixels: (N, J, 2) joint pixel coordinates in the output picture.
        depth: (N, J) joint depths in metres (0 for flat panels).
        bones: (B, 2) joint indices of the segments drawn (the second end gives the colour).
        bone_order: (N, B) bone drawing order per frame, far to near.
        bone_width: (N, B) bone line widths in output pixels.
        joint_radius: (N, J) joint disc radii in output pixels.
        sides: (J + V,) +1 left, -1 right, 0 centre.
        contact_joints: (F,) joint indices of the feet (ankles and toes present in the skeleton).
        contacts: (N, F) bool, the foot joint is on the ground at that frame.
        floor: ground height: the lowest any joint goes (metres, or image units in 2D).
        height: body height (metres or image units).
        shadow_pixels: (N, J, 2) pixels of the joints dropped onto the floor (3D) or None.
        foot_shadows: (N, F, K, 2) pixel polygons of the foot shadows (3D) or None.
        grid: (L, 2, 3) world ground-grid segments (3D) or None.
        floor_quad: (4, 3) world corners of the floor area under the grid (3D) or None.
    """

    label: str
    n_joints: int
    dim: int
    camera: cam.Camera
    positions: np.ndarray
    pixels: np.ndarray
    depth: np.ndarray
    bones: np.ndarray
    bone_order: np.ndarray
    bone_width: np.ndarray
    joint_radius: np.ndarray
    sides: np.ndarray
    contact_joints: np.ndarray
    contacts: np.ndarray
    floor: float
    height: float
    shadow_pixels: np.ndarray | None = None
    foot_shadows: np.ndarray | None = None
    grid: np.ndarray | None = None
    floor_quad: np.ndarray | None = None


@dataclass
class Scene:
    """Everything :mod:`choreo.render.draw` needs.

    Attributes:
        size: (width, height) of the output picture in pixels.
        fps: rendered frames per second (for GIF: 100 / ``gif_delay_cs``).
        n_frames: number of rendered frames N.
        camera: ``"follow"`` or ``"fixed"``.
        panels: one per dancer, left to right.
        gif_delay_cs: GIF frame delay in centiseconds (None for MP4).
    """

    size: tuple[int, int]
    fps: float
    n_frames: int
    camera: str
    panels: list[Panel] = field(default_factory=list)
    gif_delay_cs: int | None = None

    @property
    def duration(self) -> float:
        """Seconds of the rendered video (n_frames / fps)."""
        return self.n_frames / self.fps

    @property
    def times(self) -> np.ndarray:
        """(N,) time of each rendered frame in seconds from the start of the dance."""
        return np.arange(self.n_frames) / self.fps


def check_size(size, fmt: str) -> tuple[int, int]:
    """Validate (width, height); MP4 sizes are rounded down to even numbers (yuv420p needs them)."""
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ChoreoError(f"size must be two integers (width, height), got {size!r}") from None
    if w < 16 or h < 16 or w > 8192 or h > 8192:
        raise ChoreoError(f"size {w}x{h} is out of range (16 to 8192 pixels a side)")
    if fmt == "mp4":
        w, h = w - w % 2, h - h % 2
    return w, h


def output_timing(duration: float, fps: float, fmt: str) -> tuple[float, int, int | None]:
    """Rendered fps, frame count and GIF delay for a dance of ``duration`` seconds asked at ``fps``.

    A GIF stores each frame's delay in whole centiseconds, so its frame rate is 100 / round(100 / fps)
    (at most :data:`GIF_MAX_FPS`): 25 fps stays 25 (4 cs), 30 fps becomes 33.3 (3 cs), 60 fps 50 (2 cs).
    The frames are resampled to that rate so the GIF still plays in real time.
    """
    if not math.isfinite(fps) or fps <= 0:
        raise ChoreoError(f"frame rate must be a positive number, got {fps}")
    delay = None
    if fmt == "gif":
        delay = max(int(round(100.0 / fps)), int(round(100.0 / GIF_MAX_FPS)))
        fps = 100.0 / delay
    n = max(1, int(round(duration * fps)))
    return float(fps), n, delay


def motion_positions(motion: Motion) -> np.ndarray:
    """(T, J, D) float64 joint positions of a motion (forward kinematics when it has only rotations)."""
    if hasattr(motion, "joint_positions"):
        return np.asarray(motion.joint_positions(), np.float64)
    if motion.positions is None:
        raise ChoreoError("this motion has only rotations; rendering needs choreo.motion forward kinematics")
    return np.asarray(motion.positions, np.float64)


def motion_contacts(motion: Motion) -> np.ndarray:
    """(T, 4) bool foot contacts (l_ankle, l_toe, r_ankle, r_toe); all False when the motion layer has none."""
    if not hasattr(motion, "foot_contacts") or all(f < 0 for f in motion.skeleton.feet):
        return np.zeros((motion.n_frames, 4), bool)
    c = np.asarray(motion.foot_contacts(), bool)
    if c.shape != (motion.n_frames, 4):
        raise ChoreoError(f"foot contacts have shape {c.shape}, expected ({motion.n_frames}, 4)")
    return c


def resample_indices(
    n_src: int, fps_src: float, n_out: int, fps_out: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source frames i0, i1 (N,) and weight w (N,) of i1 for each rendered frame; past the end, the last frame holds."""
    t = np.arange(n_out) * (fps_src / fps_out)
    near = np.round(t)
    t = np.where(np.abs(t - near) < 1e-6, near, t)
    i0 = np.minimum(np.floor(t).astype(np.int64), n_src - 1)
    i1 = np.minimum(i0 + 1, n_src - 1)
    w = np.clip(t - i0, 0.0, 1.0)
    w = np.where(i1 == i0, 0.0, w)
    return i0, i1, w


def _resample(a: np.ndarray, idx) -> np.ndarray:
    i0, i1, w = idx
    w = w.reshape((-1,) + (1,) * (a.ndim - 1))
    return a[i0] * (1.0 - w) + a[i1] * w


def _nearest(a: np.ndarray, idx) -> np.ndarray:
    i0, i1, w = idx
    return a[np.where(w >= 0.5, i1, i0)]


def mean_facing(positions: np.ndarray, sides: np.ndarray, mirror_pairs, fps: float) -> np.ndarray:
    """The dancer's mean facing direction on the ground (x, z), unit length; +z when it cannot be told.

    Facing is perpendicular to the right-minus-left vector of the mirrored joint pairs (y-up,
    right-handed: a body whose left is +x faces +z). When the dancer turns so much that the average
    cancels out, the first second decides.
    """
    lefts, rights = [], []
    for a, b in mirror_pairs:
        if sides[a] == 1 and sides[b] == -1:
            lefts.append(a)
            rights.append(b)
        elif sides[a] == -1 and sides[b] == 1:
            lefts.append(b)
            rights.append(a)
    if not lefts:
        return np.array([0.0, 1.0])
    across = positions[:, rights].mean(axis=1) - positions[:, lefts].mean(axis=1)
    facing = np.stack([across[:, 2], -across[:, 0]], axis=1)
    norm = np.linalg.norm(facing, axis=1, keepdims=True)
    facing = facing / np.maximum(norm, 1e-9)
    for part in (facing, facing[: max(1, int(round(fps)))]):
        m = part.mean(axis=0)
        if np.linalg.norm(m) > 0.25:
            return m / np.linalg.norm(m)
    return np.array([0.0, 1.0])


def _label(motion: Motion, default: str) -> str:
    for key in ("name", "source"):
        if motion.meta.get(key):
            from pathlib import Path

            return Path(str(motion.meta[key])).stem if key == "source" else str(motion.meta[key])
    return default


@dataclass
class _Dancer:
    motion: Motion
    src: np.ndarray  # (T, J, D) at the motion's own frames
    positions: np.ndarray  # (N, J, D) at output frames
    contacts: np.ndarray  # (N, 4)
    floor: float
    height: float
    centres: np.ndarray  # (N, 3) or (N, 2)
    label: str


def _with_extra(pos: np.ndarray, extra) -> np.ndarray:
    """Append the layout's virtual points (means of joints) to positions (..., J, D)."""
    if not extra:
        return pos
    return np.concatenate([pos] + [pos[..., list(e), :].mean(axis=-2, keepdims=True) for e in extra], axis=-2)


def _prepare(motion: Motion, n_out: int, fps_out: float, label: str) -> _Dancer:
    src = motion_positions(motion)
    idx = resample_indices(len(src), motion.fps, n_out, fps_out)
    pos = _resample(src, idx)
    contacts = _nearest(motion_contacts(motion), idx)
    up = 1  # y is up in 3D and 2D motions alike
    lo, hi = src[..., up].min(axis=1), src[..., up].max(axis=1)
    height = float(np.median(hi - lo))
    if not height > 1e-6:
        height = float(np.max(np.ptp(src.reshape(-1, src.shape[-1]), axis=0))) or 1.0
    floor = float(lo.min())
    centre = pos.mean(axis=1)
    if motion.skeleton.dim == 3:
        centre[:, 1] = floor + 0.5 * height
    return _Dancer(motion, src, pos, contacts, floor, height, centre, label)


def _grid(d: _Dancer, src_positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World ground-grid segments (L, 2, 3) and the floor quad (4, 3) around everywhere the dancer goes."""
    xz = src_positions[..., [0, 2]].reshape(-1, 2)
    pad = max(1.0, 1.5 * d.height)
    lo, hi = xz.min(axis=0) - pad, xz.max(axis=0) + pad
    span = float(np.max(hi - lo))
    step = 0.5 if span <= 20 else 10 ** math.ceil(math.log10(span / 40))
    lo = np.floor(lo / step) * step
    hi = np.ceil(hi / step) * step
    y = d.floor
    segs = []
    for x in np.arange(lo[0], hi[0] + step / 2, step):
        segs.append([[x, y, lo[1]], [x, y, hi[1]]])
    for z in np.arange(lo[1], hi[1] + step / 2, step):
        segs.append([[lo[0], y, z], [hi[0], y, z]])
    quad = np.array([[lo[0], y, lo[1]], [hi[0], y, lo[1]], [hi[0], y, hi[1]], [lo[0], y, hi[1]]])
    return np.array(segs, np.float64), quad


def _panel_3d(d: _Dancer, camera: cam.Camera, lay: Layout) -> Panel:
    skel = d.motion.skeleton
    bone_idx = lay.bones
    positions = _with_extra(d.positions, lay.extra)
    pix, depth = camera.project(positions)
    focal = camera.focal
    bdepth = (depth[:, bone_idx[:, 0]] + depth[:, bone_idx[:, 1]]) / 2.0
    bone_width = 2.0 * BONE_RADIUS * d.height * focal / np.maximum(bdepth, cam.NEAR)
    joint_radius = JOINT_RADIUS * d.height * focal / np.maximum(depth, cam.NEAR)
    ground = positions.copy()
    ground[..., 1] = d.floor
    shadow_pix, _ = camera.project(ground)
    feet = np.array([f for f in skel.feet if f >= 0], np.int64)
    foot_cols = np.array([k for k, f in enumerate(skel.feet) if f >= 0], np.int64)
    foot_shadows = None
    if len(feet):
        lift = np.maximum(d.positions[:, feet, 1] - d.floor, 0.0)  # (N, F)
        radius = FOOT_SHADOW_RADIUS * d.height / (1.0 + 3.0 * lift / d.height)
        ang = np.linspace(0, 2 * np.pi, SHADOW_SEGMENTS, endpoint=False)
        ring = np.stack([np.cos(ang), np.zeros_like(ang), np.sin(ang)], axis=1)  # (K, 3)
        pts = ground[:, feet, None, :] + radius[..., None, None] * ring  # (N, F, K, 3)
        N, F, K, _ = pts.shape
        fp, _ = camera.project(pts.reshape(N, F * K, 3))
        foot_shadows = fp.reshape(N, F, K, 2)
    grid, quad = _grid(d, d.src)
    return Panel(
        label=d.label,
        n_joints=skel.n_joints,
        dim=3,
        camera=camera,
        positions=positions,
        pixels=pix,
        depth=depth,
        bones=bone_idx,
        bone_order=np.argsort(-bdepth, axis=1, kind="stable"),
        bone_width=bone_width,
        joint_radius=joint_radius,
        sides=lay.sides,
        contact_joints=feet,
        contacts=d.contacts[:, foot_cols],
        floor=d.floor,
        height=d.height,
        shadow_pixels=shadow_pix,
        foot_shadows=foot_shadows,
        grid=grid,
        floor_quad=quad,
    )


def _panel_2d(d: _Dancer, camera: cam.Camera, lay: Layout) -> Panel:
    skel = d.motion.skeleton
    bone_idx = lay.bones
    positions = _with_extra(d.positions, lay.extra)
    pix, depth = camera.project(positions)
    N = len(pix)
    px_height = d.height * camera.scale
    feet = np.array([f for f in skel.feet if f >= 0], np.int64)
    foot_cols = np.array([k for k, f in enumerate(skel.feet) if f >= 0], np.int64)
    return Panel(
        label=d.label,
        n_joints=skel.n_joints,
        dim=2,
        camera=camera,
        positions=positions,
        pixels=pix,
        depth=depth,
        bones=bone_idx,
        bone_order=np.tile(np.arange(len(bone_idx)), (N, 1)),
        bone_width=np.full((N, len(bone_idx)), 2.0 * BONE_RADIUS * px_height),
        joint_radius=np.full((N, positions.shape[1]), JOINT_RADIUS * px_height),
        sides=lay.sides,
        contact_joints=feet,
        contacts=d.contacts[:, foot_cols],
        floor=d.floor,
        height=d.height,
    )


def build_scene(
    motion: Motion,
    size: tuple[int, int] = (640, 480),
    fps: float | None = None,
    camera: str = "follow",
    compare: Motion | None = None,
    fmt: str = "mp4",
) -> Scene:
    """Lay out and project one dancer (or two side by side) for rendering.

    Args:
        motion: the dance (y up: 3D in metres, or 2D keypoints in image units).
        size: (width, height) of the output picture; with ``compare`` each dancer gets half the width.
        fps: rendered frame rate (default the motion's own).
        camera: ``"follow"`` (smoothed, tracks the dancer) or ``"fixed"`` (frames the whole dance).
        compare: a second dance drawn to the right, with the same scale; the shorter dance holds its
            last pose until the longer one ends.
        fmt: ``"mp4"`` or ``"gif"``.
    """
    if not isinstance(motion, Motion) or (compare is not None and not isinstance(compare, Motion)):
        raise ChoreoError("render needs choreo.motion.Motion objects")
    if camera not in CAMERAS:
        raise ChoreoError(f"unknown camera {camera!r}: use one of {', '.join(CAMERAS)}")
    if fmt not in FORMATS:
        raise ChoreoError(f"unknown output format {fmt!r}: use one of {', '.join(FORMATS)}")
    W, H = check_size(size, fmt)
    motions = [motion] if compare is None else [motion, compare]
    duration = max(m.duration for m in motions)
    fps_out, n_out, delay = output_timing(duration, motion.fps if fps is None else float(fps), fmt)

    n_panels = len(motions)
    edges = [round(i * W / n_panels) for i in range(n_panels + 1)]
    rects = [(edges[i], 0, edges[i + 1] - edges[i], H) for i in range(n_panels)]
    defaults = ["dance"] if n_panels == 1 else ["dance", "compare"]
    dancers = [_prepare(m, n_out, fps_out, _label(m, defaults[i])) for i, m in enumerate(motions)]

    # The first dancer decides the view direction; 3D panels share one distance (the same scale),
    # and so do 2D panels (one pixels-per-unit), so two dances compare at a glance.
    first3d = next((d for d in dancers if d.motion.skeleton.dim == 3), None)
    back = None
    if first3d is not None:
        sk = first3d.motion.skeleton
        facing = mean_facing(first3d.src, joint_sides(sk), sk.mirror_pairs, first3d.motion.fps)
        back = cam.view_direction(facing)
    targets, need = {}, {}
    for i, d in enumerate(dancers):
        targets[i] = cam.follow_targets(d.centres, fps_out, camera)
        if d.motion.skeleton.dim == 3:
            basis = cam.view_basis(back)
            need[i] = float(np.max(cam.required_distance(d.positions, targets[i], basis, rects[i][2] / rects[i][3])))
        else:
            need[i] = cam.flat_scale(d.positions, targets[i], rects[i])
    dist3 = max((need[i] for i, d in enumerate(dancers) if d.motion.skeleton.dim == 3), default=None)
    scale2 = min((need[i] for i, d in enumerate(dancers) if d.motion.skeleton.dim == 2), default=None)

    panels = []
    for i, d in enumerate(dancers):
        skel = d.motion.skeleton
        if skel.dim == 3:
            camera_i = cam.perspective_camera(targets[i], back, dist3, rects[i])
            panels.append(_panel_3d(d, camera_i, layout(skel)))
        else:
            camera_i = cam.Camera(kind="flat", panel=rects[i], centre=targets[i], scale=scale2)
            panels.append(_panel_2d(d, camera_i, layout(skel)))
    return Scene(size=(W, H), fps=fps_out, n_frames=n_out, camera=camera, panels=panels, gif_delay_cs=delay)
