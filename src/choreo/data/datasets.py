"""Build a training (or test) set from a data folder: read, resample, encode, music features, windows.

``build_dataset(DataConfig, split)`` lists the folder's pairs (:mod:`choreo.data.sources`), reads every
motion, resamples it to ``fps``, computes the music features of exactly the dance's span of the song at that
fps (``choreo.audio.features.song_features``, cached), encodes the motion (and its left/right mirror image,
which keeps the music) with the representation, and holds it all in memory as float32
(:class:`~choreo.data.windows.WindowDataset`). The encoded set is cached on disk, keyed by the config and
the files' sizes and dates, so a restart (or the other torchrun processes) loads it in a moment.

Unpaired or unreadable sequences are skipped with one warning listing them; if nothing is left, a
ChoreoError.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np

from choreo.data.config import DataConfig
from choreo.data.normalizer import MinMaxNormalizer
from choreo.data.representation import Representation, auto_representation_name, get_representation
from choreo.data.sources import Item, list_items, split_items
from choreo.data.windows import WindowDataset
from choreo.errors import ChoreoError
from choreo.fileio import atomic_path
from choreo.motion.skeleton import Skeleton

#: bump when the encoding changes, so old caches are not reused.
CACHE_VERSION = 2


def default_cache_dir() -> Path:
    """``$CHOREO_CACHE``, else ``$XDG_CACHE_HOME/choreo``, else ``~/.cache/choreo``."""
    if os.environ.get("CHOREO_CACHE"):
        return Path(os.environ["CHOREO_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "choreo"


def _cache_dirs(cfg: DataConfig) -> tuple[Path | None, str | Path | None]:
    """(dataset cache folder or None, the cache_dir argument for song_features)."""
    if cfg.cache_dir == "":
        return None, ""
    root = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
    return root / "datasets", root / "features"


def _stat(p: Path) -> list:
    if p.is_dir() and not (p / "skeletons.json").exists():
        # an OpenPose folder: one file per frame (and maybe fps.txt); sum them up rather than list them
        stats = [f.stat() for f in sorted(p.iterdir()) if f.is_file()]
        return [p.name, len(stats), sum(st.st_size for st in stats), max((st.st_mtime_ns for st in stats), default=0)]
    files = [p / "skeletons.json", p / "config.json"] if p.is_dir() else [p]
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append([f.name, st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([f.name, None, None])
    return out


def _cache_key(cfg: DataConfig, kind: str, split: str, items: list[Item]) -> str:
    d = asdict(cfg)
    for k in (
        "path", "cache_dir", "window_seconds", "stride_seconds", "sequences", "exclude_sequences", "max_sequences",
        "style_labels", "normalizer",
    ):  # fmt: skip
        d.pop(k)  # windows are cut on load; the item list below covers the selection
    d.update(
        version=CACHE_VERSION,
        path=str(Path(cfg.path).resolve()),
        kind=kind,
        split=split,
        items=[
            [it.name, str(it.motion), _stat(it.motion), str(it.audio), it.audio and _stat(it.audio), it.fps]
            for it in items
        ],
    )
    return hashlib.sha1(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:20]


def encode_item(item: Item, cfg: DataConfig, representation: str, feature_cache) -> dict:
    """Read, resample, featurise and encode one sequence (ChoreoError on any problem with it).

    Returns:
        ``{"name", "motion" (T, C) float32, "mirror" (T, C) or None, "music" (T, F) float32, "skeleton",
        "representation", "extra" {rate: (T_r, C)}, "extra_mirror" {rate: (T_r, C)} or None, "audio" (N,) or
        None}``: motion and music frame-aligned at ``cfg.fps``; the motion also at ``cfg.extra_fps`` and the
        waveform of the dance's span at ``cfg.audio_sr`` when asked for.
    """
    from choreo.audio.features import song_features
    from choreo.motion.formats import read_motion

    fps = getattr(item, "fps", None)
    motion = read_motion(item.motion, fps=fps) if fps else read_motion(item.motion)
    audio = item.audio or motion.meta.get("audio")
    if not audio:
        raise ChoreoError("has no music", item.motion)
    start = item.audio_start if item.audio_start is not None else float(motion.meta.get("audio_start", 0.0))
    motion = motion.resample(cfg.fps)
    n = motion.n_frames
    music = song_features(
        audio, cfg.feature_set, cfg.fps, None, start=start, end=start + n / cfg.fps, cache_dir=feature_cache
    )
    if len(music) < n:  # the song ends before the dance does: keep the part with music
        motion = motion.crop(0, len(music))
    music = music[: motion.n_frames]
    name = representation if representation != "auto" else auto_representation_name(motion)
    rep = get_representation(name, motion.skeleton, cfg.contact_speed)
    x = rep.encode(motion)
    flipped = None
    if cfg.mirror and motion.skeleton.mirror_pairs:
        flipped = motion.mirror()
        # a tree that is not left/right symmetric mirrors to positions only: no rotation copy then
        if flipped.rotations is None and "rot6d" in name:
            flipped = None
    extra = {float(r): rep.encode(motion.resample(r)) for r in cfg.extra_fps}
    wave = None
    if cfg.audio_sr > 0:
        from choreo.audio.io import load_audio

        span = motion.n_frames / cfg.fps
        wave, _ = load_audio(audio, sr=cfg.audio_sr, start=start, end=start + span)
        want = int(round(span * cfg.audio_sr))
        wave = np.pad(np.asarray(wave, np.float32)[:want], (0, max(0, want - len(wave))))
    return {
        "name": item.name,
        "motion": x,
        "mirror": rep.encode(flipped) if flipped is not None else None,
        "music": np.asarray(music, np.float32),
        "skeleton": motion.skeleton,
        "representation": name,
        "extra": extra,
        "extra_mirror": {float(r): rep.encode(flipped.resample(r)) for r in cfg.extra_fps} if flipped else None,
        "audio": wave,
    }


def _encode_safe(args) -> dict | str:
    item, cfg, rep, fc = args
    try:
        return encode_item(item, cfg, rep, fc)
    except ChoreoError as exc:
        return f"{item.name}: {exc.message}"


def _encode_all(items: list[Item], cfg: DataConfig, feature_cache, workers: int, log) -> tuple[list[dict], list[str]]:
    problems: list[str] = []
    results: list[dict] = []
    if not items:
        return results, problems
    # The first good sequence fixes the representation (for "auto") and the skeleton of the whole set.
    rest = list(items)
    rep = cfg.representation
    while rest and not results:
        r = _encode_safe((rest.pop(0), cfg, rep, feature_cache))
        if isinstance(r, str):
            problems.append(r)
        else:
            results.append(r)
            rep = r["representation"]
    jobs = [(it, cfg, rep, feature_cache) for it in rest]
    if workers > 1 and len(jobs) > 1:
        import multiprocessing as mp

        # spawn: forking a process that holds torch/OpenMP threads can deadlock.
        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=mp.get_context("spawn")) as pool:
            out = list(pool.map(_encode_safe, jobs))
    else:
        out = [_encode_safe(j) for j in jobs]
    for r in out:
        if isinstance(r, str):
            problems.append(r)
        elif not r["skeleton"].same_structure(results[0]["skeleton"]):
            problems.append(
                f"{r['name']}: skeleton {r['skeleton'].name!r} differs from {results[0]['skeleton'].name!r}"
            )
        else:
            results.append(r)
    return results, problems


def _save_cache(path: Path, results: list[dict], problems: list[str]) -> None:
    skel = results[0]["skeleton"].to_arrays()
    arrays = {
        "names": np.array([r["name"] for r in results]),
        "lengths": np.array([len(r["motion"]) for r in results], np.int64),
        "motion": np.concatenate([r["motion"] for r in results]),
        "music": np.concatenate([r["music"] for r in results]),
        "has_mirror": np.array([r["mirror"] is not None for r in results]),
        "representation": np.array(results[0]["representation"]),
        "problems": np.array(problems, dtype=str),
        **{f"skel_{k}": v for k, v in skel.items()},
    }
    mirrors = [r["mirror"] for r in results if r["mirror"] is not None]
    if mirrors:
        arrays["mirror"] = np.concatenate(mirrors)
    # streams at other rates and the waveforms: one array per sequence (their lengths differ per stream)
    for i, r in enumerate(results):
        for rate, x in r["extra"].items():
            arrays[f"extra_{rate:g}_{i}"] = x
            if r["extra_mirror"] is not None:
                arrays[f"extramirror_{rate:g}_{i}"] = r["extra_mirror"][rate]
        if r["audio"] is not None:
            arrays[f"audio_{i}"] = r["audio"]
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


def _load_cache(path: Path, extra_fps: list[float]) -> tuple[list[dict], list[str]] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError, EOFError):
        return None
    skeleton = Skeleton.from_arrays({k[5:]: v for k, v in d.items() if k.startswith("skel_")})
    ends = np.cumsum(d["lengths"])
    starts = ends - d["lengths"]
    results, m = [], 0
    for i, name in enumerate(d["names"]):
        mirror = None
        if d["has_mirror"][i]:
            mirror = d["mirror"][m : m + d["lengths"][i]]
            m += d["lengths"][i]
        results.append(
            {
                "name": str(name),
                "motion": d["motion"][starts[i] : ends[i]],
                "mirror": mirror,
                "music": d["music"][starts[i] : ends[i]],
                "skeleton": skeleton,
                "representation": str(d["representation"]),
                "extra": {float(r): d[f"extra_{float(r):g}_{i}"] for r in extra_fps},
                "extra_mirror": (
                    {float(r): d[f"extramirror_{float(r):g}_{i}"] for r in extra_fps} if mirror is not None else None
                ),
                "audio": d.get(f"audio_{i}"),
            }
        )
    return results, [str(p) for p in d["problems"]]


def _style_labels(cfg: DataConfig, kind: str, names: list[str]) -> dict:
    """``styles`` and per-sequence ``labels`` for the windows (nothing unless ``cfg.style_labels``)."""
    if not cfg.style_labels:
        return {}
    from choreo.data.sources import style_names, style_of

    styles = list(style_names(kind))
    for n in names:  # a pairs folder of named sequences: the styles its names tell, in order of appearance
        s = style_of(n)
        if s is not None and s not in styles:
            styles.append(s)
    labels = [styles.index(s) if (s := style_of(n)) is not None else -1 for n in names]
    return {"styles": styles, "labels": labels}


def select_items(cfg: DataConfig, split: str) -> tuple[list[Item], list[str], str]:
    """The items of a split after the config's ``sequences`` / ``exclude_sequences`` / ``max_sequences`` selection."""
    if not cfg.path:
        raise ChoreoError("no data folder given (--data DIR)")
    items, problems, kind = list_items(cfg.path, cfg.kind)
    chosen = split_items(items, kind, cfg.path, split)
    if cfg.sequences:
        names = {it.name for it in chosen}
        missing = [s for s in cfg.sequences if s not in names]
        if missing:
            raise ChoreoError(f"sequence(s) not in the {split} split: {', '.join(missing)}", cfg.path)
        chosen = [it for it in chosen if it.name in set(cfg.sequences)]
    if cfg.exclude_sequences:
        names = {it.name for it in chosen}
        unknown = [s for s in cfg.exclude_sequences if s not in names]
        if unknown:
            raise ChoreoError(f"sequence(s) to exclude are not in the {split} split: {', '.join(unknown)}", cfg.path)
        chosen = [it for it in chosen if it.name not in set(cfg.exclude_sequences)]
    if cfg.max_sequences is not None:
        chosen = chosen[: max(0, cfg.max_sequences)]
    if cfg.sequences:
        problems = []  # an explicit selection of good sequences: the folder's other problems do not matter
    return chosen, problems, kind


