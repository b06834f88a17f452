"""Cameras for rendering: where each joint lands on the picture, frame by frame.

World space is choreo's canonical space: metres, y up. A perspective camera looks at a target from a
fixed direction (a little to the side of the dancer's mean facing and a little above); it either follows
the dancer (target = the body's centre, smoothed over time) or stays fixed (framing the whole dance).
2D keypoint motions (``skeleton.dim == 2``: image units, y up, since choreo's readers negate the image's y)
use a flat camera: a scale and a shift per frame, y flipped back to point down.

Pixel coordinates are in the output picture: x to the right, y down, (0, 0) the top-left corner of
the top-left pixel; a panel (one dancer when two are compared side by side) is a rectangle of it.
:func:`joint_pixels` gives the pixel coordinates at which :func:`choreo.render.render` draws the joints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: vertical field of view of the perspective camera, degrees.
VFOV_DEG = 40.0
#: the camera looks down at the dancer by this angle, degrees.
ELEVATION_DEG = 14.0
#: the camera stands this far round from the dancer's mean facing direction, degrees (about the y axis).
AZIMUTH_DEG = 25.0
#: the follow camera's target is the body centre smoothed by a Gaussian of this standard deviation, seconds.
FOLLOW_SIGMA_S = 0.75
#: the body stays within this fraction of the half-width / half-height of its panel.
MARGIN = 0.86
#: nearest depth in front of the camera that is drawn, metres.
NEAR = 0.05

UP = np.array([0.0, 1.0, 0.0])


@dataclass
class Camera:
    """The camera of one panel over the rendered frames.

    Attributes:
        kind: ``"perspective"`` (3D, world metres y-up) or ``"flat"`` (2D image units, y up).
        panel: (x0, y0, width, height) of the panel in output pixels.
        eye: (T, 3) camera positions in metres (perspective).
        basis: (T, 3, 3) rows = camera right, up and forward unit vectors in world space (perspective).
        focal: focal length in pixels (perspective).
        distance: metres from the eye to the look-at point (perspective).
        centre: (T, 2) world point drawn at the panel centre (flat).
        scale: pixels per world unit (flat).
    """

    kind: str
    panel: tuple[int, int, int, int]
    eye: np.ndarray | None = None
    basis: np.ndarray | None = None
    focal: float = 1.0
    distance: float = 0.0
    centre: np.ndarray | None = None
    scale: float = 1.0

    @property
    def n_frames(self) -> int:
        return len(self.eye) if self.kind == "perspective" else len(self.centre)

    @property
    def principal(self) -> tuple[float, float]:
        """Pixel position of the optical axis (the panel centre)."""
        x0, y0, w, h = self.panel
        return x0 + w / 2.0, y0 + h / 2.0

    def to_camera(self, points: np.ndarray, frames: np.ndarray | slice | int = slice(None)) -> np.ndarray:
        """World points (T, N, 3) -> camera coordinates (T, N, 3): right, up, depth (metres, depth > 0 in front)."""
        eye = self.eye[frames]
        basis = self.basis[frames]
        rel = np.asarray(points, np.float64) - eye[..., None, :]
        return np.einsum("...nk,...ck->...nc", rel, basis)

    def camera_to_pixels(self, cam: np.ndarray) -> np.ndarray:
        """Camera coordinates (..., 3) with depth > 0 -> pixels (..., 2)."""
        cx, cy = self.principal
        z = np.maximum(cam[..., 2], 1e-9)
        return np.stack([cx + self.focal * cam[..., 0] / z, cy - self.focal * cam[..., 1] / z], axis=-1)

    def project(
        self, points: np.ndarray, frames: np.ndarray | slice | int = slice(None)
    ) -> tuple[np.ndarray, np.ndarray]:
        """Project points seen at the given frames.

        Args:
            points: (T, N, D) world points (D = 3 perspective, 2 flat), one row of N per selected frame
                (or (N, D) with an integer ``frames``).
            frames: which of the camera's frames the rows belong to.

        Returns:
            pixels (T, N, 2) float64 in output pixels, and depth (T, N) in metres (0 for flat cameras).
        """
        points = np.asarray(points, np.float64)
        if self.kind == "flat":
            cx, cy = self.principal
            c = self.centre[frames]
            pix = (points - c[..., None, :]) * np.array([self.scale, -self.scale]) + np.array([cx, cy])
            return pix, np.zeros(pix.shape[:-1])
        cam = self.to_camera(points, frames)
        return self.camera_to_pixels(cam), cam[..., 2]


def view_basis(back: np.ndarray) -> np.ndarray:
    """(3, 3) rows right, up, forward for a camera that looks along ``-back`` with the world's y up."""
    forward = -np.asarray(back, np.float64) / np.linalg.norm(back)
    right = np.cross(forward, UP)
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return np.stack([right, up, forward])


def view_direction(facing_xz: np.ndarray, azimuth_deg: float = AZIMUTH_DEG, elevation_deg: float = ELEVATION_DEG):
    """Unit vector from the target towards the camera: in front of the dancer, turned and raised.

    Args:
        facing_xz: (2,) the dancer's facing direction on the ground (x, z); need not be unit length.
    """
    fx, fz = np.asarray(facing_xz, np.float64) / max(float(np.linalg.norm(facing_xz)), 1e-12)
    a = np.radians(azimuth_deg)
    hx, hz = fx * np.cos(a) + fz * np.sin(a), -fx * np.sin(a) + fz * np.cos(a)
    e = np.radians(elevation_deg)
    return np.array([hx * np.cos(e), np.sin(e), hz * np.cos(e)])


