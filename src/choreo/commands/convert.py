"""``choreo convert IN OUT``: turn one motion format into another (npz, AIST++ pkl, BVH, GLB out)."""

from __future__ import annotations

NAME = "convert"


def add_parser(sub) -> None:
    p = sub.add_parser(
        NAME,
        help="convert a motion file: BVH, GLB, AIST++/EDGE pkl, Dance with Melody, OpenPose JSON -> npz, pkl, BVH, GLB",
        description="Read a motion (format from the extension, or a Dance with Melody / OpenPose JSON folder) and "
        "write it as .npz (choreo), .pkl (AIST++ SMPL layout), .bvh (centimetres, opens in Blender) or .glb "
        "(glTF 2.0: a skinned skeleton with its animation, for Blender, three.js and glTF viewers). "
        "Positions-only motions are turned into joint rotations for BVH by inverse kinematics; a .pkl of another "
        "skeleton than SMPL-24 is mapped onto SMPL-24 by joint roles.",
    )
    p.add_argument("input", help="motion file or folder")
    p.add_argument("output", help="output file: .npz, .pkl, .bvh or .glb")
    p.add_argument("--start", type=float, default=0.0, metavar="S", help="seconds into the motion to start from")
    p.add_argument("--seconds", type=float, metavar="S", help="keep this many seconds (default: to the end)")
    p.add_argument("--fps", type=float, default=None, metavar="N", help="resample the output to N frames per second")
    p.add_argument(
        "--input-fps",
        type=float,
        default=None,
        metavar="F",
        help="frame rate of an input that does not record one (OpenPose JSON: default 30; AIST++ pkl: 60)",
    )
    p.add_argument(
        "--scale",
        type=float,
        default=None,
        metavar="S",
        help="metres per input unit (BVH: detected, cm or m; Dance with Melody: 0.01)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from choreo.errors import ChoreoError
    from choreo.motion.formats import WRITE_EXTENSIONS, read_motion, write_motion, write_problem

    out = Path(args.output)
    if out.suffix.lower() not in WRITE_EXTENSIONS:
        raise ChoreoError(
            f"cannot write motion format {out.suffix or '(no extension)'!r}; "
            f"choose one of {', '.join(WRITE_EXTENSIONS)}",
            out,
        )
    for name in ("fps", "input_fps", "scale", "seconds"):
        v = getattr(args, name)
        if v is not None and not v > 0:
            raise ChoreoError(f"--{name.replace('_', '-')} must be positive, got {v}")
    if not args.start >= 0:
        raise ChoreoError(f"--start must be 0 or more seconds, got {args.start}")
    from choreo.commands.preflight import check_out_dir

    check_out_dir(out.parent if str(out.parent) else ".")
    motion = read_motion(args.input, fps=args.input_fps, scale=args.scale)
    problem = write_problem(motion.skeleton, out.suffix)
    if problem:
        raise ChoreoError(problem, out)
    if args.start > 0 or args.seconds is not None:
        first = int(round(args.start * motion.fps))
        if first >= motion.n_frames:
            raise ChoreoError(f"--start {args.start:g} is past the motion's end ({motion.duration:.2f} s)", args.input)
        last = None if args.seconds is None else first + max(1, int(round(args.seconds * motion.fps)))
        motion = motion.crop(first, last)
    if args.fps is not None:
        motion = motion.resample(args.fps)
    write_motion(motion, out)
    sk = motion.skeleton
    mapped = ""
    if out.suffix.lower() in (".pkl", ".pickle") and sk.name != "smpl24":
        mapped = ", mapped onto smpl24 (24 joints)"
    print(f"{out}: {motion.n_frames} frames at {motion.fps:g} fps, {sk.n_joints} joints ({sk.name}){mapped}")
    return 0
