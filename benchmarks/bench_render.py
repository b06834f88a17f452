"""Rendering speed: ``choreo.render.render`` against the previous implementation and a matplotlib baseline.

Two modes, each writing 640x480 H.264 MP4s of the same dance with the same song muxed in (AAC):

``--vs-previous`` (issue 15's check: at least 10x real time on 2 CPU cores)
    times the whole ``render()`` call (scene, drawing, encoding, audio, mux) and, in the same run, the
    previous implementation: :class:`_PreviousPainter` below (a copy of the old drawing path: RGB drawn
    at 2x with ImageDraw, box-filtered with ``reduce``, numpy per frame) piped to ffmpeg as rgb24 and
    encoded with ``-preset veryfast -crf 20``. The two alternate ``--repeat`` times; it prints wall and
    CPU seconds (Python plus ffmpeg) of every run, the best and the spread, seconds per second of dance,
    the ratio to real time and the file sizes. Other people's work on the same cores makes wall times
    jump by 2x from run to run: the CPU seconds say what each costs, the best wall time what it takes
    when the cores are free. ``--cli`` also times ``choreo render`` as a new process (start-up included).
    Pin it like the 2-core target with ``taskset -c 0,1``.

default: matplotlib
    the same dance through a matplotlib ``Axes3D`` that is cleared and replotted every frame (bones,
    joints, follow limits), canvas grabbed as RGB and encoded by the same writer. It runs at a few frames
    per second, so by default only its first 300 frames are timed and its total extrapolated
    (``--baseline-frames 0`` times all of it).

Usage:
    .venv/bin/python benchmarks/bench_render.py --vs-previous              # 60 s synthetic dance, Vibe Ace
    .venv/bin/python benchmarks/bench_render.py --vs-previous --repeat 5 --cli
    .venv/bin/python benchmarks/bench_render.py --motion ../shared/data/dance_with_melody/DANCE_W_1
    .venv/bin/python benchmarks/bench_render.py --baseline-frames 0    # the whole matplotlib baseline (minutes)
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SONG = REPO.parent / "shared" / "data" / "cc_music" / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg"
#: the previous implementation's libx264 settings
PREVIOUS_X264_ARGS = ("-preset", "veryfast", "-crf", "20")


def baseline_frames(motion, size=(640, 480), limit: int | None = None):
    """Yield RGB bytes of matplotlib Axes3D frames, replotted from scratch each frame (the usual way)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from choreo.render import style

    pos = motion.joint_positions()
    skel = motion.skeleton
    sides = style.joint_sides(skel)
    bones = style.bones(skel)
    colours = [np.array(c) / 255 for c in style.SIDE_COLOURS]
    dpi = 100
    fig = plt.figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    ax = fig.add_subplot(projection="3d")
    floor = pos[..., 1].min()
    n = len(pos) if limit is None else min(limit, len(pos))
    try:
        for t in range(n):
            ax.cla()
            p = pos[t]
            cx, cz = p[:, 0].mean(), p[:, 2].mean()
            # matplotlib's z is up: plot (x, z, y)
            for a, b in bones:
                ax.plot([p[a, 0], p[b, 0]], [p[a, 2], p[b, 2]], [p[a, 1], p[b, 1]], color=colours[sides[b] + 1], lw=3)
            ax.scatter(p[:, 0], p[:, 2], p[:, 1], color=[colours[s + 1] for s in sides], s=12, depthshade=False)
            ax.set_xlim(cx - 1, cx + 1)
            ax.set_ylim(cz - 1, cz + 1)
            ax.set_zlim(floor, floor + 2)
            ax.view_init(elev=14, azim=-65)
            fig.canvas.draw()
            yield np.asarray(fig.canvas.buffer_rgba())[..., :3].tobytes()
    finally:
        plt.close(fig)