def required_distance(points: np.ndarray, targets: np.ndarray, basis: np.ndarray, aspect: float) -> np.ndarray:
    """Per-frame camera distance from the target that keeps every point inside the margin of the panel.

    The camera sits at ``target + d * back`` with fixed orientation ``basis``; a point at camera
    coordinates (x, y) relative to the target has depth ``d - b`` (b its coordinate along ``back``) and
    stays inside the frame when ``|x| <= (d - b) tan(hfov/2) MARGIN`` and likewise for y.

    Args:
        points: (T, N, 3) world points, metres.
        targets: (T, 3) look-at points.
        basis: (3, 3) camera rows right, up, forward.
        aspect: panel width / height.

    Returns:
        (T,) distances in metres.
    """
    tan_v = np.tan(np.radians(VFOV_DEG) / 2.0) * MARGIN
    tan_h = tan_v * aspect
    rel = points - targets[:, None, :]
    x = rel @ basis[0]
    y = rel @ basis[1]
    b = -(rel @ basis[2])
    need = np.maximum(np.abs(x) / tan_h, np.abs(y) / tan_v)
    return np.max(b + np.maximum(need, NEAR), axis=1)


def follow_targets(centres: np.ndarray, fps: float, mode: str) -> np.ndarray:
    """Look-at points (T, D) from per-frame body centres (T, D).

    ``follow``: each coordinate smoothed with a Gaussian of :data:`FOLLOW_SIGMA_S` seconds (edges held);
    ``fixed``: the middle of the range the centres cover, for every frame.
    """
    centres = np.asarray(centres, np.float64)
    if mode == "fixed":
        mid = (centres.min(axis=0) + centres.max(axis=0)) / 2.0
        return np.repeat(mid[None], len(centres), axis=0)
    sigma = FOLLOW_SIGMA_S * fps
    if len(centres) < 2 or sigma <= 0:
        return centres.copy()
    return gaussian_smooth(centres, sigma)


def gaussian_smooth(x: np.ndarray, sigma: float, truncate: float = 4.0) -> np.ndarray:
    """Gaussian smoothing along axis 0 with edge values held: ``scipy.ndimage.gaussian_filter1d(x, sigma,
    axis=0, mode="nearest", truncate=truncate)``, in numpy.

    Importing scipy.ndimage for this one call took half a second of ``choreo render``'s start-up.

    Args:
        x: (T, ...) values over time.
        sigma: standard deviation in samples (> 0).
        truncate: the kernel reaches this many standard deviations either side.
    """
    x = np.asarray(x, np.float64)
    radius = int(truncate * float(sigma) + 0.5)
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / float(sigma)) ** 2)
    k /= k.sum()
    flat = x.reshape(len(x), -1)
    padded = np.pad(flat, ((radius, radius), (0, 0)), mode="edge")
    out = np.stack([np.convolve(col, k, mode="valid") for col in padded.T], axis=1)
    return out.reshape(x.shape)


def perspective_camera(
    targets: np.ndarray, back: np.ndarray, distance: float, panel: tuple[int, int, int, int]
) -> Camera:
    """A perspective camera at ``targets + distance * back`` looking at ``targets`` (T, 3), fitted to ``panel``."""
    basis = view_basis(back)
    T = len(targets)
    focal = (panel[3] / 2.0) / np.tan(np.radians(VFOV_DEG) / 2.0)
    return Camera(
        kind="perspective",
        panel=panel,
        eye=np.asarray(targets, np.float64) + distance * back,
        basis=np.repeat(basis[None], T, axis=0),
        focal=float(focal),
        distance=float(distance),
    )


def flat_scale(points: np.ndarray, centres: np.ndarray, panel: tuple[int, int, int, int]) -> float:
    """Pixels per unit that keep 2D points (T, N, 2) around per-frame centres (T, 2) inside the panel margin."""
    ext = np.max(np.abs(points - centres[:, None, :]), axis=(0, 1))
    ext = np.maximum(ext, 1e-9)
    return float(min(panel[2] / 2.0 * MARGIN / ext[0], panel[3] / 2.0 * MARGIN / ext[1]))


def joint_pixels(
    motion,
    frame: int,
    size: tuple[int, int] = (640, 480),
    fps: float | None = None,
    camera: str = "follow",
    compare=None,
    dancer: int = 0,
    fmt: str = "mp4",
) -> np.ndarray:
    """Pixel coordinates (J, 2) at which :func:`choreo.render.render` draws the joints of one frame.

    Args:
        motion, size, fps, camera, compare: as given to :func:`choreo.render.render`.
        frame: index of the rendered frame (at the rendered fps).
        dancer: 0 for ``motion``, 1 for ``compare``.
        fmt: ``"mp4"`` or ``"gif"`` (GIF frame rates are quantised, which changes which pose a frame shows).

    Returns:
        (J, 2) float64 pixel coordinates (x right, y down) in the output picture.
    """
    from choreo.render.scene import build_scene

    scene = build_scene(motion, size=size, fps=fps, camera=camera, compare=compare, fmt=fmt)
    panel = scene.panels[dancer]
    return panel.pixels[frame, : panel.n_joints].copy()
