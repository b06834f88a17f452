"""Choose a model's sampling settings on *training* dances (the test split is never seen).

For every setting and seed, the model dances to the songs of some training dances (the excerpt each real dance
was performed to, its first ``--seconds``, feet locked as ``choreo dance`` does); ``choreo eval`` (protocol
``edge``) scores the dances against those real dances. The table gives, per setting, the mean over seeds of
FID_k, Div_k, BAS, PFC, foot sliding, jitter and floor height (a floating dancer), beside the real dances' own
numbers. In-sample numbers flatter every setting alike; what they are for is the ranking of settings and the
trade-off between them (e.g. Div_k against FID_k and jitter).

    .venv/bin/python scripts/tune_sampling.py --checkpoint diffdance \\
        --settings "ssr_guidance=1.0" "ssr_guidance=1.5" "guidance=4;ssr_guidance=1.0" --seeds 0 [--out runs/tune]

``--after-dance`` dances instead to the part of each song that follows its dance (Dance with Melody's songs run
on for minutes after the excerpt a couple danced to): music of the training songs that the model never
trained on. The real dances stay the reference (same song, same style); BAS reads the beats of the part danced
to. It tells how a setting fares on unheard music without touching the test split.

``--songs DIR`` dances instead to the first ``--seconds`` of every song in DIR (e.g. ``../shared/data/cc_music``,
songs unlike ballroom that no model here trained on): the real training dances stay the reference of FID_k
(how far the dances' kinetics stray from the training dances'), BAS reads each song's own beats, and Div_k,
PFC, foot sliding and jitter need no reference. Music a model has never heard in any form is where a music
condition that memorised its songs shows it.

A setting is ``;``-separated ``NAME=VALUE`` pairs: ``steps``, ``guidance`` or any of the method's sampling
options (``choreo dance --help``); the model's own values fill in the rest.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_default_model import parse_options  # noqa: E402

# two dances of every style the training split has (C, R, T, W); none of them is in the test split
DANCES = ("DANCE_C_2", "DANCE_C_6", "DANCE_R_2", "DANCE_R_3", "DANCE_T_5", "DANCE_W_1", "DANCE_W_20", "DANCE_W_31")
METRICS = (
    ("fid_k", "FID_k"),
    ("fid_g", "FID_g"),
    ("div_k", "Div_k"),
    ("bas", "BAS"),
    ("pfc", "PFC"),
    ("foot_sliding", "sliding"),
    ("jitter", "jitter"),
    ("floor_height", "floor"),
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="checkpoint, run dir or packaged model name")
    ap.add_argument("--data", default=str(REPO.parent / "shared/data/dance_with_melody"))
    ap.add_argument("--out", default=str(REPO / "runs/tune_sampling"))
    ap.add_argument("--settings", nargs="+", required=True, help='e.g. "guidance=4;ssr_guidance=1.5"')
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--dances", nargs="+", default=list(DANCES), help="training dances to tune on")
    ap.add_argument("--seconds", type=float, default=30.0, help="first seconds of every dance")
    ap.add_argument("--after-dance", action="store_true", help="dance to the song after the dance's end")
    ap.add_argument("--songs", help="dance to the songs in this folder instead (the real dances stay the reference)")
    args = ap.parse_args(argv)

    from choreo.audio import load_audio
    from choreo.audio.beats import beat_times, write_beats
    from choreo.cli import main as choreo
    from choreo.data.sources import DWM_TEST
    from choreo.generate import Choreographer
    from choreo.motion.cleanup import lock_feet
    from choreo.motion.formats import read_motion, write_motion

    leaked = sorted(set(args.dances) & set(DWM_TEST))
    if leaked:
        raise SystemExit(f"{', '.join(leaked)}: in the test split; tune on training dances only")
    data, out = Path(args.data), Path(args.out)
    model = Choreographer.load(args.checkpoint)
    gt, music = out / "gt", out / "music"
    gt.mkdir(parents=True, exist_ok=True)
    music.mkdir(exist_ok=True)
    songs = {}
    if args.after_dance and args.songs:
        raise SystemExit("--after-dance and --songs are exclusive")
    for name in args.dances:
        real = read_motion(data / name)
        song, start = real.meta["audio"], float(real.meta["audio_start"])
        if args.after_dance:
            start += real.duration + 1.0
        real = real.crop(0, min(real.n_frames, int(round(args.seconds * real.fps))))
        y, sr = load_audio(song, start=start, end=start + real.duration)
        if len(y) < 0.99 * real.duration * sr:
            raise SystemExit(f"{name}: its song has only {len(y) / sr:.1f} s after {start:.1f} s")
        write_motion(real, gt / f"{name}.npz")
        if not args.songs:
            songs[name] = (song, start, real.duration)
            write_beats(music / f"{name}.beats", beat_times(y, sr))
    if args.songs:
        files = sorted(p for p in Path(args.songs).iterdir() if p.suffix.lower() in (".ogg", ".mp3", ".wav", ".flac"))
        if not files:
            raise SystemExit(f"{args.songs}: no audio files (.ogg, .mp3, .wav, .flac)")
        for f in files:
            y, sr = load_audio(f, end=args.seconds)
            songs[f.stem] = (str(f), 0.0, len(y) / sr)
            write_beats(music / f"{f.stem}.beats", beat_times(y, sr))

    def score(folder: Path) -> dict:
        argv = ["eval", "--pred", str(folder), "--gt", str(gt), "--music", str(music), "--protocol", "edge"]
        if choreo([*argv, "--json", str(folder.with_suffix(".json"))]) != 0:
            raise SystemExit(f"choreo eval failed on {folder}")
        return json.loads(folder.with_suffix(".json").read_text())

    rows = [("real dances", score(gt), "")]
    for k, text in enumerate(args.settings):
        raw_options = parse_options([item for item in text.split(";") if item.strip()])
        steps, guidance = raw_options.pop("steps", None), raw_options.pop("guidance", None)
        settings = model.method.sampling_settings(steps=steps, guidance=guidance, **raw_options)
        per_seed, compute, seconds = [], 0.0, 0.0
        for seed in args.seeds:
            folder = out / f"setting{k}_seed{seed}"
            folder.mkdir(exist_ok=True)
            for j, (name, (song, start, length)) in enumerate(songs.items()):
                t0 = time.perf_counter()
                raw = model.dance(
                    song,
                    seconds=length,
                    start=start,
                    seed=seed * 1000 + j,
                    guidance=guidance,
                    steps=steps,
                    progress=False,
                    foot_lock=False,
                    **raw_options,
                )
                compute += time.perf_counter() - t0
                seconds += length
                write_motion(lock_feet(raw, raw.meta["contacts"]), folder / f"{name}.npz")
            per_seed.append(score(folder))
        # a metric a set cannot have (Div_k of a single clip) is None: NaN in the mean
        mean = {key: sum(_num(r[key]) for r in per_seed) / len(per_seed) for key, _ in METRICS}
        shown = ", ".join(f"{n}={v}" for n, v in settings.items())
        rows.append((text, mean, f"{shown}; {seconds / compute:.2f} s of dance per s"))
        print(f"{text}: " + ", ".join(f"{label} {mean[key]:.4g}" for key, label in METRICS), flush=True)

    lines = ["| setting | " + " | ".join(label for _, label in METRICS) + " | |", "|---" * (len(METRICS) + 2) + "|"]
    for text, result, note in rows:
        lines.append(f"| {text} | " + " | ".join(f"{_num(result[key]):.4g}" for key, _ in METRICS) + f" | {note} |")
    table = "\n".join(lines)
    (out / "table.md").write_text(table + "\n")
    print(table)
    return 0


def _num(v) -> float:
    return float("nan") if v is None else float(v)


if __name__ == "__main__":
    raise SystemExit(main())
