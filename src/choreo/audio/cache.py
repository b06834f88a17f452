"""On-disk cache of computed music features, keyed by what the song *is*, not where it lies.

Key = SHA-1 of the audio file's bytes + feature set + fps + start/end + the set's parameters + the features
code version + librosa's version. Renaming or copying a song reuses its features; editing it (or upgrading the
feature code) does not. Entries are ``.npy`` files written to a temporary name and renamed into place
(:func:`choreo.fileio.atomic_path`), so two processes filling the cache at once each write a complete file and
the last rename wins; a reader never sees a half-written entry. A damaged entry is treated as missing.

Folder: ``cache_dir`` if given (``""`` turns caching off), else ``$CHOREO_CACHE/features``, else
``$XDG_CACHE_HOME/choreo/features``, else ``~/.cache/choreo/features``.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

from choreo.errors import ChoreoError
from choreo.fileio import atomic_path

_SHA1_MEMO: dict[tuple, str] = {}


def default_cache_dir() -> Path:
    """``$CHOREO_CACHE/features``, ``$XDG_CACHE_HOME/choreo/features`` or ``~/.cache/choreo/features``."""
    root = os.environ.get("CHOREO_CACHE")
    if root:
        return Path(root).expanduser() / "features"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "choreo" / "features"


def audio_sha1(path: str | os.PathLike) -> str:
    """SHA-1 of the file's bytes, memoised per process on (real path, size, mtime)."""
    from choreo.audio.io import file_sha1

    try:
        st = os.stat(path)
    except OSError as exc:
        raise ChoreoError(f"cannot read the file ({exc.strerror or exc})", path) from None
    memo_key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    digest = _SHA1_MEMO.get(memo_key)
    if digest is None:
        digest = _SHA1_MEMO[memo_key] = file_sha1(path)
    return digest


class FeatureCache:
    """A folder of cached feature arrays.

    Args:
        folder: where entries live (None: :func:`default_cache_dir`; ``""``: caching disabled).
    """

    def __init__(self, folder: str | os.PathLike | None = None):
        if folder is not None and str(folder) == "":
            self.folder = None
        else:
            self.folder = Path(folder).expanduser() if folder is not None else default_cache_dir()

    @property
    def enabled(self) -> bool:
        return self.folder is not None

    def key(self, path: str | os.PathLike, name: str, fps: float, start: float, end: float | None, params: dict) -> str:
        """The entry name for these inputs: ``<set>-<fps>fps-<sha1[:16]>-<hash of the rest>``."""
        import librosa

        from choreo.audio.features import FEATURES_VERSION

        sha1 = audio_sha1(path)
        material = {
            "audio_sha1": sha1,
            "set": name,
            "fps": float(fps),
            "start": float(start),
            "end": None if end is None else float(end),
            "params": {k: _jsonable(v) for k, v in sorted(params.items())},
            "features_version": FEATURES_VERSION,
            "librosa": librosa.__version__,
        }
        digest = hashlib.sha1(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]
        return f"{name}-{float(fps):g}fps-{sha1[:16]}-{digest}"

    def path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        """The cached array, or None when absent or unreadable."""
        if self.folder is None:
            return None
        p = self.path(key)
        try:
            arr = np.load(p, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError):
            return None  # damaged (e.g. disk full when it was written by an old version): recompute
        if arr.ndim != 2 or arr.dtype != np.float32:
            return None
        return arr

    def put(self, key: str, array: np.ndarray) -> None:
        """Store ``array`` atomically. An unwritable cache warns and is skipped: it never fails the caller."""
        if self.folder is None:
            return
        try:
            with atomic_path(self.path(key)) as tmp:
                np.save(tmp, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
        except (ChoreoError, OSError) as exc:
            warnings.warn(f"feature cache not written ({exc})", RuntimeWarning, stacklevel=2)


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v
