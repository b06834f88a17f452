"""``choreo render``: draw a dance as a video (MP4 with its music, or a looping GIF)."""

from __future__ import annotations

import argparse
import sys

from choreo.errors import ChoreoError

NAME = "render"


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = text.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 640x480, got {text!r}") from None


def add_parser(sub) -> None:
    p = sub.add_parser(
        NAME,
        help="draw a dance as a video: MP4 with the music, or GIF",
        description="Draw a dance as a 3D skeleton (2D keypoints flat) over a ground grid, to MP4 (H.264 + AAC) "
        "or a looping GIF. Left limbs orange, right limbs blue, feet in contact yellow.",
    )
    p.add_argument("motion", help="motion file or folder (any format choreo reads)")
    p.add_argument("-o", "--output", required=True, help="output video: OUT.mp4 or OUT.gif")
    p.add_argument(
        "--music",
        help="song to play under the dance (MP4); default: the motion's own song when it has one (Dance with Melody)",
    )
    p.add_argument("--no-music", action="store_true", help="silent video even when the motion has its own song")
    p.add_argument(
        "--start",
        type=float,
        default=None,
        metavar="S",
        help="seconds into the song where the dance starts (default 0, or the motion's own offset)",
    )
    p.add_argument("--size", type=_size, default=(640, 480), metavar="WxH", help="picture size (default 640x480)")
    p.add_argument("--fps", type=float, default=None, help="frames per second (default the motion's)")
    p.add_argument("--camera", choices=("follow", "fixed"), default="follow", help="follow the dancer or frame it all")
    p.add_argument("--compare", metavar="OTHER_MOTION", help="a second dance drawn beside the first")
    p.add_argument("--beats", action="store_true", help="mark the music's beats (needs music)")
    p.add_argument("--time", action="store_true", help="show the time in seconds")
    p.set_defaults(func=run)


def _read(path: str):
    try:
        from choreo.motion.formats import read_motion
    except ImportError:
        raise ChoreoError("reading motion files needs choreo.motion.formats, which is not installed") from None
    try:
        return read_motion(path)
    except ChoreoError as exc:
        if exc.path is None:  # e.g. the Motion refused NaN: say which file it came from
            raise ChoreoError(exc.message, path) from None
        raise


def run(args: argparse.Namespace) -> int:
    from choreo.render import render

    motion = _read(args.motion)
    compare = _read(args.compare) if args.compare else None
    music, start = args.music, args.start
    if music is None and not args.no_music and motion.meta.get("audio"):
        music = motion.meta["audio"]
        if start is None:
            start = float(motion.meta.get("audio_start", 0.0))
    if args.no_music:
        music = None
    if args.beats and music is None:
        raise ChoreoError("--beats needs music (--music SONG)")
    res = render(
        motion,
        args.output,
        music=music,
        music_start=0.0 if start is None else start,
        size=args.size,
        fps=args.fps,
        camera=args.camera,
        compare=compare,
        beats=True if args.beats else None,
        show_time=args.time,
        progress=sys.stderr.isatty(),
    )
    note = f", song padded with {res.music_padded:.2f} s of silence" if res.music_padded > 0 else ""
    w, h = res.size
    print(f"wrote {res.path} ({w}x{h}, {res.n_frames} frames at {res.fps:g} fps, {res.duration:.2f} s{note})")
    return 0
