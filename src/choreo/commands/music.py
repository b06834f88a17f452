"""``choreo music``: music for a dance with a trained dance-to-music model (D2M-GAN), as audio and video."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from choreo.commands.options import parse_formats
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


def write_mp3(path: Path, y, sr: int) -> None:
    """Encode mono samples as MP3 (libmp3lame, 192 kbit/s) with the ffmpeg that imageio-ffmpeg ships, atomically."""
    import subprocess

    import imageio_ffmpeg
    import numpy as np

    from choreo.fileio import atomic_path

    pcm = (np.clip(np.asarray(y, np.float32), -1.0, 1.0) * 32767).astype("<i2").tobytes()
    with atomic_path(path) as tmp:
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", "-y"]
        cmd += ["-f", "s16le", "-ar", str(int(sr)), "-ac", "1", "-i", "pipe:0"]
        cmd += ["-c:a", "libmp3lame", "-b:a", "192k", "-f", "mp3", str(tmp)]
        r = subprocess.run(cmd, input=pcm, capture_output=True)
        if r.returncode != 0:
            detail = r.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ChoreoError(f"ffmpeg could not encode mp3 ({detail[-1] if detail else r.returncode})", path)


def write_outputs(motion, y, sr: int, base: Path, formats: list[str], progress: bool) -> list[Path]:
    """Write ``base.<ext>`` for every format (audio first, video last); each file atomically. Returns the paths."""
    import tempfile

    from choreo.audio.demo import write_wav

    written: list[Path] = []
    wav = None
    for fmt in ("wav", "mp3"):
        if fmt in formats:
            path = base.with_name(f"{base.name}.{fmt}")
            if fmt == "wav":
                write_wav(path, y, sr)
                wav = path
            else:
                write_mp3(path, y, sr)
            written.append(path)
    if "mp4" in formats:
        from choreo.render import render

        path = base.with_name(f"{base.name}.mp4")
        tmp_wav = None
        if wav is None:  # the video needs the music as a file: a temporary one, removed after rendering
            fd, name = tempfile.mkstemp(prefix=f"choreo-{base.name}-", suffix=".wav")
            os.close(fd)
            tmp_wav = Path(name)
            write_wav(tmp_wav, y, sr)
        try:
            render(motion, path, music=wav or tmp_wav, music_start=0.0, progress=progress)
        finally:
            if tmp_wav is not None:
                tmp_wav.unlink(missing_ok=True)
        written.append(path)
    return written


def run(args) -> int:
    formats = parse_formats(args.format, FORMATS)
    dance = Path(args.dance)
    if not dance.exists():
        raise ChoreoError("dance not found", dance)
    if args.checkpoint and not Path(args.checkpoint).exists():
        raise ChoreoError("checkpoint not found", args.checkpoint)
    if args.threads is not None and args.threads < 1:
        raise ChoreoError(f"--threads must be at least 1, got {args.threads}")
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ChoreoError("is a file, not a folder", out_dir)

    from choreo.motion.formats import read_motion

    motion = read_motion(dance)  # read (and checked) before the model loads: a bad dance fails fast

    from choreo.compose import Composer
    from choreo.packaged import resolve_model

    ckpt = resolve_model(args.checkpoint or args.model, produces="music")
    device = None if args.device == "auto" else args.device
    composer = Composer.load(ckpt, device=device, threads=args.threads)
    options = {"style": args.style} if args.style else {}
    # everything is computed before the first file is written: an error leaves no output behind
    y, sr = composer.music(motion, seed=args.seed, **options)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in write_outputs(motion, y, sr, out_dir / dance_stem(dance), formats, not args.no_progress):
        print(path)
    return 0
