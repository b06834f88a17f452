"""Rendering speed: ``choreo.render.render`` against a matplotlib 3D baseline, in the same run.

Both write a 640x480 H.264 MP4 of the same dance with the same song muxed in (AAC), through the same
ffmpeg writer (:func:`choreo.render.writers.write_mp4`), so the difference is the drawing: choreo
projects the skeleton itself and rasterises a few dozen lines with Pillow; the baseline clears and
replots a matplotlib ``Axes3D`` every frame (bones, joints, follow limits) and grabs the canvas.

Usage:
    .venv/bin/python benchmarks/bench_render.py                        # 60 s synthetic dance, Vibe Ace
    .venv/bin/python benchmarks/bench_render.py --motion ../shared/data/dance_with_melody/DANCE_W_1
    .venv/bin/python benchmarks/bench_render.py --baseline-frames 0    # the whole baseline (minutes)

Prints frames per second of each, their totals for the whole dance to MP4 with audio, and the ratio. The
baseline runs at a few frames per second, so by default it draws and encodes only its first 300 frames
(with their stretch of the song) and its total is extrapolated from that rate; ``--baseline-frames 0``
times all of it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SONG = REPO.parent / "shared" / "data" / "cc_music" / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg"


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--motion", help="motion file or folder (default: a synthetic SMPL-24 dance)")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of dance to render (default 60)")
    ap.add_argument("--fps", type=float, default=30.0, help="fps of the synthetic dance (default 30)")
    ap.add_argument("--music", default=str(DEFAULT_SONG), help="song to mux in (default: cc_music Vibe Ace)")
    ap.add_argument(
        "--baseline-frames", type=int, default=300, help="baseline frames to time, total extrapolated (0: all)"
    )
    ap.add_argument("--keep", help="folder to keep both videos in")
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
    print(f"music: {music.name if music else 'none'}; output 640x480 H.264 + AAC, libx264 veryfast")

    # choreo: draw-only rate, then the real thing (scene + draw + encode + audio), wall clock.
    scene = build_scene(motion, size=size)
    painter = Painter(scene)
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

    print(f"choreo render      : {n / ours:7.1f} fps  total {ours:7.2f} s  (drawing alone {draw_fps:.0f} fps)")
    print(f"matplotlib Axes3D  : {base_fps:7.1f} fps  total {base_total:7.2f} s{note}")
    share = ours / base_total
    print(f"ratio              : choreo takes {share:.3f} of the baseline's time ({1 / share:.1f}x faster)")
    print(f"videos in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
