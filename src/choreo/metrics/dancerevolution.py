"""Dance Revolution's own metrics (Huang et al., ICLR 2021), on a set of generated dances and a set of real ones.

All of them look at the first minute of each dance (``span_seconds``, 60), resampled to 60 fps like every
choreo protocol, cut into consecutive 4-second clips (``clip_seconds``; 240 frames, a shorter tail dropped),
each root-zeroed on its first frame's root joint:

- **Beat coverage and beat hit rate** (:func:`beat_coverage_hit`), as the paper defines them:
  coverage = B_k / B_m (motion beats over music beats), hit rate = B_a / B_k (motion beats within
  ``tolerance`` seconds (0.1 s, choreo's choice: the paper gives none) of a music beat over motion beats).
  Motion beats are Bailando's (local minima of the Gaussian-smoothed mean joint speed, on a curve rounded to
  1 micrometre per frame so that a still pose has none: :func:`motion_beat_times`), music beats the same as
  BAS uses. Per dance over its first minute; the
  set value is the mean over dances. A dance without music beats has no coverage, one without motion beats
  no hit rate.
- **ACC**: the share of dances whose style the shipped classifier (:mod:`choreo.metrics.dance_style`, trained
  on real Dance with Melody dances) gets right, from the mean log-probability of the dance's clips; also per
  clip (``acc_clips``). The true style is ``style`` when given (every generated dance is meant to be, say, a
  waltz), otherwise the letter of a Dance with Melody name in the file name (``DANCE_W_3...`` -> waltz).
- **FID over time** (:func:`fid_over_time`): clip k (seconds 4k..4k+4) of every generated dance against all
  clips of the real dances, for k = 0..14: FID_k and FID_g per clip position (features normalised with the
  real clips' mean and std, as in :mod:`choreo.metrics.fid`). A dance that freezes or drifts climbs. With a
  single generated dance a position has one clip: its value is then the Frechet distance from that point to
  the real clips' Gaussian, ``|x - mu|^2 + tr S`` (the limit of zero covariance). ``*_slope`` is the
  least-squares slope per clip.
- **Multimodality** (:func:`multimodality`): several dances for one song, named ``SONG_seed<k>`` (also
  ``SONG-seed<k>``, ``SONG@<k>``): the mean pairwise Euclidean distance between the dances of a song (each the
  mean of its clips' normalised features), averaged over songs with at least two dances.
  Diversity across songs is the standard ``div_k`` / ``div_g``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.spatial.distance import pdist

from choreo.errors import ChoreoError
from choreo.metrics.beats import bailando_speed_curve
from choreo.metrics.features import geometric_features, kinetic_features
from choreo.metrics.fid import fid, normalize

FPS = 60.0
CLIP_SECONDS = 4.0
SPAN_SECONDS = 60.0
#: seconds between a motion beat and a music beat for a hit (choreo's choice; the paper gives no number).
HIT_TOLERANCE = 0.1
_SEED_SUFFIX = re.compile(r"(?:[_-]seed\d+|@\d+)$")


def song_key(name: str) -> str:
    """The song a dance file is for: its stem without a ``_seed<k>`` / ``-seed<k>`` / ``@<k>`` suffix."""
    stem = Path(str(name)).name
    for ext in (".npz", ".bvh", ".pkl", ".pickle", ".glb", ".json"):
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
            break
    return _SEED_SUFFIX.sub("", stem)


#: speed resolution of :func:`motion_beat_times` (metres per frame): finer differences are round-off.
SPEED_RESOLUTION = 1e-6


def motion_beat_times(positions: np.ndarray, fps: float) -> np.ndarray:
    """Motion beats (seconds) of one dance (T, J, 3): Bailando's, on a speed curve rounded to 1 micrometre/frame.

    The local minima of the Gaussian-smoothed (sigma 5 frames) mean joint displacement per frame
    (:func:`choreo.metrics.beats.bailando_speed_curve`), a run of equal values counting as one minimum at its
    middle (:func:`_plateau_minima`). Rounding first makes a dance that stands still have no beats (a pause
    between moves is one): resampling a still pose leaves round-off of about 1e-16 m, whose wiggles would
    otherwise count as a beat every other frame.
    """
    curve = np.round(bailando_speed_curve(positions) / SPEED_RESOLUTION)
    return _plateau_minima(curve) / float(fps)


def _plateau_minima(curve: np.ndarray) -> np.ndarray:
    """Frame positions of the local minima of a 1D curve, where a minimum may be a run of equal values.

    A run of equal values lower than the runs on both sides is one minimum, at the run's middle (a strict
    minimum is a run of one). Runs touching either end never count (as with ``argrelextrema``). Equal
    neighbours are common once the curve is rounded, and a symmetric turn has two equal speeds around it.
    """
    c = np.asarray(curve).reshape(-1)
    if len(c) < 3:
        return np.zeros(0)
    edges = np.flatnonzero(np.diff(c) != 0) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(c)]])
    vals = c[starts]
    inner = np.arange(1, len(vals) - 1)
    keep = inner[(vals[inner] < vals[inner - 1]) & (vals[inner] < vals[inner + 1])]
    return (starts[keep] + ends[keep] - 1) / 2.0


def beat_coverage_hit(
    motion_beats: np.ndarray, music_beats: np.ndarray, tolerance: float = HIT_TOLERANCE
) -> tuple[float, float]:
    """Dance Revolution's beat coverage B_k / B_m and beat hit rate B_a / B_k (times in seconds).

    Args:
        motion_beats: (B_k,) motion beat times.
        music_beats: (B_m,) music beat times over the same span.
        tolerance: a motion beat is aligned (counts in B_a) when a music beat lies within this many seconds.
    Returns:
        (coverage, hit); coverage is NaN without music beats, hit NaN without motion beats.
    """
    k = np.asarray(motion_beats, np.float64).reshape(-1)
    m = np.asarray(music_beats, np.float64).reshape(-1)
    coverage = len(k) / len(m) if len(m) else float("nan")
    if not len(k):
        return coverage, float("nan")
    if not len(m):
        return coverage, 0.0
    aligned = np.min(np.abs(k[:, None] - m[None, :]), axis=1) <= tolerance + 1e-9
    return coverage, float(aligned.mean())


def fid_over_time(pred: Sequence[np.ndarray], gt: np.ndarray) -> list[float | None]:
    """FID of each clip position's generated clips against all real clips (features already normalised).

    Args:
        pred: per clip position k, (N_k, D) features of the generated dances' clip k.
        gt: (M, D) features of the real clips (M >= 2).
    Returns:
        one value per position: the FID for N_k >= 2, the Frechet distance of the point to the real Gaussian
        (|x - mu|^2 + tr S) for N_k = 1, None for N_k = 0.
    """
    g = np.asarray(gt, np.float64)
    if g.ndim != 2 or len(g) < 2:
        raise ValueError(f"FID over time needs (M >= 2, D) real features, got {g.shape}")
    mu = g.mean(axis=0)
    tr = float(np.sum((g - mu) ** 2) / (len(g) - 1))
    out: list[float | None] = []
    for x in pred:
        x = np.asarray(x, np.float64).reshape(-1, g.shape[1])
        if len(x) >= 2:
            out.append(fid(x, g))
        elif len(x) == 1:
            d = x[0] - mu
            out.append(float(d @ d + tr))
        else:
            out.append(None)
    return out


def slope(values: Sequence[float | None]) -> float | None:
    """Least-squares slope of the defined values against their index (None with fewer than 2)."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if len(pts) < 2:
        return None
    x, y = np.array(pts, np.float64).T
    return float(np.polyfit(x, y, 1)[0])


