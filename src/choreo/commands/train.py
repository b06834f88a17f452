"""``choreo train``: train a music-to-dance model on a data folder (single process or under torchrun)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

NAME = "train"

EPILOG = """\
examples:
  choreo train --config edge --data ../shared/data/dance_with_melody --out runs/edge    (a packaged model's recipe)
  choreo train --config edge_tiny --data DATA --out runs/tiny --steps 200 --device cpu
  choreo train --config diffdance --data DATA --out runs/diffdance   (encoders, adapter, base + SSR in one run)
  choreo train --config edge --set model.width=256 --data DATA --out runs/wider   (one setting changed)
  choreo train --out runs/edge --resume                      (continue a run exactly where it stopped)
  choreo train --config edge --data DATA --out runs/edge --time-limit 50   (train in sittings; then --resume)
  torchrun --nproc_per_node 2 -m choreo train --config edge --data DATA --out runs/ddp   (data parallel)

The config (--config FILE or a built-in name) gives the data, model and training settings; without one, the
built-in config named after --method, or the run's saved config.yaml when resuming. The run folder gets
config.yaml, log.csv (step, loss terms, lr, samples/s, elapsed), last.ckpt and step_XXXXXX.ckpt.

built-in configs:
  {recipes}
      the recipes of the packaged models of the same names (`choreo models`);
      `python scripts/rebuild_packaged_model.py NAME` rebuilds one and exports it as it ships
  {fixtures}
      tiny versions for tests and trials
"""


def _epilog() -> str:
    from choreo.train.config import builtin_configs

    names = builtin_configs()
    fixtures = [n for n in names if n.endswith("_tiny")]
    recipes = [n for n in names if n not in fixtures]
    return EPILOG.format(recipes=", ".join(recipes), fixtures=", ".join(fixtures))


def add_parser(sub) -> None:
    p = sub.add_parser(
        NAME,
        help="train a model on paired music and dance",
        description="Train a method on an AIST++, Dance with Melody or motion+music pairs folder.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--method", help="method to train (see choreo.models.METHODS); default: the config's")
    p.add_argument(
        "--data", metavar="DIR", help="data folder (AIST++, Dance with Melody, or NAME.bvh|npz|pkl + NAME.wav pairs)"
    )
    p.add_argument("--out", metavar="RUN_DIR", required=True, help="run folder (config, log, checkpoints)")
    p.add_argument("--config", metavar="FILE", help="YAML/JSON config or built-in name (listed below)")
    p.add_argument("--steps", type=int, help="total training steps (overrides the config)")
    p.add_argument("--batch-size", type=int, help="global batch size (overrides the config)")
    p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="where to train (default: the config's, auto)")
    p.add_argument("--seed", type=int, help="run seed (overrides the config)")
    p.add_argument("--max-sequences", type=int, metavar="N", help="train on the first N sequences only (trials)")
    p.add_argument("--cache-dir", metavar="DIR", help="cache for encoded data and music features ('' = off)")
    p.add_argument(
        "--stop-at", type=int, metavar="STEP", help="stop at this step (resume later; the schedule ends at --steps)"
    )
    p.add_argument(
        "--time-limit", type=float, metavar="MIN", help="stop after this many minutes, with a checkpoint (resume later)"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="change one setting of the config (e.g. --set model.width=64 --set data.fps=30); repeatable",
    )
    p.add_argument("--export", metavar="FILE", help="also write a slim inference checkpoint here at the end")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _config(args):
    from choreo.errors import ChoreoError
    from choreo.train.config import RunConfig, apply_overrides, builtin_configs

    saved = Path(args.out) / "config.yaml"
    if args.config:
        cfg = RunConfig.load(args.config)
    elif args.resume and saved.is_file():
        cfg = RunConfig.load(saved)
    else:
        method = args.method or "edge"
        if method not in builtin_configs():
            raise ChoreoError(f"no built-in config for method {method!r}; give one with --config FILE")
        cfg = RunConfig.load(method)
    if args.method:
        cfg.method = args.method
    if args.set:
        cfg = apply_overrides(cfg, args.set)
    if args.data:
        cfg.data.path = str(args.data)
    if not cfg.data.path:
        raise ChoreoError("no data folder: give --data DIR")
    if args.steps is not None:
        cfg.train.steps = args.steps
    if args.batch_size is not None:
        cfg.train.batch_size = args.batch_size
    if args.device:
        cfg.train.device = args.device
    if args.seed is not None:
        cfg.train.seed = args.seed
    if args.max_sequences is not None:
        cfg.data.max_sequences = args.max_sequences
    if args.cache_dir is not None:
        cfg.data.cache_dir = args.cache_dir
    if args.steps is not None and args.steps < 0 or args.batch_size is not None and args.batch_size <= 0:
        raise ChoreoError("--steps must be >= 0 and --batch-size > 0")
    return cfg


def run(args) -> int:
    from choreo.checkpoint import export_inference
    from choreo.train.trainer import Trainer

    cfg = _config(args)
    main = int(os.environ.get("RANK", "0")) == 0
    limit = None if args.time_limit is None else 60.0 * args.time_limit
    trainer = Trainer(
        cfg,
        args.out,
        resume=args.resume,
        stop_at=args.stop_at,
        time_limit=limit,
        progress=False if args.no_progress else None,
    )
    out = trainer.fit()
    if main:
        print(
            f"trained {cfg.method} to step {out['step']} (loss {out['loss']:.4f}, {out['elapsed']:.0f} s); "
            f"checkpoint {out['checkpoint'] or Path(args.out) / 'last.ckpt'}",
            file=sys.stderr,
        )
        if args.export and out["checkpoint"]:
            path = export_inference(args.out, args.export)
            print(f"inference checkpoint {path} ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0
