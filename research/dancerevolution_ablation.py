"""Showed: at 1000 steps teacher forcing froze least and had the best FID_k; the curriculum won on ACC and BAS.

Dance Revolution's curriculum ablation on Dance with Melody, everything else equal (MODEL_CARD.md,
docs/dancerevolution.md).

The paper's claim: a decoder trained on its own predictions with a growing self-fed segment keeps minute-long
dances alive, where teacher forcing freezes. One run per schedule, with the bundled ``dancerevolution`` config
(the same data, model, optimiser, steps and seed; only ``model.schedule`` and its constant differ):

==================  =========================================================================================
``teacher_forcing``  p = 0: the decoder always reads the ground-truth previous frame
``const``            p = 10 self-fed frames, then 10 ground-truth frames, from the first step (auto-condition)
``linear``           p = floor(lambda t), lambda = 1.0 per epoch (the default; p reaches 42 at the last epoch)
``quadratic``        p = floor(lambda t^2), lambda = 0.0232 (p reaches the same 42 at the last epoch)
==================  =========================================================================================

Each run is evaluated by ``choreo eval --model RUN --split test --dancerevolution --samples 3`` (the default
model's protocol plus Dance Revolution's metrics: 3 dances per test song for multimodality, the first 60 s for
beat coverage / hit, ACC and FID per 4 s clip), and ``OUT/ablation.md`` gathers FID_k, FID_g, ACC, BAS, beat
coverage / hit, freezing, multimodality and the FID_k-per-clip curve of the four.

Expected time: 4000 steps of 2.4 (teacher-forced) to 5.4 (p = 40 of 50 frames self-fed) CPU-seconds each
(measured, one thread): 2.7 CPU-hours for ``teacher_forcing``, 4.8 for ``const``, 5.2 for ``linear``, 4.6 for
``quadratic``, i.e. about 2-3.5 h each on two idle cores; about 15 min per evaluation (4 test songs x 3 seeds
plus 5 other songs, one frame at a time): some 12-14 h for the whole ablation on two idle cores, several times
more on a machine shared with other jobs. Trainings resume where they stopped, so the script can run in
sittings (``--time-limit`` minutes per training per sitting)::

    .venv/bin/python research/dancerevolution_ablation.py --out runs/dr_ablation
    .venv/bin/python research/dancerevolution_ablation.py --out runs/dr_ablation --time-limit 120   (again until done)
    .venv/bin/python research/dancerevolution_ablation.py --print-commands                        (commands only)

A shorter ablation on a smaller budget: ``--steps N`` trains every schedule for N steps, and the growing schedules'
lambdas are scaled so that p still reaches the same 42 self-fed frames at the last epoch (``--steps 1000``:
linear lambda 4.0, quadratic 0.371; about a quarter of the compute)::

    .venv/bin/python research/dancerevolution_ablation.py --out runs/dr_ablation_1k --steps 1000 --unrelated none

A smoke test of the whole pipeline in a few minutes: ``--config dancerevolution_tiny --steps 20 --samples 2
--unrelated none``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: schedule -> the model settings that differ from the config's
SCHEDULES = {
    "teacher_forcing": {"schedule": "teacher_forcing"},
    "const": {"schedule": "const", "const_frames": 10},
    "linear": {"schedule": "linear", "curriculum_lambda": 1.0},
    "quadratic": {"schedule": "quadratic", "curriculum_lambda": 0.0232},
}
ROWS = (
    ("fid_k", "FID_k", "lower is better"),
    ("fid_g", "FID_g", "lower is better"),
    ("div_k", "Div_k", "close to real"),
    ("acc", "ACC (style, per dance)", "higher is better"),
    ("bas", "BAS (Bailando)", "higher is better"),
    ("beat_coverage", "beat coverage", "close to real"),
    ("beat_hit", "beat hit rate", "higher is better"),
    ("freezing", "freezing (last / first fifth)", "close to real (~1)"),
    ("multimodality_k", "multimodality_k", "higher is more varied"),
    ("fid_k_over_time_slope", "FID_k slope per 4 s clip", "~0: no drift"),
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared/data/dance_with_melody"))
    ap.add_argument("--out", default=str(REPO / "runs/dr_ablation"))
    ap.add_argument("--config", default="dancerevolution", help="base config (built-in name or file)")
    ap.add_argument("--schedules", nargs="+", default=list(SCHEDULES), choices=list(SCHEDULES))
    ap.add_argument("--steps", type=int, help="training steps (default: the config's)")
    ap.add_argument("--time-limit", type=float, metavar="MIN", help="minutes per training in this sitting")
    ap.add_argument("--samples", type=int, default=3, help="dances per test song (multimodality)")
    ap.add_argument("--unrelated", default=None, help="a folder of other songs to evaluate on too (default: none)")
    ap.add_argument("--cache-dir", default=None, help="choreo's data / feature cache")
    ap.add_argument("--print-commands", action="store_true", help="print the commands and stop")
    args = ap.parse_args(argv)

    from choreo import checkpoint as ck
    from choreo.train.config import RunConfig

    out = Path(args.out)
    (out / "configs").mkdir(parents=True, exist_ok=True)
    py = sys.executable
    plan = []
    for name in args.schedules:
        cfg = RunConfig.load(args.config)
        cfg.model.update(SCHEDULES[name])
        if args.steps is not None and args.steps != cfg.train.steps:
            # A shorter (or longer) ablation keeps each schedule's shape over the run: the growing schedules reach
            # the same p at the last step as they do over the config's steps (t is counted in epochs).
            scale = cfg.train.steps / args.steps
            if name == "linear":
                cfg.model["curriculum_lambda"] = cfg.model["curriculum_lambda"] * scale
            elif name == "quadratic":
                cfg.model["curriculum_lambda"] = cfg.model["curriculum_lambda"] * scale**2
            cfg.train.steps = args.steps
        cfg_path = out / "configs" / f"{name}.yaml"
        cfg.save(cfg_path)
        run = out / "runs" / name
        train = [py, "-m", "choreo", "train", "--config", str(cfg_path), "--data", args.data, "--out", str(run)]
        train += ["--no-progress"]
        if args.cache_dir is not None:
            train += ["--cache-dir", args.cache_dir]
        if args.time_limit is not None:
            train += ["--time-limit", str(args.time_limit)]
        evaluate = [py, "-m", "choreo", "eval", "--model", str(run), "--split", "test", "--data", args.data]
        evaluate += ["--dancerevolution", "--samples", str(args.samples), "--unlocked"]
        evaluate += ["--json", str(out / "eval" / f"{name}.json")]
        if args.unrelated not in (None, "none"):
            evaluate += ["--songs", args.unrelated]
        plan.append((name, cfg.train.steps, run, train, evaluate))

    if args.print_commands:
        for _, _, _, train, evaluate in plan:
            print(" ".join(train), "   # add --resume to continue")
            print(" ".join(evaluate))
        return 0

    for name, steps, run, train, evaluate in plan:
        last = run / ck.LAST
        done = last.exists() and ck.load_checkpoint(last)["step"] >= steps
        if not done:
            cmd = train + (["--resume"] if last.exists() else [])
            print("$", " ".join(cmd), flush=True)
            if subprocess.run(cmd).returncode != 0:
                raise SystemExit(f"training {name} failed")
            done = ck.load_checkpoint(last)["step"] >= steps
        if not done:
            print(f"{name}: stopped before step {steps}; run the script again to continue", flush=True)
            continue
        if not (out / "eval" / f"{name}.json").exists():
            (out / "eval").mkdir(exist_ok=True)
            print("$", " ".join(evaluate), flush=True)
            if subprocess.run(evaluate).returncode != 0:
                raise SystemExit(f"evaluating {name} failed")

    table = summarise(out, args.schedules)
    (out / "ablation.md").write_text(table + "\n")
    print(table)
    return 0


def summarise(out: Path, schedules) -> str:
    """The ablation table from ``OUT/eval/<schedule>.json`` (``choreo eval --json``; schedules not evaluated yet are
    left out)."""
    results, gt = {}, None
    for name in schedules:
        f = out / "eval" / f"{name}.json"
        if f.exists():
            sets = json.loads(f.read_text())["sections"][0]["sets"]
            results[name] = sets["model"]["runs"][0]
            if gt is None:
                gt = sets["real"]["runs"][0]
    if not results:
        return "(no evaluated run yet)"

    def value(r: dict, key: str):
        if key in (r.get("undefined") or {}):
            return "undefined"  # the reference formula divided by a zero spread (docs/metrics.md)
        dr = r.get("dancerevolution") or {}
        return r.get(key) if key in r else dr.get(key)

    def shown(v) -> str:
        return "n/a" if v is None else v if isinstance(v, str) else f"{v:.4g}"

    names = list(results)
    head = "| metric | " + " | ".join(names) + (" | real dances" if gt else "") + " | |"
    lines = [head, "|---" * (len(names) + (3 if gt else 2)) + "|"]
    for key, label, note in ROWS:
        cells = [value(results[n], key) for n in names]
        if gt:
            gt_keys = {"fid_k": None, "fid_g": None, "div_k": "div_k_gt", "multimodality_k": None}
            gk = gt_keys.get(key, None if key == "fid_k_over_time_slope" else key)
            cells.append(None if gk is None else value(gt, gk))
        lines.append(f"| {label} | " + " | ".join(shown(v) for v in cells) + f" | {note} |")
    lines += ["", "FID_k per 4 s clip of the first minute (clip 1 ... 15):", ""]
    for n in names:
        curve = value(results[n], "fid_k_over_time") or []
        lines.append(f"- {n}: " + " ".join("n/a" if v is None else f"{v:.1f}" for v in curve))
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
