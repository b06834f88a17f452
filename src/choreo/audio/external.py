"""The ``external`` feature set: per-song arrays computed elsewhere (e.g. Jukebox, 4800 per frame).

Layout: for a song ``.../SONG.ext`` the features are ``FOLDER/SONG.npy``, a (T, D) array whose row ``j``
describes the music at ``j / source_fps`` seconds from the start of the song (the same alignment as choreo's
own sets). The frame rate comes from ``source_fps`` (``--external-fps``) or, failing that, from a sidecar
``FOLDER/SONG.json`` holding ``{"fps": 30}``. ``FOLDER`` defaults to the song's own folder.

Checks and resampling: the array must span the song: converted to the target fps its length
(:func:`choreo.audio.features.frame_count` of ``T / source_fps``) must be within one frame of the song's. Rows
are then resampled in time by linear interpolation to ``fps`` (exact row copies when the rates agree), cut to
``[start, end)`` and cropped or padded (last row repeated) to ``n_frames``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from choreo.errors import ChoreoError


def external_path(song: str | os.PathLike, folder: str | os.PathLike | None = None) -> Path:
    """Where the external features of ``song`` live: ``folder/<stem>.npy`` (folder: the song's own)."""
    song = Path(song)
    return (Path(folder) if folder is not None else song.parent) / f"{song.stem}.npy"


def external_dim(folder: str | os.PathLike) -> int:
    """Features per frame of the arrays in ``folder`` (read from the first ``.npy``'s header)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.npy")) if folder.is_dir() else []
    if not files:
        raise ChoreoError("no external feature arrays (*.npy) here", folder)
    return int(_open_array(files[0]).shape[1])


def load_external(
    song: str | os.PathLike,
    fps: float,
    n_frames: int | None = None,
    *,
    start: float = 0.0,
    end: float | None = None,
    folder: str | os.PathLike | None = None,
    source_fps: float | None = None,
) -> np.ndarray:
    """Read, check and resample the external features of ``song`` to ``fps``.

    Args:
        song: the audio file (used for its name and its duration).
        fps: target frame rate.
        n_frames: frames wanted (None: ``frame_count`` of ``[start, end)``).
        start, end: seconds of the song (frame 0 at ``start``).
        folder: where ``<stem>.npy`` lies (None: the song's folder).
        source_fps: the array's frame rate (None: read ``<stem>.json``'s ``fps``).

    Returns:
        (n_frames, D) float32.

    Raises:
        ChoreoError: missing array or frame rate, wrong shape, NaN, or a length that does not match the song.
    """
    from choreo.audio.features import fit_frames, frame_count
    from choreo.audio.io import audio_duration

    arr_path = external_path(song, folder)
    if not arr_path.is_file():
        raise ChoreoError(f"no external features for this song (expected {arr_path})", song)
    A = _open_array(arr_path)
    src_fps = _source_fps(arr_path, source_fps)
    duration = audio_duration(song)
    have = frame_count(len(A) / src_fps, fps)
    want = frame_count(duration, fps)
    if abs(have - want) > 1:
        raise ChoreoError(
            f"{len(A)} frames at {src_fps:g} fps cover {len(A) / src_fps:.3f} s but the song lasts {duration:.3f} s "
            f"({have} vs {want} frames at {fps:g} fps): wrong song, or wrong fps?",
            arr_path,
        )
    start = float(start)
    stop = duration if end is None else min(float(end), duration)
    if start < 0 or stop <= start:
        raise ChoreoError(f"bad range start={start} end={end} for a {duration:.3f} s song", song)
    n = frame_count(stop - start, fps) if n_frames is None else int(n_frames)
    if n < 1:
        raise ChoreoError(f"n_frames must be >= 1, got {n_frames}", song)
    # Rows at the target times start + i / fps, sampled from the source grid j / src_fps.
    pos = (start + np.arange(n) / fps) * src_fps
    last = len(A) - 1
    inside = pos <= last + 1e-9
    pos = np.clip(pos[inside], 0.0, last)
    i0 = np.floor(pos + 1e-9).astype(np.int64)
    i0 = np.minimum(i0, last)
    w = (pos - i0).astype(np.float32)[:, None]
    i1 = np.minimum(i0 + 1, last)
    A0 = np.asarray(A[i0], dtype=np.float32)
    out = A0 if not np.any(w) else A0 * (1.0 - w) + np.asarray(A[i1], dtype=np.float32) * w
    if len(out) == 0:
        raise ChoreoError(f"start={start} s lies past the end of the external features", arr_path)
    return fit_frames(out, n)


def _open_array(path: Path) -> np.ndarray:
    try:
        A = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ChoreoError(f"not a readable .npy array ({exc})", path) from None
    if A.ndim != 2 or A.shape[0] < 1 or A.shape[1] < 1:
        raise ChoreoError(f"expected a (frames, features) array, got shape {A.shape}", path)
    if not np.issubdtype(A.dtype, np.number):
        raise ChoreoError(f"expected numbers, got dtype {A.dtype}", path)
    if not np.all(np.isfinite(A)):
        raise ChoreoError("the features contain NaN or infinite values", path)
    return A


def _source_fps(arr_path: Path, source_fps: float | None) -> float:
    if source_fps is None:
        side = arr_path.with_suffix(".json")
        if not side.is_file():
            raise ChoreoError(
                f'unknown frame rate: write {side.name} with {{"fps": ...}} or pass --external-fps', arr_path
            )
        try:
            source_fps = json.loads(side.read_text())["fps"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ChoreoError(f'cannot read the frame rate ({exc!r}); expected {{"fps": ...}}', side) from None
    try:
        source_fps = float(source_fps)
    except (TypeError, ValueError):
        raise ChoreoError(f"frame rate must be a number, got {source_fps!r}", arr_path) from None
    if not math.isfinite(source_fps) or source_fps <= 0:
        raise ChoreoError(f"frame rate must be positive, got {source_fps}", arr_path)
    return source_fps
