"""Rasterise a :class:`~choreo.render.scene.Scene` frame by frame with Pillow: RGB for GIF, Y'CbCr 4:2:0 for MP4.

Antialiasing is supersampling: shapes are drawn :data:`~choreo.render.style.SUPERSAMPLE` times larger
and box-filtered down. For MP4 a frame is drawn straight into the three planes H.264 stores (yuv420p):
luma (Y) supersampled like the RGB picture, and each chroma plane (Cb, Cr) drawn :data:`CHROMA_SCALE`
times larger and box-filtered to half the output size. Nothing then converts RGB to YUV (in ffmpeg that
conversion cost as much as drawing the frame), half the bytes go down the pipe, and one-channel images
are several times cheaper for Pillow to fill, copy and filter than RGB ones.

All the geometry of every frame (grid, floor, shadows, bones in depth order, joint discs, the box around
the dancer) is projected, clipped and sorted at once with numpy when the painter is made, so drawing a
frame is a few hundred calls into Pillow's core. What never moves (the background; the floor and grid
under a fixed camera) is drawn once, and a plane where only the dancer moves is the finished background
with the dancer's box redrawn (see :class:`Painter`). Draw order per panel: floor, grid, the skeleton's
shadow and the foot shadows, bones far to near, then joint discs (feet in contact larger and yellow).
Overlays (labels, time, beat markers) are drawn at the output size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from choreo.render import style
from choreo.render.camera import NEAR
from choreo.render.scene import CONTACT_RADIUS, JOINT_RADIUS, Panel, Scene

#: beats light the flash marker for this long, seconds.
BEAT_FLASH_S = 0.15
#: the beat timeline shows this many seconds either side of now.
BEAT_WINDOW_S = 2.5
#: chroma planes are drawn this many times larger than the output picture and box-filtered to half of it.
#: 2 antialiases colour edges as well as ffmpeg's conversion of the supersampled RGB picture did; 1 (no
#: antialiasing at chroma resolution) left dark fringes along orange and blue limbs (-1.4 dB PSNR).
CHROMA_SCALE = 2
#: margin in output pixels around the dancer's box (wide lines are rounded out to whole pixels).
_BOX_MARGIN = 2.0
#: pixel formats a painter draws: RGB images, or yuv420p planes.
PIX_FMTS = ("rgb24", "yuv420p")
# Pillow works in 32-bit ints: keep far-off projected points finite and small.
_FAR = 1.0e5
_KEYS = {name: k for k, name in enumerate(style.COLOURS)}
# colour index of a side code + 1 (-1 right, 0 centre, +1 left)
_SIDE_KEYS = np.array([_KEYS["right"], _KEYS["centre"], _KEYS["left"]])


def clip_near(poly: np.ndarray) -> np.ndarray:
    """Clip a polygon (K, 3) in camera coordinates to depth >= NEAR (Sutherland-Hodgman)."""
    out = []
    K = len(poly)
    for k in range(K):
        a, b = poly[k], poly[(k + 1) % K]
        ina, inb = a[2] >= NEAR, b[2] >= NEAR
        if ina:
            out.append(a)
        if ina != inb:
            t = (NEAR - a[2]) / (b[2] - a[2])
            out.append(a + t * (b - a))
    return np.array(out).reshape(-1, 3)


def clip_segments_near(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clip segments (..., 3) in camera coordinates to depth >= NEAR; returns new ends and a keep mask (...)."""
    za, zb = a[..., 2], b[..., 2]
    keep = (za >= NEAR) | (zb >= NEAR)
    dz = np.where(np.abs(zb - za) < 1e-12, 1e-12, zb - za)
    t = ((NEAR - za) / dz)[..., None]
    cut = a + t * (b - a)
    return np.where((za < NEAR)[..., None], cut, a), np.where((zb < NEAR)[..., None], cut, b), keep