def multimodality(features: np.ndarray, groups: Sequence[str]) -> tuple[float | None, int]:
    """Mean over groups (songs) with >= 2 members of the mean pairwise Euclidean distance of their features.

    Args:
        features: (N, D) one feature vector per dance.
        groups: (N,) the song of each dance.
    Returns:
        (multimodality or None, number of songs that had several dances).
    """
    x = np.asarray(features, np.float64)
    by: dict[str, list[int]] = {}
    for i, gname in enumerate(groups):
        by.setdefault(str(gname), []).append(i)
    vals = [float(np.mean(pdist(x[idx]))) for idx in by.values() if len(idx) >= 2]
    return (float(np.mean(vals)) if vals else None), len(vals)


def _prepare(entries, span_seconds: float, clip_frames: int, set_name: str):
    out = []
    for e in entries:
        m = e.motion
        if m.skeleton.dim != 3:
            raise ChoreoError(f"{set_name} motion is {m.skeleton.dim}D; these metrics need 3D joints", e.name)
        m = m if abs(m.fps - FPS) < 1e-9 else m.resample(FPS)
        pos = m.joint_positions()[: int(round(span_seconds * FPS))]
        starts = list(range(0, len(pos) - clip_frames + 1, clip_frames))
        out.append((e, m, pos, starts))
    return out


