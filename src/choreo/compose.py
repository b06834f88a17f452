"""The high-level music API: a trained dance-to-music model in, audio out.

    >>> import choreo
    >>> composer = choreo.load("runs/d2m")                  # a model whose checkpoint produces music
    >>> music = composer.music(choreo.motion.Motion.load("dance.bvh"), seed=0)
    >>> music.save("dance.wav")                             # or .mp3, .flac, .ogg
    >>> y, sr = music                                       # (samples, sample_rate), as before

The method (``produces = "music"``) receives the motion in its own representation and frame rate and returns
mono float32 samples at ``method.sample_rate``; the length follows the dance.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from choreo.errors import ChoreoError
from choreo.motion.motion import Motion
from choreo.trained import TrainedModel

__all__ = ["Composer", "Music", "write_mp3"]

#: suffixes :meth:`Music.save` writes
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


def write_mp3(path: str | os.PathLike, y: np.ndarray, sr: int) -> None:
    """Encode mono samples as MP3 (libmp3lame, 192 kbit/s) with the ffmpeg that imageio-ffmpeg ships, atomically."""
    import subprocess

    import imageio_ffmpeg

    from choreo.fileio import atomic_path

    pcm = (np.clip(np.asarray(y, np.float32), -1.0, 1.0) * 32767).astype("<i2").tobytes()
    with atomic_path(path) as tmp:
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", "-y"]
        cmd += ["-f", "s16le", "-ar", str(int(sr)), "-ac", "1", "-i", "pipe:0"]
        cmd += ["-c:a", "libmp3lame", "-b:a", "192k", "-f", "mp3", str(tmp)]
        r = subprocess.run(cmd, input=pcm, capture_output=True)
        if r.returncode != 0:
            detail = r.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ChoreoError(f"ffmpeg could not encode mp3 ({detail[-1] if detail else r.returncode})", path)


class Music(NamedTuple):
    """Music made for a dance: ``audio`` (N,) float32 mono samples in [-1, 1], ``sample_rate`` in Hz. Unpacks
    as ``y, sr = music``."""

    audio: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        """Seconds of audio."""
        return len(self.audio) / self.sample_rate

    def save(self, path: str | os.PathLike) -> Path:
        """Write the music to ``path``, the format from its suffix: ``.wav``, ``.flac``, ``.ogg`` (16-bit) or
        ``.mp3`` (192 kbit/s), atomically. Returns the path.

        Raises:
            ChoreoError: another suffix, or a folder that cannot be written.
        """
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix == ".mp3":
            write_mp3(p, self.audio, self.sample_rate)
        elif suffix in AUDIO_SUFFIXES:
            from choreo.audio.demo import write_wav

            write_wav(p, self.audio, self.sample_rate)
        else:
            raise ChoreoError(
                f"cannot write audio as {suffix or '(no extension)'!r}; choose {', '.join(AUDIO_SUFFIXES)}", p
            )
        return p


class Composer(TrainedModel):
    """A trained dance-to-music model. Attributes: those of :class:`TrainedModel` plus ``sample_rate`` (Hz)."""

    produces = "music"

    def __init__(self, method, checkpoint: str | None = None, threads: int | None = None, info: dict | None = None):
        super().__init__(method, checkpoint, threads, info)
        self.sample_rate = int(method.sample_rate)

    def encode(self, motion: Motion) -> np.ndarray:
        """The motion at the model's frame rate, in its representation: (T, C) float32, real units.

        A dance on another skeleton is mapped onto the model's by joint roles (joint positions,
        :func:`choreo.motion.retarget.retarget_positions`) when the model works on positions.

        Raises:
            ChoreoError: not a Motion, no frames, NaN or infinite values, a skeleton that cannot be mapped.
        """
        if not isinstance(motion, Motion):
            raise ChoreoError("music needs a choreo Motion (read one with choreo.motion.formats.read_motion)")
        src = motion.meta.get("source")
        if motion.n_frames == 0:
            raise ChoreoError("the dance has no frames", src)
        for arr in (motion.positions, motion.rotations, motion.root):
            if arr is not None and not np.all(np.isfinite(arr)):
                raise ChoreoError("the dance contains NaN or infinite values", src)
        rep = self.representation
        if not motion.skeleton.same_structure(rep.skeleton):
            if "rot6d" in rep.name:
                raise ChoreoError(
                    f"this model was trained on skeleton {rep.skeleton.name!r} (rotations); the dance uses "
                    f"{motion.skeleton.name!r}",
                    src,
                )
            from choreo.motion.retarget import retarget_positions

            motion = retarget_positions(motion, rep.skeleton)
        x = rep.encode(motion.resample(self.fps))
        if len(x) == 0 or not np.all(np.isfinite(x)):
            raise ChoreoError("the dance gives no usable frames at the model's frame rate", src)
        return x

    def music(self, motion: Motion, seed: int = 0, progress: bool = False, **options) -> Music:
        """Music for the whole dance: a :class:`Music` (``audio`` (N,) float32 mono, ``sample_rate``; unpacks
        as ``y, sr``), N = duration x rate."""
        x = self.encode(motion)
        settings = self.method.sampling_settings(**options)
        y = np.asarray(self.method.compose(x, seed=seed, progress=progress, **settings), np.float32)
        want = int(round(motion.n_frames / motion.fps * self.sample_rate))
        y = y[:want] if len(y) >= want else np.pad(y, (0, want - len(y)))
        return Music(y, self.sample_rate)