def clip_segments_rect(p: np.ndarray, q: np.ndarray, rect) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clip 2D segments (..., 2) to rect (x0, y0, x1, y1) (Liang-Barsky); returns new ends and a keep mask (...)."""
    d = q - p
    t0 = np.zeros(p.shape[:-1])
    t1 = np.ones(p.shape[:-1])
    keep = np.ones(p.shape[:-1], bool)
    x0, y0, x1, y1 = rect
    for P, Q in (
        (-d[..., 0], p[..., 0] - x0),
        (d[..., 0], x1 - p[..., 0]),
        (-d[..., 1], p[..., 1] - y0),
        (d[..., 1], y1 - p[..., 1]),
    ):
        par = np.abs(P) < 1e-12
        keep &= ~(par & (Q < 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(par, 0.0, Q / np.where(par, 1.0, P))
        t0 = np.where(~par & (P < 0), np.maximum(t0, r), t0)
        t1 = np.where(~par & (P > 0), np.minimum(t1, r), t1)
    keep &= t0 <= t1
    return p + t0[..., None] * d, p + t1[..., None] * d, keep


def _font(px: int):
    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow without FreeType sizes
        return ImageFont.load_default()


def beat_marker_centre(size: tuple[int, int]) -> tuple[int, int]:
    """Pixel centre of the disc that flashes on each beat (top-right corner)."""
    W, H = size
    r = max(4, H // 30)
    return W - 2 * r, 2 * r


def _fit_text(text: str, font, width: float) -> str:
    """``text``, or its start and end joined by an ellipsis, as long as fits ``width`` pixels ("" if nothing does).
    The middle goes first: names of takes often differ only at their ends (``song_edge_seed1`` / ``..._seed2``)."""
    if font.getlength(text) <= width:
        return text
    for keep in range(len(text) - 1, 0, -1):
        head = (keep + 1) // 2
        cut = text[:head] + "\u2026" + text[len(text) - (keep - head) :]
        if font.getlength(cut) <= width:
            return cut
    return ""


def overlay_layout(
    size: tuple[int, int],
    panels: list[tuple[int, int]],
    labels: list[str],
    font,
    show_time: bool,
    beats: bool,
) -> tuple[list[tuple[tuple[float, float, float, float], str]], tuple | None, tuple | None]:
    """Where the overlays go, so that none overlaps another: each panel's label, the clock, the beat disc.

    The clock takes the top-left corner and the beat disc the top-right one; a label sits centred in what its
    panel leaves free on the top row beside them, shortened in the middle to fit; where too little is left, it
    moves to a second row, across its whole panel.

    Args:
        size: (W, H) pixels of the picture.
        panels: (x0, width) of every panel, left to right.
        labels: one name per panel.
        font: a PIL font (``getlength``, ``getbbox``).
        show_time, beats: whether the clock and the beat disc are drawn.

    Returns:
        ``[((left, top, right, bottom), text), ...]`` per panel (text "" when nothing fits), the clock's box and
        the disc's box (None when not drawn). Boxes are in pixels.
    """
    W, H = size
    pad = 6
    top = 6
    line = font.getbbox("Ag")[3] - font.getbbox("Ag")[1] + 4
    clock = (8, top, 8 + font.getlength(f"{9999.99:6.2f} s"), top + line) if show_time else None
    r = max(4, H // 30)
    cx, cy = beat_marker_centre((W, H))
    disc = (cx - r, cy - r, cx + r, cy + r) if beats else None
    out = []
    for (x0, w), text in zip(panels, labels, strict=True):
        lo, hi = x0 + pad, x0 + w - pad
        if clock is not None and lo < clock[2] + pad < hi:
            lo = clock[2] + pad
        if disc is not None and lo < disc[0] - pad < hi:
            hi = disc[0] - pad
        fitted = _fit_text(text, font, hi - lo)
        row = top
        if fitted != text and (clock is not None or disc is not None):  # more room on the row below
            wide = _fit_text(text, font, w - 2 * pad)
            if len(wide) > len(fitted):
                lo, hi, fitted = x0 + pad, x0 + w - pad, wide
                row = top + max(line, (disc[3] - top) if disc is not None else 0) + 2
        width = font.getlength(fitted)
        left = (lo + hi) / 2 - width / 2
        out.append(((left, row, left + width, row + line), fitted))
    return out, clock, disc


@dataclass
class YUV420Frame:
    """A frame as the three 8-bit planes of yuv420p (BT.601, limited range), ready for the encoder.

    Attributes:
        y: luma, mode ``"L"``, the picture's size (W, H).
        cb: blue-difference chroma, mode ``"L"``, (W / 2, H / 2).
        cr: red-difference chroma, mode ``"L"``, (W / 2, H / 2).
    """

    y: Image.Image
    cb: Image.Image
    cr: Image.Image

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the picture."""
        return self.y.size

    def tobytes(self) -> bytes:
        """The raw yuv420p frame: the Y plane, then Cb, then Cr, rows top to bottom."""
        return b"".join((self.y.tobytes(), self.cb.tobytes(), self.cr.tobytes()))

    def to_rgb(self) -> Image.Image:
        """The frame as RGB (chroma repeated over 2x2 pixels), as a player shows it; for looking and tests."""
        y = np.asarray(self.y, np.float64)
        c = np.stack([np.asarray(self.cb, np.float64), np.asarray(self.cr, np.float64)], axis=-1)
        c = c.repeat(2, axis=0).repeat(2, axis=1)[: y.shape[0], : y.shape[1]]
        rgb = style.rgb_from_ycbcr(np.concatenate([y[..., None], c], axis=-1))
        return Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))


