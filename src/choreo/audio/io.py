"""Read any song as mono float32 samples, optionally resampled and cut, in bounded memory.

wav, flac, ogg, mp3 (and anything else libsndfile reads) go through soundfile; m4a/aac/mp4 audio, and any
file soundfile cannot open, go through the ffmpeg binary that imageio-ffmpeg ships, decoded to float32 PCM
over a pipe. Either way the samples arrive in blocks: each block is mixed to mono (plain mean over the
channels, as ``librosa.to_mono``) and fed to a streaming soxr resampler, so a 20-minute 5.1 file never sits in
memory as multichannel or float64 data. Only the mono result at the target rate is held.

The result equals ``librosa.load(path, sr=sr, offset=start, duration=end - start)`` (same seek, same
``soxr_hq`` resampler, same length rule) for files soundfile reads.
"""

from __future__ import annotations

import contextlib
import math
import os
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from choreo.errors import ChoreoError

#: extensions handed straight to ffmpeg (libsndfile has no AAC/MP4 decoder).
FFMPEG_EXTENSIONS = frozenset({".m4a", ".aac", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".wma", ".opus", ".3gp"})
#: extensions ``load_audio`` is known to read (others are still tried).
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif"}) | FFMPEG_EXTENSIONS

_BLOCK = 1 << 16  # frames per read: ~1.5 s at 44.1 kHz; bounds the multichannel buffer.
_RESAMPLE_QUALITY = "soxr_hq"  # librosa.load's default res_type


def load_audio(
    path: str | os.PathLike, sr: float | None = None, start: float = 0.0, end: float | None = None
) -> tuple[np.ndarray, float]:
    """Load a song as mono float32 samples.

    Args:
        path: an audio file (wav, flac, ogg, mp3, m4a/aac/mp4, ...).
        sr: target sample rate in Hz (None keeps the file's rate). May be fractional (e.g. 29.97 fps x 512).
        start: seconds into the file where the result begins (>= 0).
        end: seconds into the file where it ends (None: the end of the file; clamped to the file's length).

    Returns:
        ``(y, sr)``: ``y`` (n,) float32 mono samples in [-1, 1] (not normalised), and the sample rate
        (an int when it is whole). Sample ``k`` of ``y`` lies at ``start + k / sr`` seconds in the file.

    Raises:
        ChoreoError: missing, empty or unreadable file, bad start/end, no samples in the requested range,
            NaN/infinite samples.
    """
    path = Path(path)
    start = float(start)
    if not math.isfinite(start) or start < 0:
        raise ChoreoError(f"start must be a time >= 0 in seconds, got {start}", path)
    if end is not None:
        end = float(end)
        if not math.isfinite(end) or end <= start:
            raise ChoreoError(f"end ({end} s) must come after start ({start} s)", path)
    if sr is not None:
        sr = float(sr)
        if not math.isfinite(sr) or sr <= 0:
            raise ChoreoError(f"sample rate must be positive, got {sr}", path)
    check_audio_file(path)

    if path.suffix.lower() in FFMPEG_EXTENSIONS or (path.suffix.lower() == ".mp3" and not _soundfile_reads_mp3()):
        native_sr, blocks, n_in_expected = _ffmpeg_blocks(path, start, end)
    else:
        try:
            native_sr, blocks, n_in_expected = _soundfile_blocks(path, start, end)
        except _NotSoundfile:
            native_sr, blocks, n_in_expected = _ffmpeg_blocks(path, start, end)

    y = _mono_resampled(blocks, native_sr, sr, path, n_in_expected)
    out_sr = native_sr if sr is None else sr
    if y.size == 0:
        if start > 0:
            raise ChoreoError(f"no audio after start={start} s (the song is shorter)", path)
        raise ChoreoError("the file contains no audio samples", path)
    return y, (int(out_sr) if float(out_sr).is_integer() else out_sr)


def mono_samples(y: np.ndarray) -> np.ndarray:
    """Check an in-memory signal (mono, non-empty, finite) and return it as float32 (n,).

    Raises:
        ChoreoError: another shape, no samples, NaN or infinite samples.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ChoreoError(f"expected mono samples of shape (n,), got {y.shape}")
    if y.size == 0:
        raise ChoreoError("no audio samples")
    if not np.all(np.isfinite(y)):
        raise ChoreoError("the audio contains NaN or infinite samples")
    return y.astype(np.float32, copy=False)


def audio_duration(path: str | os.PathLike) -> float:
    """Length of a song in seconds, read from its header where possible (decodes only as a last resort)."""
    path = Path(path)
    check_audio_file(path)
    if path.suffix.lower() not in FFMPEG_EXTENSIONS:
        import soundfile as sf

        try:
            info = sf.info(str(path))
            if info.frames > 0 and info.samplerate > 0:
                return info.frames / info.samplerate
        except (RuntimeError, sf.LibsndfileError, TypeError):
            pass
    y, sr = load_audio(path)
    return len(y) / sr


def file_sha1(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-1 of a file's bytes, read in 1 MiB chunks (hex)."""
    import hashlib

    h = hashlib.sha1()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    except OSError as exc:
        raise ChoreoError(f"cannot read the file ({exc.strerror or exc})", path) from None
    return h.hexdigest()


