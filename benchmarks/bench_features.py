"""Music features for a 3-minute song: choreo vs librosa's straightforward calls, in the same run.

    .venv/bin/python benchmarks/bench_features.py [--song PATH] [--repeats 5] [--memory]

For ``baseline35`` and ``dr438`` at 30 fps it times, warm (after one untimed run of each, so numba's JIT is
not counted), interleaved, the median of ``--repeats`` runs of

- choreo: ``compute_features(y, 15360, set, 30)`` (one shared STFT, band-limited peak picking for the tuning,
  one tempogram for both tempo estimates, the CQT overlapped with the beat tracker in a second thread);
- reference: the published extractor's librosa calls one after the other (EDGE's ``baseline_features.py``
  with ``start_bpm`` from the same onset envelope; Dance Revolution's ``extractor.py``);

and checks the two agree to 1e-5. It prints seconds per minute of music and the speed-up ratio, then the
end-to-end time of ``song_features`` (decode + features) cold and from the cache.

``--memory`` also measures the peak resident memory of a 20-minute song's baseline35 features in fresh
processes: choreo's ``song_features`` against ``librosa.load`` + EDGE's calls.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SONG = REPO.parent / "shared" / "data" / "dance_with_melody" / "DANCE_C_2" / "audio.mp3"
SR, HOP, FPS = 15360, 512, 30


def edge_calls(y: np.ndarray, sr: int = SR) -> np.ndarray:
    """EDGE's data/audio_extraction/baseline_features.py, call for call."""
    import librosa

    envelope = librosa.onset.onset_strength(y=y, sr=sr)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20).T
    chroma = librosa.feature.chroma_cens(y=y, sr=sr, hop_length=HOP, n_chroma=12).T
    peaks = librosa.onset.onset_detect(onset_envelope=envelope.flatten(), sr=sr, hop_length=HOP)
    peak_onehot = np.zeros_like(envelope, dtype=np.float32)
    peak_onehot[peaks] = 1.0
    start_bpm = librosa.feature.tempo(onset_envelope=envelope, sr=sr, hop_length=HOP)[0]
    _, beats = librosa.beat.beat_track(
        onset_envelope=envelope, sr=sr, hop_length=HOP, start_bpm=start_bpm, tightness=100
    )
    beat_onehot = np.zeros_like(envelope, dtype=np.float32)
    beat_onehot[beats] = 1.0
    return np.concatenate([envelope[:, None], mfcc, chroma, peak_onehot[:, None], beat_onehot[:, None]], axis=-1)


def dance_revolution_calls(y: np.ndarray, sr: int = SR) -> np.ndarray:
    """stonyhu/DanceRevolution extractor.py as prepro.py chains it."""
    import librosa

    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr), ref=np.max)
    mfcc = librosa.feature.mfcc(S=mel_db)
    delta = librosa.feature.delta(mfcc, width=3)
    harmonic, percussive = librosa.effects.hpss(y)
    chroma = librosa.feature.chroma_cqt(y=harmonic, sr=sr)
    env = librosa.onset.onset_strength(y=percussive, aggregate=np.median, sr=sr)
    tempogram = librosa.feature.tempogram(onset_envelope=env, sr=sr)
    _, beats = librosa.beat.beat_track(onset_envelope=env, sr=sr)
    onehot = np.zeros(len(env))
    onehot[beats] = 1
    return np.concatenate([mfcc, delta, chroma, env[None], onehot[None], tempogram], axis=0).T


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t, out


def compare(name: str, y: np.ndarray, reference, repeats: int) -> None:
    from choreo.audio.features import compute_features

    minutes = len(y) / SR / 60
    ref = reference(y)
    ours = compute_features(y, SR, name, FPS, n_frames=len(ref))  # warm-up (JIT), and the equality check
    diff = np.abs(ours - ref) / np.maximum(1.0, np.abs(ref))
    t_ours, t_ref = [], []
    for _ in range(repeats):
        t_ours.append(timed(compute_features, y, SR, name, FPS, len(ref))[0])
        t_ref.append(timed(reference, y)[0])
    mo, mr = statistics.median(t_ours), statistics.median(t_ref)
    print(
        f"{name:10s} choreo {mo:6.3f} s ({mo / minutes:.3f} s/min)   librosa calls {mr:6.3f} s "
        f"({mr / minutes:.3f} s/min)   ratio {mr / mo:4.2f}x   max |diff|/max(1,|ref|) {diff.max():.1e}"
    )


_MEMORY_CHILD = r"""
import sys, time
import numpy as np
path, which = sys.argv[1], sys.argv[2]
t = time.perf_counter()
if which == "choreo":
    from choreo.audio.features import song_features
    F = song_features(path, "baseline35", 30, cache_dir="")
else:
    import librosa
    sys.path.insert(0, sys.argv[3])
    from bench_features import edge_calls
    y, _ = librosa.load(path, sr=15360)
    F = edge_calls(y)
# VmHWM, not ru_maxrss: the latter survives exec, so it would report the (larger) parent's peak
hwm = [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
print(F.shape[0], round(time.perf_counter() - t, 2), hwm // 1024)
"""


def memory(minutes: int = 20) -> None:
    from choreo.audio.demo import demo_song, write_wav

    y, sr = demo_song(seconds=60.0, bpm=123.0, sr=44100)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.wav"
        import soundfile as sf

        with sf.SoundFile(path, "w", sr, 2, subtype="PCM_16") as fh:
            for _ in range(minutes):
                fh.write(np.stack([y, y], axis=1))
        del write_wav
        print(
            f"\n{minutes}-minute stereo 44.1 kHz song ({path.stat().st_size / 1e6:.0f} MB wav), baseline35 at 30 fps:"
        )
        for which in ("choreo", "librosa"):
            r = subprocess.run(
                [sys.executable, "-c", _MEMORY_CHILD, str(path), which, str(Path(__file__).parent)],
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": str(REPO / "src")},
            )
            if r.returncode:
                print(f"  {which}: failed: {r.stderr.strip().splitlines()[-1]}")
                continue
            frames, secs, peak = r.stdout.split()
            print(f"  {which:8s} {frames} frames in {secs} s, peak RSS {peak} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--song", type=Path, default=DEFAULT_SONG)
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--memory", action="store_true", help="also measure peak RSS on a 20-minute song")
    args = ap.parse_args()

    from choreo.audio import load_audio
    from choreo.audio.features import song_features

    print(f"cores: {len(os.sched_getaffinity(0))}, load average {os.getloadavg()[0]:.1f}")
    if args.song.is_file():
        y, _ = load_audio(args.song, sr=SR, end=args.seconds)
        print(f"song: {args.song} (first {len(y) / SR:.0f} s)")
    else:
        from choreo.audio.demo import demo_song

        y, _ = demo_song(seconds=args.seconds, bpm=124.0, sr=SR)
        print(f"song: synthesised demo ({args.seconds:.0f} s); {args.song} not found")
    compare("baseline35", y, edge_calls, args.repeats)
    compare("dr438", y, dance_revolution_calls, max(1, args.repeats // 2))

    if args.song.is_file():
        with tempfile.TemporaryDirectory() as cache:
            cold, _ = timed(song_features, args.song, "baseline35", FPS, end=args.seconds, cache_dir=cache)
            warm, _ = timed(song_features, args.song, "baseline35", FPS, end=args.seconds, cache_dir=cache)
        print(
            f"song_features end to end (decode + baseline35): {cold:.3f} s; again from the cache: {warm * 1000:.1f} ms"
        )
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
    if args.memory:
        memory()


if __name__ == "__main__":
    main()
