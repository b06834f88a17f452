"""Evaluate a set of generated dances against ground truth under a named, documented protocol.

:func:`evaluate` takes :class:`Entry` objects (a motion plus optional music beat times) for the generated
("pred") and ground-truth ("gt") sets and returns every number in one dict (the JSON ``choreo eval`` writes).
No file IO happens here: :mod:`choreo.metrics.collect` reads folders.

Protocols (:data:`PROTOCOLS`):

* ``aistpp`` (default): the convention the reference fixtures and the Bailando / FACT / EDGE tables use. Every
  motion is resampled to 60 fps; each file is one clip, as given (no cropping; Bailando's own script also
  crops to the first 1200 frames: pass ``crop_seconds=20`` to match); each clip is root-zeroed on its first
  frame's root joint (all three axes); kinetic and geometric features with the reference variant; FID / Div on
  features normalised with the gt set's mean and population std; BAS (Bailando) per clip, music beats
  converted to frames at 60 fps; PFC (EDGE) per file.
* ``edge``: as ``aistpp`` but every file is cut into consecutive 5-second clips (300 frames at 60 fps, tail
  dropped), each root-zeroed; features, BAS and PFC per clip, per-file values are means over its clips.

Set values are means over clips (features, BAS; PFC under ``edge``) or over files (PFC under ``aistpp``,
foot sliding, jitter, freezing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from choreo.errors import ChoreoError
from choreo.metrics.beats import bas_bailando, bas_fact, motion_beats_bailando, motion_beats_fact
from choreo.metrics.features import VARIANTS, geometric_features, kinetic_features
from choreo.metrics.fid import NORMALIZE_EPS, diversity, fid, normalize
from choreo.metrics.joint_map import geometric_joints
from choreo.metrics.physics import floor_height, foot_sliding, freezing, jitter, pfc
from choreo.motion.motion import Motion

#: minimum frames per clip (at the protocol's frame rate) for every metric to be defined.
MIN_FRAMES = 10


@dataclass(frozen=True)
class Protocol:
    """How motions become clips and clips become numbers (see the module docstring)."""

    name: str
    fps: float = 60.0
    window_seconds: float | None = None
    crop_seconds: float | None = None
    root_zero: bool = True
    feature_variant: str = "reference"
    pfc_per: str = "file"

    @property
    def window_frames(self) -> int | None:
        return None if self.window_seconds is None else int(round(self.window_seconds * self.fps))

    def describe(self) -> dict:
        """The protocol as plain data, with every convention spelled out (goes into the JSON)."""
        d = asdict(self)
        d["window_frames"] = self.window_frames
        d["clips"] = (
            "each file is one clip, as given"
            if self.window_seconds is None
            else f"consecutive {self.window_seconds:g} s windows ({self.window_frames} frames), tail dropped"
        )
        if self.crop_seconds is not None:
            d["clips"] += f"; files cropped to their first {self.crop_seconds:g} s"
        d["resampling"] = f"every motion resampled to {self.fps:g} fps (Motion.resample) before anything else"
        d["root_zeroing"] = (
            "clip - clip[0, root]: the first frame's root joint subtracted from every joint, all three axes"
            if self.root_zero
            else "none"
        )
        d["features"] = (
            f"kinetic (3 per joint) and geometric (32 tests) features, Bailando {self.feature_variant!r} variant"
        )
        d["normalisation"] = "(x - mean_gt) / (std_gt + 1e-10), population std (ddof 0), float32"
        d["fid"] = "|mu1-mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2), np.cov ddof 1, real (eigenvalue route)"
        d["diversity"] = "mean Euclidean distance over unordered pairs of normalised features"
        d["bas"] = (
            "Bailando: motion beats = local minima of gaussian(sigma 5 frames)-smoothed mean joint speed; "
            "each music beat (< T-1) scored exp(-d^2/18) against its nearest motion beat, d in frames; "
            "music beats in seconds -> frames at the protocol fps (rounded)"
        )
        d["bas_fact"] = (
            "FACT: motion beats = local minima (order fps/6) of summed joint speed; each motion beat scored "
            "exp(-d^2/18) against its nearest music beat"
        )
        d["pfc"] = f"EDGE calc_physical_score x 1e4: 30 fps (decimated), z-up, per {self.pfc_per}"
        d["foot_sliding"] = "mean horizontal foot speed (m/s) while in contact (Motion.foot_contacts), per file"
        d["jitter"] = "mean jerk magnitude (m/s^3) over frames and joints, per file"
        d["freezing"] = "mean squared joint speed of the last fifth / first fifth of each file"
        d["floor_height"] = "median over frames of the lowest joint's height (m) above height 0, per file"
        return d


PROTOCOLS: dict[str, Protocol] = {
    "aistpp": Protocol("aistpp"),
    "edge": Protocol("edge", window_seconds=5.0, pfc_per="window"),
}


@dataclass
class Entry:
    """One input file.

    Attributes:
        name: the file's name (used as its key in ``per_file``).
        motion: the motion, any frame rate, y-up metres.
        beats: music beat times in seconds from the motion's first frame, or None (no music).
        music: where the beats came from (for the report), or None.
    """

    name: str
    motion: Motion
    beats: np.ndarray | None = None
    music: str | None = None


@dataclass(eq=False)
class _File:
    entry: Entry
    positions: np.ndarray  # (T, J, 3) at the protocol's fps, cropped
    motion: Motion  # resampled (and cropped), positions only
    starts: list[int] = field(default_factory=list)  # clip start frames
    length: int = 0  # clip length in frames


def _prepare(entries: Sequence[Entry], protocol: Protocol, set_name: str) -> list[_File]:
    out = []
    for e in entries:
        src = e.motion.meta.get("source", e.name)
        if e.motion.skeleton.dim != 3:
            raise ChoreoError(f"{set_name} motion is {e.motion.skeleton.dim}D; choreo eval needs 3D joints", src)
        m = e.motion if abs(e.motion.fps - protocol.fps) < 1e-9 else e.motion.resample(protocol.fps)
        pos = m.joint_positions()
        if protocol.crop_seconds is not None:
            pos = pos[: int(round(protocol.crop_seconds * protocol.fps))]
        if m.rotations is not None or len(pos) != m.n_frames:
            # keep the (cropped) positions only, so foot contacts do not run forward kinematics again
            m = m.copy(positions=pos, rotations=None, root=None)
        T = len(pos)
        W = protocol.window_frames
        if T < max(MIN_FRAMES, W or 0):
            need = max(MIN_FRAMES, W or 0)
            raise ChoreoError(
                f"{set_name} motion has {T} frames at {protocol.fps:g} fps; protocol {protocol.name!r} needs {need}",
                src,
            )
        f = _File(e, pos, m)
        if W is None:
            f.starts, f.length = [0], T
        else:
            f.starts, f.length = list(range(0, T - W + 1, W)), W
        out.append(f)
    return out


#: clips stacked per batch: bounds memory (a 240-frame SMPL clip is 138 kB in float64).
CHUNK = 256


def _chunks(idx: Sequence[int]) -> list[list[int]]:
    return [list(idx[i : i + CHUNK]) for i in range(0, len(idx), CHUNK)]


def _mean(values: Sequence[float | None]) -> float | None:
    v = [x for x in values if x is not None and not math.isnan(x)]
    return float(np.mean(v)) if v else None


def _clean(x):
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


@dataclass
class _SetScores:
    """Per-clip and per-file numbers of one set, filled chunk by chunk."""

    n_clips: int
    n_files: int
    kinetic: np.ndarray | None = None
    geometric: np.ndarray | None = None
    bas: list = field(default_factory=list)
    bas_fact: list = field(default_factory=list)
    pfc: list = field(default_factory=list)
    jitter: list = field(default_factory=list)
    freezing: list = field(default_factory=list)
    foot_sliding: list = field(default_factory=list)
    floor_height: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bas = [None] * self.n_clips
        self.bas_fact = [None] * self.n_clips
        self.pfc = [None] * self.n_clips
        self.jitter = [None] * self.n_files
        self.freezing = [None] * self.n_files
        self.foot_sliding = [None] * self.n_files
        self.floor_height = [None] * self.n_files


def _file_scores(
    files: Sequence[_File], file_ids: Sequence[int], data: np.ndarray, fps: float, out: _SetScores
) -> None:
    """Jitter, freezing, foot sliding, floor height of whole files, from their stacked positions (as placed)."""
    jit = np.atleast_1d(jitter(data, fps))
    floor = np.atleast_1d(floor_height(data))
    frz = np.atleast_1d(freezing(data, fps))
    feet = files[file_ids[0]].motion.skeleton.feet
    slide = None
    if min(feet) >= 0:
        T = data.shape[1]
        contacts = np.stack([np.asarray(files[i].motion.foot_contacts(), dtype=bool)[:T] for i in file_ids])
        slide = np.atleast_1d(foot_sliding(data, contacts, fps, feet))
    for k, i in enumerate(file_ids):
        out.jitter[i] = float(jit[k])
        out.freezing[i] = float(frz[k])
        out.floor_height[i] = float(floor[k])
        out.foot_sliding[i] = None if slide is None else float(slide[k])


def _score_set(
    files: Sequence[_File],
    protocol: Protocol,
    layouts: Mapping[tuple, object] | None,
    with_kinetic: bool,
) -> _SetScores:
    """Every per-clip and per-file number of one set, batched over clips of one shape and skeleton."""
    fps, variant = protocol.fps, protocol.feature_variant
    clips = [(fi, st) for fi, f in enumerate(files) for st in f.starts]
    out = _SetScores(len(clips), len(files))
    kin: list = [None] * len(clips)
    geo: list = [None] * len(clips)
    one_clip_per_file = protocol.window_frames is None
    groups: dict[tuple, list[int]] = {}
    for ci, (fi, _) in enumerate(clips):
        f = files[fi]
        groups.setdefault((f.length, f.motion.skeleton.joint_names), []).append(ci)
    for (length, names), members in groups.items():
        skeleton = files[clips[members[0]][0]].motion.skeleton
        root, feet = skeleton.root, skeleton.feet
        for chunk in _chunks(members):
            raw = np.stack([files[clips[ci][0]].positions[clips[ci][1] : clips[ci][1] + length] for ci in chunk])
            data = raw - raw[:, :1, root : root + 1] if protocol.root_zero else raw
            if with_kinetic:
                for ci, v in zip(chunk, kinetic_features(data, fps, variant), strict=True):
                    kin[ci] = v
            if layouts is not None:
                lay = layouts[names]
                for ci, v in zip(chunk, geometric_features(lay.extend(data), fps, variant, lay.roles), strict=True):
                    geo[ci] = v
            beats_b = motion_beats_bailando(data)
            beats_f = motion_beats_fact(data, fps)
            pfc_values = np.atleast_1d(pfc(raw, fps, feet)) if min(feet) >= 0 else [None] * len(chunk)
            for k, ci in enumerate(chunk):
                fi, start = clips[ci]
                out.pfc[ci] = None if pfc_values[k] is None else float(pfc_values[k])
                beats = files[fi].entry.beats
                if beats is not None:
                    music = np.unique(np.rint(np.asarray(beats, np.float64) * fps).astype(np.int64)) - start
                    out.bas[ci] = bas_bailando(music, beats_b[k], n_frames=length)
                    out.bas_fact[ci] = bas_fact(music, beats_f[k], n_frames=length)
            if one_clip_per_file:
                _file_scores(files, [clips[ci][0] for ci in chunk], raw, fps, out)
    if not one_clip_per_file:
        by_shape: dict[tuple, list[int]] = {}
        for fi, f in enumerate(files):
            by_shape.setdefault((len(f.positions), f.motion.skeleton.joint_names), []).append(fi)
        for members in by_shape.values():
            for chunk in _chunks(members):
                _file_scores(files, chunk, np.stack([files[i].positions for i in chunk]), fps, out)
    if with_kinetic:
        out.kinetic = np.stack(kin)
    if layouts is not None:
        out.geometric = np.stack(geo)
    return out


def evaluate(
    pred: Sequence[Entry],
    gt: Sequence[Entry],
    protocol: Protocol | str = "aistpp",
    feature_variant: str | None = None,
    joint_map: Mapping[str, str] | None = None,
) -> dict:
    """Every metric for a generated set against a ground-truth set.

    Args:
        pred: generated motions (at least 2 clips for FID / Div).
        gt: ground-truth motions (at least 2 clips).
        protocol: a :class:`Protocol` or a name in :data:`PROTOCOLS`.
        feature_variant: override the protocol's feature variant (``"reference"`` or ``"corrected"``).
        joint_map: role -> joint name overrides for the geometric features (see :mod:`choreo.metrics.joint_map`).

    Returns:
        A JSON-ready dict: ``fid_k, fid_g, div_k, div_g, div_k_gt, div_g_gt, bas, bas_gt, bas_fact,
        bas_fact_gt, pfc, pfc_gt, foot_sliding(_gt), jitter(_gt), freezing(_gt), floor_height(_gt)``
        (None where a set is too small for them), ``n_files``, ``n_clips``, ``protocol``, ``notes``,
        ``undefined`` (``{key: reason}`` for numbers kept as the reference computes them but meaningless: a
        feature with zero spread over the gt set, see :func:`zero_spread_reasons`) and ``per_file``
        (``{"pred": {name: {...}}, "gt": ...}``).
    """
    if isinstance(protocol, str):
        if protocol not in PROTOCOLS:
            raise ChoreoError(f"unknown protocol {protocol!r}; choose one of {sorted(PROTOCOLS)}")
        protocol = PROTOCOLS[protocol]
    if feature_variant is not None:
        if feature_variant not in VARIANTS:
            raise ChoreoError(f"unknown feature variant {feature_variant!r}; choose one of {VARIANTS}")
        protocol = replace(protocol, feature_variant=feature_variant)
    if not pred or not gt:
        raise ChoreoError("both the generated and the ground-truth set need at least one motion")
    notes: list[str] = []
    sets = {"pred": _prepare(pred, protocol, "pred"), "gt": _prepare(gt, protocol, "gt")}

    skeletons = {f.motion.skeleton.joint_names: f.motion.skeleton for files in sets.values() for f in files}
    with_kinetic = len(skeletons) == 1
    if not with_kinetic:
        notes.append(
            "FID_k / Div_k skipped: the files use different skeletons "
            f"({', '.join(sorted(sk.name for sk in skeletons.values()))}); kinetic features need one skeleton"
        )
    try:
        layouts = {names: geometric_joints(sk, joint_map) for names, sk in skeletons.items()}
    except ChoreoError as exc:
        layouts = None
        notes.append(f"FID_g / Div_g skipped: {exc.message}")
    for names, layout in (layouts or {}).items():
        if layout.notes:
            notes.append(f"geometric features on {skeletons[names].name}: derived " + "; ".join(layout.notes))
    scores = {s: _score_set(files, protocol, layouts, with_kinetic) for s, files in sets.items()}

    result: dict = {}
    undefined: dict[str, str] = {}
    for kind, short in (("kinetic", "k"), ("geometric", "g")):
        result[f"fid_{short}"] = result[f"div_{short}"] = result[f"div_{short}_gt"] = None
        gt_f, pred_f = getattr(scores["gt"], kind), getattr(scores["pred"], kind)
        if gt_f is None or pred_f is None:
            continue
        gt_n, pred_n = normalize(gt_f, pred_f)
        if len(gt_n) >= 2 and len(pred_n) >= 2:
            result[f"fid_{short}"] = fid(pred_n, gt_n)
        else:
            notes.append(f"FID_{short} needs at least 2 clips per set")
        if len(pred_n) >= 2:
            result[f"div_{short}"] = diversity(pred_n)
        if len(gt_n) >= 2:
            result[f"div_{short}_gt"] = diversity(gt_n)
        if len(gt_n) >= 2:
            for key, reason in zero_spread_reasons(gt_f, pred_f, kind, _feature_labels(kind, sets)).items():
                if result[f"{key}_{short}"] is not None:
                    undefined[f"{key}_{short}"] = reason
            if np.any(gt_f.std(axis=0) == 0) and not any(k.endswith(f"_{short}") for k in undefined):
                notes.append(
                    f"{kind} features: some dimensions are constant over the gt set and the generated set "
                    "matches them there (no effect on FID / Div)"
                )

    per_file: dict[str, dict[str, dict]] = {}
    for s, files in sets.items():
        sc = scores[s]
        suffix = "" if s == "pred" else "_gt"
        for key in ("bas", "bas_fact", "pfc"):
            result[key + suffix] = _mean(getattr(sc, key))
        for key in ("foot_sliding", "jitter", "freezing", "floor_height"):
            result[key + suffix] = _mean(getattr(sc, key))
        records: dict[str, dict] = {}
        ci = 0
        for fi, f in enumerate(files):
            n = len(f.starts)
            rec = {
                "frames": len(f.positions),
                "source_fps": f.entry.motion.fps,
                "clips": n,
                "music": f.entry.music,
            }
            for key in ("bas", "bas_fact", "pfc"):
                rec[key] = _mean(getattr(sc, key)[ci : ci + n])
            for key in ("foot_sliding", "jitter", "freezing", "floor_height"):
                rec[key] = getattr(sc, key)[fi]
            records[f.entry.name] = rec
            ci += n
        per_file[s] = records
        without = sum(f.entry.beats is None for f in files)
        if without:
            notes.append(f"BAS ({s}): {without} of {len(files)} files have no music beats")
        no_feet = sum(min(f.motion.skeleton.feet) < 0 for f in files)
        if no_feet:
            notes.append(f"PFC / foot sliding ({s}): {no_feet} files have no feet on their skeleton")

    result["n_files"] = {s: len(files) for s, files in sets.items()}
    result["n_clips"] = {s: scores[s].n_clips for s in sets}
    result["protocol"] = protocol.describe()
    result["notes"] = notes
    result["undefined"] = undefined
    result["per_file"] = per_file
    return _clean(result)


def zero_spread_reasons(gt: np.ndarray, pred: np.ndarray, kind: str, labels: Sequence[str] | None = None) -> dict:
    """Which of FID and Div the reference normalisation leaves undefined, and why.

    The reference divides every feature by the gt set's population std + 1e-10 (:func:`choreo.metrics.fid.normalize`).
    Over a dimension that is constant in ``gt`` (std exactly 0), any generated value that differs from the
    constant is multiplied by 1e10: FID (the generated set differs from the constant by more than 1e-10) and Div
    (the generated set varies there by more than 1e-10) then read 1e15 and more, whatever the dances look like.
    Such a number is kept as the reference computes it; this says it means nothing.

    Args:
        gt: (N_gt, D) unnormalised gt features; pred: (N_pred, D) unnormalised generated features.
        kind: ``"kinetic"`` or ``"geometric"`` (for the message).
        labels: D feature names for the message (None: indices).

    Returns:
        ``{"fid": reason, "div": reason}``, each key only where that number is undefined.
    """
    gt, pred = np.asarray(gt), np.asarray(pred)
    if labels is not None and len(labels) != gt.shape[1]:
        labels = None
    constant = np.flatnonzero(gt.std(axis=0) == 0)
    if constant.size == 0 or len(pred) == 0:
        return {}
    # a difference of more than the 1e-10 added to the spread weighs more than a whole healthy feature does
    # (a normalised value above 1); below it (round-off of a still pose's zero features) it weighs nothing
    value = gt[:, constant].astype(np.float64).mean(axis=0)
    sub = pred[:, constant].astype(np.float64)
    differs = constant[np.abs(sub - value).max(axis=0) > NORMALIZE_EPS]
    varies = constant[(sub.max(axis=0) - sub.min(axis=0)) > NORMALIZE_EPS]

    def reason(dims: np.ndarray, what: str) -> str:
        names = [labels[d] if labels is not None else str(int(d)) for d in dims[:4]]
        more = f" and {len(dims) - 4} more" if len(dims) > 4 else ""
        return (
            f"{len(dims)} {kind} feature(s) constant over the real set {what} in the generated set "
            f"({', '.join(names)}{more}): the reference divides them by a zero spread (1e-10)"
        )

    out = {}
    if differs.size:
        out["fid"] = reason(differs, "differ")
    if varies.size:
        out["div"] = reason(varies, "vary")
    return out


def _feature_labels(kind: str, sets: Mapping[str, Sequence[_File]]) -> list[str] | None:
    """Names of the features of ``kind`` (one skeleton: kinetic names need its joints)."""
    from choreo.metrics.features import feature_names

    skeleton = next(iter(sets["gt"])).motion.skeleton
    kin, geo = feature_names(skeleton.joint_names)
    return kin if kind == "kinetic" else geo


#: rows of the printed table: (label, key for pred, key for gt)
TABLE_ROWS = (
    ("FID_k", "fid_k", None),
    ("FID_g", "fid_g", None),
    ("Div_k", "div_k", "div_k_gt"),
    ("Div_g", "div_g", "div_g_gt"),
    ("BAS (Bailando)", "bas", "bas_gt"),
    ("BAS (FACT)", "bas_fact", "bas_fact_gt"),
    ("PFC (EDGE)", "pfc", "pfc_gt"),
    ("foot sliding m/s", "foot_sliding", "foot_sliding_gt"),
    ("jitter m/s^3", "jitter", "jitter_gt"),
    ("freezing", "freezing", "freezing_gt"),
    ("floor height m", "floor_height", "floor_height_gt"),
)


def format_report(result: Mapping) -> str:
    """The human-readable table (metric, pred, gt), the protocol and the notes."""

    undefined = result.get("undefined") or {}

    def cell(key: str | None) -> str:
        if key is None:
            return "-"
        if key in undefined:
            return "undefined"
        v = result.get(key)
        return "n/a" if v is None else f"{v:.4f}"

    p = result["protocol"]
    lines = [
        f"protocol {p['name']}: {p['resampling']}; {p['clips']}; root-zeroing: {p['root_zeroing']}",
        f"  {p['features']}; normalisation {p['normalisation']}; PFC {p['pfc']}",
        f"pred: {result['n_files']['pred']} files, {result['n_clips']['pred']} clips; "
        f"gt: {result['n_files']['gt']} files, {result['n_clips']['gt']} clips",
        f"{'metric':<18}{'pred':>14}{'gt':>14}",
    ]
    for label, kp, kg in TABLE_ROWS:
        lines.append(f"{label:<18}{cell(kp):>14}{cell(kg):>14}")
    for key, reason in undefined.items():
        v = result.get(key)
        shown = "n/a" if v is None else f"{v:.4g}"
        lines.append(f"undefined: {key} = {shown} as the reference computes it; {reason}")
    for n in result.get("notes", []):
        lines.append(f"note: {n}")
    return "\n".join(lines)
