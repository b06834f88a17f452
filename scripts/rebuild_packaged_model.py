"""Rebuild a packaged model from its recipe: train its built-in config, then export the file as it ships.

Every model under ``src/choreo/assets`` names its recipe in ``assets/models.json`` (``choreo models`` lists them):
the built-in config (``src/choreo/configs/NAME.yaml``, which holds every setting of the file, its sampling
defaults included), the step the file was taken at when that is not the end of the schedule, the earlier legs of
a run trained in legs (D2M-GAN: its published loss first, then choreo's terms from those weights), and the
packaged models it is built on (D2M-GAN on the codec). One command trains every leg (resumable: run it again with
``--resume`` after a stop or ``--time-limit``) and exports an fp16 inference file with the model's description,
data and licence::

    .venv/bin/python scripts/rebuild_packaged_model.py edge --data ../shared/data/dance_with_melody --out runs/edge
    .venv/bin/python scripts/rebuild_packaged_model.py codec \\
        --data ../shared/data/dance_with_melody:../shared/data/cc_music --out runs/codec
    .venv/bin/python scripts/rebuild_packaged_model.py d2mgan --data ../shared/data/dance_with_melody \\
        --out runs/d2mgan --from codec=runs/codec/codec.pt

Legs train in ``RUN/LEG``, the last in ``RUN``. The file is written to ``RUN/NAME.pt``; copy it over
``src/choreo/assets/`` to ship it. ``--set SECTION.KEY=VALUE`` changes a setting (as ``choreo train --set``): a
file so built is no longer the recipe's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from choreo.checkpoint import load_checkpoint
from choreo.errors import ChoreoError
from choreo.packaged import packaged_models
from choreo.train.config import apply_overrides
from choreo.train.export import export_packaged
from choreo.train.recipes import recipe_runs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="a packaged model (choreo models)")
    p.add_argument("--data", required=True, help="the data folder(s) the recipe trains on (join several with ':')")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument(
        "--from",
        dest="built",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="use FILE (a rebuilt file or run) for the packaged model NAME this one is built on",
    )
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="change a setting")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--time-limit", type=float, metavar="MIN", help="stop after this many minutes (then --resume)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"))
    args = p.parse_args(argv)
    from choreo.train.trainer import Trainer

    try:
        models = {m.name: m for m in packaged_models()}
        if args.name not in models:
            raise ChoreoError(f"no packaged model {args.name!r} (packaged: {', '.join(models)})")
        model = models[args.name]
        built = dict(pair.split("=", 1) for pair in args.built if "=" in pair)
        runs = recipe_runs(model, args.data, args.out, built)
        limit = None if args.time_limit is None else 60.0 * args.time_limit
        for i, (cfg, run) in enumerate(runs):
            cfg = apply_overrides(cfg, args.set)
            if args.device:
                cfg.train.device = args.device
            last = i == len(runs) - 1
            stop_at = model.recipe.get("stop_at") if last else None
            end = stop_at or cfg.train.steps
            resume = (run / "last.ckpt").is_file() and (args.resume or not last)
            if resume and load_checkpoint(run)["step"] >= end:
                continue  # a finished leg
            result = Trainer(cfg, run, resume=resume, stop_at=stop_at, time_limit=limit).fit()
            if result["step"] < end:
                print(f"{run}: stopped at step {result['step']} of {end}: run again with --resume", file=sys.stderr)
                return 0
        info = {"description": model.description, "data": model.data, "licence": model.licence}
        path = export_packaged(args.out, Path(args.out) / f"{model.name}.pt", {}, info)
    except ChoreoError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