@dataclass(frozen=True)
class _Plane:
    """One image a frame is drawn into.

    Attributes:
        mode: Pillow mode: ``"RGB"``, or ``"L"`` for one Y'CbCr channel.
        scale: drawn this many times larger than the output picture (supersampling).
        div: the finished plane is the picture's size divided by this (2 for 4:2:0 chroma).
        channel: the Y'CbCr channel an ``"L"`` plane holds (0 Y, 1 Cb, 2 Cr); None for RGB.
        ground: whether a moving floor and grid are drawn into this plane every frame. Chroma planes
            leave them out: their colours sit within 1-3 chroma levels of the background's (the grid,
            one pixel wide, within 5), which nobody can see, and without them only the dancer's box
            changes in a chroma plane from frame to frame (see :class:`Painter`).
    """

    mode: str
    scale: int
    div: int
    channel: int | None
    ground: bool = True

    def ink(self, rgb) -> int | tuple[int, int, int]:
        """Fill value of an RGB colour in this plane (what ImageDraw takes as ``fill``)."""
        if self.channel is None:
            return tuple(int(v) for v in rgb)
        return int(np.clip(np.rint(style.ycbcr(rgb)[self.channel]), 0, 255))

    def inks(self) -> tuple[list, list[int]]:
        """Fill values of :data:`~choreo.render.style.COLOURS` in this plane: for ImageDraw, and for its core."""
        fills = [self.ink(c) for c in style.COLOURS.values()]
        core = _core(Image.new(self.mode, (1, 1)))
        return fills, [core.draw_ink(f) for f in fills]

    def ramp(self, h: int) -> np.ndarray:
        """(h * scale, C) uint8 rows of the background's vertical gradient in this plane."""
        top, bot = np.array(style.BACKGROUND_TOP, float), np.array(style.BACKGROUND_BOTTOM, float)
        t = np.linspace(0.0, 1.0, h * self.scale)[:, None]
        rows = top * (1 - t) + bot * t
        if self.channel is not None:
            rows = style.ycbcr(rows)[:, self.channel : self.channel + 1]
        return np.clip(np.rint(rows), 0, 255).astype(np.uint8)

    def transforms(self, origin: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, np.ndarray]:
        """Offsets added to points (x, y) and to segments or boxes (x0, y0, x1, y1) once scaled, so that
        ``origin`` (output pixels, panel-local) lands on the image's top-left corner."""
        pt = -np.array(origin, np.float64) * self.scale
        return pt, np.concatenate([pt, pt])


def _planes(pix_fmt: str) -> tuple[_Plane, ...]:
    ss = style.SUPERSAMPLE
    if pix_fmt == "rgb24":
        return (_Plane("RGB", ss, 1, None),)
    if pix_fmt == "yuv420p":
        cs = CHROMA_SCALE
        return (_Plane("L", ss, 1, 0), _Plane("L", cs, 2, 1, False), _Plane("L", cs, 2, 2, False))
    raise ValueError(f"unknown pixel format {pix_fmt!r}: use one of {', '.join(PIX_FMTS)}")