def _clip_features(files, clip_frames: int, variant: str, layouts) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Kinetic and geometric features of every clip, in file then clip order (None where not computable)."""
    clips = [(fi, s) for fi, (_, _, _, starts) in enumerate(files) for s in starts]
    if not clips:
        return None, None
    kin, geo = [], []
    for fi, s in clips:
        e, m, pos, _ = files[fi]
        c = pos[s : s + clip_frames]
        c = c - c[:1, m.skeleton.root : m.skeleton.root + 1]
        kin.append(kinetic_features(c, FPS, variant))
        if layouts is not None:
            lay = layouts[m.skeleton.joint_names]
            geo.append(geometric_features(lay.extend(c), FPS, variant, lay.roles))
    return np.stack(kin), (np.stack(geo) if layouts is not None else None)


def evaluate_dancerevolution(
    pred: Sequence,
    gt: Sequence,
    style: str | None = None,
    classifier=None,
    tolerance: float = HIT_TOLERANCE,
    span_seconds: float = SPAN_SECONDS,
    clip_seconds: float = CLIP_SECONDS,
    feature_variant: str = "reference",
) -> dict:
    """Every Dance Revolution metric for generated dances ``pred`` against real dances ``gt``.

    Args:
        pred, gt: :class:`choreo.metrics.suite.Entry` lists (motion, music beats in seconds from frame 0).
        style: the style every generated dance should have (name or C/R/T/W letter); None: from file names.
        classifier: a :class:`~choreo.metrics.dance_style.StyleClassifier` (None: the shipped one).
        tolerance: beat hit tolerance in seconds.
        span_seconds, clip_seconds: the first minute, 4 s clips.
        feature_variant: kinetic / geometric feature variant (``reference`` or ``corrected``).
    Returns:
        a JSON-ready dict (see the module docstring): ``beat_coverage``, ``beat_hit`` (and ``_gt``), ``acc``,
        ``acc_clips`` (and ``_gt``), ``fid_k_over_time``, ``fid_g_over_time`` (lists), their ``_slope``,
        ``clips_per_position``, ``multimodality_k``, ``multimodality_g``, ``songs_with_several_dances``,
        ``per_file``, ``protocol``, ``notes``.
    """
    from choreo.metrics.dance_style import StyleClassifier, parse_style, style_label
    from choreo.metrics.joint_map import geometric_joints
    from choreo.metrics.suite import _clean

    if not pred or not gt:
        raise ChoreoError("both the generated and the ground-truth set need at least one motion")
    want_style = parse_style(style) if style else None
    clip_frames = int(round(clip_seconds * FPS))
    notes: list[str] = []
    sets = {
        "pred": _prepare(pred, span_seconds, clip_frames, "pred"),
        "gt": _prepare(gt, span_seconds, clip_frames, "gt"),
    }
    result: dict = {}
    per_file: dict = {"pred": {}, "gt": {}}

    # beats and styles, per dance
    clf = classifier if classifier is not None else StyleClassifier.load()
    for s, files in sets.items():
        cov, hit, right, right_clips, n_clips = [], [], [], 0, 0
        for e, m, pos, starts in files:
            rec: dict = {"clips": len(starts), "song": song_key(e.name)}
            if e.beats is not None:
                dur = len(pos) / FPS
                music = np.asarray(e.beats, np.float64)
                music = music[(music >= 0) & (music < dur)]
                motion = motion_beat_times(pos, FPS)
                c, h = beat_coverage_hit(motion, music, tolerance)
                rec.update(beat_coverage=c, beat_hit=h)
                cov.append(c)
                hit.append(h)
            truth = want_style if (want_style and s == "pred") else style_label(song_key(e.name))
            name, mean_lp, clip_pred = clf.classify(m, span_seconds)
            rec.update(
                style=name, style_label=truth, style_log_probs=dict(zip(clf.styles, mean_lp.tolist(), strict=True))
            )
            if truth is not None and truth in clf.styles:
                right.append(name == truth)
                right_clips += int((clip_pred == clf.styles.index(truth)).sum())
                n_clips += len(clip_pred)
            per_file[s][e.name] = rec
        suffix = "" if s == "pred" else "_gt"
        result["beat_coverage" + suffix] = _nanmean(cov)
        result["beat_hit" + suffix] = _nanmean(hit)
        result["acc" + suffix] = float(np.mean(right)) if right else None
        result["acc_clips" + suffix] = right_clips / n_clips if n_clips else None
        missing = sum(e.beats is None for e, *_ in files)
        if missing:
            notes.append(f"beat coverage / hit ({s}): {missing} of {len(files)} files have no music beats")
        if not right:
            notes.append(f"ACC ({s}): no file has a known style (give --style, or Dance with Melody names)")

    # clip features: FID over time and multimodality
    skeletons = {m.skeleton.joint_names: m.skeleton for files in sets.values() for _, m, _, _ in files}
    result.update(fid_k_over_time=None, fid_g_over_time=None, fid_k_over_time_slope=None, fid_g_over_time_slope=None)
    result.update(multimodality_k=None, multimodality_g=None, songs_with_several_dances=0)
    n_pos = int(span_seconds // clip_seconds)
    counts = [sum(len(st) > k for *_, st in sets["pred"]) for k in range(n_pos)]
    result["clips_per_position"] = counts
    if len(skeletons) != 1:
        notes.append("FID over time / multimodality skipped: the files use different skeletons")
    else:
        try:
            layouts = {names: geometric_joints(sk) for names, sk in skeletons.items()}
        except ChoreoError as exc:
            layouts = None
            notes.append(f"geometric features skipped: {exc.message}")
        kin_p, geo_p = _clip_features(sets["pred"], clip_frames, feature_variant, layouts)
        kin_g, geo_g = _clip_features(sets["gt"], clip_frames, feature_variant, layouts)
        position = [k for *_, st in sets["pred"] for k in range(len(st))]
        owner = [fi for fi, (*_, st) in enumerate(sets["pred"]) for _ in st]
        groups = [song_key(e.name) for e, *_ in sets["pred"]]
        for short, fp, fg in (("k", kin_p, kin_g), ("g", geo_p, geo_g)):
            if fp is None or fg is None or len(fg) < 2:
                continue
            gn, pn = normalize(fg, fp)
            pos_arr, own = np.asarray(position), np.asarray(owner)
            curve = fid_over_time([pn[pos_arr == k] for k in range(n_pos)], gn)
            result[f"fid_{short}_over_time"] = curve
            result[f"fid_{short}_over_time_slope"] = slope(curve)
            having = sorted(set(owner))
            per_dance = np.stack([pn[own == fi].mean(axis=0) for fi in having])
            result[f"multimodality_{short}"], result["songs_with_several_dances"] = multimodality(
                per_dance, [groups[fi] for fi in having]
            )
        if kin_g is None or len(kin_g) < 2:
            notes.append("FID over time needs at least 2 real clips of 4 s")
        if result["songs_with_several_dances"] == 0:
            notes.append("multimodality needs several dances per song (files SONG_seed<k>)")
    short_files = sum(not st for files in sets.values() for *_, st in files)
    if short_files:
        notes.append(f"{short_files} file(s) are shorter than one {clip_seconds:g} s clip")
    result["per_file"] = per_file
    result["protocol"] = {
        "span": f"the first {span_seconds:g} s of each file, resampled to {FPS:g} fps",
        "clips": f"consecutive {clip_seconds:g} s clips ({clip_frames} frames), tail dropped, root-zeroed",
        "beats": (
            "motion beats: Bailando (local minima of the gaussian(sigma 5)-smoothed mean joint speed, rounded to "
            "1 um/frame); "
            f"coverage = motion beats / music beats, hit = motion beats within {tolerance:g} s of a music beat / "
            "motion beats; per file, mean over files"
        ),
        "acc": "dance-style classifier (choreo.metrics.dance_style), per file (mean clip log-prob) and per clip",
        "fid_over_time": "clip k of every generated dance vs all real clips; features normalised with the real clips",
        "multimodality": "mean pairwise distance between the dances of one song (mean normalised clip features)",
        "feature_variant": feature_variant,
        "style": want_style,
    }
    result["notes"] = notes
    return _clean(result)


def _nanmean(values: Sequence[float]) -> float | None:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return float(np.mean(v)) if v else None


def fill_beats_by_song(entries: Sequence, music_dir, cache=None) -> int:
    """Give entries without music beats those of their song (``SONG_seed3.npz`` -> ``SONG.beats`` / audio).

    Returns the number of entries filled. Uses :func:`choreo.metrics.collect.find_music`.
    """
    from choreo.metrics.collect import BEATS_EXTENSION, _BeatCache, find_music, read_beats_file

    if music_dir is None:
        return 0
    cache = cache or _BeatCache()
    n = 0
    for e in entries:
        if e.beats is not None:
            continue
        music = find_music(song_key(e.name), Path(music_dir))
        if music is None:
            continue
        e.beats = read_beats_file(music) if music.suffix == BEATS_EXTENSION else cache.audio_beats(music)
        e.music = str(music)
        n += 1
    return n


#: rows of :func:`format_report`: (label, key, gt key)
TABLE_ROWS = (
    ("beat coverage", "beat_coverage", "beat_coverage_gt"),
    ("beat hit rate", "beat_hit", "beat_hit_gt"),
    ("ACC (per dance)", "acc", "acc_gt"),
    ("ACC (per clip)", "acc_clips", "acc_clips_gt"),
    ("multimodality_k", "multimodality_k", None),
    ("multimodality_g", "multimodality_g", None),
    ("FID_k slope/clip", "fid_k_over_time_slope", None),
)


def format_report(result: dict) -> str:
    """The Dance Revolution table, the FID-over-time curves and the notes."""

    def cell(key):
        v = None if key is None else result.get(key)
        return "-" if key is None else ("n/a" if v is None else f"{v:.4f}")

    lines = [f"Dance Revolution metrics: {result['protocol']['span']}; {result['protocol']['clips']}"]
    lines.append(f"{'metric':<18}{'pred':>14}{'gt':>14}")
    for label, kp, kg in TABLE_ROWS:
        lines.append(f"{label:<18}{cell(kp):>14}{cell(kg):>14}")
    for short in ("k", "g"):
        curve = result.get(f"fid_{short}_over_time")
        if curve:
            vals = " ".join("n/a" if v is None else f"{v:.2f}" for v in curve)
            lines.append(f"FID_{short} per 4 s clip: {vals}")
    for n in result.get("notes", []):
        lines.append(f"note: {n}")
    return "\n".join(lines)
