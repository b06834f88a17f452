"""``choreo eval``: the field's metrics for a folder of generated dances against a folder of real ones."""

from __future__ import annotations

import argparse
import json

NAME = "eval"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        NAME,
        help="FID_k/FID_g, Div, BAS, PFC and more for generated dances vs ground truth",
        description=(
            "Evaluate every motion in --pred against every motion in --gt with the reference implementations' "
            "conventions (Bailando features/FID/Div/BAS, EDGE PFC). Music beats pair by file stem: STEM.beats "
            "(seconds, first column) or an audio file STEM.wav/.mp3/... in --music. See docs/metrics.md."
        ),
    )
    p.add_argument("--pred", required=True, metavar="DIR", help="folder of generated motions")
    p.add_argument("--gt", required=True, metavar="DIR", help="folder of ground-truth motions")
    p.add_argument("--music", metavar="DIR", help="folder of STEM.beats or STEM.<audio> files for BAS")
    p.add_argument("--json", metavar="OUT", help="write every number (and per-file scores) to this JSON file")
    p.add_argument("--protocol", default="aistpp", choices=("aistpp", "edge"), help="evaluation protocol")
    p.add_argument(
        "--features",
        default=None,
        choices=("reference", "corrected"),
        help="feature variant (default: the protocol's, 'reference' = bit-exact Bailando quirks)",
    )
    p.add_argument("--crop-seconds", type=float, default=None, help="use only the first S seconds of each file")
    p.add_argument(
        "--dancerevolution",
        action="store_true",
        help="also Dance Revolution's metrics on the first 60 s: beat coverage / hit rate, style accuracy (ACC), "
        "FID per 4 s clip, multimodality (several dances per song named SONG_seed<k>)",
    )
    p.add_argument("--style", help="with --dancerevolution: the style every generated dance should have (e.g. waltz)")
    p.add_argument("--style-classifier", metavar="FILE", help="with --dancerevolution: another style classifier file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from choreo.errors import ChoreoError
    from choreo.fileio import atomic_open
    from choreo.metrics.collect import _BeatCache, collect
    from choreo.metrics.suite import PROTOCOLS, evaluate, format_report

    if (args.style or args.style_classifier) and not args.dancerevolution:
        raise ChoreoError("--style / --style-classifier go with --dancerevolution")
    protocol = PROTOCOLS[args.protocol]
    if args.crop_seconds is not None:
        if args.crop_seconds <= 0:
            raise ChoreoError(f"--crop-seconds must be positive, got {args.crop_seconds}")
        protocol = replace(protocol, crop_seconds=args.crop_seconds)
    cache = _BeatCache()
    pred = collect(args.pred, args.music, cache)
    gt = collect(args.gt, args.music, cache)
    if args.dancerevolution:
        from choreo.metrics.dancerevolution import fill_beats_by_song

        # several dances per song (SONG_seed<k>) share the song's beats
        fill_beats_by_song(pred, args.music, cache)
        fill_beats_by_song(gt, args.music, cache)
    result = evaluate(pred, gt, protocol, feature_variant=args.features)
    print(format_report(result))
    if args.dancerevolution:
        from choreo.metrics import dancerevolution as dr
        from choreo.metrics.dance_style import StyleClassifier

        clf = StyleClassifier.load(args.style_classifier)
        result["dancerevolution"] = dr.evaluate_dancerevolution(
            pred, gt, args.style, clf, feature_variant=args.features or protocol.feature_variant
        )
        print(dr.format_report(result["dancerevolution"]))
    if args.json:
        with atomic_open(args.json, "w") as fh:
            json.dump(result, fh, indent=1, allow_nan=False)
        print(f"wrote {args.json}")
    return 0
