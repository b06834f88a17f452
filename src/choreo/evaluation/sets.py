"""The music a model is evaluated on, and the real dances that music is judged against.

A :class:`Target` is one piece of music to dance to (a song, where in it, how long) with, when there is one,
the real dance performed to it (the reference) and the music's beats (seconds from the dance's first frame).

Sets (:func:`split_targets`, :func:`song_targets`):

- ``test``: Dance with Melody's held-out dances (:data:`~choreo.data.sources.DWM_TEST`), each to the song
  excerpt it was performed to;
- ``validation``: :data:`VALIDATION`, eight training dances (two per style) on which sampling settings are
  chosen, so that the test split is never seen (in-sample: what it ranks is settings, not models);
- a folder: its real dances (any motion choreo reads) whose song is known, as a Dance with Melody folder names
  it (``meta["audio"]``, ``meta["audio_start"]``) or as an audio file of the same stem beside the motion;
- ``after_dance``: instead of the excerpt danced to, the part of each song that follows its dance (1 s after
  the dance ends): music of known songs that no model trained on, the real dances staying the reference;
- :func:`song_targets`: the first seconds of every song in a folder (no real dance; judged against a split's).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from choreo.errors import ChoreoError
from choreo.motion.motion import Motion

#: two training dances of every style the training split has (C, R, T, W); none is in the test split
VALIDATION = ("DANCE_C_2", "DANCE_C_6", "DANCE_R_2", "DANCE_R_3", "DANCE_T_5", "DANCE_W_1", "DANCE_W_20", "DANCE_W_31")
#: seconds between a dance's end and the music ``after_dance`` plays
AFTER_DANCE_GAP = 1.0


@dataclass
class Target:
    """One piece of music to dance to.

    Attributes:
        name: the key of every result for it (a dance's name, or a song's stem).
        song: the audio file.
        start: seconds into the song where the dance begins.
        seconds: length of the dance.
        beats: music beat times (seconds from the dance's first frame, within ``seconds``).
        real: the real dance performed to this music (cut to ``seconds``), or None for a song alone.
    """

    name: str
    song: Path
    start: float
    seconds: float
    beats: np.ndarray
    real: Motion | None = None


def _microseconds(times) -> np.ndarray:
    """Beat times rounded to 1 us, as ``.beats`` files hold them: a beat on a frame boundary (17.0666... s is
    frame 1024 at 60 fps) falls on the same frame in memory and in the files written with ``--out``."""
    return np.array([float(f"{t:.6f}") for t in np.asarray(times, np.float64)], np.float64)


def as_stored(motion: Motion) -> Motion:
    """The motion at float32 precision, as choreo's npz files hold it: the numbers then equal ``choreo eval`` on
    the files ``--out`` writes (and MODEL_CARD.md's, made from such files). BAS reads local minima of the joint
    speed, and a still pose's plateau can move by a frame with a 1e-7 m change."""
    if motion.positions is None:
        return motion
    return motion.copy(positions=motion.positions.astype(np.float32).astype(np.float64))


def music_beats(song: str | os.PathLike, start: float, seconds: float) -> np.ndarray:
    """Beat times (seconds from ``start``, rounded to 1 us) of ``seconds`` of ``song``, by
    :func:`choreo.audio.beats.beat_times`."""
    from choreo.audio import load_audio
    from choreo.audio.beats import beat_times

    y, sr = load_audio(song, start=start, end=start + seconds)
    if len(y) < 0.99 * seconds * sr:
        raise ChoreoError(f"the song has only {len(y) / sr:.1f} s after {start:.1f} s, {seconds:.1f} s wanted", song)
    return _microseconds(beat_times(y, sr))


def _song_of(motion: Motion, path: Path) -> tuple[Path, float]:
    """The song a real dance was performed to and where in it the dance starts."""
    if motion.meta.get("audio"):
        return Path(motion.meta["audio"]), float(motion.meta.get("audio_start", 0.0))
    from choreo.data.sources import AUDIO_EXTENSIONS

    stem = path.name if path.is_dir() else path.stem
    for ext in AUDIO_EXTENSIONS:
        for cand in (path.with_name(stem + ext), path.with_name(stem + ext.upper())):
            if cand.is_file():
                return cand, 0.0
    raise ChoreoError("no song for this dance (a Dance with Melody folder, or an audio file of the same stem)", path)


def dance_target(path: Path, seconds: float | None = None, after_dance: bool = False) -> Target:
    """The target of one real dance: its song excerpt (or the music after it), the dance cut to ``seconds``."""
    from choreo.motion.formats import read_motion

    real = as_stored(read_motion(path))
    song, start = _song_of(real, path)
    if after_dance:
        start += real.duration + AFTER_DANCE_GAP
    if seconds is not None:
        if seconds <= 0:
            raise ChoreoError(f"--seconds must be positive, got {seconds}")
        real = real.crop(0, min(real.n_frames, int(round(seconds * real.fps))))
    name = path.name if path.is_dir() else path.stem
    return Target(name, song, start, real.duration, music_beats(song, start, real.duration), real)


def split_names(split: str, data: Path | None, dances: list[str] | None = None) -> tuple[Path, list[Path]]:
    """The folder and the real dances of a split: ``test``, ``validation`` (of the Dance with Melody folder
    ``data``) or a folder of dances; ``dances`` names other dances of ``data`` instead (e.g. a validation fold).

    Returns:
        (the folder the dances are in, their paths).
    """
    if split in ("test", "validation") or dances:
        if data is None:
            raise ChoreoError(f"--split {split} needs --data, the Dance with Melody folder the model trained on")
        from choreo.data.sources import DWM_TEST

        names = list(dances or (DWM_TEST if split == "test" else VALIDATION))
        missing = [n for n in names if not (data / n).is_dir()]
        if missing:
            raise ChoreoError(f"not in this folder: {', '.join(missing)}", data)
        return data, [data / n for n in names]
    folder = Path(split)
    if not folder.is_dir():
        raise ChoreoError("--split is test, validation or a folder of real dances; no such folder", folder)
    from choreo.metrics.collect import list_motion_files

    return folder, list_motion_files(folder)


def split_targets(
    split: str,
    data: Path | None,
    dances: list[str] | None = None,
    seconds: float | None = None,
    after_dance: bool = False,
) -> list[Target]:
    """The targets of a split (see the module docstring), in the split's order."""
    _, paths = split_names(split, data, dances)
    if not paths:
        raise ChoreoError("no real dances to evaluate on", split)
    return [dance_target(p, seconds, after_dance) for p in paths]


def song_targets(folder: str | os.PathLike, seconds: float = 30.0) -> list[Target]:
    """The first ``seconds`` (or the whole song, if shorter) of every song in ``folder``, sorted by name."""
    from choreo.audio import load_audio
    from choreo.audio.beats import beat_times
    from choreo.data.sources import AUDIO_EXTENSIONS

    folder = Path(folder)
    if not folder.is_dir():
        raise ChoreoError("--songs: not a folder", folder)
    songs = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    if not songs:
        raise ChoreoError(f"no songs in this folder ({', '.join(AUDIO_EXTENSIONS)})", folder)
    out = []
    for song in songs:
        y, sr = load_audio(song, end=seconds)
        out.append(Target(song.stem, song, 0.0, len(y) / sr, _microseconds(beat_times(y, sr))))
    return out
