"""Takes: the dances the studio holds (made, edited, uploaded, or set to generated music), ready to watch.

Every take gets, once, what the viewer needs: the GLB (the same file a user downloads), the music under
exactly the dance's span as a WAV (silence-padded, so the audio element can be the clock), the beats of
that music, and the feet's contacts. Other formats are written on request and kept.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from choreo.errors import ChoreoError
from choreo.motion.motion import Motion
from choreo.studio.store import Store, StoredFile, new_id

#: sample rate of the music the page plays (speech-band quality is not enough for music; 44.1k is too big).
PLAYBACK_SR = 32000
#: motion formats written on request (MP4 is rendered by a job: it takes a while).
MOTION_FORMATS = ("glb", "bvh", "npz", "pkl")


@dataclass
class Take:
    """One dance in the studio.

    Attributes:
        title: what the page calls it; kind: ``dance`` (made), ``music`` (music made for it), ``upload``.
        motion: the dance; audio: its music as a WAV of exactly its span (None: silent);
        beats: the music's beat times in seconds from the dance's start; contacts: (T, 4) feet on the ground.
        dance_beats, dance_downbeats: the dance's own beats and bar starts from its motion
            (:func:`choreo.motion.rhythm.dance_rhythm`; empty for a dance too short or too still to tell).
        settings: how it was made (model, seed, song, start...), shown in the page and reused by edits.
        files: written files by format (``glb`` always).
        number: the take's place in this run (1, 2, ...), shown as ``#n`` and used in titles that name takes.
    """

    title: str
    kind: str
    motion: Motion
    audio: StoredFile | None
    beats: list[float]
    contacts: np.ndarray
    settings: dict[str, Any]
    files: dict[str, StoredFile] = field(default_factory=dict)
    dance_beats: list[float] = field(default_factory=list)
    dance_downbeats: list[float] = field(default_factory=list)
    number: int = 0
    id: str = field(default_factory=new_id)

    def to_dict(self) -> dict[str, Any]:
        m, sk = self.motion, self.motion.skeleton
        feet = [sk.joint_names[f] if f >= 0 else None for f in sk.feet]
        return {
            "id": self.id,
            "title": self.title,
            "number": self.number,
            "kind": self.kind,
            "fps": m.fps,
            "frames": m.n_frames,
            "duration": m.duration,
            "skeleton": sk.name,
            "joints": list(sk.joint_names),
            "parents": [int(p) for p in sk.parents],
            "upper_body": [int(j) for j in sk.upper_body],
            "feet": feet,
            "contacts": ["".join("1" if c else "0" for c in row) for row in self.contacts.T],
            "beats": [round(b, 4) for b in self.beats],
            "dance_beats": [round(b, 4) for b in self.dance_beats],
            "dance_downbeats": [round(b, 4) for b in self.dance_downbeats],
            "audio": self.audio.id if self.audio else None,
            "glb": self.files["glb"].id,
            "files": {k: v.id for k, v in self.files.items()},
            "settings": self.settings,
        }


def span_audio(song: str, start: float, duration: float) -> tuple[np.ndarray, int]:
    """The song from ``start`` for ``duration`` seconds at :data:`PLAYBACK_SR`, padded with silence."""
    from choreo.audio.io import load_audio

    n = int(round(duration * PLAYBACK_SR))
    try:
        y, _ = load_audio(song, sr=PLAYBACK_SR, start=start, end=start + duration)
    except ChoreoError:
        y = np.zeros(0, np.float32)  # the dance runs past the song: all silence
    return (np.pad(y[:n], (0, max(0, n - len(y)))), PLAYBACK_SR)


def _dance_beats(motion: Motion) -> tuple[list[float], list[float]]:
    """The dance's own beats and downbeats (seconds from its start), from its motion alone."""
    from choreo.motion.rhythm import dance_rhythm

    try:
        r = dance_rhythm(motion)
    except ChoreoError:  # too short, 2D, or without the joints the accents need: the timeline shows none
        return [], []
    return [float(t) for t in r.beats], [float(t) for t in r.downbeats]


def _beats(y: np.ndarray, sr: int) -> list[float]:
    from choreo.audio.beats import beat_times

    if not np.any(np.abs(y) > 1e-4):
        return []
    return [float(t) for t in beat_times(y, sr)]


class TakeBook:
    """The takes of this studio run, by id."""

    def __init__(self, store: Store):
        self.store = store
        self._takes: dict[str, Take] = {}
        self._lock = threading.Lock()

    def add(
        self,
        motion: Motion,
        title: str,
        kind: str,
        settings: dict[str, Any],
        music: tuple[np.ndarray, int] | None = None,
    ) -> Take:
        """Make a take: write its GLB and WAV, find its beats and contacts."""
        from choreo.audio.demo import write_wav
        from choreo.motion.formats.glb import write_glb

        glb_path = self.store.new_path(".glb")
        write_glb(motion, glb_path)
        stem = file_stem(title)
        files = {"glb": self.store.add(glb_path, f"{stem}.glb")}
        audio, beats = None, []
        if music is not None:
            y, sr = music
            n = int(round(motion.duration * sr))
            y = np.pad(np.asarray(y, np.float32)[:n], (0, max(0, n - len(y))))
            wav = self.store.new_path(".wav")
            write_wav(wav, y, sr)
            audio = self.store.add(wav, f"{stem}.wav")
            files["wav"] = audio
            beats = _beats(y, sr)
        take = Take(title, kind, motion, audio, beats, motion.foot_contacts(), settings, files)
        take.dance_beats, take.dance_downbeats = _dance_beats(motion)
        with self._lock:
            take.number = len(self._takes) + 1
            self._takes[take.id] = take
        return take

    def get(self, take_id: str) -> Take | None:
        with self._lock:
            return self._takes.get(str(take_id))

    def require(self, take_id: str) -> Take:
        take = self.get(take_id)
        if take is None:
            raise ChoreoError("no such take (the studio was restarted, or the id is wrong)")
        return take

    def all(self) -> list[Take]:
        with self._lock:
            return list(self._takes.values())

    def export(self, take: Take, fmt: str) -> StoredFile:
        """The take as ``fmt`` (one of :data:`MOTION_FORMATS`), written once."""
        from choreo.motion.formats import write_motion

        if fmt not in MOTION_FORMATS:
            raise ChoreoError(f"unknown format {fmt!r} (choose among {', '.join(MOTION_FORMATS)}, or mp4)")
        with self._lock:
            done = take.files.get(fmt)
        if done is not None:
            return done
        path = self.store.new_path(f".{fmt}")
        write_motion(take.motion, path)
        entry = self.store.add(path, f"{file_stem(take.title)}.{fmt}")
        with self._lock:
            take.files[fmt] = entry
        return entry

    def attach(self, take: Take, fmt: str, entry: StoredFile) -> None:
        """Record a file made for the take by a job (an MP4)."""
        with self._lock:
            take.files[fmt] = entry


def file_stem(title: str) -> str:
    """A file name stem for a take's downloads, from its title."""
    from choreo.studio.store import safe_name

    return safe_name(title, "dance").rsplit(".", 1)[0] or "dance"
