"""Showed: nothing yet (not run: hours on a CPU); DiffDance's timestep-weighted geometric losses against constant.

Trains the same config twice, once with the exponential timestep weight (``loss_decay: 0.1``: lambda(t) =
0.1^(t / (T - 1))) and once with constant weights (``loss_decay: 1.0``: lambda = 1, EDGE's), everything else equal
(same seed, so the same batches and noise), then evaluates both with ``choreo eval --model RUN --split test``
(protocol ``edge``) and writes ``OUT/weighting.md``: the metrics side by side, with the real dances' and each run's
no-music baseline, and each run's unweighted loss terms over its last 10 % of steps.

Trainings take hours on a CPU: run them in sittings (``--time-limit MIN``, then the same command again resumes
each run where it stopped); a finished run is not trained again.

    .venv/bin/python research/compare_diffdance_weighting.py --data ../shared/data/dance_with_melody \\
        --out runs/weighting [--config diffdance] [--steps N] [--time-limit MIN] [--eval-only]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: the runs compared: name -> loss_decay (the geometric losses' weight at pure noise)
KINDS = {"exponential": 0.1, "constant": 1.0}
METRICS = ("fid_k", "fid_g", "div_k", "div_g", "bas", "pfc", "foot_sliding", "jitter")
TERMS = ("base_x0", "base_vel", "base_fk", "base_foot", "ssr_x0", "ssr_vel", "ssr_fk", "ssr_foot")


def train(kind: str, args) -> Path:
    """Train (or resume) the run of one weighting; returns its folder."""
    from choreo.cli import main as choreo
    from choreo.train.config import RunConfig

    run = Path(args.out) / kind
    cfg = RunConfig.load(args.config)
    cfg.model["loss_decay"] = KINDS[kind]
    if args.steps is not None:
        cfg.train.steps = args.steps
    cfg.data.path = str(args.data)
    cfg_path = Path(args.out) / f"{kind}.yaml"
    cfg_path.parent.mkdir(parents=True, exist_ok=True)
    cfg.save(cfg_path)
    argv = ["train", "--config", str(cfg_path), "--out", str(run)]
    if (run / "last.ckpt").exists():
        argv.append("--resume")
    if args.time_limit:
        argv += ["--time-limit", str(args.time_limit)]
    if choreo(argv) != 0:
        raise SystemExit(f"training {kind} failed")
    return run


def finished(run: Path) -> bool:
    from choreo import checkpoint as ck

    if not (run / "last.ckpt").exists():
        return False
    state = ck.load_checkpoint(run)
    return int(state["step"]) >= int(state["config"]["train"]["steps"])


def loss_terms(run: Path) -> dict[str, float]:
    """Mean of every unweighted diffusion loss term over the last 10 % of the logged diffusion steps."""
    import numpy as np

    from choreo.train.trainer import read_log

    rows = [r for r in read_log(run / "log.csv") if r.get("stage") == 2.0]
    tail = rows[-max(1, len(rows) // 10) :]
    return {k: float(np.mean([r[k] for r in tail])) for k in TERMS} if rows else {}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared/data/dance_with_melody"))
    ap.add_argument("--out", default=str(REPO / "runs/weighting"))
    ap.add_argument("--config", default="diffdance", help="base config (file or built-in name)")
    ap.add_argument("--steps", type=int, help="training steps of both runs (default: the config's)")
    ap.add_argument("--time-limit", type=float, metavar="MIN", help="train each run at most this long per call")
    ap.add_argument("--eval-only", action="store_true", help="evaluate the runs as they are")
    args = ap.parse_args(argv)

    out = Path(args.out)
    runs = {k: out / k for k in KINDS}
    if not args.eval_only:
        for kind in KINDS:
            if not finished(runs[kind]):
                train(kind, args)
        if not all(finished(r) for r in runs.values()):
            print("not finished yet: run the same command again to resume")
            return 0

    from choreo.cli import main as choreo
    from choreo.models.diffdance import timestep_weight

    results = {}
    for kind, run in runs.items():
        report = out / f"eval_{kind}.json"
        argv = ["eval", "--model", str(run), "--split", "test", "--data", str(args.data), "--json", str(report)]
        if choreo(argv) != 0:
            raise SystemExit(f"choreo eval failed on {run}")
        sets = json.loads(report.read_text())["sections"][0]["sets"]
        results[kind] = {s: sets[s]["runs"][0] for s in ("real", "model", "no_music")}

    import torch

    ts = torch.tensor([0, 250, 500, 750, 999])
    lam = ", ".join(f"{float(w):.3f}" for w in timestep_weight(ts, 1000, KINDS["exponential"]))
    head = "| metric | real | exponential | exp. no music | constant | const. no music |"
    lines = [
        f"lambda(t) at t = 0, 250, 500, 750, 999: {lam} (exponential, decay {KINDS['exponential']:g}); constant: 1.",
        "",
        head,
        "|---|---|---|---|---|---|",
    ]
    for key in METRICS:
        cells = [results["exponential"]["real"].get(key)]
        for kind in KINDS:
            cells += [results[kind]["model"].get(key), results[kind]["no_music"].get(key)]
        lines.append(f"| {key} | " + " | ".join("n/a" if v is None else f"{v:.4g}" for v in cells) + " |")
    lines += ["", "| loss term (last 10 % of steps) | exponential | constant |", "|---|---|---|"]
    terms = {k: loss_terms(r) for k, r in runs.items()}
    for t in TERMS:
        lines.append(f"| {t} | " + " | ".join(f"{terms[k].get(t, float('nan')):.4g}" for k in KINDS) + " |")
    text = "\n".join(lines) + "\n"
    (out / "weighting.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
