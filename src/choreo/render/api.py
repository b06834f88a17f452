"""``render``: a dance (optionally beside another, optionally with its music) to an MP4 or a GIF."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from choreo.errors import ChoreoError
from choreo.fileio import atomic_path
from choreo.motion.motion import Motion
from choreo.render.draw import Painter
from choreo.render.scene import build_scene
from choreo.render.writers import probe, write_gif, write_mp4


@dataclass
class RenderResult:
    """What was written.

    Attributes:
        path: the output file.
        n_frames: frames drawn.
        fps: frames per second of the file (GIF: 100 / delay in centiseconds).
        duration: seconds (n_frames / fps).
        size: (width, height) in pixels.
        music_padded: seconds of silence added after the song ended (0 when the song covers the dance).
    """

    path: Path
    n_frames: int
    fps: float
    duration: float
    size: tuple[int, int]
    music_padded: float = 0.0


def _beat_times(music: Path, start: float, duration: float) -> np.ndarray:
    """Beat times (seconds from the dance's start) of the song's stretch under the dance."""
    from choreo.audio import load_audio
    from choreo.audio.beats import beat_times

    y, sr = load_audio(music, start=start, end=start + duration)
    return np.asarray(beat_times(y, sr), np.float64)


def render(
    motion: Motion,
    out_path: str | os.PathLike,
    music: str | os.PathLike | None = None,
    music_start: float = 0.0,
    size: tuple[int, int] = (640, 480),
    fps: float | None = None,
    camera: str = "follow",
    compare: Motion | None = None,
    beats: bool | Sequence[float] | np.ndarray | None = None,
    show_time: bool = False,
    progress: bool = False,
) -> RenderResult:
    """Draw a dance as a 3D skeleton (or flat 2D keypoints) and write it to ``out_path``.

    The skeleton is drawn in perspective over a ground grid, with its shadow and the feet's shadows on
    the floor; left limbs orange, right limbs blue, feet in contact with the ground yellow.

    Args:
        motion: the dance, y up (3D skeletons in metres; 2D keypoints in image units, as choreo's readers
            give them with the image's y negated).
        out_path: ``.mp4`` (H.264 + AAC) or ``.gif`` (loops forever). Written atomically: on any error
            or Ctrl-C no file is left behind.
        music: song file (any format ffmpeg reads) muxed into the MP4; silence pads it when it ends
            before the dance. A GIF has no sound (the song is then used only for ``beats=True``).
        music_start: seconds into the song at which the dance starts.
        size: (width, height) in pixels of the whole picture (MP4: rounded down to even numbers).
        fps: frames per second of the video (default the motion's fps). GIF frame delays are whole
            centiseconds: the GIF rate is 100 / round(100 / fps), at most 50, and the dance is
            resampled to it so it plays in real time (30 fps -> 33.3 fps, 3 cs per frame).
        camera: ``"follow"`` (tracks the dancer, smoothed) or ``"fixed"`` (frames the whole dance).
        compare: a second dance drawn beside the first (each gets half the width, the same scale).
        beats: ``True`` to mark the song's beats (needs ``music``), or beat times in seconds from the
            dance's start; drawn as a scrolling timeline and a disc that flashes on each beat.
        show_time: print the time in seconds in the top-left corner.
        progress: show a progress bar on stderr.

    Returns:
        A :class:`RenderResult`.

    Raises:
        ChoreoError: unknown output type, bad size/fps/camera, unreadable music, a song that starts
            after its end, an unwritable output path, or ffmpeg failing.
    """
    out = Path(out_path)
    fmt = out.suffix.lower().lstrip(".")
    if out.is_dir():
        raise ChoreoError("is a folder, not a file name", out)
    if fmt not in ("mp4", "gif"):
        raise ChoreoError(f"unknown video type {out.suffix or '(none)'!r}: use .mp4 or .gif", out)
    scene = build_scene(motion, size=size, fps=fps, camera=camera, compare=compare, fmt=fmt)

    padded = 0.0
    song = None
    if music is not None:
        song = Path(music)
        if not math.isfinite(float(music_start)) or music_start < 0:
            raise ChoreoError(f"music start must be a non-negative number of seconds, got {music_start}", song)
        info = probe(song)
        if not info.audio:
            raise ChoreoError("has no audio stream", song)
        if info.duration is not None:
            if music_start >= info.duration:
                raise ChoreoError(
                    f"the dance starts at {music_start:.2f} s but the song is {info.duration:.2f} s", song
                )
            padded = max(0.0, music_start + scene.duration - info.duration)

    beat_times = None
    if beats is True:
        if song is None:
            raise ChoreoError("beat markers need the music (give music=...)")
        beat_times = _beat_times(song, float(music_start), scene.duration)
    elif beats is not None and beats is not False:
        beat_times = np.asarray(beats, np.float64).reshape(-1)
        if not np.all(np.isfinite(beat_times)):
            raise ChoreoError("beat times must be finite numbers of seconds")

    # MP4 frames are drawn straight in the encoder's yuv420p, so nothing converts RGB (see choreo.render.draw).
    painter = Painter(scene, beats=beat_times, show_time=show_time, pix_fmt="yuv420p" if fmt == "mp4" else "rgb24")
    indices = range(scene.n_frames)
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc=f"render {out.name}", unit="frame", leave=False)

    try:
        with atomic_path(out) as tmp:
            if fmt == "mp4":
                frames = (painter.frame(i).tobytes() for i in indices)
                write_mp4(
                    frames, tmp, scene.size, scene.fps, scene.duration, song, float(music_start), pix_fmt="yuv420p"
                )
            else:
                write_gif((painter.frame(i) for i in indices), tmp, scene.gif_delay_cs)
    except OSError as exc:
        raise ChoreoError(f"cannot write the video ({exc.strerror or exc})", out) from None
    return RenderResult(out, scene.n_frames, scene.fps, scene.duration, scene.size, padded)
