"""Audio-only training data: fixed-length waveform windows from every song in one or more folders.

For methods that learn from music alone (the audio codec, ``trains_on = "audio"``). ``build_audio_dataset``
lists every audio file under ``DataConfig.path`` (several folders may be joined with ``os.pathsep``, e.g.
``../shared/data/dance_with_melody:../shared/data/cc_music``), decodes each once to mono at
``DataConfig.audio_sr`` (cached on disk as 16-bit samples), and cuts windows of ``window_seconds`` every
``stride_seconds``. The trainer's sampler shuffles them (a function of the run seed and the step), so the
batches are random but reproducible.

Splits: in a Dance with Melody folder the songs of :data:`~choreo.data.sources.DWM_TEST` are the test set
(the dances held out from every model are heard by no codec either); elsewhere a name goes to test when its
CRC-32 is divisible by 10, unless that would leave no training song.

The samples are held as int16 (half the memory of float32: 2 h of music at 22050 Hz is 0.32 GB), converted to
float32 in [-1, 1] per batch. ``get(items)`` returns ``{"audio": (B, window samples) float32}``.
"""

from __future__ import annotations

import hashlib
import os
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from choreo.data.config import DataConfig
from choreo.errors import ChoreoError

#: bump when the cached decoding changes.
CACHE_VERSION = 1
_SCALE = 32767.0


def list_songs(folder: str | os.PathLike) -> list[tuple[str, Path]]:
    """Every audio file under ``folder`` (recursively), as ``(name, path)`` sorted by name.

    The name is the path relative to the folder without the suffix (``DANCE_C_2/audio``). Hidden files and
    folders are skipped.
    """
    from choreo.data.sources import AUDIO_EXTENSIONS

    root = Path(folder)
    if not root.exists():
        raise ChoreoError("data folder not found", root)
    if root.is_file():
        return [(root.stem, root)]
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in filenames:
            p = Path(dirpath) / f
            if not f.startswith(".") and p.suffix.lower() in AUDIO_EXTENSIONS:
                out.append((p.relative_to(root).with_suffix("").as_posix(), p))
    return sorted(out)


def split_songs(songs: list[tuple[str, Path]], folder: str | os.PathLike, split: str) -> list[tuple[str, Path]]:
    """The songs of ``split`` (``train``, ``test`` or ``all``) of one folder (see the module docstring)."""
    from choreo.data.sources import DWM_TEST, detect_kind

    if split == "all":
        return list(songs)
    if split not in ("train", "test"):
        raise ChoreoError(f"unknown split {split!r} (train, test or all)")
    try:
        dwm = Path(folder).is_dir() and detect_kind(folder) == "dwm"
    except ChoreoError:
        dwm = False
    if dwm:
        test = {n for n, _ in songs if n.split("/")[0] in DWM_TEST}
    else:
        test = {n for n, _ in songs if zlib.crc32(n.encode()) % 10 == 0}
        if len(test) == len(songs):
            test = set()
    return [(n, p) for n, p in songs if (n in test) == (split == "test")]


def _cache_root(cfg: DataConfig) -> Path | None:
    if cfg.cache_dir == "":
        return None
    from choreo.data.datasets import default_cache_dir

    return (Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()) / "audio"


def decode_song(path: Path, sr: int, cache: Path | None) -> np.ndarray:
    """Mono int16 samples of a song at ``sr`` Hz (decoded once, then read from ``cache``)."""
    from choreo.audio.io import load_audio
    from choreo.fileio import atomic_path

    entry = None
    if cache is not None:
        st = path.stat()
        key = f"{CACHE_VERSION}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{sr}"
        entry = cache / f"{hashlib.sha1(key.encode()).hexdigest()[:24]}.npy"
        if entry.is_file():
            try:
                return np.load(entry, allow_pickle=False)
            except (OSError, ValueError):
                pass  # a damaged entry is decoded again
    y, _ = load_audio(path, sr=sr)
    q = np.clip(np.rint(np.asarray(y, np.float32) * _SCALE), -32768, 32767).astype(np.int16)
    if entry is not None:
        try:
            with atomic_path(entry) as tmp:
                np.save(tmp, q)
        except (ChoreoError, OSError):
            pass  # an unwritable cache only costs time
    return q


