"""Video files: MP4 (H.264 + AAC, through the ffmpeg that imageio-ffmpeg ships) and looping GIF (Pillow).

Frames go to ffmpeg raw through a pipe, as RGB or already as the yuv420p that H.264 stores (what
:func:`choreo.render.render` sends); the song file is given to ffmpeg directly (cut with
``-ss``/``-t`` and padded with silence by ``apad`` when it ends before the dance), so no audio is decoded
in Python. Both writers write to the path they are given; callers pass a temporary name
(:func:`choreo.fileio.atomic_path`) and rename when the writer returns.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from choreo.errors import ChoreoError
from choreo.render.style import gif_palette


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped with imageio-ffmpeg."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass
class MediaInfo:
    """What ``ffmpeg -i`` says about a file.

    Attributes:
        duration: seconds (None if ffmpeg does not say).
        video: codec names of the video streams (cover pictures included), e.g. ``["h264"]``.
        audio: codec names of the audio streams, e.g. ``["aac"]``.
        fps: frame rate of the first video stream, or None.
        size: (width, height) of the first video stream, or None.
    """

    duration: float | None
    video: list[str]
    audio: list[str]
    fps: float | None = None
    size: tuple[int, int] | None = None


def probe(path: str | os.PathLike) -> MediaInfo:
    """Read a media file's duration and streams from ``ffmpeg -i`` (imageio-ffmpeg ships no ffprobe).

    Raises:
        ChoreoError: the file is missing or ffmpeg cannot read it.
    """
    path = Path(path)
    if not path.is_file():
        raise ChoreoError("no such file", path)
    res = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, text=True)
    text = res.stderr
    if "Invalid data found" in text or "Stream #" not in text:
        last = text.strip().splitlines()[-1] if text.strip() else "unreadable"
        raise ChoreoError(f"ffmpeg cannot read this file ({last})", path)
    duration = None
    m = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", text)
    if m:
        duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    video, audio, fps, size = [], [], None, None
    for line in text.splitlines():
        s = re.search(r"Stream #\S+: (Video|Audio): (\w+)", line)
        if not s:
            continue
        if s.group(1) == "Audio":
            audio.append(s.group(2))
            continue
        video.append(s.group(2))
        if size is None:
            wh = re.search(r", (\d{2,5})x(\d{2,5})", line)
            size = (int(wh.group(1)), int(wh.group(2))) if wh else None
            f = re.search(r"([\d.]+) fps", line)
            fps = float(f.group(1)) if f else None
    return MediaInfo(duration, video, audio, fps, size)


def _rate(fps: float) -> str:
    """ffmpeg rate string: exact for common rates (25, 30, 29.97 -> 30000/1001)."""
    fr = Fraction(fps).limit_denominator(1001)
    return f"{fr.numerator}/{fr.denominator}"


#: libx264 settings. superfast plus macroblock-tree rate control over a 10-frame lookahead: on a minute of
#: dance at 640x480 that is about half the encoding time of veryfast (the old setting) for 1.3x the bytes
#: (6.6 MB of video against 5.2 MB; SSIM to the drawn frames 0.990 against 0.992). Without the mbtree the
#: file doubles; ultrafast variants saved a further 15-30% of the time for 1.2-1.8x the bytes and a lower
#: SSIM; ``-tune animation`` was slower and no smaller.
X264_ARGS = ("-preset", "superfast", "-crf", "20", "-x264-params", "mbtree=1:rc-lookahead=10")
#: raw frame layouts :func:`write_mp4` takes: packed RGB, or the planar 4:2:0 Y'CbCr that H.264 stores.
PIX_FMTS = ("rgb24", "yuv420p")


def write_mp4(
    frames: Iterable[bytes],
    path: str | os.PathLike,
    size: tuple[int, int],
    fps: float,
    duration: float,
    music: str | os.PathLike | None = None,
    music_start: float = 0.0,
    pix_fmt: str = "rgb24",
    video_args: Sequence[str] = X264_ARGS,
) -> None:
    """Encode raw frames to an H.264 MP4, with the song's ``[music_start, music_start + duration]`` as AAC.

    Args:
        frames: raw frames: each ``width * height * 3`` bytes of RGB (rows top to bottom), or with
            ``pix_fmt="yuv420p"`` the Y plane then the Cb and Cr planes at half width and height (BT.601
            limited range, as :class:`choreo.render.draw.YUV420Frame` gives them).
        path: output file (overwritten).
        size: (width, height), both even.
        fps: frames per second.
        duration: seconds of audio to include (the video's length: n_frames / fps).
        music: song file in any format ffmpeg reads, or None for a silent video.
        music_start: seconds into the song where the dance begins.
        pix_fmt: ``"rgb24"`` or ``"yuv420p"``, the layout of ``frames``.
        video_args: libx264 options (default :data:`X264_ARGS`).

    Raises:
        ChoreoError: ffmpeg failed (its message is included).
        KeyboardInterrupt: ffmpeg was stopped by Ctrl-C (SIGINT) before Python saw it.
    """
    if pix_fmt not in PIX_FMTS:
        raise ValueError(f"unknown pixel format {pix_fmt!r}: use one of {', '.join(PIX_FMTS)}")
    W, H = size
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    cmd += ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{W}x{H}", "-framerate", _rate(fps)]
    if pix_fmt == "yuv420p":
        # Say what the planes hold on the input, so ffmpeg tags the stream without inserting a converter.
        cmd += ["-colorspace", "smpte170m", "-color_range", "tv"]
    cmd += ["-i", "pipe:0"]
    if music is not None:
        cmd += ["-ss", f"{music_start:.6f}", "-t", f"{duration:.6f}", "-i", os.fspath(music)]
    cmd += ["-map", "0:v:0", "-c:v", "libx264", *video_args, "-pix_fmt", "yuv420p"]
    if music is not None:
        # apad fills with silence up to the dance's length when the song ends first.
        cmd += ["-map", "1:a:0", "-af", f"apad=whole_dur={duration:.6f}", "-c:a", "aac", "-b:a", "160k"]
    cmd += ["-movflags", "+faststart", "-f", "mp4", os.fspath(path)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        try:
            _pipe_frames(frames, proc.stdin)
            rc = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if rc != 0:
            err.seek(0)
            msg = err.read().decode("utf-8", "replace").strip().splitlines()
            if _interrupted(rc, msg):
                # Ctrl-C reaches the whole process group; when ffmpeg sees it first, its exit is the interrupt.
                raise KeyboardInterrupt
            raise ChoreoError(f"ffmpeg failed ({'; '.join(msg[-3:]) or f'exit status {rc}'})", path)


def _interrupted(rc: int, stderr_lines: list[str]) -> bool:
    """Whether ffmpeg ended because of SIGINT: killed by it before its handler was installed, or caught it and
    exited with 255, the status ffmpeg gives only after a signal (its message is below ``-loglevel error``)."""
    return rc in (-signal.SIGINT, 255) or any("received signal 2" in line for line in stderr_lines[-5:])


def _pipe_frames(frames: Iterable[bytes], pipe, depth: int = 4) -> None:
    """Write frames to ffmpeg's stdin from a second thread, so drawing the next frame overlaps the write.

    A write blocks until ffmpeg has taken the frame; the thread lets the caller keep drawing meanwhile
    (both the pipe write and most of Pillow's drawing release the GIL). Stops quietly when ffmpeg exits
    early; the caller reads ffmpeg's exit status.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    broken = threading.Event()

    def writer() -> None:
        while True:
            data = q.get()
            if data is None:
                break
            if broken.is_set():
                continue
            try:
                pipe.write(data)
            except (BrokenPipeError, OSError):
                broken.set()
        try:
            pipe.close()
        except OSError:
            pass

    th = threading.Thread(target=writer, name="ffmpeg-writer", daemon=True)
    th.start()
    try:
        for data in frames:
            if broken.is_set():
                break
            q.put(data)
    except BaseException:
        # Error or Ctrl-C while drawing: the writer drops what is queued; the caller kills ffmpeg, which
        # unblocks a write in progress, so the thread is not joined here.
        broken.set()
        while True:
            try:
                q.get_nowait()
            except queue.Empty:
                break
        q.put_nowait(None)
        raise
    q.put(None)
    th.join()


def write_gif(frames: Iterable[Image.Image], path: str | os.PathLike, delay_cs: int) -> int:
    """Write RGB frames as a GIF that loops forever (``loop=0``) with one palette for all frames.

    Every frame is mapped, without dithering, onto one fixed palette of the colours the renderer
    draws (:func:`choreo.render.style.gif_palette`), so flat colours stay flat and the same. Pillow merges
    a frame that is identical to the one before into it (adding the delays), so the file may hold fewer
    frames than were drawn when the picture stands still; the playing time is unchanged.
    Pillow holds every frame (as an 8-bit palette image, width x height bytes) until it writes the
    file: a minute at 640x480 and 25 fps is about 460 MB, so long dances are better as MP4.

    Args:
        frames: RGB images, all the same size.
        path: output file (overwritten).
        delay_cs: delay per frame in centiseconds (GIF's unit).

    Returns:
        Number of frames given.
    """
    colours = gif_palette()
    palette = Image.new("P", (1, 1))
    palette.putpalette([v for c in colours for v in c] + [0] * (3 * (256 - len(colours))))
    images = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in frames]
    if not images:
        raise ChoreoError("no frames to write", path)
    images[0].save(
        os.fspath(path),
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=int(delay_cs) * 10,
        loop=0,
        optimize=False,
        disposal=1,
    )
    return len(images)


def read_mp4_frames(path: str | os.PathLike) -> tuple[np.ndarray, MediaInfo]:
    """Decode every frame of a video to (N, H, W, 3) uint8 (for checks and tests)."""
    import imageio_ffmpeg

    info = probe(path)
    gen = imageio_ffmpeg.read_frames(os.fspath(path))
    meta = next(gen)
    W, H = meta["size"]
    frames = [np.frombuffer(f, np.uint8).reshape(H, W, 3) for f in gen]
    return np.stack(frames), info
