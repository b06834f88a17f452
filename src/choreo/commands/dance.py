"""``choreo dance``: make a dance for a song with a trained model (any music-to-dance method), optionally editing."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from choreo.commands.options import parse_formats
from choreo.commands.preflight import check_formats, check_model_makes, check_out_dir, model_facts, staged_outputs
from choreo.errors import ChoreoError

NAME = "dance"

FORMATS = ("mp4", "gif", "bvh", "glb", "npz", "pkl")
DEFAULT_FORMATS = "mp4,bvh,npz"

EPILOG = """\
examples:
  choreo dance song.mp3                               (packaged default model; writes song.mp4/.bvh/.npz here)
  choreo dance song.mp3 --model edge                  (a packaged model by name: see `choreo models`)
  choreo dance song.mp3 --checkpoint runs/edge -o out --seconds 30 --seed 3
  choreo dance --demo -o out                          (synthesised demo song: demo.wav, demo.mp4, demo.bvh, demo.npz)
  choreo dance song.mp3 --edit-from seed.bvh --edit-frames 0:60          (continue from a seed motion)
  choreo dance song.mp3 --edit-from ref.npz --edit-joints upper          (keep the reference's upper body)
  choreo dance song.mp3 --edit-from ref.npz --edit-joints left_wrist,right_wrist --edit-frames 90:180
  choreo dance songs/ -o dances/ --format bvh,npz       (every song in a folder)
  torchrun --nproc_per_node 4 -m choreo dance songs/ -o dances/ --format bvh,npz   (songs split over processes)

Every output format works with every 3D model: a .pkl holds SMPL-24, so another skeleton is mapped onto it by
joint roles. Dances leave the model with fixed bone lengths, so the .bvh, .glb and .npz are the same dance.
Arguments, the output folder, formats and the song's length are checked before the model loads; the outputs of
one song appear together or not at all.

Frames are counted at the model's own frame rate (`choreo models` lists it; the default model runs at 25 fps)
from the start of the dance; A:B includes A and excludes B, either end may be left out. Sampling settings
(--guidance, --steps, --sampler, --eta) default to the ones saved with the model. Long songs work: the whole
song is danced in overlapping windows, in bounded memory.
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        NAME,
        help="make a dance for a song with a trained model",
        description="Generate a 3D dance for a song with a trained model and write it as video and motion files.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "song", nargs="?", help="audio file (wav, mp3, ogg, flac, m4a, ...) or a folder of them (one dance per song)"
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument("--checkpoint", "-c", metavar="CKPT", help="checkpoint file or run folder")
    which.add_argument("--model", "-m", metavar="NAME", help="a packaged model by name (default: the default one)")
    p.add_argument("-o", "--out-dir", default=".", metavar="OUT_DIR", help="output folder (default: here)")
    p.add_argument("--seconds", type=float, help="length of the dance in seconds, at least 1 (default: the whole song)")
    p.add_argument("--start", type=float, default=0.0, help="seconds into the song where the dance starts")
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same dance")
    p.add_argument(
        "--guidance",
        type=float,
        help="classifier-free guidance weight (default: the model's; `choreo models` lists them)",
    )
    p.add_argument(
        "--steps", type=int, help="denoising steps per stage (default: the model's; `choreo models` lists them)"
    )
    p.add_argument("--sampler", choices=("ddim", "ddpm", "dpm++2m"), help="sampler (default: the model's)")
    p.add_argument("--eta", type=float, help="sampler noise: 0 deterministic, 1 EDGE's DDIM (default: the model's)")
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        help="network precision (default: the model's; auto = bf16 where the processor computes it natively)",
    )
    p.add_argument(
        "--style",
        help="dance style, for a model that knows styles (default: the style heard in the song, if it knows it)",
    )
    p.add_argument(
        "--guidance-from",
        choices=("nothing", "style"),
        help="what DiffDance's guidance weighs the music against: nothing (music and style against neither) or "
        "the style alone, for a model trained with music_dropout (default: the model's)",
    )
    p.add_argument(
        "--format", default=DEFAULT_FORMATS, help=f"outputs among {','.join(FORMATS)} (default {DEFAULT_FORMATS})"
    )
    p.add_argument("--edit-from", metavar="MOTION", help="reference motion for editing (any format choreo reads)")
    p.add_argument(
        "--edit-frames", metavar="A:B", help="frames of the dance that follow the reference (default all it covers)"
    )
    p.add_argument(
        "--edit-joints",
        default="all",
        metavar="JOINTS",
        help="joints that follow the reference: all, upper, lower, or names/indices like left_wrist,3 (default all)",
    )
    p.add_argument("--demo", action="store_true", help="dance to a synthesised demo song (no SONG needed)")
    p.add_argument(
        "--no-foot-lock",
        action="store_true",
        help="keep the model's raw foot motion (default: pin feet while they are in contact)",
    )
    p.add_argument(
        "--raw",
        action="store_true",
        help="the model's own output: no foot locking, no standing on the floor, no fit to fixed bone lengths",
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to run (default auto)")
    p.add_argument("--threads", type=int, help="CPU threads (default: the cores available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def parse_frames(text: str | None) -> tuple[int, int | None] | None:
    """``"A:B"`` -> (A, B); empty ends mean the start / the end of the reference."""
    if text is None:
        return None
    try:
        a, b = text.split(":")
        lo = int(a) if a.strip() else 0
        hi = int(b) if b.strip() else None
    except ValueError:
        raise ChoreoError(f"--edit-frames must look like A:B (frame numbers), got {text!r}") from None
    if lo < 0 or (hi is not None and hi <= lo):
        raise ChoreoError(f"--edit-frames {text!r} is an empty or negative range")
    return lo, hi


def run(args) -> int:
    # everything that can be checked is checked before the model loads: a wrong argument costs no sampling
    formats = parse_formats(args.format, FORMATS)
    frames = parse_frames(args.edit_frames)
    if (args.edit_frames or args.edit_joints != "all") and not args.edit_from:
        raise ChoreoError("--edit-frames / --edit-joints need --edit-from MOTION")
    if args.demo and args.song:
        raise ChoreoError("give a SONG or --demo, not both")
    if not args.demo and not args.song:
        raise ChoreoError("give a SONG to dance to (or --demo)")
    if args.steps is not None and args.steps < 1:
        raise ChoreoError(f"--steps must be at least 1, got {args.steps}")
    if args.threads is not None and args.threads < 1:
        raise ChoreoError(f"--threads must be at least 1, got {args.threads}")
    from choreo.generate import check_time_range

    check_time_range(args.seconds, args.start)
    if args.song and not Path(args.song).exists():
        raise ChoreoError("song not found", args.song)
    out_dir = check_out_dir(args.out_dir)
    songs = songs_for_this_process(Path(args.song)) if args.song else []
    single = args.demo or not Path(args.song).is_dir()
    if args.song and single:
        from choreo.audio.io import audio_duration

        try:
            check_time_range(args.seconds, args.start, audio_duration(songs[0]))
        except ChoreoError as exc:
            raise ChoreoError(exc.message, songs[0]) from None
    if args.checkpoint and not Path(args.checkpoint).exists():
        raise ChoreoError("checkpoint not found", args.checkpoint)
    from choreo.packaged import resolve_model

    ckpt = resolve_model(args.checkpoint or args.model, produces="dance")
    facts = model_facts(ckpt)
    check_model_makes(facts, "dance", args.checkpoint or args.model)
    check_formats(facts.skeleton, formats, f"this model's dances (skeleton {getattr(facts.skeleton, 'name', '?')})")
    edit = None
    if args.edit_from:
        from choreo.generate import Edit
        from choreo.motion.formats import read_motion

        edit = Edit(read_motion(args.edit_from), frames=frames, joints=args.edit_joints)
        if facts.skeleton is not None:  # what build_constraint would say after loading, said now
            from choreo.models.editing import joint_indices

            ref = edit.motion.skeleton
            if not ref.same_structure(facts.skeleton):
                raise ChoreoError(
                    f"the edit's motion uses skeleton {ref.name!r} but the model dances on {facts.skeleton.name!r}",
                    args.edit_from,
                )
            joint_indices(args.edit_joints, facts.skeleton)

    from choreo.generate import Choreographer

    device = None if args.device == "auto" else args.device
    choreographer = Choreographer.load(ckpt, device=device, threads=args.threads)
    if args.demo:
        dance_one(choreographer, out_dir / "demo.wav", out_dir, formats, edit, args, demo=True)
        return 0
    if single:
        dance_one(choreographer, songs[0], out_dir, formats, edit, args)
        return 0
    failed = []
    for song in songs:  # a folder: one bad song does not stop the others
        try:
            dance_one(choreographer, song, out_dir, formats, edit, args)
        except ChoreoError as exc:
            print(f"choreo dance: error: {exc}", file=sys.stderr)
            failed.append(song.name)
    if failed:
        raise ChoreoError(f"{len(failed)} of {len(songs)} songs failed: {', '.join(failed)}", args.song)
    return 0


def songs_for_this_process(path: Path) -> list[Path]:
    """The song, or this process's share of a folder's songs (sorted by name; under torchrun, song i goes to
    the process of rank i mod world size, so every song is danced exactly once)."""
    if not path.is_dir():
        return [path]
    from choreo.audio.io import AUDIO_EXTENSIONS

    songs = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    if not songs:
        raise ChoreoError(f"no songs in this folder ({', '.join(sorted(AUDIO_EXTENSIONS))})", path)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    return songs[rank::world]


def output_paths(base: Path, formats: list[str]) -> list[Path]:
    """``base.<ext>`` for every format, motion files first and videos last (the order they are written in)."""
    return [base.with_name(f"{base.name}.{fmt}") for fmt in sorted(formats, key=lambda f: f in ("mp4", "gif"))]


def dance_one(
    choreographer, song: Path, out_dir: Path, formats: list[str], edit, args, demo: bool = False
) -> list[Path]:
    """Dance to one song and write ``out_dir/<song stem>.<format>`` for every format, all together or none;
    prints the paths. ``demo``: ``song`` is where the synthesised demo song is written, with the dance."""
    from choreo.generate import check_time_range

    targets = output_paths(out_dir / song.stem, formats)
    if demo:
        targets = [song, *targets]
    else:
        from choreo.audio.io import audio_duration

        try:  # a folder's songs are checked here, each before its own sampling
            check_time_range(args.seconds, args.start, audio_duration(song))
        except ChoreoError as exc:
            raise ChoreoError(exc.message, song) from None
    with staged_outputs(targets) as tmps:
        music = song
        if demo:
            from choreo.audio.demo import demo_song, write_wav

            music, tmps = tmps[0], tmps[1:]
            y, sr = demo_song(seconds=args.seconds + args.start if args.seconds else 16.0)
            write_wav(music, y, sr)
        motion = choreographer.dance(
            str(music),
            seconds=args.seconds,
            start=args.start,
            seed=args.seed,
            guidance=args.guidance,
            steps=args.steps,
            edit=edit,
            sampler=args.sampler,
            eta=args.eta,
            precision=args.precision,
            style=args.style,
            guidance_from=args.guidance_from,
            progress=not args.no_progress,
            foot_lock=not (args.no_foot_lock or args.raw),
            ground=not args.raw,
            fit_skeleton=not args.raw,
        )
        motion.meta["audio"] = str(song)  # the song's own name, not the staging name of a demo song
        write_outputs(motion, tmps, music, args.start, progress=not args.no_progress)
    for path in targets:
        # one write per line: processes of a torchrun share stdout and must not interleave within a line
        sys.stdout.write(f"{path}\n")
        sys.stdout.flush()
    return targets


def write_outputs(motion, paths: list[Path], song: os.PathLike | None, start: float, progress: bool) -> list[Path]:
    """Write the motion to every path, the format from its suffix (videos are drawn with the song from
    ``start``). Returns the paths."""
    from choreo.motion.formats import write_motion

    for path in paths:
        if path.suffix.lower() in (".mp4", ".gif"):
            from choreo.render import render

            render(motion, path, music=song, music_start=start, progress=progress)
        else:
            write_motion(motion, path)
    return list(paths)