class AudioWindowDataset:
    """Waveform windows over decoded songs.

    Args:
        songs: per song (N_i,) int16 (or float in [-1, 1]) mono samples at ``sr``.
        names: per-song names.
        sr: sample rate (Hz).
        window: samples per window; stride: samples between window starts.
        fps, window_frames: what :meth:`spec` reports as the data's frame rate and window (no motion here).

    ``get(items) -> {"audio": (B, window) float32 in [-1, 1]}``; ``len`` is the number of windows.
    """

    def __init__(
        self,
        songs: list[np.ndarray],
        names: list[str],
        sr: int,
        window: int,
        stride: int,
        fps: float = 30.0,
        window_frames: int | None = None,
    ):
        if not songs:
            raise ChoreoError("no songs to make audio windows from")
        self.sr, self.window, self.stride = int(sr), int(window), max(1, int(stride))
        if self.window <= 0:
            raise ChoreoError("the audio window must be at least one sample")
        self.fps = float(fps)
        self.window_frames = int(window_frames if window_frames is not None else round(self.window / sr * fps))
        self.names = list(names)
        data = [
            np.asarray(s, np.int16) if np.asarray(s).dtype == np.int16 else _to_int16(np.asarray(s, np.float32))
            for s in songs
        ]
        offsets = np.cumsum([0] + [len(s) for s in data])
        starts = [offsets[i] + np.arange(0, len(s) - self.window + 1, self.stride) for i, s in enumerate(data)]
        self.song_of = np.concatenate([np.full(len(st), i) for i, st in enumerate(starts)]).astype(np.int64)
        self._data = torch.from_numpy(np.concatenate(data))
        self._starts = torch.from_numpy(np.concatenate(starts).astype(np.int64))
        self._arange = torch.arange(self.window)
        self.seconds = float(offsets[-1]) / self.sr

    def __len__(self) -> int:
        return int(self._starts.shape[0])

    def to(self, device) -> AudioWindowDataset:
        """Keep the samples on ``device`` (gathers happen there)."""
        self._data, self._starts, self._arange = (t.to(device) for t in (self._data, self._starts, self._arange))
        return self

    def get(self, items) -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(np.asarray(items, np.int64), device=self._starts.device)
        w = self._data[self._starts[idx][:, None] + self._arange[None, :]]
        return {"audio": w.float() / _SCALE}

    def spec(self):
        """The :class:`~choreo.data.spec.DataSpec` of audio-only data: no motion, no features, ``audio_sr``."""
        from choreo.data.spec import DataSpec

        return DataSpec(fps=self.fps, window_frames=self.window_frames, audio_sr=self.sr)

    def summary(self) -> str:
        return (
            f"{len(self.names)} songs ({self.seconds / 60:.1f} min at {self.sr} Hz), {len(self)} windows of "
            f"{self.window / self.sr:g} s every {self.stride / self.sr:g} s"
        )


def _to_int16(y: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(y * _SCALE), -32768, 32767).astype(np.int16)


def build_audio_dataset(
    cfg: DataConfig, split: str = "train", *, log: Callable[[str], None] | None = None, **_ignored
) -> AudioWindowDataset:
    """Waveform windows from every song of ``split`` in ``cfg.path`` (folders joined by ``os.pathsep``).

    Uses ``cfg.audio_sr`` (required, Hz), ``window_seconds``, ``stride_seconds``, ``max_sequences`` (the first
    N songs by name), ``sequences`` (song names to keep), ``exclude_sequences`` (song names to leave out),
    ``cache_dir``.

    Raises:
        ChoreoError: no folder, no ``audio_sr``, no song long enough for one window.
    """
    if not cfg.path:
        raise ChoreoError("no data folder given (--data DIR)")
    if cfg.audio_sr <= 0:
        raise ChoreoError("audio training data needs data.audio_sr (the sample rate to train at)")
    sr = int(cfg.audio_sr)
    window = int(round(cfg.window_seconds * sr))
    stride = max(1, int(round(cfg.stride_seconds * sr)))
    chosen: list[tuple[str, Path]] = []
    folders = [f for f in str(cfg.path).split(os.pathsep) if f]
    for folder in folders:
        songs = split_songs(list_songs(folder), folder, split)
        prefix = f"{Path(folder).name}/" if len(folders) > 1 else ""
        chosen += [(prefix + n, p) for n, p in songs]
    if cfg.sequences:
        keep = set(cfg.sequences)
        missing = sorted(keep - {n for n, _ in chosen})
        if missing:
            raise ChoreoError(f"song(s) not in the {split} split: {', '.join(missing)}", cfg.path)
        chosen = [(n, p) for n, p in chosen if n in keep]
    if cfg.exclude_sequences:
        drop = set(cfg.exclude_sequences)
        unknown = sorted(drop - {n for n, _ in chosen})
        if unknown:
            raise ChoreoError(f"song(s) to exclude are not in the {split} split: {', '.join(unknown)}", cfg.path)
        chosen = [(n, p) for n, p in chosen if n not in drop]
    if cfg.max_sequences is not None:
        chosen = chosen[: max(0, cfg.max_sequences)]
    if not chosen:
        raise ChoreoError(f"no audio files in the {split} split", cfg.path)
    if log:
        log(f"decoding {len(chosen)} songs at {sr} Hz ...")
    cache = _cache_root(cfg)
    songs, names, problems = [], [], []
    for name, path in chosen:
        try:
            y = decode_song(path, sr, cache)
        except ChoreoError as exc:
            problems.append(f"{name}: {exc.message}")
            continue
        if len(y) < window:
            problems.append(f"{name}: shorter than one window ({len(y) / sr:.2f} s)")
            continue
        songs.append(y)
        names.append(name)
    if problems:
        msg = f"skipped {len(problems)} song(s): " + "; ".join(problems)
        if log:
            log(f"warning: {msg}")
        else:
            warnings.warn(msg, stacklevel=2)
    if not songs:
        raise ChoreoError(f"no usable songs in the {split} split: {'; '.join(problems)}", cfg.path)
    ds = AudioWindowDataset(songs, names, sr, window, stride, fps=cfg.fps, window_frames=cfg.window_frames)
    ds.kind, ds.split, ds.problems = "audio", split, problems
    if log:
        log(f"data: {ds.summary()}")
    return ds
