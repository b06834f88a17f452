"""``choreo beats SONG [-o OUT.beats]``: beat times (one per line, seconds) and the tempo."""

from __future__ import annotations

NAME = "beats"


def add_parser(sub) -> None:
    p = sub.add_parser(
        NAME,
        help="beat times and tempo of a song",
        description="Track the beats of a song (librosa's beat tracker at 22050 Hz, hop 512). Prints the tempo; "
        "with -o writes one beat time in seconds per line (the annotation format of beat datasets).",
    )
    p.add_argument("song", help="audio file (wav, flac, ogg, mp3, m4a, ...)")
    p.add_argument("--start", type=float, default=0.0, help="analyse from here (s); times stay song times")
    p.add_argument("--end", type=float, default=None, help="analyse up to here (s)")
    p.add_argument("--start-bpm", type=float, default=120.0, help="centre of the tempo prior (default 120)")
    p.add_argument("--tightness", type=float, default=100.0, help="how strictly beats keep the tempo (default 100)")
    p.add_argument("-o", "--output", default=None, help="write the beat times here (e.g. SONG.beats)")
    p.set_defaults(func=run)


def run(args) -> int:
    from choreo.audio.beats import ANALYSIS_SR, beats_and_tempo, write_beats
    from choreo.audio.io import load_audio

    y, sr = load_audio(args.song, sr=ANALYSIS_SR, start=args.start, end=args.end)
    times, bpm = beats_and_tempo(y, sr, start_bpm=args.start_bpm, tightness=args.tightness, analysis_sr=None)
    times = times + args.start
    if args.output:
        write_beats(args.output, times)
    where = f" -> {args.output}" if args.output else ""
    if len(times):
        print(f"{args.song}: tempo {bpm:.1f} BPM, {len(times)} beats from {times[0]:.2f} s to {times[-1]:.2f} s{where}")
    else:
        print(f"{args.song}: no beats found (silent or too short){where}")
    return 0
