"""``choreo music``: music for a dance with a trained dance-to-music model (D2M-GAN), as audio and video."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from choreo.commands.options import parse_formats
from choreo.commands.preflight import check_model_makes, check_out_dir, model_facts, staged_outputs
from choreo.errors import ChoreoError

NAME = "music"

FORMATS = ("wav", "mp3", "mp4")
DEFAULT_FORMATS = "wav"

EPILOG = """\
examples:
  choreo music dance.bvh --checkpoint runs/d2mgan            (writes dance.wav here)
  choreo music ../shared/data/dance_with_melody/DANCE_W_3 -c runs/d2mgan -o out --format wav,mp3,mp4
  choreo music dance.npz --model d2mgan --seed 3               (a packaged model by name: `choreo models`)
  choreo music dance.bvh -c runs/d2mgan --style waltz          (condition on a dance style the model knows)
  choreo music dance.npz --start 12 --seconds 10               (music for 10 s of the dance from 12 s in)

The dance may be any motion choreo reads (BVH, npz, AIST++ pickle, glb, a Dance with Melody folder); a
skeleton other than the model's is mapped onto it by joint roles. The music lasts as long as the dance, any
length (generated and decoded in chunks, bounded memory). mp4 renders the dance with its new music.
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        NAME,
        help="make music for a dance with a trained model",
        description="Generate music for a 3D dance with a trained dance-to-music model and write it as audio.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dance", help="motion file or folder (bvh, npz, pkl, glb, Dance with Melody folder)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--checkpoint", "-c", metavar="RUN", help="checkpoint file or run folder")
    which.add_argument("--model", "-m", metavar="NAME", help="a packaged model by name (default: the default one)")
    p.add_argument("-o", "--out-dir", default=".", metavar="OUT_DIR", help="output folder (default: here)")
    p.add_argument("--seconds", type=float, help="music for this many seconds of the dance (default: all of it)")
    p.add_argument("--start", type=float, default=0.0, help="seconds into the dance where the music starts")
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same music")
    p.add_argument("--style", help="dance style to condition on, if the model knows styles (default: none)")
    p.add_argument(
        "--format", default=DEFAULT_FORMATS, help=f"outputs among {','.join(FORMATS)} (default {DEFAULT_FORMATS})"
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to run (default auto)")
    p.add_argument("--threads", type=int, help="CPU threads (default: the cores available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar while rendering video")
    p.set_defaults(func=run)


def dance_stem(path: Path) -> str:
    """The output name of a dance: a file's stem, a folder's name (``skeletons.json``: its folder's)."""
    if path.is_dir():
        return path.resolve().name
    if path.name == "skeletons.json":
        return path.resolve().parent.name
    return path.stem


def write_outputs(motion, y, sr: int, targets: list[Path], progress: bool) -> list[Path]:
    """Write the music to every path whose suffix is audio (wav, mp3) and the dance with it as a video to an
    .mp4 path (audio first, video last); each file atomically. Returns the paths."""
    import tempfile

    from choreo.compose import Music

    music = Music(y, sr)
    wav = None
    for path in targets:
        if path.suffix.lower() != ".mp4":
            music.save(path)
            wav = path if path.suffix.lower() == ".wav" else wav
    for path in targets:
        if path.suffix.lower() != ".mp4":
            continue
        from choreo.render import render

        tmp_wav = None
        if wav is None:  # the video needs the music as a file: a temporary one, removed after rendering
            fd, name = tempfile.mkstemp(prefix="choreo-music-", suffix=".wav")
            os.close(fd)
            tmp_wav = Path(name)
            music.save(tmp_wav)
        try:
            render(motion, path, music=wav or tmp_wav, music_start=0.0, progress=progress)
        finally:
            if tmp_wav is not None:
                tmp_wav.unlink(missing_ok=True)
    return list(targets)


def check_dance_fits(motion, facts) -> None:
    """Refuse a dance the model cannot take, before it loads: a skeleton that does not map onto the model's."""
    sk = facts.skeleton
    if sk is None or motion.skeleton.same_structure(sk):
        return
    src = motion.meta.get("source")
    if "rot6d" in str(facts.representation or ""):
        raise ChoreoError(
            f"this model was trained on skeleton {sk.name!r} (rotations); the dance uses {motion.skeleton.name!r}", src
        )
    from choreo.motion.retarget import mapping_problem

    problem = mapping_problem(motion.skeleton, sk)
    if problem:
        raise ChoreoError(problem, src)


def run(args) -> int:
    # everything that can be checked is checked before the model loads
    formats = parse_formats(args.format, FORMATS)
    dance = Path(args.dance)
    if not dance.exists():
        raise ChoreoError("dance not found", dance)
    if args.checkpoint and not Path(args.checkpoint).exists():
        raise ChoreoError("checkpoint not found", args.checkpoint)
    if args.threads is not None and args.threads < 1:
        raise ChoreoError(f"--threads must be at least 1, got {args.threads}")
    from choreo.generate import check_time_range

    check_time_range(args.seconds, args.start)
    out_dir = check_out_dir(args.out_dir)

    from choreo.motion.formats import read_motion

    motion = read_motion(dance)  # read (and checked: NaN, shapes) before the model loads
    try:
        check_time_range(args.seconds, args.start, motion.duration, "dance")
    except ChoreoError as exc:
        raise ChoreoError(exc.message, dance) from None
    first = int(round(args.start * motion.fps))
    last = None if args.seconds is None else first + max(1, int(round(args.seconds * motion.fps)))
    if first > 0 or last is not None:
        motion = motion.crop(first, last)

    from choreo.packaged import resolve_model

    ckpt = resolve_model(args.checkpoint or args.model, produces="music")
    facts = model_facts(ckpt)
    check_model_makes(facts, "music", args.checkpoint or args.model)
    check_dance_fits(motion, facts)

    from choreo.compose import Composer

    device = None if args.device == "auto" else args.device
    composer = Composer.load(ckpt, device=device, threads=args.threads)
    options = {"style": args.style} if args.style else {}
    y, sr = composer.music(motion, seed=args.seed, **options)
    base = out_dir / dance_stem(dance)
    targets = [base.with_name(f"{base.name}.{fmt}") for fmt in sorted(formats, key=lambda f: f == "mp4")]
    with staged_outputs(targets) as tmps:
        write_outputs(motion, y, sr, tmps, not args.no_progress)
    for path in targets:
        print(path)
    return 0
