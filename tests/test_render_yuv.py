"""The fast MP4 path: frames drawn straight in yuv420p, dancer boxes redrawn over finished backgrounds."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from choreo.render import render, style
from choreo.render.camera import gaussian_smooth, joint_pixels
from choreo.render.draw import Painter, YUV420Frame
from choreo.render.scene import build_scene
from choreo.render.synthetic import demo_dance
from choreo.render.writers import ffmpeg_exe, read_mp4_frames, write_mp4


def _scenes():
    """(name, scene, painter keyword arguments) for each layout the painter draws differently."""
    from test_render_camera import _body25_motion

    a, b = demo_dance(1.0, 30.0), demo_dance(1.0, 30.0, radius=0.3)
    return [
        ("follow", build_scene(a, size=(320, 240)), {}),
        ("fixed", build_scene(a, size=(320, 240), camera="fixed"), {}),
        ("compare+overlays", build_scene(a, size=(320, 120), compare=b), {"beats": [0.2, 0.6], "show_time": True}),
        # panels 161 pixels wide: the second panel's chroma starts half way through a chroma sample
        ("compare odd halves", build_scene(a, size=(322, 120), compare=b, camera="fixed"), {}),
        ("flat 2D", build_scene(_body25_motion(), size=(160, 120)), {}),
    ]


@pytest.mark.parametrize("case", range(5))
def test_yuv_frames_show_the_rgb_picture(case):
    name, scene, kw = _scenes()[case]
    rgb = Painter(scene, **kw)
    yuv = Painter(scene, pix_fmt="yuv420p", **kw)
    W, H = scene.size
    for i in (0, 17, scene.n_frames - 1):
        f = yuv.frame(i)
        assert isinstance(f, YUV420Frame) and f.size == (W, H)
        assert f.cb.size == f.cr.size == (W // 2, H // 2)
        assert len(f.tobytes()) == W * H * 3 // 2
        a = np.asarray(rgb.frame(i), float)
        b = np.asarray(f.to_rgb(), float)
        # rounding moves flat colours by a level; 4:2:0 blurs colour edges (chroma repeated over 2x2 pixels
        # here, where players interpolate) and the floor's chroma is the backdrop's: nowhere a big change
        d = np.abs(a - b).max(axis=-1)
        assert d.mean() < 3.0, name
        assert np.percentile(d, 95) < 8.0, name
        # joint discs keep their colours
        panel = scene.panels[0]
        px = panel.pixels[i, : panel.n_joints]
        inside = np.all((px >= 0) & (px < [W, H]), axis=1)
        hits = [np.abs(b[int(y), int(x)] - a[int(y), int(x)]).max() < 30 for x, y in px[inside]]
        assert np.mean(hits) >= 0.9, name


@pytest.mark.parametrize("pix_fmt", ["rgb24", "yuv420p"])
@pytest.mark.parametrize("case", range(5))
def test_redrawing_only_the_dancer_box_gives_the_whole_picture(case, pix_fmt):
    name, scene, kw = _scenes()[case]
    boxed = Painter(scene, pix_fmt=pix_fmt, **kw)
    if all(s is None for s in boxed.statics):
        assert pix_fmt == "rgb24" and scene.camera == "follow"  # the moving ground is redrawn whole
        return
    assert boxed.statics[-1] is not None, name  # chroma planes (and everything under a fixed camera)
    whole = Painter(scene, pix_fmt=pix_fmt, **kw)
    whole.statics = [None] * len(whole.planes)  # every plane drawn whole, as without the box shortcut
    for i in range(0, scene.n_frames, 7):
        a, b = boxed.frame(i), whole.frame(i)
        if pix_fmt == "rgb24":
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)
        else:
            assert a.tobytes() == b.tobytes(), name


def test_mp4_is_tagged_bt601_and_decodes_to_the_drawn_picture(tmp_path):
    m = demo_dance(1.0, 30.0)
    out = tmp_path / "d.mp4"
    render(m, out, size=(320, 240))
    text = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    assert "yuv420p(tv, smpte170m" in text
    frames, _ = read_mp4_frames(out)
    rgb = Painter(build_scene(m, size=(320, 240)))
    for i in (0, 15, 29):
        d = np.abs(frames[i].astype(float) - np.asarray(rgb.frame(i), float)).max(axis=-1)
        assert d.mean() < 4.0
        px = joint_pixels(m, i, size=(320, 240))
        sides = style.joint_sides(m.skeleton)
        colours = np.array(style.SIDE_COLOURS)[sides + 1]
        own = [np.linalg.norm(frames[i, int(y), int(x)] - c) < 45 for (x, y), c in zip(px, colours, strict=True)]
        assert np.mean(own) >= 0.85


def test_yuv_needs_even_sizes_and_known_formats(tmp_path):
    scene = build_scene(demo_dance(0.2, 30.0), size=(321, 241), fmt="gif")
    with pytest.raises(ValueError, match="even"):
        Painter(scene, pix_fmt="yuv420p")
    with pytest.raises(ValueError, match="pixel format"):
        Painter(scene, pix_fmt="rgba")
    with pytest.raises(ValueError, match="pixel format"):
        write_mp4([], tmp_path / "x.mp4", (16, 16), 30.0, 0.0, pix_fmt="nv12")


def test_colour_conversion_round_trips_and_matches_bt601():
    rgb = np.array([style.LEFT, style.RIGHT, style.CONTACT, (0, 0, 0), (255, 255, 255)], float)
    ycc = style.ycbcr(rgb)
    np.testing.assert_allclose(ycc[3], [16, 128, 128])
    np.testing.assert_allclose(ycc[4], [235, 128, 128])
    np.testing.assert_allclose(style.rgb_from_ycbcr(ycc), rgb, atol=1e-9)


@pytest.mark.parametrize(("T", "sigma"), [(600, 22.5), (5, 22.5), (40, 0.3)])
def test_gaussian_smooth_is_scipys(T, sigma):
    x = np.random.default_rng(0).normal(size=(T, 3))
    np.testing.assert_allclose(gaussian_smooth(x, sigma), gaussian_filter1d(x, sigma, axis=0, mode="nearest"))