class _PreviousPainter:
    """The drawing path choreo had before issue 15, kept here only as the benchmark's baseline.

    Each frame: copy the 2x RGB background, project and clip the floor and grid with numpy, draw ~100
    shapes with ImageDraw, ``reduce(2)``; ffmpeg then converts the RGB to yuv420p. (The overlays, which
    the benchmark does not draw, are left out.)
    """

    def __init__(self, scene):
        from choreo.render import style

        self.style = style
        self.scene = scene
        self.ss = style.SUPERSAMPLE
        self.backgrounds = [self._panel_background(p) for p in scene.panels]

    def _panel_background(self, panel) -> Image.Image:
        st, ss = self.style, self.ss
        _, _, w, h = panel.camera.panel
        top, bot = np.array(st.BACKGROUND_TOP, float), np.array(st.BACKGROUND_BOTTOM, float)
        ramp = np.linspace(0.0, 1.0, h * ss)[:, None]
        rows = (top * (1 - ramp) + bot * ramp).round().astype(np.uint8)
        im = Image.fromarray(np.ascontiguousarray(np.broadcast_to(rows[:, None, :], (h * ss, w * ss, 3))))
        if self.scene.camera == "fixed":
            self._ground(ImageDraw.Draw(im), panel, 0)
        return im

    def _xy(self, panel, pix: np.ndarray) -> np.ndarray:
        x0, y0, _, _ = panel.camera.panel
        return np.clip((pix - np.array([x0, y0])) * self.ss, -1.0e5, 1.0e5)

    def _ground(self, draw, panel, i: int) -> None:
        from choreo.render.draw import clip_near, clip_segments_near, clip_segments_rect

        st, ss = self.style, self.ss
        _, _, w, h = panel.camera.panel
        if panel.dim == 2:
            y = self._xy(panel, panel.camera.project(np.array([[0.0, panel.floor]]), i)[0])[0, 1]
            draw.line((0, y, w * ss, y), fill=st.GRID, width=ss)
            return
        cam = panel.camera
        quad = clip_near(cam.to_camera(panel.floor_quad, i))
        if len(quad) >= 3:
            pts = self._xy(panel, cam.camera_to_pixels(quad))
            draw.polygon([tuple(p) for p in pts], fill=st.FLOOR)
        seg = cam.to_camera(panel.grid.reshape(-1, 3), i).reshape(-1, 2, 3)
        a, b, keep = clip_segments_near(seg[:, 0], seg[:, 1])
        pa, pb = self._xy(panel, cam.camera_to_pixels(a)), self._xy(panel, cam.camera_to_pixels(b))
        pa, pb, keep2 = clip_segments_rect(pa, pb, (-2, -2, w * ss + 2, h * ss + 2))
        for p, q in zip(pa[keep & keep2], pb[keep & keep2], strict=True):
            draw.line((p[0], p[1], q[0], q[1]), fill=st.GRID, width=ss)

    def _dancer(self, draw, panel, i: int) -> None:
        from choreo.render.scene import CONTACT_RADIUS, JOINT_RADIUS

        st, ss = self.style, self.ss
        pix = self._xy(panel, panel.pixels[i])
        width = np.maximum(1, np.round(panel.bone_width[i] * ss)).astype(int)
        if panel.shadow_pixels is not None:
            sh = self._xy(panel, panel.shadow_pixels[i])
            for b, (p, c) in enumerate(panel.bones):
                draw.line((sh[p, 0], sh[p, 1], sh[c, 0], sh[c, 1]), fill=st.SHADOW, width=int(width[b]))
        if panel.foot_shadows is not None:
            for poly in self._xy(panel, panel.foot_shadows[i]):
                draw.polygon([tuple(p) for p in poly], fill=st.SHADOW)
        for b in panel.bone_order[i]:
            p, c = panel.bones[b]
            draw.line(
                (pix[p, 0], pix[p, 1], pix[c, 0], pix[c, 1]),
                fill=st.SIDE_COLOURS[panel.sides[c] + 1],
                width=int(width[b]),
            )
        radius = panel.joint_radius[i] * ss
        contact = np.zeros(len(pix), bool)
        contact[panel.contact_joints[panel.contacts[i]]] = True
        for j in np.argsort(-panel.depth[i], kind="stable"):
            if contact[j]:
                r, colour = radius[j] * CONTACT_RADIUS / JOINT_RADIUS, st.CONTACT
            else:
                r, colour = radius[j], st.SIDE_COLOURS[panel.sides[j] + 1]
            r = max(r, 1.5 * ss)
            x, y = pix[j]
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)

    def frame(self, i: int) -> Image.Image:
        scene, ss = self.scene, self.ss
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
        return canvas.reduce(ss) if ss > 1 else canvas