def build_dataset(
    cfg: DataConfig,
    split: str = "train",
    *,
    normalizer: MinMaxNormalizer | None = None,
    workers: int | None = None,
    log: Callable[[str], None] | None = None,
) -> WindowDataset:
    """Encode a data folder's ``split`` into training windows.

    Args:
        cfg: the data settings (folder, fps, window, feature set, representation, mirroring, cache).
        split: ``train``, ``test`` or ``all``.
        normalizer: statistics to use (a test set uses the training set's); None fits them on this set
            (mirrored copies included).
        workers: processes for encoding (default: half the CPU cores, at most 8; 1 = in this process).
        log: one-line progress and warning messages (default: warnings.warn for warnings only).

    Returns:
        a :class:`WindowDataset`, with extra attributes ``kind``, ``split``, ``names`` (sequences used)
        and ``problems`` (the ones skipped).

    Raises:
        ChoreoError: missing folder, or no usable sequence in the split.
    """
    items, problems, kind = select_items(cfg, split)
    if not items:
        detail = f" ({'; '.join(problems)})" if problems else ""
        raise ChoreoError(f"no paired sequences in the {split} split of this {kind} folder{detail}", cfg.path)
    ds_cache, feature_cache = _cache_dirs(cfg)
    cache_file = ds_cache / f"{kind}-{split}-{_cache_key(cfg, kind, split, items)}.npz" if ds_cache else None
    loaded = _load_cache(cache_file, cfg.extra_fps) if cache_file is not None and cache_file.exists() else None
    if loaded is not None:
        results, enc_problems = loaded
    else:
        if log:
            log(f"encoding {len(items)} {kind} sequences ({split}) at {cfg.fps:g} fps with {cfg.feature_set} music ...")
        if workers is None:
            workers = max(1, min(8, (os.cpu_count() or 1) // 2))
        results, enc_problems = _encode_all(items, cfg, feature_cache, workers, log)
        if results and cache_file is not None:
            try:
                _save_cache(cache_file, results, enc_problems)
            except ChoreoError:
                pass  # an unwritable cache folder only costs time
    problems = problems + enc_problems
    if problems:
        msg = f"skipped {len(problems)} sequence(s) in {cfg.path}: " + "; ".join(problems)
        if log:
            log(f"warning: {msg}")
        else:
            warnings.warn(msg, stacklevel=2)
    if not results:
        raise ChoreoError(f"no usable sequences left in the {split} split: {'; '.join(problems)}", cfg.path)

    rep: Representation = get_representation(results[0]["representation"], results[0]["skeleton"], cfg.contact_speed)
    motions, music, music_of, names, mirrored = [], [], [], [], []
    extra: dict[float, list[np.ndarray]] = {float(r): [] for r in cfg.extra_fps}
    for i, r in enumerate(results):
        music.append(r["music"])
        for x, x_extra, flag in ((r["motion"], r["extra"], False), (r["mirror"], r["extra_mirror"], True)):
            if x is not None:
                motions.append(x)
                music_of.append(i)
                names.append(r["name"])
                mirrored.append(flag)
                for rate in extra:
                    extra[rate].append(x_extra[rate])
    ds = WindowDataset(
        motions,
        music,
        music_of,
        cfg.window_frames,
        cfg.stride_frames,
        representation=rep,
        normalizer=normalizer,
        feature_set=cfg.feature_set,
        fps=cfg.fps,
        names=names,
        mirrored=mirrored,
        extra_motions=extra,
        audio=[r["audio"] for r in results] if cfg.audio_sr > 0 else None,
        audio_sr=cfg.audio_sr,
        normalizer_kind=cfg.normalizer,
        **_style_labels(cfg, kind, names),
    )
    ds.kind, ds.split = kind, split
    ds.names = [r["name"] for r in results]
    ds.problems = problems
    if log:
        log(f"data: {ds.summary()}")
    return ds
