"""``choreo info FILE``: what a motion file holds (skeleton, frames, rate, ranges, rotations)."""

from __future__ import annotations

NAME = "info"


def add_parser(sub) -> None:
    p = sub.add_parser(
        NAME,
        help="describe a motion file: skeleton, joints, fps, frames, duration, ranges",
        description="Read a motion file or folder and print its skeleton, joint names, frame rate, frame count, "
        "duration, the range of joint positions per axis (metres, y-up) and whether it carries rotations.",
    )
    p.add_argument("motion", help="motion file or folder (any format choreo reads)")
    p.add_argument("--input-fps", type=float, default=None, metavar="F", help="frame rate if the file records none")
    p.add_argument(
        "--scale", type=float, default=None, metavar="S", help="metres per file unit (BVH, Dance with Melody)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=run)


def describe(motion) -> dict:
    """A plain-data summary of a motion (what ``choreo info`` prints)."""
    import numpy as np

    sk = motion.skeleton
    P = motion.joint_positions()
    axes = "xyz"[: sk.dim]
    feet = {
        label: sk.joint_names[j]
        for label, j in zip(("left_ankle", "left_toe", "right_ankle", "right_toe"), sk.feet, strict=True)
        if j >= 0
    }
    info = {
        "source": motion.meta.get("source"),
        "format": motion.meta.get("format"),
        "skeleton": sk.name,
        "joints": sk.n_joints,
        "joint_names": list(sk.joint_names),
        "dim": sk.dim,
        "fps": motion.fps,
        "frames": motion.n_frames,
        "duration_s": motion.duration,
        "rotations": motion.rotations is not None,
        "range": {a: [float(np.min(P[..., i])), float(np.max(P[..., i]))] for i, a in enumerate(axes)},
        "units": motion.meta.get("units", "m"),
        "feet": feet,
    }
    for key in ("audio", "audio_start", "dropped_joints", "note"):
        if key in motion.meta:
            info[key] = motion.meta[key]
    return info


def run(args) -> int:
    import json

    from choreo.motion.formats import read_motion

    motion = read_motion(args.motion, fps=args.input_fps, scale=args.scale)
    info = describe(motion)
    if args.json:
        print(json.dumps(info))
        return 0
    unit = info["units"]
    print(f"file:      {info['source']} ({info['format']})")
    print(f"skeleton:  {info['skeleton']}, {info['joints']} joints, {info['dim']}D")
    print(f"joints:    {', '.join(info['joint_names'])}")
    print(f"frames:    {info['frames']} at {info['fps']:g} fps = {info['duration_s']:.3f} s")
    print(f"rotations: {'yes (local quaternions + root)' if info['rotations'] else 'no (positions only)'}")
    for axis, (lo, hi) in info["range"].items():
        print(f"{axis} range:   {lo:.3f} .. {hi:.3f} {unit}")
    if info["feet"]:
        print(f"feet:      {', '.join(f'{k}={v}' for k, v in info['feet'].items())}")
    if "audio" in info:
        print(f"audio:     {info['audio']} from {info.get('audio_start', 0.0):.2f} s")
    for key in ("dropped_joints", "note"):
        if key in info:
            print(f"{key.replace('_', ' ')}: {info[key]}")
    return 0
