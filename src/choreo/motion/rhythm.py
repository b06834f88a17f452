"""The dance's own rhythm: tempo, beats and bars found in the motion alone, with no music.

Three kinematic accents mark where a dance hits (each an event time in seconds with a strength):

- **kinematic beats**: Bailando's local minima of the smoothed mean joint speed
  (:func:`choreo.metrics.beats.motion_beats_bailando`), on the motion resampled to 60 fps, the rate the
  reference defines its 5-frame smoothing at; strength: how sharply the speed rises out of the minimum within
  0.1 s either side (a hit stops and restarts sharply, a hold sits in a flat minimum);
- **foot strikes**: an ankle's ground contact starting (:meth:`choreo.motion.Motion.foot_contacts`, 0.3 m/s);
  strength 1 (3D motions only: the contact threshold is a speed in metres);
- **root bounce**: local minima of the root joint's height after its slow drift is removed (a dancer sinks
  into the beat); strength: the depth of the dip.

Each kind of accent is placed on a 100 Hz grid (sub-frame times survive the motion's own frame rate), scaled so
that every kind carries the same mass per second, and the sum is smoothed by a 40 ms Gaussian: the accent
envelope. Its autocorrelation gives the tempo: among its peaks between 40 and 240 BPM, the one whose multiples
(1-4 beats) are also periodic (a comb: the beat that explains the bar), weighted by a log-normal prior on the
tempo around 100 BPM (one octave wide). librosa's dynamic-programming beat tracker
(:func:`choreo.audio.beat_track.track_beats`, the numpy port of ``librosa.beat.beat_track``) then places beats
on the envelope at that tempo. The reported tempo is the autocorrelation's (its peak refined between samples):
over a whole dance it is steadier than the spacing of beats a tracker places on weak accents. Bars: every
``beats_per_bar``-th beat is a downbeat, starting at the phase whose beats carry the strongest accents; the metre
is given (3 for a waltz, 4 otherwise) or found as the bar length (3 or 4 beats) at which the root bounce (else the
whole envelope) is the more periodic.
The confidence is the comb's periodicity (the envelope's mean normalised autocorrelation at 1-4 beats),
clipped to [0, 1]: about 1 for a metronomic accent train, about 0 for accents with no period.

Everything is in seconds and BPM; the motion is in choreo's canonical space (metres, y-up, known fps).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from choreo.errors import ChoreoError
from choreo.motion.motion import Motion

#: Hz: the grid the accents are placed on (10 ms; the beat tracker's resolution).
ANALYSIS_RATE = 100.0
#: weights of the three kinds of accent in the envelope (kinematic beats, foot strikes, root bounce): equal; on Dance
#: with Melody no other weighting tried was clearly better (research/dance_tempo_agreement.py, its docstring).
KINEMATIC_WEIGHT, STRIKE_WEIGHT, BOUNCE_WEIGHT = 1.0, 1.0, 1.0
#: s: the Gaussian width that turns accent events into an envelope.
SMOOTHING_S = 0.04
#: fps at which Bailando's kinematic beats are defined (its smoothing is 5 frames at AIST++'s 60 fps).
KINEMATIC_FPS = 60.0
#: s: a kinematic beat's strength is how much the speed rises within this much either side of its minimum.
SHARPNESS_S = 0.1
#: s: a root dip's depth is measured against the highest point of the height within this much either side.
DEPTH_WINDOW_S = 0.25
#: s: the root height's drift (slower than any bounce) is a Gaussian of this width, removed before the dips.
BOUNCE_DRIFT_S = 0.5
#: BPM: the range searched for the beat.
MIN_BPM, MAX_BPM = 40.0, 240.0
#: the tempo prior: log-normal around ``PRIOR_BPM`` with a standard deviation of ``PRIOR_OCTAVES`` octaves.
PRIOR_BPM, PRIOR_OCTAVES = 100.0, 1.0
#: beats 1..COMB_BEATS must all be periodic for a candidate beat to score.
COMB_BEATS = 4
#: relative tolerance when reading the autocorrelation at a multiple of the beat.
COMB_TOLERANCE = 0.02
#: s: a beat's accent is the envelope's highest value within this much of it.
ACCENT_WINDOW_S = 0.07
#: the librosa beat tracker's tightness (how strictly beats keep the tempo).
TIGHTNESS = 100.0
#: the shortest motion analysed (seconds) and the fewest joints (a root and limbs moving about it).
MIN_SECONDS = 3.0
MIN_JOINTS = 3
#: bar lengths ``metre=None`` chooses between.
METRES = (3, 4)


@dataclass(frozen=True, eq=False)
class DanceRhythm:
    """The rhythm of a dance.

    Attributes:
        tempo_bpm: beats per minute (0.0 when the dance has no rhythm to find, e.g. it does not move).
        beats: (k,) float64 beat times in seconds from the motion's first frame, ascending.
        downbeats: (m,) float64 the beats that start a bar (a subset of ``beats``), seconds.
        beats_per_bar: the metre's beats per bar (3 for 3/4, 4 for 4/4).
        confidence: in [0, 1]: how periodic the dance's accents are at this tempo (module docstring).
    """

    tempo_bpm: float
    beats: np.ndarray
    downbeats: np.ndarray
    beats_per_bar: int
    confidence: float

    def bar_positions(self) -> np.ndarray:
        """(k,) int64: each beat's position in its bar, 1 on a downbeat up to ``beats_per_bar``."""
        if not len(self.beats):
            return np.zeros(0, np.int64)
        first = int(np.searchsorted(self.beats, self.downbeats[0])) if len(self.downbeats) else 0
        return (np.arange(len(self.beats)) - first) % self.beats_per_bar + 1

    def write(self, path: str | os.PathLike) -> None:
        """Write a beats file: one ``time position`` line per beat (seconds, 1 = downbeat) after ``#`` header lines
        with the tempo, metre and confidence; readable by :func:`choreo.audio.beats.read_beats` (first column) as
        any one-time-per-line beats file is, and by tools that read the Ballroom / madmom beat annotations."""
        from choreo.audio.beats import write_beats

        header = (
            f"tempo {self.tempo_bpm:.2f} BPM, metre {self.beats_per_bar}/4, confidence {self.confidence:.3f}",
            "beat time (s), position in the bar (1 = downbeat); from the motion by choreo.motion.rhythm",
        )
        write_beats(path, self.beats, positions=self.bar_positions(), header=header)


