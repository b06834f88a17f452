"""``choreo features SONG --set baseline35 --fps 30 [--start S] [--end E] -o OUT.npy``."""

from __future__ import annotations

NAME = "features"


def add_parser(sub) -> None:
    p = sub.add_parser(
        NAME,
        help="music features of a song at a motion frame rate (.npy, frames x features)",
        description="Compute a named music feature set at exactly the motion's frame rate: frame i describes "
        "the music at START + i / FPS seconds. Results are cached by the song's content (see --cache-dir).",
    )
    p.add_argument("song", help="audio file (wav, flac, ogg, mp3, m4a, ...)")
    p.add_argument(
        "--set",
        dest="feature_set",
        default="baseline35",
        help="feature set, with its columns: baseline35 (EDGE, 35), dr438 (Dance Revolution, 438), mel (128), "
        "rhythm (song-independent, 9; the default model's), external (per-song .npy files)",
    )
    p.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    p.add_argument("--start", type=float, default=0.0, help="seconds into the song where frame 0 lies")
    p.add_argument("--end", type=float, default=None, help="seconds into the song where the features stop")
    p.add_argument("--frames", type=int, default=None, help="exact number of frames (crop or pad)")
    p.add_argument(
        "--start-bpm",
        type=float,
        default=None,
        help="baseline35: tempo prior of the beat tracker (default: the song's estimated tempo)",
    )
    p.add_argument("--external-dir", default=None, help="external: folder holding SONG.npy (default: the song's)")
    p.add_argument(
        "--external-fps",
        type=float,
        default=None,
        help='external: frame rate of SONG.npy (default: read SONG.json {"fps": ...})',
    )
    p.add_argument(
        "--cache-dir",
        default=None,
        help="feature cache folder (default $CHOREO_CACHE/features or ~/.cache/choreo/features; '' = off)",
    )
    p.add_argument("-o", "--output", required=True, help="output .npy file")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from choreo.audio.features import get_feature_set, song_features
    from choreo.errors import ChoreoError
    from choreo.fileio import atomic_path

    if not str(args.output).endswith(".npy"):
        raise ChoreoError("the output must be a .npy file", args.output)
    get_feature_set(args.feature_set)
    params = {}
    if args.start_bpm is not None:
        if args.feature_set != "baseline35":
            raise ChoreoError("--start-bpm applies to --set baseline35 only")
        params["start_bpm"] = args.start_bpm
    F = song_features(
        args.song,
        args.feature_set,
        args.fps,
        n_frames=args.frames,
        start=args.start,
        end=args.end,
        cache_dir=args.cache_dir,
        external_dir=args.external_dir,
        external_fps=args.external_fps,
        **params,
    )
    with atomic_path(args.output) as tmp:
        np.save(tmp, F)
    print(f"{args.output}: {F.shape[0]} frames x {F.shape[1]} features ({args.feature_set}, {args.fps:g} fps)")
    return 0
