"""Evaluate a music-to-dance checkpoint on the Dance with Melody test split, as in MODEL_CARD.md.

Writes, under ``--out``:

- ``gt/``: the real test dances (choreo npz), ``music/``: their songs' beats (``STEM.beats``, seconds from the
  dance's first frame, found by ``choreo.audio.beats`` on the song excerpt the dance was performed to);
- ``choreo/``: the model's dances to those song excerpts (same length, seed per song), as ``choreo dance`` makes
  them (feet locked while the model predicts contact); ``choreo_raw/``: the same dances without foot locking;
- ``no_music/``: the same model with guidance 0 (its unconditional branch: the music is never seen, nor the
  style a model with styles would hear in it: ``guidance_from`` is ``nothing`` there, whatever the model's own);
- ``train_dances/``: real training dances of the same style played to the test songs (no music alignment);
- ``<set>.json``: ``choreo eval --pred <set> --gt gt --music music`` for every set (``gt`` against itself gives
  the real dances' own numbers), and ``table.md``, the model card's tables;
- ``unrelated/``: the same model, with and without music, on the first 30 s of each song in ``--unrelated``
  (Creative-Commons clips unlike ballroom), judged against the real test dances.

Every number comes from ``choreo eval`` (protocol ``edge``: 5 s clips at 60 fps, see docs/metrics.md).

    .venv/bin/python scripts/evaluate_default_model.py [--checkpoint CKPT | --model NAME] [--out runs/eval_default]
    .venv/bin/python scripts/evaluate_default_model.py --checkpoint RUN --dances DANCE_C_6 DANCE_R_3 DANCE_W_20 \
        DANCE_W_31 --unrelated none                   (a validation fold that RUN was trained without)

Any music-to-dance checkpoint works (a run folder, a slim export, a packaged model's name): sampling settings
default to the model's own (EDGE: 50 DDIM steps, guidance 2; DiffDance: 100 steps, guidance 2.5); ``--steps``,
``--guidance`` and ``--option NAME=VALUE`` (any of the method's sampling options, e.g. ``ssr_steps=50``)
override them. Methods without guidance (Dance Revolution) get no ``no_music`` set. ``--dancerevolution`` adds
Dance Revolution's metrics (``choreo eval --dancerevolution``: beat coverage / hit, style ACC, freezing,
multimodality, FID per 4 s clip) to every table; ``--samples N`` makes N dances per test song
(``choreo/NAME_seed<k>.npz`` besides ``choreo/NAME.npz``) for multimodality.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETS = ("gt", "choreo", "choreo_raw", "no_music", "train_dances")
LABELS = {
    "gt": "real test dances",
    "choreo": "choreo default",
    "choreo_raw": "choreo, no foot lock",
    "no_music": "no music (guidance 0)",
    "train_dances": "training dances, test songs",
}
ROWS = (
    ("fid_k", "FID_k", "lower is better"),
    ("fid_g", "FID_g", "lower is better"),
    ("div_k", "Div_k", "close to real"),
    ("div_g", "Div_g", "close to real"),
    ("bas", "BAS (Bailando)", "higher is better"),
    ("pfc", "PFC", "close to real / lower"),
    ("foot_sliding", "foot sliding (m/s)", "close to real / lower"),
    ("jitter", "jitter (m/s^3)", "close to real"),
    ("floor_height", "floor height (m, lowest joint)", "close to real"),
)
#: the rows ``--dancerevolution`` adds (keys of the ``dancerevolution`` block, and freezing)
DR_ROWS = (
    ("freezing", "freezing (last / first fifth)", "close to real (~1)"),
    ("beat_coverage", "beat coverage (first 60 s)", "close to real"),
    ("beat_hit", "beat hit rate (first 60 s)", "higher is better"),
    ("acc", "ACC (style, per dance)", "higher is better"),
    ("multimodality_k", "multimodality_k", "higher is more varied"),
    ("fid_k_over_time_slope", "FID_k slope per 4 s clip", "~0: no drift"),
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--checkpoint", default=None, help="checkpoint or run dir (default: the packaged model)")
    which.add_argument("--model", default=None, help="a packaged model by name (see choreo models)")
    ap.add_argument("--data", default=str(REPO.parent / "shared/data/dance_with_melody"))
    ap.add_argument("--out", default=str(REPO / "runs/eval_default"))
    ap.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's)")
    ap.add_argument("--guidance", type=float, default=None, help="guidance weight (default: the model's)")
    ap.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="another sampling option of the model's method (repeatable), e.g. ssr_steps=50",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--unrelated", default=str(REPO.parent / "shared/data/cc_music"), help="folder of other songs")
    ap.add_argument(
        "--dancerevolution",
        action="store_true",
        help="also Dance Revolution's metrics (choreo eval --dancerevolution): beat coverage / hit, ACC, "
        "freezing, multimodality, FID per 4 s clip",
    )
    ap.add_argument("--samples", type=int, default=1, help="dances per test song (extra ones: NAME_seed<k>.npz)")
    ap.add_argument(
        "--dances",
        nargs="+",
        default=None,
        help="Dance with Melody dances to evaluate on instead of the test split: a validation fold of training "
        "dances to choose settings on (the 'training dances' baseline then draws from the others)",
    )
    args = ap.parse_args(argv)

    import numpy as np

    from choreo.audio import load_audio
    from choreo.audio.beats import beat_times, write_beats
    from choreo.cli import main as choreo
    from choreo.data.sources import DWM_TEST
    from choreo.generate import Choreographer
    from choreo.motion.cleanup import lock_feet
    from choreo.motion.formats import read_motion, write_motion
    from choreo.packaged import default_model_name

    data, out = Path(args.data), Path(args.out)
    for s in SETS:
        (out / s).mkdir(parents=True, exist_ok=True)
    (out / "music").mkdir(exist_ok=True)

    ckpt = args.checkpoint or args.model or default_model_name("dance")
    model = Choreographer.load(ckpt)
    options = parse_options(args.option)
    # the settings every dance below uses (the model's own where not given); guidance 0 is the no-music baseline
    settings = model.method.sampling_settings(steps=args.steps, guidance=args.guidance, **options)
    # methods without guidance (Dance Revolution) take only their own options and have no no-music set
    guided = "guidance" in model.method.sampling_options
    if guided:
        args.steps, args.guidance = int(settings["steps"]), float(settings["guidance"])
    sets = SETS if guided else tuple(s for s in SETS if s != "no_music")
    # the no-music baseline starts from the null condition even for a model that guides from the style
    plain_options = dict(options)
    if "guidance_from" in model.method.sampling_options:
        plain_options["guidance_from"] = "nothing"
    evaluated = list(args.dances or DWM_TEST)
    missing = [n for n in evaluated if not (data / n).is_dir()]
    if missing:
        raise SystemExit(f"not in {data}: {', '.join(missing)}")
    held = set(DWM_TEST) | set(evaluated)
    train_names = sorted(p.name for p in data.glob("DANCE_*") if p.is_dir() and p.name not in held)
    timings = []
    for k, name in enumerate(evaluated):
        real = read_motion(data / name)
        song, start, seconds = real.meta["audio"], float(real.meta["audio_start"]), real.duration
        write_motion(real, out / "gt" / f"{name}.npz")
        y, sr = load_audio(song, start=start, end=start + seconds)
        write_beats(out / "music" / f"{name}.beats", beat_times(y, sr))

        t0 = time.perf_counter()
        raw = model.dance(
            song,
            seconds=seconds,
            start=start,
            seed=args.seed + k,
            guidance=args.guidance,
            steps=args.steps,
            progress=False,
            foot_lock=False,
            **options,
        )
        dance = lock_feet(raw, raw.meta["contacts"])  # what dance() returns by default (foot_lock=True)
        timings.append((seconds, time.perf_counter() - t0))
        write_motion(dance, out / "choreo" / f"{name}.npz")
        write_motion(raw, out / "choreo_raw" / f"{name}.npz")
        for j in range(1, args.samples):  # more dances to the same song (multimodality)
            more = model.dance(
                song,
                seconds=seconds,
                start=start,
                seed=args.seed + k + 1000 * j,
                guidance=args.guidance,
                steps=args.steps,
                progress=False,
                **options,
            )
            write_motion(more, out / "choreo" / f"{name}_seed{j}.npz")
        if guided:
            plain = model.dance(
                song,
                seconds=seconds,
                start=start,
                seed=args.seed + k,
                guidance=0.0,
                steps=args.steps,
                progress=False,
                **plain_options,
            )
            write_motion(plain, out / "no_music" / f"{name}.npz")

        # a real training dance of the same style (C/R/T/W), the longest one, cut to the song's length
        style = name.split("_")[1]
        same = [n for n in train_names if n.split("_")[1] == style] or train_names
        other = max((read_motion(data / n) for n in same), key=lambda m: m.n_frames)
        write_motion(other.crop(0, min(other.n_frames, real.n_frames)), out / "train_dances" / f"{name}.npz")
        print(f"{name}: {seconds:.1f} s of dance generated in {timings[-1][1]:.1f} s", flush=True)

    table = evaluate_sets(choreo, out, sets, out / "gt", out / "music", args.dancerevolution)

    # unrelated music (Creative-Commons clips, first 30 s): does the music still steer the dance?
    unrelated = out / "unrelated"
    songs = sorted(p for p in Path(args.unrelated).glob("*") if p.suffix in (".ogg", ".mp3", ".wav", ".flac"))
    for s in ("choreo", "no_music", "music"):
        (unrelated / s).mkdir(parents=True, exist_ok=True)
    for k, song in enumerate(songs):
        y, sr = load_audio(song, end=30.0)
        write_beats(unrelated / "music" / f"{song.stem}.beats", beat_times(y, sr))
        seconds = min(30.0, len(y) / sr)
        t0 = time.perf_counter()
        dance = model.dance(
            song,
            seconds=seconds,
            seed=args.seed + k,
            guidance=args.guidance,
            steps=args.steps,
            progress=False,
            **options,
        )
        timings.append((seconds, time.perf_counter() - t0))
        write_motion(dance, unrelated / "choreo" / f"{song.stem}.npz")
        if guided:
            plain = model.dance(
                song,
                seconds=seconds,
                seed=args.seed + k,
                guidance=0.0,
                steps=args.steps,
                progress=False,
                **plain_options,
            )
            write_motion(plain, unrelated / "no_music" / f"{song.stem}.npz")
    extra = ""
    if songs:
        unrelated_sets = ("choreo", "no_music") if guided else ("choreo",)
        extra = evaluate_sets(choreo, unrelated, unrelated_sets, out / "gt", unrelated / "music", args.dancerevolution)

    dance_s = sum(a for a, _ in timings)
    comp_s = sum(b for _, b in timings)
    extra_opts = "".join(f", {k} {v}" for k, v in options.items())
    how = (
        f"{args.steps} {str(settings.get('sampler', 'ddim')).upper()} steps, guidance {args.guidance}{extra_opts}"
        if guided
        else f"{model.method.name}, " + ", ".join(f"{k} {v}" for k, v in settings.items())
    )
    speed = (
        f"Generation: {dance_s:.0f} s of dance in {comp_s:.0f} s of compute ({dance_s / comp_s:.2f} s of dance per "
        f"second; {how}, torch threads {model_threads()})."
    )
    title = "Test split" if args.dances is None else "Dances " + ", ".join(evaluated)
    unrelated = f"### Unrelated music ({len(songs)} clips, first 30 s)\n\n{extra}\n\n" if songs else ""
    report = f"### {title}\n\n{table}\n\n{unrelated}{speed}\n"
    (out / "table.md").write_text(report)
    print(report)
    np.save(out / "timings.npy", np.array(timings))
    return 0


def parse_options(items: list[str]) -> dict:
    """``["ssr_steps=50", "noise_level=0.1", "ssr_guidance=none", "guide_root_height=false"]`` -> typed values
    (int, float, None, bool or str)."""
    out = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise SystemExit(f"--option wants NAME=VALUE, got {item!r}")
        value: object = text.strip()
        if value.lower() in ("none", "null"):
            value = None
        elif value.lower() in ("true", "false"):
            value = value.lower() == "true"
        else:
            for kind in (int, float):
                try:
                    value = kind(value)
                    break
                except ValueError:
                    pass
        out[name.strip()] = value
    return out


def evaluate_sets(choreo, folder: Path, sets, gt: Path, music: Path, dancerevolution: bool = False) -> str:
    """``choreo eval`` of every set in ``folder`` against ``gt``; returns the markdown table.

    With ``dancerevolution`` the evaluations add Dance Revolution's metrics and the table their rows.
    """
    results = {}
    for s in sets:
        argv = ["eval", "--pred", str(folder / s), "--gt", str(gt), "--music", str(music), "--protocol", "edge"]
        argv += ["--dancerevolution"] if dancerevolution else []
        if choreo([*argv, "--json", str(folder / f"{s}.json")]) != 0:
            raise SystemExit(f"choreo eval failed on {folder / s}")
        results[s] = json.loads((folder / f"{s}.json").read_text())
    lines = ["| metric | " + " | ".join(LABELS[s] for s in sets) + " | |", "|---" * (len(sets) + 2) + "|"]
    for key, label, note in ROWS + (DR_ROWS if dancerevolution else ()):
        vals = [results[s].get(key, (results[s].get("dancerevolution") or {}).get(key)) for s in sets]
        cells = ["n/a" if v is None else f"{v:.4g}" for v in vals]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {note} |")
    if dancerevolution:
        lines += ["", "FID_k per 4 s clip of the first minute:", ""]
        for s in sets:
            curve = (results[s].get("dancerevolution") or {}).get("fid_k_over_time") or []
            lines.append(f"- {LABELS[s]}: " + " ".join("n/a" if v is None else f"{v:.1f}" for v in curve))
    return "\n".join(lines)


def model_threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    raise SystemExit(main())
