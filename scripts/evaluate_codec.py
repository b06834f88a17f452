"""Measure an audio codec: reconstruction quality and encode / decode speed, on songs it did not train on.

    python scripts/evaluate_codec.py --codec runs/codec [--data ../shared/data/dance_with_melody] [--split test]
        [--seconds 30] [--offset 30] [--json codec_eval.json]

For every song of the split (Dance with Melody: the four held-out sequences' songs; any folder works, with
folders joined by ':'), a ``--seconds`` stretch starting ``--offset`` s in is encoded to codes and decoded to
audio. Reported per song and on average:

- ``mel_l1`` (mean |log10 mel| error, the codec's 80-band front end) and ``lsd`` (log-spectral distance, dB)
  of the reconstruction against the original;
- D2M-GAN beat coverage / hit, LORIS F1 and onset F1 (1 s bins) of the reconstruction against the original;
- the same for Griffin-Lim alone on the original's mel (``gl_*``): what the mel -> audio step costs without
  the codec, i.e. the bound any mel codec decoded this way shares;
- ``encode_rtf`` / ``decode_rtf``: seconds of compute per second of audio (below 1: faster than real time),
  with the threads given by ``--threads``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]


def load_codec(path: str):
    """The codec of a ``codec`` run or of a D2M-GAN checkpoint (its frozen component)."""
    from choreo.checkpoint import load_method

    method, _ = load_method(path, device="cpu")
    if not hasattr(method, "codec"):
        raise SystemExit(f"{path}: a {method.name} checkpoint has no codec")
    return method.codec.eval()


def evaluate(codec, y: np.ndarray, sr: int, seed: int = 0) -> dict:
    from choreo.audio.griffinlim import mel_to_audio
    from choreo.metrics.music import beat_coverage_hit, log_spectral_distance, loris_beat_scores, mel_l1, onset_f1

    c = codec.config
    with torch.inference_mode():
        t0 = time.perf_counter()
        _, codes = codec.quantize(codec.encode(torch.from_numpy(y)[None]))
        t1 = time.perf_counter()
        rec = codec.decode(codes[0], n_samples=len(y), seed=seed)
        t2 = time.perf_counter()
        mel = codec.log_mel(torch.from_numpy(y)[None])[0].numpy()
    gl = mel_to_audio(mel, sr, c.n_fft, c.mel_hop, c.fmin, c.fmax, c.gl_iters, seed, length=len(y))
    out = {"seconds": len(y) / sr, "encode_rtf": (t1 - t0) * sr / len(y), "decode_rtf": (t2 - t1) * sr / len(y)}
    for prefix, z in (("", rec), ("gl_", gl)):
        cov, hit = beat_coverage_hit(z, y, sr)
        out.update(
            {
                f"{prefix}mel_l1": mel_l1(y, z, sr, c.n_fft, c.mel_hop, c.n_mels),
                f"{prefix}lsd": log_spectral_distance(y, z),
                f"{prefix}coverage": cov,
                f"{prefix}hit": hit,
                f"{prefix}loris_f1": loris_beat_scores(z, y, sr)[2],
                f"{prefix}onset_f1": onset_f1(z, y, sr)["f1"],
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    from choreo.audio.io import load_audio
    from choreo.data.audio_windows import list_songs, split_songs

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--codec", required=True, help="codec run / checkpoint (or a D2M-GAN checkpoint)")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "dance_with_melody"))
    ap.add_argument("--split", default="test", choices=("train", "test", "all"))
    ap.add_argument("--seconds", type=float, default=30.0, help="seconds of each song to code")
    ap.add_argument("--offset", type=float, default=30.0, help="seconds into each song where the stretch starts")
    ap.add_argument("--max-songs", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the numbers here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    codec = load_codec(args.codec)
    sr = int(codec.sample_rate)
    songs = []
    for folder in (f for f in args.data.split(os.pathsep) if f):
        songs += split_songs(list_songs(folder), folder, args.split)
    songs = songs[: args.max_songs] if args.max_songs else songs
    if not songs:
        raise SystemExit(f"no songs in the {args.split} split of {args.data}")
    rows = {}
    for name, path in songs:
        try:
            y, _ = load_audio(path, sr=sr, start=args.offset, end=args.offset + args.seconds)
        except Exception:  # noqa: BLE001 - a song shorter than the offset: take its start
            y, _ = load_audio(path, sr=sr, end=args.seconds)
        rows[name] = evaluate(codec, y, sr)
        r = rows[name]
        print(
            f"{name}: mel L1 {r['mel_l1']:.3f} (GL alone {r['gl_mel_l1']:.3f}), LSD {r['lsd']:.2f} dB, "
            f"hit {r['hit']:.2f}, onset F1 {r['onset_f1']:.2f}, encode x{r['encode_rtf']:.3f} "
            f"decode x{r['decode_rtf']:.3f} real time",
            file=sys.stderr,
        )
    keys = next(iter(rows.values())).keys()
    summary = {k: float(np.mean([r[k] for r in rows.values()])) for k in keys}
    result = {"codec": args.codec, "split": args.split, "songs": rows, "mean": summary}
    print(json.dumps(summary, indent=1))
    if args.json:
        from choreo.fileio import atomic_open

        with atomic_open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
