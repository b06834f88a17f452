"""``choreo eval-music``: metrics for generated music against the real music of the same dances."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from choreo.errors import ChoreoError

NAME = "eval-music"

EPILOG = """\
examples:
  choreo eval-music --pred out/generated --real out/real --dances out/dances --json music_metrics.json

Files pair by stem: PRED/STEM.wav (any audio format) with REAL/STEM.<audio>, the music the dance was performed to,
cut to the same span; DANCES/STEM.<motion> (npz, bvh, ... or a Dance with Melody folder STEM/) adds BAS of the
dance against the generated and the real music. The dance style comes from the stem (Dance with Melody's
DANCE_<C|R|T|W>_n, AIST++'s genre code) and is judged by choreo's music-style classifier. Everything is
analysed at 22050 Hz (the D2M-GAN beat metrics' rate). See docs/metrics.md.
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        NAME,
        help="beat coverage/hit, LORIS BCS/BHS/F1, onset F1, tempo, style accuracy, FD and BAS for generated music",
        description="Evaluate generated music against the real music of the same dances.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--pred", required=True, metavar="DIR", help="folder of generated music (STEM.wav, ...)")
    p.add_argument("--real", required=True, metavar="DIR", help="folder of the real music (STEM.<audio>)")
    p.add_argument("--dances", metavar="DIR", help="folder of the dances (STEM.<motion>) for BAS")
    p.add_argument("--classifier", metavar="FILE", help="music-style classifier (default: the shipped one)")
    p.add_argument("--no-style", action="store_true", help="skip style accuracy and the Frechet distance")
    p.add_argument("--json", metavar="OUT", help="write every number (and per-piece scores) to this JSON file")
    p.set_defaults(func=run)


def audio_files(folder: Path) -> dict[str, Path]:
    """STEM -> audio file of a folder (first by name when a stem has several)."""
    from choreo.data.sources import AUDIO_EXTENSIONS

    if not folder.is_dir():
        raise ChoreoError("not a folder", folder)
    out: dict[str, Path] = {}
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS and not f.name.startswith("."):
            out.setdefault(f.stem, f)
    return out


def find_dance(folder: Path | None, stem: str) -> Path | None:
    if folder is None:
        return None
    from choreo.motion.formats import MOTION_EXTENSIONS

    if (folder / stem).is_dir():
        return folder / stem
    for ext in MOTION_EXTENSIONS:
        if (folder / f"{stem}{ext}").is_file():
            return folder / f"{stem}{ext}"
    return None


def evaluate_folders(pred: Path, real: Path, dances: Path | None = None, classifier=None, style: bool = True) -> dict:
    """Pair the folders by stem and compute every metric: ``{"pieces": {stem: {...}}, "summary": {...}, "notes"}``."""
    import numpy as np

    from choreo.audio.io import load_audio
    from choreo.data.sources import style_of
    from choreo.metrics.music import REFERENCE_SR, evaluate_music_pair, summarise
    from choreo.motion.formats import read_motion

    gen, ref = audio_files(pred), audio_files(real)
    stems = sorted(set(gen) & set(ref))
    if not stems:
        raise ChoreoError(f"no stem has both a generated file in {pred} and a real one in {real}")
    notes = []
    missing = sorted(set(gen) - set(ref))
    if missing:
        notes.append(f"no real music for {', '.join(missing)} (skipped)")
    clf = None
    if style:
        from choreo.metrics.music_style import StyleClassifier

        clf = classifier if classifier is not None else StyleClassifier.load()
    rows, emb_gen, emb_real = {}, [], []
    for stem in stems:
        g, _ = load_audio(gen[stem], sr=REFERENCE_SR)
        r, _ = load_audio(ref[stem], sr=REFERENCE_SR)
        dance_path = find_dance(dances, stem)
        pos = fps = None
        if dance_path is not None:
            m = read_motion(dance_path)
            pos, fps = m.joint_positions(), m.fps
        elif dances is not None:
            notes.append(f"no dance for {stem} (no BAS)")
        label = style_of(stem) if clf is not None else None
        if clf is not None and label is not None and label not in clf.classes:
            label = None
        rows[stem] = evaluate_music_pair(g, r, REFERENCE_SR, dance=pos, dance_fps=fps, style=label, classifier=clf)
        if clf is not None:
            from choreo.metrics.music_style import clip_embeddings

            n = min(len(g), len(r))
            emb_gen.append(clip_embeddings(g[:n], REFERENCE_SR))
            emb_real.append(clip_embeddings(r[:n], REFERENCE_SR))
    summary = summarise(list(rows.values()))
    if clf is not None and emb_gen:
        from choreo.metrics.music_style import music_fd

        a, b = np.concatenate(emb_gen), np.concatenate(emb_real)
        if len(a) >= 2 and len(b) >= 2:
            summary["fd_embedding"] = music_fd(a, b, clf)
            summary["fd_clips"] = int(len(a))
    return {"pieces": rows, "summary": summary, "notes": notes}


def format_report(result: dict) -> str:
    s = result["summary"]
    names = [
        ("coverage", "D2M-GAN beat coverage"),
        ("hit", "D2M-GAN beat hit"),
        ("loris_bcs", "LORIS BCS"),
        ("loris_bhs", "LORIS BHS"),
        ("loris_f1", "LORIS F1"),
        ("onset_f1", "onset F1 (1 s bins)"),
        ("tempo_accuracy", "tempo agreement (8 %, octaves)"),
        ("style_accuracy", "style accuracy"),
        ("style_accuracy_real", "style accuracy of the real music"),
        ("fd_embedding", "FD, choreo embedding (not VGGish FAD)"),
        ("bas", "BAS dance vs generated music"),
        ("bas_real", "BAS dance vs real music"),
    ]
    lines = [f"{s['pieces']} pieces"]
    for key, label in names:
        if key in s:
            lines.append(f"  {label:40s} {s[key]:.4f}")
    lines += [f"note: {n}" for n in result["notes"]]
    return "\n".join(lines)


def _finite(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def run(args) -> int:
    from choreo.fileio import atomic_open

    clf = None
    if args.classifier and not args.no_style:
        from choreo.metrics.music_style import StyleClassifier

        clf = StyleClassifier.load(args.classifier)
    result = evaluate_folders(
        Path(args.pred), Path(args.real), Path(args.dances) if args.dances else None, clf, not args.no_style
    )
    print(format_report(result))
    if args.json:
        with atomic_open(args.json, "w") as fh:
            json.dump(_finite(result), fh, indent=1, allow_nan=False)
        print(f"wrote {args.json}")
    return 0
