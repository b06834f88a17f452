"""``choreo beats SONG|DANCE [-o OUT.beats]``: beat times (one per line, seconds) and the tempo, of a song or of a
dance (from its motion alone: :mod:`choreo.motion.rhythm`)."""

from __future__ import annotations

from pathlib import Path

NAME = "beats"


def add_parser(sub) -> None:
    p = sub.add_parser(
        NAME,
        help="beat times and tempo of a song, or of a dance from its motion",
        description="Track the beats of a song (librosa's beat tracker at 22050 Hz, hop 512), or find the tempo, "
        "beats and bars of a dance from its motion alone (any motion file choreo reads: bvh, npz, pkl, glb, a Dance "
        "with Melody folder or skeletons.json). Prints the tempo; with -o writes one beat time in seconds per line "
        "(the annotation format of beat datasets); for a dance each line also holds the beat's position in its bar "
        "(1 = downbeat) after a tab, which readers of the first column ignore.",
    )
    p.add_argument("input", metavar="FILE", help="a song (wav, flac, ogg, mp3, m4a, ...) or a dance (motion file)")
    p.add_argument("--start", type=float, default=0.0, help="analyse from here (s); times stay file times")
    p.add_argument("--end", type=float, default=None, help="analyse up to here (s)")
    p.add_argument(
        "--start-bpm",
        type=float,
        default=None,
        help="centre of the tempo prior (default 120 for songs, 100 for dances)",
    )
    p.add_argument("--tightness", type=float, default=100.0, help="how strictly a song's beats keep the tempo")
    p.add_argument(
        "--metre",
        default="auto",
        choices=("3", "4", "auto"),
        help="a dance's beats per bar: 3 (waltz), 4, or auto (found from the motion; default)",
    )
    p.add_argument("--fps", type=float, default=None, help="a dance's frame rate where its file stores none")
    p.add_argument("-o", "--output", default=None, help="write the beat times here (e.g. FILE.beats)")
    p.set_defaults(func=run)


def is_motion_file(path: str) -> bool:
    """Whether ``path`` names a motion (a folder, or a suffix a motion reader takes) rather than a song."""
    from choreo.motion.formats import MOTION_EXTENSIONS

    p = Path(path)
    return p.is_dir() or p.suffix.lower() in MOTION_EXTENSIONS


def run(args) -> int:
    if is_motion_file(args.input):
        return run_dance(args)
    return run_song(args)


def run_song(args) -> int:
    from choreo.audio.beats import ANALYSIS_SR, START_BPM, beats_and_tempo, write_beats
    from choreo.audio.io import load_audio

    start_bpm = START_BPM if args.start_bpm is None else args.start_bpm
    y, sr = load_audio(args.input, sr=ANALYSIS_SR, start=args.start, end=args.end)
    times, bpm = beats_and_tempo(y, sr, start_bpm=start_bpm, tightness=args.tightness, analysis_sr=None)
    times = times + args.start
    if args.output:
        write_beats(args.output, times)
    where = f" -> {args.output}" if args.output else ""
    if len(times):
        print(
            f"{args.input}: tempo {bpm:.1f} BPM, {len(times)} beats from {times[0]:.2f} s to {times[-1]:.2f} s{where}"
        )
    else:
        print(f"{args.input}: no beats found (silent or too short){where}")
    return 0


def run_dance(args) -> int:
    from choreo.errors import ChoreoError
    from choreo.motion.formats import read_motion
    from choreo.motion.rhythm import PRIOR_BPM, DanceRhythm, dance_rhythm

    motion = read_motion(args.input, fps=args.fps)
    first = int(round(max(0.0, args.start) * motion.fps))
    last = None if args.end is None else int(round(args.end * motion.fps))
    if first >= motion.n_frames or (last is not None and last <= first):
        raise ChoreoError(f"--start/--end select no frames of a {motion.duration:.2f} s dance", args.input)
    motion = motion.crop(first, last)
    motion.meta["source"] = args.input
    metre = None if args.metre == "auto" else int(args.metre)
    r = dance_rhythm(motion, metre=metre, prior_bpm=PRIOR_BPM if args.start_bpm is None else args.start_bpm)
    offset = first / motion.fps
    r = DanceRhythm(r.tempo_bpm, r.beats + offset, r.downbeats + offset, r.beats_per_bar, r.confidence)
    if args.output:
        r.write(args.output)
    where = f" -> {args.output}" if args.output else ""
    if not len(r.beats):
        print(f"{args.input}: no beats found (the dance does not move){where}")
        return 0
    print(
        f"{args.input}: tempo {r.tempo_bpm:.1f} BPM, metre {r.beats_per_bar}/4"
        f"{' (found)' if metre is None else ''}, {len(r.beats)} beats from {r.beats[0]:.2f} s to {r.beats[-1]:.2f} s, "
        f"{len(r.downbeats)} downbeats (first at {r.downbeats[0]:.2f} s), confidence {r.confidence:.2f}{where}"
    )
    return 0
