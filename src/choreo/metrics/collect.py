"""Read the inputs of ``choreo eval``: every readable motion in a folder, and music beats paired by file stem.

Music for a motion ``STEM.<ext>`` is looked up in the music folder, in this order:

1. ``STEM.beats``: a text file of beat times in seconds, first column (other columns, such as a beat-in-bar
   number, and ``#`` comment lines are ignored);
2. ``STEM.<audio>`` (wav, mp3, ogg, flac, m4a, ...): beats from ``choreo.audio.beats.beat_times``;
3. the motion's own ``meta["audio"]`` (a Dance with Melody folder names its song), shifted by
   ``meta["audio_start"]`` so that beat times count from the motion's first frame.

Without any of them the motion has no music (its BAS is not defined).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from choreo.errors import ChoreoError
from choreo.metrics.suite import Entry

AUDIO_EXTENSIONS = (".wav", ".mp3", ".ogg", ".flac", ".m4a", ".aac", ".opus", ".aiff", ".aif")
BEATS_EXTENSION = ".beats"


def _motion_io():
    from choreo.motion.formats import MOTION_EXTENSIONS, read_motion

    return MOTION_EXTENSIONS, read_motion


def list_motion_files(folder: str | os.PathLike) -> list[Path]:
    """Every 3D motion in ``folder`` that choreo can read, sorted by name.

    Files with a motion suffix (``MOTION_EXTENSIONS``) except ``.json`` (OpenPose frames are 2D, and a JSON
    beside the motions is more likely an earlier report), plus Dance with Melody sequence folders.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ChoreoError("not a folder", folder)
    from choreo.motion.formats.dwm import is_dwm

    extensions, _ = _motion_io()
    exts = {e.lower() for e in extensions} - {".json"}
    out = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_file() and p.suffix.lower() in exts:
            out.append(p)
        elif p.is_dir() and is_dwm(p):
            out.append(p)
    return out


def read_beats_file(path: str | os.PathLike) -> np.ndarray:
    """Beat times in seconds from the first column of a text file (sorted)."""
    rows = []
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ChoreoError(f"cannot read beat times ({exc})", path) from None
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            t = float(line.replace(",", " ").split()[0])
        except ValueError:
            raise ChoreoError(f"line {n}: expected a beat time in seconds, got {line!r}", path) from None
        if not np.isfinite(t):
            raise ChoreoError(f"line {n}: beat time is not finite", path)
        rows.append(t)
    return np.sort(np.asarray(rows, dtype=np.float64))


class _BeatCache:
    def __init__(self) -> None:
        self._cache: dict[Path, np.ndarray] = {}

    def audio_beats(self, path: Path) -> np.ndarray:
        path = path.resolve()
        if path not in self._cache:
            try:
                from choreo.audio import load_audio
                from choreo.audio.beats import beat_times
            except ImportError:
                raise ChoreoError("beat tracking from audio needs choreo.audio (not installed)", path) from None
            y, sr = load_audio(path)
            self._cache[path] = np.asarray(beat_times(y, sr), dtype=np.float64)
        return self._cache[path]


def find_music(stem: str, music_dir: Path | None) -> Path | None:
    """The beats file or audio file for a motion stem in ``music_dir`` (beats files first), or None."""
    if music_dir is None:
        return None
    beats = music_dir / (stem + BEATS_EXTENSION)
    if beats.is_file():
        return beats
    for ext in AUDIO_EXTENSIONS:
        for cand in (music_dir / (stem + ext), music_dir / (stem + ext.upper())):
            if cand.is_file():
                return cand
    return None


def collect(
    folder: str | os.PathLike, music_dir: str | os.PathLike | None = None, cache: _BeatCache | None = None
) -> list[Entry]:
    """Read every motion in ``folder`` with its music beats (see the module docstring)."""
    _, read_motion = _motion_io()
    music_dir = None if music_dir is None else Path(music_dir)
    if music_dir is not None and not music_dir.is_dir():
        raise ChoreoError("music folder not found", music_dir)
    cache = cache or _BeatCache()
    files = list_motion_files(folder)
    if not files:
        raise ChoreoError("no motion files choreo can read in this folder", folder)
    entries = []
    for path in files:
        motion = read_motion(path)
        stem = path.name if path.is_dir() else path.stem
        music = find_music(stem, music_dir)
        beats = None
        if music is not None and music.suffix == BEATS_EXTENSION:
            beats = read_beats_file(music)
        elif music is not None:
            beats = cache.audio_beats(music)
        elif motion.meta.get("audio"):
            music = Path(motion.meta["audio"])
            beats = cache.audio_beats(music) - float(motion.meta.get("audio_start", 0.0))
            beats = beats[beats >= 0]
        entries.append(Entry(path.name, motion, beats, None if music is None else str(music)))
    return entries
