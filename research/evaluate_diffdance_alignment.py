"""Showed: the first embedding memorised its 34 songs (test-split retrieval at chance; docs/diffdance.md).

Music -> dance retrieval of a DiffDance run's music-motion embedding on the test split, against chance.

The test dances are cut into non-overlapping clips of ``--clip-seconds`` (the contrastive clip length, 6 s by
default); each music clip ranks every dance clip by cosine similarity of the clip embeddings. Printed for the
stage-1 music encoder and for the adapter (stage 2):

- top-1 / top-5: the clip's own dance first / in the first five, with chance 1/N and 5/N;
- the share of first-ranked dances of the right genre (Dance with Melody: the letter of DANCE_C_/R_/T_/W_)
  against chance, and top-1 among the same genre's dances only: how much of the retrieval is only genre;
- the share of first-ranked dances from the right song and top-1 among the song's own clips only;
- the mean rank of the own dance as a share of the list (chance 0.5; steadier than top-1 on a few dozen clips).

The JSON also holds the time-aligned retrieval (``mean_t cos(music_t, dance_t)`` of the per-frame embeddings,
``encoders_aligned``, ``adapter_aligned``). Design choices are made on training songs held out of the run
(``--split train --sequences ...``, see docs/diffdance.md), never on the test split.

    .venv/bin/python research/evaluate_diffdance_alignment.py RUN_OR_CHECKPOINT [--data DIR] [--json OUT]
    .venv/bin/python research/evaluate_diffdance_alignment.py RUN --split train --sequences DANCE_C_6 DANCE_R_3 ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def alignment_report(
    checkpoint: str,
    data: str | None = None,
    clip_seconds: float | None = None,
    split: str = "test",
    sequences: list[str] | None = None,
    cache_dir: str | None = None,
) -> dict:
    """Retrieval of a DiffDance checkpoint's embedding on a split (see the module docstring).

    Returns:
        ``{"clips": N, "clip_seconds", "encoders": report, "adapter": report}`` with
        :func:`choreo.metrics.retrieval.retrieval_report`'s dicts for the stage-1 music encoder and the adapter.
    """
    import dataclasses

    from choreo.checkpoint import load_method
    from choreo.data.config import DataConfig
    from choreo.data.datasets import build_dataset
    from choreo.errors import ChoreoError
    from choreo.metrics.retrieval import frame_similarity, genre_of, retrieval_report, similarity_report

    method, state = load_method(checkpoint, device="cpu")
    if method.name != "diffdance":
        raise ChoreoError(f"a {method.name!r} checkpoint has no music-motion embedding", checkpoint)
    saved = dict(state["config"].get("data") or {})
    fields = {f.name for f in dataclasses.fields(DataConfig)}
    cfg = DataConfig(**{k: v for k, v in saved.items() if k in fields})
    seconds = float(clip_seconds or method.config.clip_seconds)
    cfg.path = str(data or cfg.path)
    cfg.window_seconds, cfg.stride_seconds = seconds, seconds
    cfg.extra_fps, cfg.sequences, cfg.max_sequences, cfg.mirror = [], sequences, None, False
    cfg.exclude_sequences = None  # the run's held-out fold is what is scored here
    if cache_dir is not None:
        cfg.cache_dir = cache_dir
    ds = build_dataset(cfg, split, normalizer=method.normalizer)
    batch = ds.get(list(range(len(ds))))
    emb = method.clip_embeddings(batch["motion"], batch["music"])
    frames = method.frame_embeddings(batch["motion"], batch["music"])
    songs = [ds.sequences[int(i)].name for i in ds.window_sequence]
    genres = [genre_of(name) for name in songs]

    def aligned(key: str) -> dict:
        return similarity_report(frame_similarity(frames[key], frames["motion"]).numpy(), genres, songs)

    return {
        "clips": len(ds),
        "clip_seconds": seconds,
        "split": split,
        "sequences": sorted(set(songs)),
        "encoders": retrieval_report(emb["music"], emb["motion"], genres, songs),
        "adapter": retrieval_report(emb["adapted"], emb["motion"], genres, songs),
        "encoders_aligned": aligned("music"),
        "adapter_aligned": aligned("adapted"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="DiffDance run folder or checkpoint")
    ap.add_argument("--data", help="data folder (default: the run's)")
    ap.add_argument("--clip-seconds", type=float, help="clip length (default: the model's clip_seconds)")
    ap.add_argument("--split", default="test", choices=("test", "train", "all"))
    ap.add_argument("--sequences", nargs="+", metavar="NAME", help="only these sequences of the split (validation)")
    ap.add_argument("--json", metavar="OUT", help="also write the numbers here")
    args = ap.parse_args(argv)

    from choreo.metrics.retrieval import format_report

    r = alignment_report(args.checkpoint, args.data, args.clip_seconds, args.split, args.sequences)
    print(format_report(r["encoders"], f"stage 1 (encoders), {r['clip_seconds']:g} s clips, music -> dance"))
    print(format_report(r["adapter"], f"stage 2 (adapter), {r['clip_seconds']:g} s clips, music -> dance"))
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