def previous_render(motion, out: Path, music: Path | None, size=(640, 480)) -> int:
    """The previous ``render()`` for an MP4 (scene, song probe, drawing, rgb24 pipe, veryfast); returns frames."""
    from choreo.render.scene import build_scene
    from choreo.render.writers import probe, write_mp4

    scene = build_scene(motion, size=size)
    if music is not None:
        probe(music)
    painter = _PreviousPainter(scene)
    frames = (painter.frame(i).tobytes() for i in range(scene.n_frames))
    write_mp4(frames, out, scene.size, scene.fps, scene.duration, music, 0.0, video_args=PREVIOUS_X264_ARGS)
    return scene.n_frames


def _cpu() -> float:
    """CPU seconds so far of this process and its finished children (ffmpeg)."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def _timed(fn) -> tuple[float, float]:
    c0, t0 = _cpu(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, _cpu() - c0


def _spread(label: str, walls: list[float], cpus: list[float], seconds: float, n_frames: int, size_mb: float) -> None:
    best, med = min(walls), statistics.median(walls)
    print(
        f"{label:22s}: best {best:6.2f} s  median {med:6.2f} s  spread {min(walls):.2f}-{max(walls):.2f} s  "
        f"CPU {min(cpus):5.2f} s (best)  {n_frames / best:6.1f} frames/s  "
        f"{best / seconds:.3f} s per s of dance = {seconds / best:5.1f}x real time (median {seconds / med:.1f}x)  "
        f"{size_mb:.2f} MB"
    )


def vs_previous(motion, music: Path | None, out_dir: Path, repeat: int, cli: bool) -> None:
    """Alternate choreo's ``render()`` and the previous implementation, then summarise both."""
    from choreo.render import render

    seconds = motion.duration
    new_mp4, old_mp4 = out_dir / "choreo.mp4", out_dir / "previous.mp4"
    runs: dict[str, list[tuple[float, float]]] = {"choreo render()": [], "previous render()": [], "choreo CLI": []}
    motion_file = None
    if cli:
        from choreo.motion.formats import write_motion

        motion_file = out_dir / "dance.npz"
        write_motion(motion, motion_file)
        cmd = [sys.executable, "-m", "choreo", "render", str(motion_file), "-o", str(out_dir / "cli.mp4")]
        cmd += ["--music", str(music)] if music is not None else []
    n_frames = 0
    for k in range(repeat):
        res = None

        def ours() -> None:
            nonlocal res
            res = render(motion, new_mp4, music=music, size=(640, 480))

        def previous() -> None:
            nonlocal n_frames
            n_frames = previous_render(motion, old_mp4, music)

        line = f"run {k + 1}/{repeat}:"
        for name, fn in (("choreo render()", ours), ("previous render()", previous)):
            wall, cpu = _timed(fn)
            runs[name].append((wall, cpu))
            line += f"  {name} {wall:6.2f} s wall {cpu:5.2f} s CPU;"
        if cli:
            wall, cpu = _timed(lambda: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL))
            runs["choreo CLI"].append((wall, cpu))
            line += f"  choreo CLI {wall:6.2f} s wall {cpu:5.2f} s CPU"
        print(line, flush=True)
    print(f"\n{seconds:.1f} s of dance, {n_frames} frames at 640x480 with music (target: >= 10x real time)")
    sizes = {"choreo render()": new_mp4, "previous render()": old_mp4, "choreo CLI": out_dir / "cli.mp4"}
    for name, rs in runs.items():
        if rs:
            walls, cpus = [r[0] for r in rs], [r[1] for r in rs]
            _spread(name, walls, cpus, seconds, n_frames, sizes[name].stat().st_size / 1e6)
    ours_best = min(r[0] for r in runs["choreo render()"])
    prev_best = min(r[0] for r in runs["previous render()"])
    ours_cpu = min(r[1] for r in runs["choreo render()"])
    prev_cpu = min(r[1] for r in runs["previous render()"])
    print(
        f"speed-up over the previous implementation: {prev_best / ours_best:.2f}x wall (best of each), "
        f"{prev_cpu / ours_cpu:.2f}x CPU; load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"videos in {out_dir}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--motion", help="motion file or folder (default: a synthetic SMPL-24 dance)")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of dance to render (default 60)")
    ap.add_argument("--fps", type=float, default=30.0, help="fps of the synthetic dance (default 30)")
    ap.add_argument("--music", default=str(DEFAULT_SONG), help="song to mux in (default: cc_music Vibe Ace)")
    ap.add_argument(
        "--baseline-frames", type=int, default=300, help="baseline frames to time, total extrapolated (0: all)"
    )
    ap.add_argument("--keep", help="folder to keep the videos in")
    ap.add_argument(
        "--vs-previous", action="store_true", help="time render() against the previous implementation (issue 15)"
    )
    ap.add_argument("--repeat", type=int, default=3, help="--vs-previous: runs of each (default 3)")
    ap.add_argument("--cli", action="store_true", help="--vs-previous: also time `choreo render` as a new process")
    args = ap.parse_args(argv)

    from choreo.render import render
    from choreo.render.draw import Painter
    from choreo.render.scene import build_scene
    from choreo.render.synthetic import demo_dance
    from choreo.render.writers import write_mp4

    if args.motion:
        from choreo.motion.formats import read_motion

        motion = read_motion(args.motion)
        motion = motion.crop(0, min(motion.n_frames, int(round(args.seconds * motion.fps))))
    else:
        motion = demo_dance(args.seconds, args.fps)
    music = Path(args.music) if args.music else None
    size = (640, 480)
    out_dir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_render_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"dance: {motion.skeleton.name}, {motion.n_frames} frames at {motion.fps:g} fps = {motion.duration:.1f} s")
    print(f"music: {music.name if music else 'none'}; output 640x480 H.264 + AAC")
    if args.vs_previous:
        vs_previous(motion, music, out_dir, max(1, args.repeat), args.cli)
        return 0

    # choreo: draw-only rate, then the real thing (scene + draw + encode + audio), wall clock.
    scene = build_scene(motion, size=size)
    painter = Painter(scene, pix_fmt="yuv420p")
    k = min(300, scene.n_frames)
    t0 = time.perf_counter()
    for i in range(k):
        painter.frame(i).tobytes()
    draw_fps = k / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    res = render(motion, out_dir / "choreo.mp4", music=music, size=size)
    ours = time.perf_counter() - t0
    n = res.n_frames

    # baseline: matplotlib Axes3D through the same writer with the same song.
    n_base = n if args.baseline_frames <= 0 else min(args.baseline_frames, n)
    t0 = time.perf_counter()
    write_mp4(
        baseline_frames(motion, size, n_base), out_dir / "matplotlib.mp4", size, motion.fps, n_base / motion.fps, music
    )
    base = time.perf_counter() - t0
    base_fps = n_base / base
    base_total = base if n_base == n else n / base_fps
    note = "" if n_base == n else f" (timed {n_base} frames, total extrapolated)"

    print(
        f"choreo render      : {n / ours:7.1f} fps  total {ours:7.2f} s  (drawing alone {draw_fps:.0f} fps)  "
        f"{res.duration / ours:.1f}x real time"
    )
    print(f"matplotlib Axes3D  : {base_fps:7.1f} fps  total {base_total:7.2f} s{note}")
    share = ours / base_total
    print(f"ratio              : choreo takes {share:.3f} of the baseline's time ({1 / share:.1f}x faster)")
    print(f"videos in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