class _Geometry:
    """Everything one panel draws, for every frame, in the panel's own output pixels (x right, y down).

    Computed once for all frames with numpy (projection, near and edge clipping, depth sorting, widths,
    colours), so per frame only slices are scaled and handed to Pillow.
    """

    def __init__(self, panel: Panel, moving_ground: bool):
        self.panel = panel
        x0, y0, w, h = panel.camera.panel
        self.origin = np.array([x0, y0], np.float64)
        self.w, self.h = w, h
        bones = panel.bones
        # bones far to near, each with the colour of its second end's side
        pix = self.local(panel.pixels)
        segs = np.concatenate([pix[:, bones[:, 0]], pix[:, bones[:, 1]]], axis=-1)  # (N, B, 4)
        order = panel.bone_order
        self.bone_segs = np.take_along_axis(segs, order[..., None], axis=1)
        self.bone_width = np.take_along_axis(panel.bone_width, order, axis=1)
        self.bone_key = _SIDE_KEYS[panel.sides[bones[:, 1]] + 1][order]
        # joint discs far to near; feet on the ground larger and in the contact colour
        jorder = np.argsort(-panel.depth, axis=1, kind="stable")
        contact = np.zeros(panel.depth.shape, bool)
        contact[:, panel.contact_joints] = panel.contacts
        radius = np.where(contact, panel.joint_radius * (CONTACT_RADIUS / JOINT_RADIUS), panel.joint_radius)
        radius = np.maximum(radius, 1.5)
        key = np.where(contact, _KEYS["contact"], _SIDE_KEYS[panel.sides + 1][None, :])
        centre = np.take_along_axis(pix, jorder[..., None], axis=1)
        r = np.take_along_axis(radius, jorder, axis=1)[..., None]
        self.joint_boxes = np.concatenate([centre - r, centre + r], axis=-1)  # (N, J, 4)
        self.joint_key = np.take_along_axis(key, jorder, axis=1)
        # shadows on the floor (3D only)
        self.shadow_segs = self.shadow_width = self.foot_polys = None
        if panel.shadow_pixels is not None:
            sh = self.local(panel.shadow_pixels)
            self.shadow_segs = np.concatenate([sh[:, bones[:, 0]], sh[:, bones[:, 1]]], axis=-1)
            self.shadow_width = panel.bone_width
        if panel.foot_shadows is not None:
            self.foot_polys = self.local(panel.foot_shadows)  # (N, F, K, 2)
        self.extent = self._extent()
        # the ground, per frame when the camera moves
        self.floor_polys: list[np.ndarray | None] | None = None
        self.grid_segs: np.ndarray | None = None
        self.grid_keep: np.ndarray | None = None
        self.line_y: np.ndarray | None = None
        if moving_ground:
            self._ground(slice(None))

    def _extent(self) -> np.ndarray:
        """(N, 4) x0, y0, x1, y1 around everything the dancer draws (bones, discs, shadows), per frame."""
        parts = [self.joint_boxes]
        for segs, width in ((self.bone_segs, self.bone_width), (self.shadow_segs, self.shadow_width)):
            if segs is not None:
                half = width[..., None] / 2.0
                lo = np.minimum(segs[..., :2], segs[..., 2:]) - half
                hi = np.maximum(segs[..., :2], segs[..., 2:]) + half
                parts.append(np.concatenate([lo, hi], axis=-1))
        if self.foot_polys is not None:
            parts.append(np.concatenate([self.foot_polys.min(axis=2), self.foot_polys.max(axis=2)], axis=-1))
        boxes = np.concatenate(parts, axis=1)  # (N, M, 4)
        lo = boxes[..., :2].min(axis=1) - _BOX_MARGIN
        hi = boxes[..., 2:].max(axis=1) + _BOX_MARGIN
        return np.concatenate([lo, hi], axis=-1)

    def box(self, i: int, f: int) -> tuple[int, int, int, int] | None:
        """Panel-local pixel box (x0, y0, x1, y1) holding the dancer at frame ``i``, corners on multiples
        of ``f`` and inside the panel; None when nothing of the dancer is in the panel."""
        x0, y0, x1, y1 = self.extent[i]
        bx0 = max(0, int(np.floor(x0 / f)) * f)
        by0 = max(0, int(np.floor(y0 / f)) * f)
        bx1 = min(self.w, int(np.ceil(x1 / f)) * f)
        by1 = min(self.h, int(np.ceil(y1 / f)) * f)
        if bx1 <= bx0 or by1 <= by0:
            return None
        return bx0, by0, bx1, by1

    def local(self, pix: np.ndarray) -> np.ndarray:
        """Output pixels (..., 2) -> panel-local pixels, kept within Pillow's integer range."""
        return np.clip(pix - self.origin, -_FAR, _FAR)

    def _ground(self, frames: slice | np.ndarray) -> None:
        """Floor polygon and grid segments (or the 2D ground line) at the given frames, all at once."""
        panel = self.panel
        cam = panel.camera
        if panel.dim == 2:
            n = cam.n_frames if isinstance(frames, slice) else len(frames)
            pts = np.broadcast_to(np.array([[0.0, panel.floor]]), (n, 1, 2))
            self.line_y = self.local(cam.project(pts, frames)[0])[:, 0, 1]
            return
        quad = cam.to_camera(panel.floor_quad[None], frames)  # (N, 4, 3)
        polys: list[np.ndarray | None] = []
        quad_pix = self.local(cam.camera_to_pixels(quad))
        for q, qp in zip(quad, quad_pix, strict=True):
            if np.all(q[:, 2] >= NEAR):
                polys.append(qp)
                continue
            clipped = clip_near(q)  # rare: only when the camera is over the floor's edge
            polys.append(self.local(cam.camera_to_pixels(clipped)) if len(clipped) >= 3 else None)
        self.floor_polys = polys
        seg = cam.to_camera(panel.grid.reshape(1, -1, 3), frames)
        seg = seg.reshape(len(seg), -1, 2, 3)  # (N, L, 2, 3)
        a, b, keep = clip_segments_near(seg[:, :, 0], seg[:, :, 1])
        pa, pb = self.local(cam.camera_to_pixels(a)), self.local(cam.camera_to_pixels(b))
        pa, pb, keep2 = clip_segments_rect(pa, pb, (-1, -1, self.w + 1, self.h + 1))
        self.grid_segs = np.concatenate([pa, pb], axis=-1)  # (N, L, 4)
        self.grid_keep = keep & keep2

    def ground_at(self, i: int) -> _Geometry:
        """A copy of this geometry whose ground holds frame ``i`` (for drawing it once into the background)."""
        g = object.__new__(_Geometry)
        g.__dict__.update(self.__dict__)
        g._ground(np.array([i]))
        return g