# --- accents ------------------------------------------------------------------------------------------


def _resample(x: np.ndarray, fps: float, rate: float) -> np.ndarray:
    """(T, ...) samples at ``fps`` -> (n, ...) at ``rate`` by linear interpolation, frame 0 at time 0, the last
    new sample at or before the old end."""
    n = int(np.floor((len(x) - 1) / fps * rate + 1e-9)) + 1
    t = np.arange(n) * (fps / rate)  # in old frames
    i0 = np.minimum(np.floor(t).astype(np.int64), len(x) - 1)
    i1 = np.minimum(i0 + 1, len(x) - 1)
    w = (t - i0).reshape((-1,) + (1,) * (x.ndim - 1))
    return (1.0 - w) * x[i0] + w * x[i1]


def _depth_below_local_max(curve: np.ndarray, idx: np.ndarray, half_window: int) -> np.ndarray:
    """How far ``curve`` falls at each index in ``idx`` below its own maximum within ``half_window`` samples."""
    from scipy.ndimage import maximum_filter1d

    return (maximum_filter1d(curve, 2 * half_window + 1, mode="nearest")[idx] - curve[idx]).astype(np.float64)


def kinematic_accents(positions: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Bailando's kinematic beats of a dance and how sharp each speed minimum is.

    Args:
        positions: (T, J, D) joint positions (any unit: strengths are relative), at ``fps``.
        fps: frames per second.

    Returns:
        ``(times (k,) seconds, strengths (k,) >= 0)``: the strength is the smoothed mean joint displacement per
        1/60 s at ``SHARPNESS_S`` before plus after the minimum, less twice the minimum (positions' unit).
    """
    from choreo.metrics.beats import bailando_speed_curve, motion_beats_bailando

    p = _resample(np.asarray(positions, np.float64), fps, KINEMATIC_FPS)
    if len(p) < 3:
        return np.zeros(0), np.zeros(0)
    frames = np.asarray(motion_beats_bailando(p), np.int64)
    curve = bailando_speed_curve(p)
    # a hit is a sharp stop and restart, a hold is a flat minimum: the speed's rise within SHARPNESS_S either side
    w = int(round(SHARPNESS_S * KINEMATIC_FPS))
    rise = curve[np.maximum(frames - w, 0)] + curve[np.minimum(frames + w, len(curve) - 1)] - 2 * curve[frames]
    return frames / KINEMATIC_FPS, np.maximum(rise, 0.0)


def foot_strike_times(motion: Motion) -> np.ndarray:
    """Seconds at which an ankle's ground contact starts (:meth:`Motion.foot_contacts`); empty for 2D motions
    (their contact threshold, a speed in metres per second, means nothing in pixels) and skeletons without
    ankles."""
    if motion.skeleton.dim != 3:
        return np.zeros(0)
    contacts = motion.foot_contacts()[:, [0, 2]]  # the ankles: the toes roll after them in the same step
    start = np.zeros(len(contacts), dtype=bool)
    start[1:] = (contacts[1:] & ~contacts[:-1]).any(axis=1)
    return np.flatnonzero(start) / motion.fps


def bounce_accents(root_height: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """The dips of the root's vertical oscillation.

    Args:
        root_height: (T,) the root joint's height (y-up), at ``fps``.
        fps: frames per second.

    Returns:
        ``(times (k,) seconds, depths (k,) > 0 in the height's unit)``: local minima of the height (drift
        slower than ``BOUNCE_DRIFT_S`` removed, 30 ms smoothing) with their depth below the highest point within
        ``DEPTH_WINDOW_S``; dips shallower than a fifth of the median dip (tremor) are left out.
    """
    from scipy.ndimage import gaussian_filter1d

    rate = ANALYSIS_RATE
    y = _resample(np.asarray(root_height, np.float64), fps, rate)
    if len(y) < 3:
        return np.zeros(0), np.zeros(0)
    y = y - gaussian_filter1d(y, BOUNCE_DRIFT_S * rate, mode="nearest")
    y = gaussian_filter1d(y, 0.03 * rate, mode="nearest")
    idx = np.flatnonzero((y[1:-1] < y[:-2]) & (y[1:-1] <= y[2:])) + 1
    depth = _depth_below_local_max(y, idx, int(round(DEPTH_WINDOW_S * rate)))
    keep = depth > 0.2 * np.median(depth) if len(depth) else np.zeros(0, bool)
    return idx[keep] / rate, depth[keep]


def _impulses(times: np.ndarray, strengths: np.ndarray, n: int, duration: float) -> np.ndarray:
    """Events on the analysis grid, scaled to a mass of 1 per second of dance (so that every kind of accent counts
    the same, however many events it has); zeros when there are none."""
    out = np.zeros(n)
    if len(times) and np.sum(strengths) > 0:
        idx = np.clip(np.rint(np.asarray(times) * ANALYSIS_RATE).astype(np.int64), 0, n - 1)
        np.add.at(out, idx, np.asarray(strengths, np.float64))
        out *= duration / out.sum()
    return out


def accent_components(motion: Motion) -> dict[str, np.ndarray]:
    """The three kinds of accent as weighted impulse trains at ``ANALYSIS_RATE`` Hz (unsmoothed), each (n,) with a
    mass of its weight per second of dance (zeros when the dance has none of that kind): ``"kinematic"``,
    ``"strikes"``, ``"bounce"``. Sample ``i`` is at ``i / ANALYSIS_RATE`` seconds from the first frame."""
    p = motion.joint_positions()
    n = int(np.floor((motion.n_frames - 1) / motion.fps * ANALYSIS_RATE + 1e-9)) + 1
    duration = n / ANALYSIS_RATE
    strikes = foot_strike_times(motion)
    return {
        "kinematic": KINEMATIC_WEIGHT * _impulses(*kinematic_accents(p, motion.fps), n, duration),
        "strikes": STRIKE_WEIGHT * _impulses(strikes, np.ones(len(strikes)), n, duration),
        "bounce": BOUNCE_WEIGHT * _impulses(*bounce_accents(p[:, motion.skeleton.root, 1], motion.fps), n, duration),
    }


def smooth_accents(impulses: np.ndarray) -> np.ndarray:
    """An impulse train at ``ANALYSIS_RATE`` Hz smoothed by the ``SMOOTHING_S`` Gaussian: an envelope."""
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(np.asarray(impulses, np.float64), SMOOTHING_S * ANALYSIS_RATE, mode="constant")


def accent_envelope(motion: Motion) -> np.ndarray:
    """The dance's accent envelope: (n,) float64 at ``ANALYSIS_RATE`` Hz, sample ``i`` at ``i / ANALYSIS_RATE``
    seconds from the first frame (kinematic beats, foot strikes and root bounce; module docstring)."""
    return smooth_accents(sum(accent_components(motion).values()))


# --- tempo, beats, bars -----------------------------------------------------------------------------------


def autocorrelation(envelope: np.ndarray) -> np.ndarray:
    """(n,) autocorrelation of the mean-removed envelope at lags 0..n-1 samples, 1 at lag 0 (all zeros for a
    constant envelope)."""
    x = np.asarray(envelope, np.float64) - np.mean(envelope)
    n = len(x)
    spec = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(np.abs(spec) ** 2, 2 * n)[:n]
    return ac / ac[0] if ac[0] > 0 else np.zeros(n)


def _ac_near(ac: np.ndarray, lag: float) -> float:
    """The autocorrelation's highest value within ``COMB_TOLERANCE`` of ``lag`` (samples); NaN past its end."""
    lo, hi = int(np.floor(lag * (1 - COMB_TOLERANCE))), int(np.ceil(lag * (1 + COMB_TOLERANCE)))
    return float(ac[lo : hi + 1].max()) if hi < len(ac) // 2 else float("nan")


def comb_periodicity(ac: np.ndarray, lag: float, beats: int = COMB_BEATS) -> float:
    """Mean autocorrelation at 1..``beats`` multiples of ``lag`` (samples) that lie within the first half of the
    autocorrelation (its later lags rest on too little overlap); NaN when none does."""
    vals = [_ac_near(ac, k * lag) for k in range(1, beats + 1)]
    vals = [v for v in vals if np.isfinite(v)]
    return float(np.mean(vals)) if vals else float("nan")


def estimate_tempo(
    envelope: np.ndarray, rate: float = ANALYSIS_RATE, prior_bpm: float = PRIOR_BPM
) -> tuple[float, float]:
    """The beat of an accent envelope from its autocorrelation (module docstring).

    Args:
        envelope: (n,) accent strength sampled at ``rate`` Hz.
        rate: samples per second.
        prior_bpm: centre of the log-normal tempo prior (BPM, one octave wide).

    Returns:
        ``(tempo BPM, periodicity in [0, 1])``; ``(0.0, 0.0)`` when the envelope has no periodicity in range.
    """
    if not (prior_bpm > 0):
        raise ChoreoError(f"the tempo prior must be positive, got {prior_bpm} BPM")
    ac = autocorrelation(envelope)
    lags = np.flatnonzero((ac[1:-1] > ac[:-2]) & (ac[1:-1] >= ac[2:])) + 1
    lags = lags[(lags >= rate * 60.0 / MAX_BPM) & (lags <= rate * 60.0 / MIN_BPM) & (lags < len(ac) // 2)]
    best, best_lag, best_periodicity = 0.0, 0.0, 0.0
    for lag in lags:
        # the peak's centre between samples (parabola through the peak and its neighbours)
        a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
        lag_f = lag + (0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c < 0 else 0.0)
        periodicity = comb_periodicity(ac, lag_f)
        bpm = 60.0 * rate / lag_f
        prior = np.exp(-0.5 * (np.log2(bpm / prior_bpm) / PRIOR_OCTAVES) ** 2)
        score = max(periodicity, 0.0) * prior
        if score > best:
            best, best_lag, best_periodicity = score, lag_f, periodicity
    if best_lag == 0.0:
        return 0.0, 0.0
    return 60.0 * rate / best_lag, float(np.clip(best_periodicity, 0.0, 1.0))


def track_beats(envelope: np.ndarray, bpm: float, rate: float = ANALYSIS_RATE) -> np.ndarray:
    """Beat times (s) on an accent envelope at a known tempo: librosa's dynamic-programming tracker
    (:func:`choreo.audio.beat_track.track_beats`, the same beats as ``librosa.beat.beat_track(bpm=...)``)."""
    from choreo.audio.beat_track import track_beats as librosa_track

    frames = librosa_track(np.asarray(envelope, np.float64), sr=rate, hop_length=1, bpm=bpm, tightness=TIGHTNESS)
    return frames.astype(np.float64) / rate


def beat_accents(envelope: np.ndarray, beats: np.ndarray, rate: float = ANALYSIS_RATE) -> np.ndarray:
    """(k,) the envelope's highest value within ``ACCENT_WINDOW_S`` of each beat (s)."""
    half = int(round(ACCENT_WINDOW_S * rate))
    idx = np.rint(np.asarray(beats) * rate).astype(np.int64)
    return np.array([envelope[max(0, i - half) : i + half + 1].max() for i in idx], dtype=np.float64)


def bar_phase(accents: np.ndarray, beats_per_bar: int) -> int:
    """Which beat (0..beats_per_bar-1) starts the bars: the phase whose beats carry the most accent on average."""
    scores = [np.mean(accents[p::beats_per_bar]) for p in range(min(beats_per_bar, len(accents)))]
    return int(np.argmax(scores)) if scores else 0


def find_metre(envelope: np.ndarray, bpm: float, rate: float = ANALYSIS_RATE, metres: tuple[int, ...] = METRES) -> int:
    """The bar length (beats) whose period is the more periodic in an envelope (its autocorrelation at ``metre``
    beats); the largest of ``metres`` on a tie or when no bar fits in the envelope.

    :func:`dance_rhythm` reads the root bounce's envelope: a body rises and falls once a bar (a waltz's rise and
    fall); on Dance with Melody it tells the waltzes (3) from the rest (4) for 29 of 38 dances, where the whole
    accent envelope tells 24."""
    ac = autocorrelation(envelope)
    lag = 60.0 * rate / bpm
    scores = {m: _ac_near(ac, m * lag) for m in metres}
    scores = {m: s for m, s in scores.items() if np.isfinite(s)}
    if not scores:
        return max(metres)
    best = max(scores.values())
    return max(m for m, s in scores.items() if s >= best)


def dance_rhythm(motion: Motion, metre: int | None = None, prior_bpm: float = PRIOR_BPM) -> DanceRhythm:
    """Tempo, beats, bars and a confidence from a dance's motion alone (module docstring).

    Args:
        motion: the dance (positions or rotations; any skeleton of at least ``MIN_JOINTS`` joints, 2D or 3D).
        metre: beats per bar (3 for a waltz, 4 for most other dances), or None to find 3 or 4 from the motion.
        prior_bpm: centre of the tempo prior (BPM).

    Returns:
        the :class:`DanceRhythm`; beat times in seconds from the motion's first frame. A dance that does not move
        gives tempo 0, no beats and confidence 0.

    Raises:
        ChoreoError: a motion shorter than ``MIN_SECONDS``, fewer than ``MIN_JOINTS`` joints, a metre under 2.
    """
    src = motion.meta.get("source")
    if metre is not None and int(metre) < 2:
        raise ChoreoError(f"a bar has at least 2 beats, got a metre of {metre}", src)
    if motion.skeleton.n_joints < MIN_JOINTS:
        raise ChoreoError(
            f"a skeleton of {motion.skeleton.n_joints} joint(s) has no rhythm to read: the dance's rhythm needs at "
            f"least {MIN_JOINTS} joints (a root and limbs moving about it)",
            src,
        )
    if motion.duration < MIN_SECONDS:
        raise ChoreoError(
            f"the motion is {motion.duration:.2f} s long; finding its tempo needs at least {MIN_SECONDS:g} s", src
        )
    bars = int(metre) if metre is not None else max(METRES)
    parts = accent_components(motion)
    env = smooth_accents(sum(parts.values()))
    bpm, periodicity = estimate_tempo(env, prior_bpm=prior_bpm)
    if bpm == 0.0:
        return DanceRhythm(0.0, np.zeros(0), np.zeros(0), bars, 0.0)
    beats = track_beats(env, bpm)
    if metre is None:
        bars = find_metre(smooth_accents(parts["bounce"]) if parts["bounce"].any() else env, bpm)
    phase = bar_phase(beat_accents(env, beats), bars)
    return DanceRhythm(float(bpm), beats, beats[phase::bars].copy(), bars, periodicity)
