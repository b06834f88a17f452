"""The files the studio made, in one temporary folder per run, reachable only by opaque ids.

Nothing a browser sends ever becomes part of a path: files are named by random ids chosen here, looked up
in a dictionary, and served only when the id is known. There is no listing. The folder is removed when the
studio stops.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

#: what an id looks like (``secrets.token_urlsafe(16)``): anything else is refused before any lookup.
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22}$")

MEDIA_TYPES = {
    ".glb": "model/gltf-binary",
    ".wav": "audio/wav",
    ".mp4": "video/mp4",
    ".gif": "image/gif",
    ".bvh": "text/plain; charset=utf-8",
    ".npz": "application/octet-stream",
    ".pkl": "application/octet-stream",
}


def new_id() -> str:
    """A fresh opaque id (128 random bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def safe_name(name: str, default: str = "file") -> str:
    """A download name made of letters, digits, ``-_.`` (other characters become ``_``), at most 80 long."""
    base = Path(str(name).replace("\\", "/")).name
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or default
    return base[:80]


@dataclass(frozen=True)
class StoredFile:
    """One file: its id, where it lies, the name a download gets, its media type."""

    id: str
    path: Path
    download_name: str
    media_type: str


class Store:
    """A temporary folder of files, each known by an opaque id.

    Args:
        root: where to make the folder (default: the system's temporary folder).
    """

    def __init__(self, root: str | Path | None = None):
        self.folder = Path(tempfile.mkdtemp(prefix="choreo-studio-", dir=root))
        self._files: dict[str, StoredFile] = {}
        self._lock = threading.Lock()

    def new_path(self, suffix: str) -> Path:
        """A fresh path in the folder for a file about to be written (not registered yet)."""
        if not re.fullmatch(r"\.[a-z0-9]{1,8}", suffix):
            raise ValueError(f"bad suffix {suffix!r}")
        return self.folder / f"{new_id()}{suffix}"

    def new_dir(self) -> Path:
        """A fresh empty sub-folder (for unpacking an upload)."""
        d = self.folder / new_id()
        d.mkdir()
        return d

    def add(self, path: Path, download_name: str) -> StoredFile:
        """Register a file written inside the folder; returns its record (with its new id)."""
        path = Path(path)
        if path.parent != self.folder:
            raise ValueError("only files in the store's own folder can be added")
        suffix = path.suffix.lower()
        entry = StoredFile(
            new_id(), path, safe_name(download_name), MEDIA_TYPES.get(suffix, "application/octet-stream")
        )
        with self._lock:
            self._files[entry.id] = entry
        return entry

    def get(self, file_id: str) -> StoredFile | None:
        """The file with this id, or None (unknown, malformed or deleted)."""
        if not isinstance(file_id, str) or not ID_PATTERN.match(file_id):
            return None
        with self._lock:
            entry = self._files.get(file_id)
        return entry if entry is not None and entry.path.is_file() else None

    def close(self) -> None:
        """Delete the folder and everything in it."""
        with self._lock:
            self._files.clear()
        shutil.rmtree(self.folder, ignore_errors=True)