def _core(im: Image.Image) -> Any:
    """Pillow's core drawing object for ``im``: what ImageDraw's methods call after resolving the colour.

    ImageDraw converts the fill colour on every call, which is a third of the time of drawing a bone;
    the painter resolves its colours once per plane (:meth:`_Plane.inks`) and calls the core directly.
    """
    return ImageDraw.Draw(im).draw


def _draw_ground(core: Any, geo: _Geometry, i: int, plane: _Plane, inks: list[int]) -> None:
    """Floor and grid of frame ``i`` (row ``i`` of the geometry's ground arrays) into ``plane``."""
    s = plane.scale
    grid = inks[_KEYS["grid"]]
    if geo.line_y is not None:
        y = float(geo.line_y[i]) * s
        core.draw_lines(((0, y), (geo.w * s, y)), grid, s)
        return
    if geo.floor_polys is None:
        return
    pt, seg = plane.transforms()
    poly = geo.floor_polys[i]
    if poly is not None:
        core.draw_polygon((poly * s + pt).ravel().tolist(), inks[_KEYS["floor"]], 1)
    line = core.draw_lines
    for xy in (geo.grid_segs[i][geo.grid_keep[i]] * s + seg).tolist():
        line(xy, grid, s)


def _widths(w: np.ndarray, s: int) -> list[int]:
    """Line widths at scale ``s``, whole pixels and at least one (as ImageDraw takes them)."""
    return np.maximum(1, np.rint(w * s)).astype(int).tolist()


def _draw_dancer(
    core: Any, geo: _Geometry, i: int, plane: _Plane, inks: list[int], origin: tuple[int, int] = (0, 0)
) -> None:
    """The skeleton's shadow, foot shadows, bones and joint discs of frame ``i`` into ``plane``, with the
    panel-local point ``origin`` at the image's top-left corner."""
    s = plane.scale
    pt, seg = plane.transforms(origin)
    line, shadow = core.draw_lines, inks[_KEYS["shadow"]]
    if geo.shadow_segs is not None:
        for xy, w in zip((geo.shadow_segs[i] * s + seg).tolist(), _widths(geo.shadow_width[i], s), strict=True):
            line(xy, shadow, w)
    if geo.foot_polys is not None:
        polys = geo.foot_polys[i] * s + pt
        for xy in polys.reshape(len(polys), -1).tolist():
            core.draw_polygon(xy, shadow, 1)
    keys = geo.bone_key[i].tolist()
    for xy, w, k in zip((geo.bone_segs[i] * s + seg).tolist(), _widths(geo.bone_width[i], s), keys, strict=True):
        line(xy, inks[k], w)
    ellipse = core.draw_ellipse
    for box, k in zip((geo.joint_boxes[i] * s + seg).tolist(), geo.joint_key[i].tolist(), strict=True):
        ellipse(box, inks[k], 1)


