"""``choreo eval``: the field's metrics, for a folder of generated dances against real ones (``--pred/--gt``), or
for a model from music to numbers (``--model/--split``: generate -> foot lock -> metrics, with baselines)."""

from __future__ import annotations

import argparse
import json

NAME = "eval"

EPILOG = """\
examples:
  choreo eval --pred generated/ --gt real/ --music beats/ --json scores.json
  choreo eval --model diffdance --split test --data ../shared/data/dance_with_melody --seeds 0,1,2
  choreo eval --model runs/dd --split validation --data DWM --seconds 30 --settings "guidance=3" "guidance=3.5"
  choreo eval --model diffdance --split validation --data DWM --after-dance --seconds 30 --per-dance
  choreo eval --model edge --split test --data DWM --songs ../shared/data/cc_music --json eval.json
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        NAME,
        help="FID_k/FID_g, Div, BAS, PFC and more: generated dances vs real ones, or a model on a split",
        description=(
            "Two modes. --pred DIR --gt DIR: evaluate every motion in --pred against every motion in --gt with the "
            "reference implementations' conventions (Bailando features/FID/Div/BAS, EDGE PFC); music beats pair by "
            "file stem: STEM.beats (seconds, first column) or an audio file STEM.wav/.mp3/... in --music. "
            "--model NAME|RUN --split test|validation|DIR: the model dances to the split's songs (feet locked as "
            "choreo dance does) for every seed and setting, beside the real dances and the baselines (no music at "
            "guidance 0, training dances of the same style, real dances to mismatched songs), and prints the "
            "MODEL_CARD.md table (mean [min, max] over seeds). See docs/metrics.md."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    files = p.add_argument_group("scoring files (--pred/--gt)")
    files.add_argument("--pred", metavar="DIR", help="folder of generated motions")
    files.add_argument("--gt", metavar="DIR", help="folder of ground-truth motions")
    files.add_argument("--music", metavar="DIR", help="folder of STEM.beats or STEM.<audio> files for BAS")
    model = p.add_argument_group("evaluating a model (--model/--split)")
    model.add_argument("--model", metavar="NAME|RUN", help="a packaged model's name, a checkpoint or a run folder")
    model.add_argument(
        "--split",
        metavar="test|validation|DIR",
        help="Dance with Melody's test split, the validation dances (8 training dances, two per style) or a "
        "folder of real dances whose songs are known (Dance with Melody folders, or STEM.<audio> beside STEM)",
    )
    model.add_argument("--data", metavar="DIR", help="the Dance with Melody folder (test/validation split and the "
                       "training-dance baseline)")  # fmt: skip
    model.add_argument("--dances", nargs="+", metavar="NAME", help="these dances of --data instead of the split's")
    model.add_argument("--seeds", default="0", help="comma-separated seeds, one run each (default 0)")
    model.add_argument(
        "--seed-stride",
        type=int,
        default=1,
        help="song k of seed s is danced with seed s * STRIDE + k (default 1)",
    )
    model.add_argument(
        "--settings",
        nargs="+",
        default=[""],
        metavar="SETTING",
        help='sampling settings to compare, each ";"-separated NAME=VALUE pairs (steps, guidance or any sampling '
        'option of the method), e.g. "guidance=3;ssr_guidance=1.0"; the first also makes the baselines '
        "(default: the model's own)",
    )
    model.add_argument("--seconds", type=float, help="only the first S seconds of every dance (default: whole)")
    model.add_argument("--after-dance", action="store_true", help="dance to each song's music after its dance")
    model.add_argument(
        "--songs",
        metavar="DIR",
        help="also dance to the first --song-seconds of every song in DIR, judged against the split's real dances",
    )
    model.add_argument("--song-seconds", type=float, default=30.0, help="seconds of each --songs song (default 30)")
    model.add_argument(
        "--unlocked",
        action="store_true",
        help="also the model's raw dances: no foot locking, grounding or skeleton fit (samples twice)",
    )
    model.add_argument("--samples", type=int, default=1, help="dances per song and seed (extra: NAME_seed<j>)")
    model.add_argument("--out", metavar="DIR", help="also write every dance (npz), the real dances and the beats")
    model.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to run")
    model.add_argument("--threads", type=int, help="CPU threads (default: the cores available)")
    p.add_argument("--json", metavar="OUT", help="write every number (and per-file scores) to this JSON file")
    p.add_argument(
        "--protocol",
        choices=("aistpp", "edge"),
        help="evaluation protocol (default: aistpp for --pred/--gt, edge for --model, as MODEL_CARD.md)",
    )
    p.add_argument(
        "--features",
        default=None,
        choices=("reference", "corrected"),
        help="feature variant (default: the protocol's, 'reference' = bit-exact Bailando quirks)",
    )
    p.add_argument("--crop-seconds", type=float, default=None, help="use only the first S seconds of each file")
    p.add_argument(
        "--per-dance",
        action="store_true",
        help="also every metric per dance (each dance scored alone against the real set), so that a set's mean "
        "cannot hide one bad dance",
    )
    p.add_argument(
        "--dancerevolution",
        action="store_true",
        help="also Dance Revolution's metrics on the first 60 s: beat coverage / hit rate, style accuracy (ACC), "
        "FID per 4 s clip, multimodality (several dances per song named SONG_seed<k>)",
    )
    p.add_argument("--style", help="with --dancerevolution: the style every generated dance should have (e.g. waltz)")
    p.add_argument("--style-classifier", metavar="FILE", help="with --dancerevolution: another style classifier file")
    p.set_defaults(func=run)


def _scoring(args: argparse.Namespace, default_protocol: str):
    from dataclasses import replace

    from choreo.errors import ChoreoError
    from choreo.evaluation.run import Scoring
    from choreo.metrics.suite import PROTOCOLS

    if (args.style or args.style_classifier) and not args.dancerevolution:
        raise ChoreoError("--style / --style-classifier go with --dancerevolution")
    protocol = PROTOCOLS[args.protocol or default_protocol]
    if args.crop_seconds is not None:
        if args.crop_seconds <= 0:
            raise ChoreoError(f"--crop-seconds must be positive, got {args.crop_seconds}")
        protocol = replace(protocol, crop_seconds=args.crop_seconds)
    return Scoring(
        protocol,
        feature_variant=args.features,
        dancerevolution=args.dancerevolution,
        style=args.style,
        style_classifier=args.style_classifier,
        per_dance=args.per_dance,
    )


def _write_json(path: str | None, result: dict) -> None:
    if not path:
        return
    from choreo.fileio import atomic_open

    with atomic_open(path, "w") as fh:
        json.dump(result, fh, indent=1, allow_nan=False)
    print(f"wrote {path}")


def run(args: argparse.Namespace) -> int:
    from choreo.errors import ChoreoError

    files_mode = args.pred is not None or args.gt is not None
    model_mode = args.model is not None or args.split is not None
    if files_mode == model_mode:
        raise ChoreoError("give either --pred DIR --gt DIR (score files) or --model NAME --split SPLIT (a model)")
    if files_mode:
        if args.pred is None or args.gt is None:
            raise ChoreoError("--pred and --gt go together")
        return run_files(args)
    if args.model is None or args.split is None:
        raise ChoreoError("--model and --split go together")
    if args.music:
        raise ChoreoError("--music goes with --pred/--gt; a --split brings its own songs")
    return run_model(args)


def run_files(args: argparse.Namespace) -> int:
    """``--pred DIR --gt DIR``: score existing files."""
    from choreo.evaluation.table import PER_DANCE_COLUMNS, cell
    from choreo.metrics.collect import _BeatCache, collect
    from choreo.metrics.suite import format_report

    scoring = _scoring(args, "aistpp")
    cache = _BeatCache()
    pred = collect(args.pred, args.music, cache)
    gt = collect(args.gt, args.music, cache)
    if args.dancerevolution:
        from choreo.metrics.dancerevolution import fill_beats_by_song

        # several dances per song (SONG_seed<k>) share the song's beats
        fill_beats_by_song(pred, args.music, cache)
        fill_beats_by_song(gt, args.music, cache)
    from choreo.evaluation.run import score

    result = score(pred, gt, scoring)
    print(format_report(result))
    if args.dancerevolution:
        from choreo.metrics import dancerevolution as dr

        print(dr.format_report(result["dancerevolution"]))
    if args.per_dance:
        print(f"\n{'dance':<28}" + "".join(f"{label:>14}" for _, label in PER_DANCE_COLUMNS))
        for name, row in result["per_dance"].items():
            cells = ["undefined" if k in row["undefined"] else cell([row.get(k)]) for k, _ in PER_DANCE_COLUMNS]
            print(f"{name:<28}" + "".join(f"{c:>14}" for c in cells))
    _write_json(args.json, result)
    return 0


def run_model(args: argparse.Namespace) -> int:
    """``--model NAME --split SPLIT``: dance, then score (see :mod:`choreo.evaluation`)."""
    import sys
    from pathlib import Path

    from choreo.errors import ChoreoError
    from choreo.evaluation.run import Dancer, evaluate_model
    from choreo.evaluation.sets import VALIDATION, song_targets, split_targets
    from choreo.evaluation.settings import parse_setting
    from choreo.evaluation.table import format_report

    scoring = _scoring(args, "edge")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise ChoreoError(f"--seeds wants comma-separated integers, got {args.seeds!r}") from None
    if not seeds:
        raise ChoreoError("--seeds names no seed")
    if args.samples < 1:
        raise ChoreoError(f"--samples must be at least 1, got {args.samples}")
    if args.seed_stride < 1:
        raise ChoreoError(f"--seed-stride must be at least 1, got {args.seed_stride}")
    settings = [parse_setting(s) for s in args.settings]
    data = None if args.data is None else Path(args.data)
    if data is not None and not data.is_dir():
        raise ChoreoError("--data: not a folder", data)
    from choreo.data.sources import DWM_TEST

    if args.split == "validation" or (args.split != "test" and args.dances):
        leaked = sorted(set(args.dances or VALIDATION) & set(DWM_TEST))
        if leaked:
            raise ChoreoError(f"{', '.join(leaked)}: in the test split; validation uses training dances only")
    if args.after_dance and args.split == "test":
        print("note: --after-dance on the test split plays music of the test songs the model never heard")
    if args.out is not None and Path(args.out).exists() and not Path(args.out).is_dir():
        raise ChoreoError("--out is a file, not a folder", args.out)

    from choreo.generate import Choreographer
    from choreo.packaged import resolve_model

    device = None if args.device == "auto" else args.device
    model = Choreographer.load(resolve_model(args.model, produces="dance"), device=device, threads=args.threads)
    for s in settings:  # unknown options fail before any dancing
        model.method.sampling_settings(**s)
    targets = split_targets(args.split, data, args.dances, args.seconds, args.after_dance)
    songs = song_targets(args.songs, args.song_seconds) if args.songs else []
    held = set(DWM_TEST) | {t.name for t in targets}
    title = {"test": "Test split", "validation": "Validation dances"}.get(args.split, f"Dances in {args.split}")
    if args.dances:
        title = "Dances " + ", ".join(args.dances)
    if args.after_dance:
        title += ", music after each dance"
    report = evaluate_model(
        Dancer(model, seed_stride=args.seed_stride, samples=args.samples),
        targets,
        scoring,
        seeds=seeds,
        settings=settings,
        data=data if data is not None and any(data.glob("DANCE_*")) else None,
        held=held,
        songs=songs,
        unlocked=args.unlocked,
        title=title,
        model_label=str(args.model),
        out=None if args.out is None else Path(args.out),
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(format_report(report, dancerevolution=args.dancerevolution, per_dance=args.per_dance))
    _write_json(args.json, report)
    return 0
