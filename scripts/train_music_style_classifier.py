"""Train the music-style classifier that ``choreo eval-music`` uses (cha-cha / rumba / tango / waltz).

    python scripts/train_music_style_classifier.py [--data ../shared/data/dance_with_melody]
        [--out src/choreo/assets/music_style_dwm.npz] [--l2 1.0]

Data: the songs of Dance with Melody's *training* split (the style is the sequence name's letter); the four
held-out sequences' songs are only used to report accuracy. Each whole song is cut into 10 s clips every 5 s
and embedded (:func:`choreo.metrics.music_style.music_embedding`); a softmax regression with class-balanced
weights and an L2 penalty is fitted on the standardised embeddings (full-batch L-BFGS, float64).

Reported: leave-one-song-out accuracy on the training songs (per clip and per song, where a song is
classified by its mean clip log-probability; per class and balanced), and the accuracy on the held-out
songs. Takes a few minutes on 2 cores (decoding is cached under the choreo cache folder).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]


def fit(x: np.ndarray, y: np.ndarray, k: int, l2: float, iters: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression on (N, E) standardised x, labels (N,) in [0, k): class-balanced, L2 on the weights."""
    xt = torch.as_tensor(x, dtype=torch.float64)
    yt = torch.as_tensor(y, dtype=torch.long)
    counts = np.bincount(y, minlength=k).astype(np.float64)
    cw = torch.as_tensor(np.where(counts > 0, len(y) / (k * np.maximum(counts, 1)), 0.0))
    w = torch.zeros(x.shape[1], k, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(k, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ w + b, yt, weight=cw) + l2 * (w * w).sum() / len(y)
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), b.detach().numpy()


def predict(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    z = x @ w + b
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def main(argv: list[str] | None = None) -> int:
    from choreo.data.audio_windows import decode_song
    from choreo.data.datasets import default_cache_dir
    from choreo.data.sources import DWM_STYLES, DWM_TEST
    from choreo.metrics.music_style import SR, StyleClassifier, clip_embeddings

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "dance_with_melody"))
    ap.add_argument("--out", default=str(REPO / "src" / "choreo" / "assets" / "music_style_dwm.npz"))
    ap.add_argument("--l2", type=float, default=1.0, help="L2 penalty on the weights (per sample)")
    ap.add_argument("--report", help="also write the accuracy report as JSON here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    classes = tuple(DWM_STYLES.values())
    letters = list(DWM_STYLES)
    songs = sorted(p for p in Path(args.data).iterdir() if (p / "audio.mp3").is_file())
    t0 = time.time()
    emb, lab, song_of, names, test = [], [], [], [], []
    for i, d in enumerate(songs):
        y = decode_song(d / "audio.mp3", SR, default_cache_dir() / "audio").astype(np.float32) / 32767.0
        e = clip_embeddings(y, SR)
        emb.append(e)
        lab.append(np.full(len(e), letters.index(d.name.split("_")[1])))
        song_of.append(np.full(len(e), i))
        names.append(d.name)
        test.append(d.name in DWM_TEST)
        print(f"{d.name}: {len(e)} clips ({time.time() - t0:.0f} s)", file=sys.stderr)
    x_all, y_all, s_all = np.concatenate(emb), np.concatenate(lab), np.concatenate(song_of)
    is_test = np.array(test)[s_all]
    xtr, ytr, str_ = x_all[~is_test], y_all[~is_test], s_all[~is_test]
    k = len(classes)

    # leave-one-song-out on the training songs
    clip_hits, song_pred, song_true = [], [], []
    for s in np.unique(str_):
        held = str_ == s
        mean, std = xtr[~held].mean(0), xtr[~held].std(0) + 1e-6
        w, b = fit((xtr[~held] - mean) / std, ytr[~held], k, args.l2)
        lp = predict((xtr[held] - mean) / std, w, b)
        clip_hits.append(lp.argmax(1) == ytr[held])
        song_pred.append(int(lp.mean(0).argmax()))
        song_true.append(int(ytr[held][0]))
    clip_acc = float(np.concatenate(clip_hits).mean())
    song_true, song_pred = np.array(song_true), np.array(song_pred)
    per_class = {
        classes[c]: (float((song_pred[song_true == c] == c).mean()) if (song_true == c).any() else None)
        for c in range(k)
    }
    balanced = float(np.mean([v for v in per_class.values() if v is not None]))

    mean, std = xtr.mean(0), xtr.std(0) + 1e-6
    w, b = fit((xtr - mean) / std, ytr, k, args.l2)
    test_songs = [i for i, t in enumerate(test) if t]
    test_rows = []
    for i in test_songs:
        lp = predict((emb[i] - mean) / std, w, b)
        test_rows.append({"song": names[i], "true": classes[int(lab[i][0])], "pred": classes[int(lp.mean(0).argmax())]})
    test_acc = float(np.mean([r["true"] == r["pred"] for r in test_rows])) if test_rows else float("nan")
    report = {
        "train_songs": int(len(np.unique(str_))),
        "train_clips": int(len(ytr)),
        "loso_clip_accuracy": clip_acc,
        "loso_song_accuracy": float((song_pred == song_true).mean()),
        "loso_song_accuracy_per_class": per_class,
        "loso_song_balanced_accuracy": balanced,
        "heldout_song_accuracy": test_acc,
        "heldout": test_rows,
        "l2": args.l2,
        "seconds": round(time.time() - t0, 1),
    }
    print(json.dumps(report, indent=1))
    info = {
        "data": "Dance with Melody training-split songs (10 s clips every 5 s)",
        "loso_song_accuracy": report["loso_song_accuracy"],
        "loso_song_balanced_accuracy": balanced,
        "loso_clip_accuracy": clip_acc,
        "heldout_song_accuracy": test_acc,
    }
    StyleClassifier(classes, mean, std, w, b, info).save(args.out)
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e3:.0f} kB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