class Painter:
    """Draws the frames of a scene.

    A plane whose only moving content is the dancer (chroma planes, and every plane under a fixed
    camera) is not redrawn whole each frame: the finished background is copied and only the box around
    the dancer is drawn, supersampled, box-filtered and pasted in.

    Args:
        scene: the projected dancers.
        beats: (B,) beat times in seconds from the start of the dance, or None for no beat markers.
        show_time: print the time (seconds) in the top-left corner.
        pix_fmt: ``"rgb24"``: :meth:`frame` gives RGB images; ``"yuv420p"``: it gives
            :class:`YUV420Frame` (the picture needs even width and height).
    """

    def __init__(self, scene: Scene, beats: np.ndarray | None = None, show_time: bool = False, pix_fmt: str = "rgb24"):
        self.scene = scene
        self.pix_fmt = pix_fmt
        self.planes = _planes(pix_fmt)
        W, H = scene.size
        if pix_fmt == "yuv420p" and (W % 2 or H % 2):
            raise ValueError(f"yuv420p needs an even width and height, got {W}x{H}")
        self.ss = style.SUPERSAMPLE
        self.beats = None if beats is None else np.sort(np.asarray(beats, np.float64))
        self.show_time = show_time
        self.font = _font(max(10, H // 22))
        self.labels, _, _ = overlay_layout(
            (W, H),
            [(p.camera.panel[0], p.camera.panel[2]) for p in scene.panels],
            [p.label for p in scene.panels],
            self.font,
            show_time,
            self.beats is not None,
        )
        self.fills, self.inks = zip(*(p.inks() for p in self.planes), strict=True)
        moving = scene.camera != "fixed"
        self.geometry = [_Geometry(p, moving) for p in scene.panels]
        self.overlays = len(scene.panels) > 1 or show_time or self.beats is not None
        # backgrounds[plane][panel]: the gradient, and under a fixed camera the ground of frame 0
        self.backgrounds = [[self._background(geo, k) for geo in self.geometry] for k in range(len(self.planes))]
        # Planes redrawn whole each frame draw the moving ground; the others copy a finished background
        # (at the size overlays are drawn at, else at the plane's own) and redraw the dancer's box, which
        # needs every panel's corners on that size's pixels.
        self.ground = [moving and p.ground for p in self.planes]
        self.statics: list[Image.Image | None] = []
        for k, plane in enumerate(self.planes):
            f = self._div(plane)
            aligned = all(v % f == 0 for geo in self.geometry for v in geo.panel.camera.panel)
            self.statics.append(None if self.ground[k] or not aligned else self._compose(k, f))

    def _div(self, plane: _Plane) -> int:
        """The plane is drawn to the output size divided by this before overlays (1) or at once (div)."""
        return 1 if self.overlays else plane.div

    # -- static parts ---------------------------------------------------------------------------------
    def _background(self, geo: _Geometry, k: int) -> Image.Image:
        plane = self.planes[k]
        s = plane.scale
        rows = plane.ramp(geo.h)
        arr = np.ascontiguousarray(np.broadcast_to(rows[:, None, :], (geo.h * s, geo.w * s, rows.shape[1])))
        im = Image.fromarray(arr[..., 0] if plane.mode == "L" else arr, plane.mode)
        if self.scene.camera == "fixed":
            _draw_ground(_core(im), geo.ground_at(0), 0, plane, self.inks[k])
        return im

    def _compose(self, k: int, f: int) -> Image.Image:
        """Plane ``k``'s backgrounds of all panels side by side, box-filtered to the output size / ``f``."""
        s = self.planes[k].scale
        W, H = self.scene.size
        canvas = Image.new(self.planes[k].mode, (W * s, H * s))
        for geo, bg in zip(self.geometry, self.backgrounds[k], strict=True):
            canvas.paste(bg, (geo.panel.camera.panel[0] * s, geo.panel.camera.panel[1] * s))
        return canvas.reduce(s * f) if s * f > 1 else canvas

    # -- per-frame parts ------------------------------------------------------------------------------
    def _overlay(self, im: Image.Image, i: int, inks: list) -> None:
        """Labels, divider, time and beat markers of frame ``i``, on an image at the output size."""
        scene = self.scene
        W, H = scene.size
        t = i / scene.fps
        draw = ImageDraw.Draw(im)
        if len(scene.panels) > 1:
            for box, text in self.labels:
                if text:
                    draw.text(
                        ((box[0] + box[2]) / 2, box[1]), text, fill=inks[_KEYS["text"]], font=self.font, anchor="mt"
                    )
            for p in scene.panels[1:]:
                x0 = p.camera.panel[0]
                draw.line((x0, 0, x0, H), fill=inks[_KEYS["divider"]], width=1)
        if self.show_time:
            draw.text((8, 6), f"{t:6.2f} s", fill=inks[_KEYS["text"]], font=self.font)
        if self.beats is not None:
            self._beat_markers(draw, t, inks)

    def _beat_markers(self, draw: ImageDraw.ImageDraw, t: float, inks: list) -> None:
        W, H = self.scene.size
        beats = self.beats
        y = H - max(6, H // 24)
        tick = max(3, H // 40)
        per_s = W / (2 * BEAT_WINDOW_S)
        divider, beat, text = inks[_KEYS["divider"]], inks[_KEYS["beat"]], inks[_KEYS["text"]]
        draw.line((0, y, W, y), fill=divider, width=1)
        lo, hi = np.searchsorted(beats, [t - BEAT_WINDOW_S, t + BEAT_WINDOW_S])
        for b in beats[lo:hi]:
            x = W / 2 + (b - t) * per_s
            draw.line((x, y - tick, x, y + tick), fill=beat, width=2)
        draw.line((W / 2, y - 2 * tick, W / 2, y + 2 * tick), fill=text, width=1)
        k = np.searchsorted(beats, t + 1e-9) - 1
        lit = k >= 0 and t - beats[k] < BEAT_FLASH_S
        cx, cy = beat_marker_centre((W, H))
        r = max(4, H // 30)
        if lit:
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=beat)
        else:
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=divider, width=1)

    def _whole(self, k: int, i: int, f: int) -> Image.Image:
        """Plane ``k`` of frame ``i`` drawn whole (ground included when it moves), at the output size / ``f``."""
        plane, inks = self.planes[k], self.inks[k]
        s = plane.scale
        canvas = None
        if len(self.geometry) > 1:
            W, H = self.scene.size
            canvas = Image.new(plane.mode, (W * s, H * s))
        for geo, bg in zip(self.geometry, self.backgrounds[k], strict=True):
            im = bg.copy()
            core = _core(im)
            if self.ground[k]:
                _draw_ground(core, geo, i, plane, inks)
            _draw_dancer(core, geo, i, plane, inks)
            if canvas is None:
                canvas = im
            else:
                x0, y0, _, _ = geo.panel.camera.panel
                canvas.paste(im, (x0 * s, y0 * s))
        return canvas.reduce(s * f) if s * f > 1 else canvas

    def _boxed(self, k: int, i: int, f: int) -> Image.Image:
        """Plane ``k`` of frame ``i`` as the finished background with the dancers' boxes redrawn."""
        plane, inks = self.planes[k], self.inks[k]
        s = plane.scale
        out = self.statics[k].copy()
        for geo, bg in zip(self.geometry, self.backgrounds[k], strict=True):
            box = geo.box(i, f)
            if box is None:
                continue
            bx0, by0, bx1, by1 = box
            im = bg.crop((bx0 * s, by0 * s, bx1 * s, by1 * s))
            _draw_dancer(_core(im), geo, i, plane, inks, (bx0, by0))
            x0, y0, _, _ = geo.panel.camera.panel
            out.paste(im.reduce(s * f) if s * f > 1 else im, ((x0 + bx0) // f, (y0 + by0) // f))
        return out

    def _plane(self, k: int, i: int) -> Image.Image:
        """Plane ``k`` of frame ``i``, finished (at the output size divided by the plane's ``div``)."""
        plane = self.planes[k]
        f = self._div(plane)
        out = self._whole(k, i, f) if self.statics[k] is None else self._boxed(k, i, f)
        if not self.overlays:
            return out
        self._overlay(out, i, self.fills[k])
        return out.reduce(plane.div) if plane.div > 1 else out

    def frame(self, i: int) -> Image.Image | YUV420Frame:
        """The i-th rendered frame: an RGB image (``pix_fmt="rgb24"``) or a :class:`YUV420Frame`."""
        if self.pix_fmt == "rgb24":
            return self._plane(0, i)
        return YUV420Frame(*(self._plane(k, i) for k in range(len(self.planes))))