# --------------------------------------------------------------------------------------------------
# internals


class _NotSoundfile(Exception):
    """soundfile cannot open this file; try ffmpeg."""


def check_audio_file(path: str | os.PathLike) -> None:
    """Raise a ChoreoError unless ``path`` is a readable, non-empty file."""
    path = Path(path)
    if not path.exists():
        raise ChoreoError("no such file", path)
    if path.is_dir():
        raise ChoreoError("is a folder, not an audio file", path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ChoreoError(f"cannot read the file ({exc.strerror or exc})", path) from None
    if size == 0:
        raise ChoreoError("the file is empty (0 bytes)", path)
    if not os.access(path, os.R_OK):
        raise ChoreoError("cannot read the file (permission denied)", path)


@contextlib.contextmanager
def _quiet_c_stderr() -> Iterator[None]:
    """Silence C-level writes to stderr (libmpg123 prints "Note: Illegal Audio-MPEG-Header" for bad mp3s),
    so a bad file gives choreo's one-line error and nothing else."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _soundfile_reads_mp3() -> bool:
    import soundfile as sf

    return "MP3" in sf.available_formats()


def _soundfile_blocks(path: Path, start: float, end: float | None) -> tuple[int, Iterator[np.ndarray], int | None]:
    import soundfile as sf

    try:
        with _quiet_c_stderr():
            fh = sf.SoundFile(str(path))
    except (RuntimeError, sf.LibsndfileError, TypeError) as exc:
        raise _NotSoundfile(str(exc)) from None
    native_sr = fh.samplerate
    # librosa.load's seek rule, so the cut matches it sample for sample.
    first = int(start * native_sr)
    n = -1 if end is None else int((end - start) * native_sr)
    if fh.frames > 0 and first >= fh.frames:
        fh.close()
        raise ChoreoError(f"start={start} s is past the end of the song ({fh.frames / native_sr:.2f} s)", path)

    def gen() -> Iterator[np.ndarray]:
        with fh:
            try:
                with _quiet_c_stderr():
                    if first:
                        fh.seek(first)
                    blocks = fh.blocks(blocksize=_BLOCK, frames=n, dtype="float32", always_2d=True)
                while True:
                    with _quiet_c_stderr():
                        block = next(blocks, None)
                    if block is None:
                        break
                    yield block
            except (RuntimeError, sf.LibsndfileError) as exc:
                raise ChoreoError(f"cannot decode the audio ({exc})", path) from None

    expected = None
    if fh.frames > 0:
        expected = fh.frames - first if n < 0 else min(n, fh.frames - first)
    return native_sr, gen(), expected


def _ffmpeg_blocks(path: Path, start: float, end: float | None) -> tuple[int, Iterator[np.ndarray], None]:
    """Decode with ffmpeg to a float32 WAV stream on a pipe; parse its header, then yield (frames, ch) blocks.

    The cut is done here on the decoded samples, with the same rule as for soundfile: ffmpeg's own ``-ss``
    lands a few hundred samples off on AAC, and ``-t`` ends short.
    """
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", "-i", str(path)]
    cmd += ["-map", "0:a:0", "-vn", "-sn", "-dn", "-f", "wav", "-acodec", "pcm_f32le", "pipe:1"]
    err = tempfile.TemporaryFile()  # a file, not a pipe: a chatty ffmpeg cannot block on a full stderr pipe
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None

    def stderr_line() -> str:
        err.seek(0)
        lines = [ln.strip() for ln in err.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        return lines[-1] if lines else ""

    try:
        channels, native_sr = _read_wav_header(proc.stdout)
    except ValueError:
        proc.kill()
        proc.wait()
        detail = stderr_line()
        err.close()
        raise ChoreoError(
            "not an audio file soundfile or ffmpeg can read" + (f" ({detail})" if detail else ""), path
        ) from None
    first = int(start * native_sr)
    n = None if end is None else int((end - start) * native_sr)

    def gen() -> Iterator[np.ndarray]:
        frame_bytes = 4 * channels
        leftover = b""
        skip, todo = first, n
        finished_early = False
        try:
            while todo is None or todo > 0:
                chunk = proc.stdout.read(_BLOCK * frame_bytes)
                if not chunk:
                    break
                chunk = leftover + chunk
                usable = len(chunk) - len(chunk) % frame_bytes
                leftover = chunk[usable:]
                block = np.frombuffer(chunk[:usable], dtype="<f4").reshape(-1, channels)
                if skip:
                    drop = min(skip, len(block))
                    block, skip = block[drop:], skip - drop
                if todo is not None:
                    block = block[:todo]
                    todo -= len(block)
                if len(block):
                    yield block
            finished_early = todo is not None and todo <= 0
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            rc = proc.wait()
            detail = stderr_line()
            err.close()
        if rc != 0 and not finished_early:
            raise ChoreoError(f"ffmpeg could not decode the audio ({detail or f'exit status {rc}'})", path)
        if skip:
            raise ChoreoError(f"start={start} s is past the end of the song", path)

    return native_sr, gen(), None


def _read_wav_header(stream) -> tuple[int, int]:
    """Read a RIFF/RF64 WAV header up to the start of the data chunk; return (channels, sample rate)."""

    def need(n: int) -> bytes:
        b = stream.read(n)
        if len(b) != n:
            raise ValueError("truncated header")
        return b

    riff = need(12)
    if riff[:4] not in (b"RIFF", b"RF64") or riff[8:12] != b"WAVE":
        raise ValueError("not a WAV stream")
    channels = sr = bits = fmt = None
    while True:
        cid, size = struct.unpack("<4sI", need(8))
        if cid == b"fmt ":
            body = need(size)
            fmt, channels, sr = struct.unpack("<HHI", body[:8])
            bits = struct.unpack("<H", body[14:16])[0]
        elif cid == b"data":
            break
        else:
            need(size + (size & 1))
    # 3 = IEEE float, 0xFFFE = extensible (ffmpeg uses it for > 2 channels; we asked for pcm_f32le).
    if channels is None or not channels or not sr or bits != 32 or fmt not in (3, 0xFFFE):
        raise ValueError("unexpected WAV format")
    return channels, sr


def _mono_resampled(
    blocks: Iterator[np.ndarray], native_sr: float, sr: float | None, path: Path, n_in_expected: int | None = None
) -> np.ndarray:
    """Mix each (frames, ch) block to mono, resample it in a stream, and gather the float32 result.

    When the input length is known (soundfile), the output is preallocated, so the peak is one mono copy.
    """
    ratio = 1.0 if sr is None else float(sr) / float(native_sr)
    resampler = None
    if ratio != 1.0:
        import soxr

        resampler = soxr.ResampleStream(float(native_sr), float(sr), 1, dtype="float32", quality=_RESAMPLE_QUALITY)
    out = _Growable(None if n_in_expected is None else int(math.ceil(n_in_expected * ratio)) + 16)
    n_in = 0
    for block in blocks:
        mono = block[:, 0] if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32)
        if not np.all(np.isfinite(mono)):
            raise ChoreoError("the audio contains NaN or infinite samples", path)
        n_in += len(mono)
        out.append(resampler.resample_chunk(np.ascontiguousarray(mono), last=False) if resampler else mono)
    if resampler is not None:
        out.append(resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
    y = out.result()
    if resampler is not None:
        # librosa.resample's length rule (fix=True): ceil(n * ratio), zero-padded or trimmed.
        n_out = int(math.ceil(n_in * ratio))
        if len(y) > n_out:
            y = y[:n_out]
        elif len(y) < n_out:
            y = np.concatenate([y, np.zeros(n_out - len(y), dtype=np.float32)])
    return np.ascontiguousarray(y, dtype=np.float32)


class _Growable:
    """A float32 buffer filled piece by piece: preallocated when the final size is known, else doubled."""

    def __init__(self, capacity: int | None):
        self.buf = np.zeros(max(capacity or (1 << 20), 1), dtype=np.float32)
        self.n = 0

    def append(self, piece: np.ndarray) -> None:
        k = len(piece)
        if self.n + k > len(self.buf):
            new = np.zeros(max(2 * len(self.buf), self.n + k), dtype=np.float32)
            new[: self.n] = self.buf[: self.n]
            self.buf = new
        self.buf[self.n : self.n + k] = piece
        self.n += k

    def result(self) -> np.ndarray:
        if self.n == len(self.buf):
            return self.buf
        return self.buf[: self.n].copy() if self.n < len(self.buf) // 2 else self.buf[: self.n]
