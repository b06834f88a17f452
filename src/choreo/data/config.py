"""Data settings of a run: where the data comes from and how it becomes model tensors (section ``data``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DataConfig:
    """Where the data comes from and how it becomes model tensors.

    Attributes:
        path: data folder (AIST++, Dance with Melody, or a folder of motion + music pairs); set by ``--data``.
        kind: ``auto`` (detect), ``aistpp``, ``dwm`` or ``pairs``.
        representation: ``auto`` (``smpl_rot6d`` for motions with SMPL rotations, ``positions`` otherwise),
            ``smpl_rot6d`` or ``positions``.
        fps: model frame rate; motions are resampled to it, music features are computed at it.
        window_seconds: training window length in seconds (window frames = round(fps * window_seconds)).
        stride_seconds: hop between training windows in seconds.
        feature_set: music feature set name (``choreo.audio.features``), e.g. ``baseline35``.
        mirror: add the left/right mirrored motion of every window (music unchanged).
        contact_speed: foot-contact threshold in metres per second (EDGE: 0.01 m per frame at 30 fps).
        sequences: restrict to these sequence names (None: all).
        exclude_sequences: leave these sequence names out (a validation fold held out of training: choose
            settings on them, keep the test split for the final numbers).
        max_sequences: keep at most this many training sequences, in name order (None: all).
        cache_dir: where encoded datasets and music features are cached (None: ``$XDG_CACHE_HOME/choreo``
            or ``~/.cache/choreo``; ``""`` disables the cache).
        extra_fps: batches also carry the motion at these frame rates, as ``motion@<fps>`` (e.g. ``motion@15``:
            DiffDance's low-rate base stage), the same seconds as the main window.
        audio_sr: when > 0, batches also carry the mono waveform of each window at this sample rate as
            ``audio`` (B, round(window_seconds * audio_sr)) (audio models).
        style_labels: batches also carry each window's dance style as ``style`` (B,) int64, an index into the
            spec's ``styles`` (the names :func:`choreo.data.sources.style_of` reads from sequence names:
            Dance with Melody's C/R/T/W, AIST++'s genre codes); -1 where a name tells none.
        normalizer: how motion channels are scaled for the model (:mod:`choreo.data.normalizer`): ``minmax``
            (to [-1, 1], EDGE's) or ``standard`` (zero mean, unit standard deviation per channel).
    """

    path: str = ""
    kind: str = "auto"
    representation: str = "auto"
    fps: float = 30.0
    window_seconds: float = 5.0
    stride_seconds: float = 0.5
    feature_set: str = "baseline35"
    mirror: bool = True
    contact_speed: float = 0.3
    sequences: list[str] | None = None
    exclude_sequences: list[str] | None = None
    max_sequences: int | None = None
    cache_dir: str | None = None
    extra_fps: list[float] = field(default_factory=list)
    audio_sr: int = 0
    style_labels: bool = False
    normalizer: str = "minmax"

    @property
    def window_frames(self) -> int:
        return int(round(self.fps * self.window_seconds))

    @property
    def stride_frames(self) -> int:
        return max(1, int(round(self.fps * self.stride_seconds)))
