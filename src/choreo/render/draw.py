"""Rasterise a :class:`~choreo.render.scene.Scene` frame by frame with Pillow.

Each frame is drawn :data:`~choreo.render.style.SUPERSAMPLE` times larger and box-filtered down (cheap
antialiasing). What never moves (the background, and the floor and grid under a fixed camera) is drawn
once; per frame only a few dozen lines and discs are drawn, so a 640x480 frame takes a few milliseconds.
Draw order per panel: floor, grid, the skeleton's shadow and the foot shadows, bones far to near, then
joint discs (feet in contact larger and yellow). Overlays (labels, time, beat markers) are drawn at the
output size.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from choreo.render import style
from choreo.render.camera import NEAR
from choreo.render.scene import CONTACT_RADIUS, JOINT_RADIUS, Panel, Scene

#: beats light the flash marker for this long, seconds.
BEAT_FLASH_S = 0.15
#: the beat timeline shows this many seconds either side of now.
BEAT_WINDOW_S = 2.5
# Pillow works in 32-bit ints: keep far-off projected points finite and small.
_FAR = 1.0e5


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
    """Clip segments (L, 3) in camera coordinates to depth >= NEAR; returns new ends and a keep mask."""
    za, zb = a[:, 2], b[:, 2]
    keep = (za >= NEAR) | (zb >= NEAR)
    dz = np.where(np.abs(zb - za) < 1e-12, 1e-12, zb - za)
    t = ((NEAR - za) / dz)[:, None]
    cut = a + t * (b - a)
    return np.where((za < NEAR)[:, None], cut, a), np.where((zb < NEAR)[:, None], cut, b), keep


def clip_segments_rect(p: np.ndarray, q: np.ndarray, rect) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clip 2D segments (L, 2) to rect (x0, y0, x1, y1) (Liang-Barsky); returns new ends and a keep mask."""
    d = q - p
    t0 = np.zeros(len(p))
    t1 = np.ones(len(p))
    keep = np.ones(len(p), bool)
    x0, y0, x1, y1 = rect
    for P, Q in ((-d[:, 0], p[:, 0] - x0), (d[:, 0], x1 - p[:, 0]), (-d[:, 1], p[:, 1] - y0), (d[:, 1], y1 - p[:, 1])):
        par = np.abs(P) < 1e-12
        keep &= ~(par & (Q < 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(par, 0.0, Q / np.where(par, 1.0, P))
        t0 = np.where(~par & (P < 0), np.maximum(t0, r), t0)
        t1 = np.where(~par & (P > 0), np.minimum(t1, r), t1)
    keep &= t0 <= t1
    return p + t0[:, None] * d, p + t1[:, None] * d, keep


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


class Painter:
    """Draws the frames of a scene.

    Args:
        scene: the projected dancers.
        beats: (B,) beat times in seconds from the start of the dance, or None for no beat markers.
        show_time: print the time (seconds) in the top-left corner.
    """

    def __init__(self, scene: Scene, beats: np.ndarray | None = None, show_time: bool = False):
        self.scene = scene
        self.ss = style.SUPERSAMPLE
        self.beats = None if beats is None else np.sort(np.asarray(beats, np.float64))
        self.show_time = show_time
        W, H = scene.size
        self.font = _font(max(10, H // 22))
        self.backgrounds = [self._panel_background(p) for p in scene.panels]

    # -- static parts ---------------------------------------------------------------------------------
    def _panel_background(self, panel: Panel) -> Image.Image:
        ss = self.ss
        _, _, w, h = panel.camera.panel
        top, bot = np.array(style.BACKGROUND_TOP, float), np.array(style.BACKGROUND_BOTTOM, float)
        ramp = np.linspace(0.0, 1.0, h * ss)[:, None]
        rows = (top * (1 - ramp) + bot * ramp).round().astype(np.uint8)  # (h*ss, 3)
        im = Image.fromarray(np.ascontiguousarray(np.broadcast_to(rows[:, None, :], (h * ss, w * ss, 3))))
        if self.scene.camera == "fixed":
            self._ground(ImageDraw.Draw(im), panel, 0)
        return im

    # -- per-frame parts ------------------------------------------------------------------------------
    def _xy(self, panel: Panel, pix: np.ndarray) -> np.ndarray:
        """Output pixels (..., 2) -> supersampled panel-local pixels."""
        x0, y0, _, _ = panel.camera.panel
        return np.clip((pix - np.array([x0, y0])) * self.ss, -_FAR, _FAR)

    def _ground(self, draw: ImageDraw.ImageDraw, panel: Panel, i: int) -> None:
        ss = self.ss
        _, _, w, h = panel.camera.panel
        if panel.dim == 2:
            y = self._xy(panel, panel.camera.project(np.array([[0.0, panel.floor]]), i)[0])[0, 1]
            draw.line((0, y, w * ss, y), fill=style.GRID, width=ss)
            return
        cam = panel.camera
        quad = clip_near(cam.to_camera(panel.floor_quad, i))
        if len(quad) >= 3:
            pts = self._xy(panel, cam.camera_to_pixels(quad))
            draw.polygon([tuple(p) for p in pts], fill=style.FLOOR)
        seg = cam.to_camera(panel.grid.reshape(-1, 3), i).reshape(-1, 2, 3)
        a, b, keep = clip_segments_near(seg[:, 0], seg[:, 1])
        pa, pb = self._xy(panel, cam.camera_to_pixels(a)), self._xy(panel, cam.camera_to_pixels(b))
        pa, pb, keep2 = clip_segments_rect(pa, pb, (-2, -2, w * ss + 2, h * ss + 2))
        for p, q in zip(pa[keep & keep2], pb[keep & keep2], strict=True):
            draw.line((p[0], p[1], q[0], q[1]), fill=style.GRID, width=ss)

    def _dancer(self, draw: ImageDraw.ImageDraw, panel: Panel, i: int) -> None:
        ss = self.ss
        pix = self._xy(panel, panel.pixels[i])
        width = np.maximum(1, np.round(panel.bone_width[i] * ss)).astype(int)
        if panel.shadow_pixels is not None:
            sh = self._xy(panel, panel.shadow_pixels[i])
            for b, (p, c) in enumerate(panel.bones):
                draw.line((sh[p, 0], sh[p, 1], sh[c, 0], sh[c, 1]), fill=style.SHADOW, width=int(width[b]))
        if panel.foot_shadows is not None:
            for poly in self._xy(panel, panel.foot_shadows[i]):
                draw.polygon([tuple(p) for p in poly], fill=style.SHADOW)
        for b in panel.bone_order[i]:
            p, c = panel.bones[b]
            colour = style.SIDE_COLOURS[panel.sides[c] + 1]
            draw.line((pix[p, 0], pix[p, 1], pix[c, 0], pix[c, 1]), fill=colour, width=int(width[b]))
        radius = panel.joint_radius[i] * ss
        contact = np.zeros(len(pix), bool)
        contact[panel.contact_joints[panel.contacts[i]]] = True
        for j in np.argsort(-panel.depth[i], kind="stable"):
            if contact[j]:
                r, colour = radius[j] * CONTACT_RADIUS / JOINT_RADIUS, style.CONTACT
            else:
                r, colour = radius[j], style.SIDE_COLOURS[panel.sides[j] + 1]
            r = max(r, 1.5 * ss)
            x, y = pix[j]
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)

    def _overlay(self, im: Image.Image, i: int) -> None:
        scene = self.scene
        W, H = scene.size
        t = i / scene.fps
        draw = ImageDraw.Draw(im)
        if len(scene.panels) > 1:
            for p in scene.panels:
                x0, _, w, _ = p.camera.panel
                draw.text((x0 + w / 2, 6), p.label, fill=style.TEXT, font=self.font, anchor="mt")
            for p in scene.panels[1:]:
                x0 = p.camera.panel[0]
                draw.line((x0, 0, x0, H), fill=style.DIVIDER, width=1)
        if self.show_time:
            draw.text((8, 6), f"{t:6.2f} s", fill=style.TEXT, font=self.font)
        if self.beats is not None:
            self._beat_markers(draw, t)

    def _beat_markers(self, draw: ImageDraw.ImageDraw, t: float) -> None:
        W, H = self.scene.size
        beats = self.beats
        y = H - max(6, H // 24)
        tick = max(3, H // 40)
        per_s = W / (2 * BEAT_WINDOW_S)
        draw.line((0, y, W, y), fill=style.DIVIDER, width=1)
        lo, hi = np.searchsorted(beats, [t - BEAT_WINDOW_S, t + BEAT_WINDOW_S])
        for b in beats[lo:hi]:
            x = W / 2 + (b - t) * per_s
            draw.line((x, y - tick, x, y + tick), fill=style.BEAT, width=2)
        draw.line((W / 2, y - 2 * tick, W / 2, y + 2 * tick), fill=style.TEXT, width=1)
        k = np.searchsorted(beats, t + 1e-9) - 1
        lit = k >= 0 and t - beats[k] < BEAT_FLASH_S
        cx, cy = beat_marker_centre((W, H))
        r = max(4, H // 30)
        if lit:
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=style.BEAT)
        else:
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=style.DIVIDER, width=1)

    def frame(self, i: int) -> Image.Image:
        """The i-th rendered frame, RGB at the scene's size."""
        scene = self.scene
        ss = self.ss
        W, H = scene.size
        single = len(scene.panels) == 1
        canvas = None if single else Image.new("RGB", (W * ss, H * ss))
        for panel, bg in zip(scene.panels, self.backgrounds, strict=True):
            im = bg.copy()
            draw = ImageDraw.Draw(im)
            if scene.camera != "fixed":
                self._ground(draw, panel, i)
            self._dancer(draw, panel, i)
            if single:
                canvas = im
            else:
                canvas.paste(im, (panel.camera.panel[0] * ss, panel.camera.panel[1] * ss))
        out = canvas.reduce(ss) if ss > 1 else canvas
        self._overlay(out, i)
        return out
