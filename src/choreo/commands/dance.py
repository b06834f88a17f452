"""``choreo dance``: make a dance for a song with a trained model (any music-to-dance method), optionally editing."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from choreo.commands.options import parse_formats
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
    p.add_argument("--seconds", type=float, help="length of the dance in seconds (default: the whole song)")
    p.add_argument("--start", type=float, default=0.0, help="seconds into the song where the dance starts")
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same dance")
    p.add_argument("--guidance", type=float, help="classifier-free guidance weight (default: the model's, EDGE 2)")
    p.add_argument("--steps", type=int, help="denoising steps (default: the model's, EDGE 50)")
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
    if args.song and not Path(args.song).exists():
        raise ChoreoError("song not found", args.song)
    songs = songs_for_this_process(Path(args.song)) if args.song else []
    from choreo.packaged import resolve_model

    if args.checkpoint and not Path(args.checkpoint).exists():
        raise ChoreoError("checkpoint not found", args.checkpoint)
    ckpt = resolve_model(args.checkpoint or args.model, produces="dance")

    from choreo.generate import Choreographer, Edit

    device = None if args.device == "auto" else args.device
    choreographer = Choreographer.load(ckpt, device=device, threads=args.threads)

    edit = None
    if args.edit_from:
        from choreo.motion.formats import read_motion

        edit = Edit(read_motion(args.edit_from), frames=frames, joints=args.edit_joints)

    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ChoreoError("is a file, not a folder", out_dir)
    if args.demo:
        from choreo.audio.demo import demo_song, write_wav

        y, sr = demo_song(seconds=args.seconds + args.start if args.seconds else 16.0)
        song = out_dir / "demo.wav"
        out_dir.mkdir(parents=True, exist_ok=True)
        write_wav(song, y, sr)
        songs = [song]
    if len(songs) == 1 and not Path(args.song or songs[0]).is_dir():
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


def dance_one(choreographer, song: Path, out_dir: Path, formats: list[str], edit, args) -> list[Path]:
    """Dance to one song and write ``out_dir/<song stem>.<format>`` for every format; prints the paths."""
    motion = choreographer.dance(
        str(song),
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
        foot_lock=not args.no_foot_lock,
    )
    written = write_outputs(motion, out_dir / song.stem, formats, song, args.start, progress=not args.no_progress)
    for path in written:
        # one write per line: processes of a torchrun share stdout and must not interleave within a line
        sys.stdout.write(f"{path}\n")
        sys.stdout.flush()
    return written


def write_outputs(motion, base: Path, formats: list[str], song: os.PathLike | None, start: float, progress: bool):
    """Write ``base.<ext>`` for every format (motion files first, videos last). Returns the paths."""
    from choreo.motion.formats import write_motion

    written = []
    for fmt in sorted(formats, key=lambda f: f in ("mp4", "gif")):
        path = base.with_name(f"{base.name}.{fmt}")
        if fmt in ("mp4", "gif"):
            from choreo.render import render

            render(motion, path, music=song, music_start=start, progress=progress)
        else:
            write_motion(motion, path)
        written.append(path)
    return written
