"""Train the dance-style classifier behind Dance Revolution's ACC (``choreo.metrics.dance_style``).

Data: the real dances of Dance with Melody's training split (34 sequences: cha-cha 3, rumba 5, tango 1, waltz 25;
the style is the letter in the sequence name), at 15 fps. Every step draws a batch of 4 s clips: a style
uniformly among the four (the data are 2/3 waltz), a sequence of that style (in proportion to its length), a
random start; each clip is scaled by a random factor in [0.9, 1.1] (body size) and gets Gaussian noise of 1 %
of the input std. Adam, cross-entropy, a fixed number of steps (no early stopping: the test split is only
looked at once, at the end).

Reports the accuracy on the test split's real dances (DANCE_C_4, DANCE_R_5, DANCE_W_3, DANCE_W_17): per 4 s
clip and per dance (mean clip log-probability), and writes the classifier (about 230 kB).

    .venv/bin/python scripts/train_style_classifier.py [--out src/choreo/assets/dance_style_dwm.pt]

About 2-4 minutes on 2 CPU cores (reading the dances included).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared/data/dance_with_melody"))
    ap.add_argument("--out", default=str(REPO / "src/choreo/assets/dance_style_dwm.pt"))
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    from choreo.data.sources import list_items, split_items
    from choreo.metrics.dance_style import (
        CLIP_FRAMES,
        FPS,
        STYLES,
        StyleClassifier,
        StyleNet,
        clip_inputs,
        motion_clips,
        role_joints,
        style_label,
    )
    from choreo.motion.formats import read_motion

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    items, _, kind = list_items(args.data, "dwm")
    train_items = split_items(items, kind, args.data, "train")
    test_items = split_items(items, kind, args.data, "test")

    def load(item):
        m = read_motion(item.motion).resample(FPS)
        return m, role_joints(m.joint_positions(), m.skeleton)

    train = []
    for it in train_items:
        m, joints = load(it)
        train.append((it.name, STYLES.index(style_label(it.name)), joints))
    print(f"read {len(train)} training dances in {time.time() - t0:.0f} s", flush=True)

    # input statistics over the training set's consecutive clips
    frames = np.concatenate(
        [
            clip_inputs(j[i : i + CLIP_FRAMES])
            for _, _, j in train
            for i in range(0, len(j) - CLIP_FRAMES + 1, CLIP_FRAMES)
        ]
    )
    mean, std = frames.mean(axis=0), frames.std(axis=0) + 1e-6
    by_class: dict[int, list[int]] = {}
    for k, (_, c, _) in enumerate(train):
        by_class.setdefault(c, []).append(k)
    classes = sorted(by_class)

    def batch(n: int):
        xs, ys = [], []
        for _ in range(n):
            c = classes[int(rng.integers(len(classes)))]
            seqs = by_class[c]
            lengths = np.array([len(train[k][2]) for k in seqs], np.float64)
            k = seqs[int(rng.choice(len(seqs), p=lengths / lengths.sum()))]
            joints = train[k][2]
            s = int(rng.integers(0, len(joints) - CLIP_FRAMES + 1))
            x = clip_inputs(joints[s : s + CLIP_FRAMES] * rng.uniform(0.9, 1.1))
            x = (x - mean) / std + rng.normal(0.0, 0.01, x.shape)
            xs.append(x)
            ys.append(c)
        return torch.from_numpy(np.stack(xs).astype(np.float32)), torch.tensor(ys)

    net = StyleNet(width=args.width)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    for step in range(1, args.steps + 1):
        x, y = batch(args.batch_size)
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 250 == 0:
            print(f"step {step}: loss {loss.item():.4f}", flush=True)

    clf = StyleClassifier(net, mean, std, STYLES)
    report = {"dances": {}, "confusion_clips": np.zeros((len(STYLES), len(STYLES)), int)}
    n_clips = correct_clips = correct_dances = 0
    for it in test_items:
        m, _ = load(it)
        truth = STYLES.index(style_label(it.name))
        lp = clf.clip_log_probs(motion_clips(m))
        pred_clips = lp.argmax(axis=1)
        for p in pred_clips:
            report["confusion_clips"][truth, p] += 1
        pred = int(lp.mean(axis=0).argmax())
        n_clips += len(pred_clips)
        correct_clips += int((pred_clips == truth).sum())
        correct_dances += int(pred == truth)
        report["dances"][it.name] = {
            "style": STYLES[truth],
            "predicted": STYLES[pred],
            "clip_accuracy": float((pred_clips == truth).mean()),
            "clips": len(pred_clips),
        }
    info = {
        "data": "Dance with Melody, training split (34 real dances), 15 fps, 4 s clips",
        "trained_by": "scripts/train_style_classifier.py",
        "settings": {k: v for k, v in vars(args).items() if k not in ("data", "out")},
        "test_clip_accuracy": correct_clips / n_clips,
        "test_dance_accuracy": correct_dances / len(test_items),
        "test_clips": n_clips,
        "test_dances": report["dances"],
        "test_confusion_clips": report["confusion_clips"].tolist(),
        "confusion_order": list(STYLES),
    }
    clf.info = info
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(clf.state(), out)
    print(json.dumps({k: info[k] for k in ("test_clip_accuracy", "test_dance_accuracy", "test_dances")}, indent=1))
    print(f"confusion (rows: true {', '.join(STYLES)}; columns: predicted): {info['test_confusion_clips']}")
    print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB) in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
