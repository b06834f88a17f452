"""A demo song synthesised with numpy: drums, bass and chords at a known tempo (no audio from elsewhere).

4/4 bars over the progression C - G - Am - F (one chord per bar): kick on beats 1 and 3 (and the "and" of 3
every other bar), snare on 2 and 4, closed hi-hat on every eighth note; a plucked bass on the chord's root
every eighth note; a soft detuned pad on the chord. Beat ``k`` starts exactly at sample
``round(k * 60 / bpm * sr)``, so the beat grid is known for tests.
"""

from __future__ import annotations

import os

import numpy as np

from choreo.errors import ChoreoError

#: (root MIDI note, chord tones as MIDI notes) per bar, cycled: C, G, Am, F.
PROGRESSION = (
    (36, (60, 64, 67)),  # C
    (43, (59, 62, 67)),  # G (B-D-G voicing keeps the pad close)
    (45, (60, 64, 69)),  # Am
    (41, (60, 65, 69)),  # F
)


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12.0)


def demo_song(seconds: float = 16.0, bpm: float = 120.0, sr: int = 22050, seed: int = 0) -> tuple[np.ndarray, int]:
    """Synthesise the demo song.

    Args:
        seconds: length in seconds (> 0).
        bpm: tempo in beats per minute (30-300).
        sr: sample rate in Hz (>= 8000).
        seed: seeds the noise of the drums (the same seed gives the same samples).

    Returns:
        ``(y, sr)``: (round(seconds * sr),) float32 mono, peak about -1 dBFS; beats at ``k * 60 / bpm`` s.
    """
    if not (seconds > 0) or not np.isfinite(seconds):
        raise ChoreoError(f"seconds must be positive, got {seconds}")
    if not (30 <= bpm <= 300):
        raise ChoreoError(f"bpm must be within 30..300, got {bpm}")
    sr = int(sr)
    if sr < 8000:
        raise ChoreoError(f"sample rate must be at least 8000 Hz, got {sr}")
    from scipy import signal

    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    beat = 60.0 / bpm
    eighth = beat / 2
    drums = np.zeros(n)
    bass = np.zeros(n)
    pad = np.zeros(n)

    def place(track: np.ndarray, t0: float, sound: np.ndarray, gain: float) -> None:
        i = int(round(t0 * sr))
        if i >= n:
            return
        k = min(len(sound), n - i)
        track[i : i + k] += gain * sound[:k]

    # Drum sounds.
    t = np.arange(int(0.45 * sr)) / sr
    kick = np.sin(2 * np.pi * np.cumsum(48 + 110 * np.exp(-t / 0.035)) / sr) * np.exp(-t / 0.22)
    kick[: int(0.002 * sr)] *= np.linspace(0, 1, int(0.002 * sr))  # no click from a hard edge
    ts = t[: int(0.25 * sr)]
    b_snare = signal.butter(2, [1200, min(7000, 0.45 * sr)], btype="bandpass", fs=sr, output="sos")
    th = t[: int(0.08 * sr)]
    b_hat = signal.butter(4, min(7000, 0.4 * sr), btype="highpass", fs=sr, output="sos")

    def snare() -> np.ndarray:
        noise = signal.sosfilt(b_snare, rng.standard_normal(len(ts)))
        return 0.7 * noise / (np.abs(noise).max() + 1e-9) * np.exp(-ts / 0.07) + 0.5 * np.sin(
            2 * np.pi * 185 * ts
        ) * np.exp(-ts / 0.05)

    def hat(open_: bool) -> np.ndarray:
        noise = signal.sosfilt(b_hat, rng.standard_normal(len(th)))
        return noise / (np.abs(noise).max() + 1e-9) * np.exp(-th / (0.045 if open_ else 0.012))

    # Tonal sounds.
    def pluck(freq: float, length: float) -> np.ndarray:
        tt = np.arange(int(length * sr)) / sr
        env = np.minimum(tt / 0.004, 1.0) * np.exp(-tt / 0.18)
        return env * (np.sin(2 * np.pi * freq * tt) + 0.35 * np.sin(2 * np.pi * 2 * freq * tt))

    def chord_pad(notes: tuple[int, ...], length: float) -> np.ndarray:
        tt = np.arange(int(length * sr)) / sr
        env = np.minimum(tt / 0.08, 1.0) * np.minimum((length - tt) / 0.12, 1.0).clip(0, 1)
        out = np.zeros_like(tt)
        for m in notes:
            for detune in (-0.06, 0.06):  # two slightly detuned voices per note: a gentle chorus
                f = _hz(m + detune)
                out += (
                    np.sin(2 * np.pi * f * tt)
                    + 0.3 * np.sin(2 * np.pi * 2 * f * tt)
                    + 0.1 * np.sin(2 * np.pi * 3 * f * tt)
                )
        return env * out / (2 * len(notes))

    n_beats = int(np.ceil(seconds / beat)) + 1
    for k in range(n_beats):
        t0 = k * beat
        in_bar = k % 4
        bar = k // 4
        root, notes = PROGRESSION[bar % len(PROGRESSION)]
        if in_bar in (0, 2):
            place(drums, t0, kick, 1.0)
        if in_bar in (1, 3):
            place(drums, t0, snare(), 0.55)
        if in_bar == 2 and bar % 2 == 1:
            place(drums, t0 + eighth, kick, 0.7)
        for half in (0, 1):
            place(drums, t0 + half * eighth, hat(open_=in_bar == 3 and half == 1), 0.2 if half else 0.28)
            octave_up = 12 if (half == 1 and in_bar == 3) else 0
            place(bass, t0 + half * eighth, pluck(_hz(root + octave_up), eighth * 0.95), 0.5)
        if in_bar == 0:
            place(pad, t0, chord_pad(notes, 4 * beat), 0.35)

    y = drums + bass + pad
    fade = min(int(0.01 * sr), n // 2)
    if fade:
        y[:fade] *= np.linspace(0, 1, fade)
        y[n - fade :] *= np.linspace(1, 0, fade)
    peak = np.abs(y).max()
    if peak > 0:
        y *= 0.89 / peak  # -1 dBFS
    return y.astype(np.float32), sr


def write_wav(path: str | os.PathLike, y: np.ndarray, sr: int) -> None:
    """Write samples as a 16-bit PCM file (format from the extension: .wav, .flac, .ogg), atomically.

    Args:
        y: (n,) mono or (n, channels) samples in [-1, 1] (clipped).
        sr: sample rate in Hz.
    """
    import soundfile as sf

    from choreo.fileio import atomic_path

    y = np.asarray(y, dtype=np.float32)
    if y.ndim not in (1, 2) or y.shape[0] == 0:
        raise ChoreoError(f"expected (n,) or (n, channels) samples, got shape {y.shape}", path)
    if not np.all(np.isfinite(y)):
        raise ChoreoError("samples contain NaN or infinite values", path)
    subtype = "VORBIS" if str(path).lower().endswith(".ogg") else "PCM_16"
    with atomic_path(path) as tmp:
        try:
            sf.write(str(tmp), np.clip(y, -1.0, 1.0), int(sr), subtype=subtype)
        except (RuntimeError, sf.LibsndfileError, TypeError, ValueError) as exc:
            raise ChoreoError(f"cannot write audio here ({exc})", path) from None
