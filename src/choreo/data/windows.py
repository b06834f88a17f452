"""Training windows held in memory: every sequence encoded once, windows gathered by index.

The encoded frames of all sequences sit in one normalised float32 tensor (and the music features in another);
a window is (sequence, start frame), so a batch is one gather, with no per-window copies kept around.
Mirrored sequences share the music of their original.

Other time-aligned streams can ride along, each one tensor plus a start index per window: the motion at
other frame rates (``motion@<fps>``: the same seconds, resampled, normalised with the same statistics) and
the waveform (``audio``). A window starting at frame ``s`` of the main rate starts at ``round(s * r / fps)``
at rate ``r`` (moved back by at most a sample or frame where rounding would run past the end).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from choreo.data.normalizer import MinMaxNormalizer, StandardNormalizer, make_normalizer
from choreo.errors import ChoreoError


@dataclass(frozen=True)
class SequenceInfo:
    name: str
    n_frames: int
    mirrored: bool = False


def stream_name(fps: float) -> str:
    """The batch key of the motion at another frame rate: ``motion@15``, ``motion@12.5``."""
    return f"motion@{float(fps):g}"


class _Stream:
    """One concatenated time series and where each window starts in it."""

    def __init__(self, data: torch.Tensor, starts: np.ndarray, length: int):
        self.data = data
        self.starts = torch.from_numpy(np.asarray(starts, np.int64))
        self.arange = torch.arange(int(length))

    def to(self, device) -> None:
        self.data, self.starts, self.arange = self.data.to(device), self.starts.to(device), self.arange.to(device)

    def gather(self, idx: torch.Tensor) -> torch.Tensor:
        return self.data[self.starts[idx][:, None] + self.arange[None, :]]


def _starts_at_rate(
    starts: np.ndarray, fps: float, rate: float, seq_offset: int, seq_len: int, length: int
) -> np.ndarray:
    """Start indices at ``rate`` of windows that start at frames ``starts`` (at ``fps``) of one sequence."""
    s = np.rint(starts * (rate / fps)).astype(np.int64)
    return seq_offset + np.minimum(s, seq_len - length)


class WindowDataset:
    """Fixed-length windows over encoded sequences.

    Args:
        motions: per sequence (T_i, C) encoded motion in real units (not normalised), at ``fps``.
        music: per music track (T_j, F) features at ``fps``.
        music_of: for each motion sequence, the index of its music track (frame t of the motion goes with
            frame t of the track; the track must be at least as long).
        window_frames: window length W in frames.
        stride_frames: hop between window starts.
        representation: the motion representation (``choreo.data.representation``) or None.
        normalizer: a fitted normaliser, or None to fit one of ``normalizer_kind`` (``minmax`` or ``standard``)
            on all the motions given.
        feature_set: the music feature set's name.
        fps: frames per second of motions and music.
        names: per-sequence names; mirrored: per-sequence flags (for reports).
        extra_motions: ``{rate: per-sequence (T_i', C) encoded motion at that rate}`` (real units).
        audio: per music track (N_j,) mono waveform at ``audio_sr``, sample 0 at music frame 0.
        audio_sr: the waveforms' sample rate.
        styles: names of the dance styles; labels: per motion sequence an index into them (-1: unknown).
            With both, batches carry ``style`` (B,) int64.

    ``get(items)`` returns ``{"motion": (B, W, C) normalised float32, "music": (B, W, F) float32}``, plus
    ``motion@<rate>`` (B, round(W rate / fps), C) normalised and ``audio`` (B, round(W audio_sr / fps)).
    """

    def __init__(
        self,
        motions: Sequence[np.ndarray],
        music: Sequence[np.ndarray],
        music_of: Sequence[int],
        window_frames: int,
        stride_frames: int,
        *,
        representation=None,
        normalizer: MinMaxNormalizer | StandardNormalizer | None = None,
        normalizer_kind: str = "minmax",
        feature_set: str = "",
        fps: float = 30.0,
        names: Sequence[str] | None = None,
        mirrored: Sequence[bool] | None = None,
        extra_motions: Mapping[float, Sequence[np.ndarray]] | None = None,
        audio: Sequence[np.ndarray] | None = None,
        audio_sr: int = 0,
        styles: Sequence[str] = (),
        labels: Sequence[int] | None = None,
    ):
        if len(motions) != len(music_of):
            raise ValueError("one music index per motion sequence is needed")
        if not motions:
            raise ChoreoError("no sequences to make training windows from")
        self.window_frames, self.stride_frames = int(window_frames), int(stride_frames)
        if self.window_frames <= 0 or self.stride_frames <= 0:
            raise ChoreoError("window and stride must be at least one frame")
        self.representation = representation
        self.feature_set = feature_set
        self.fps = float(fps)
        self.audio_sr = int(audio_sr) if audio is not None else 0
        extra_motions = dict(extra_motions or {})
        self.extra_fps = tuple(float(r) for r in extra_motions)
        names = list(names) if names is not None else [f"seq{i}" for i in range(len(motions))]
        mirrored = list(mirrored) if mirrored is not None else [False] * len(motions)
        self.sequences = [
            SequenceInfo(n, int(m.shape[0]), bool(f)) for n, m, f in zip(names, motions, mirrored, strict=True)
        ]

        raw = np.concatenate([np.asarray(m, np.float32) for m in motions], axis=0)
        self.normalizer = normalizer if normalizer is not None else make_normalizer(normalizer_kind).fit(raw)
        self._raw = {"motion": torch.from_numpy(raw)}
        for r, seqs in extra_motions.items():
            if len(seqs) != len(motions):
                raise ValueError(f"one motion at {r:g} fps per sequence is needed")
            self._raw[stream_name(r)] = torch.from_numpy(np.concatenate([np.asarray(m, np.float32) for m in seqs]))
        self.feature_dim = int(music[0].shape[1])

        W = self.window_frames
        extra_len = {r: int(round(W * r / self.fps)) for r in self.extra_fps}
        audio_len = int(round(W * self.audio_sr / self.fps)) if self.audio_sr else 0
        m_off = np.cumsum([0] + [len(m) for m in motions])
        a_off = np.cumsum([0] + [len(a) for a in music])
        e_off = {r: np.cumsum([0] + [len(m) for m in extra_motions[r]]) for r in self.extra_fps}
        w_off = np.cumsum([0] + [len(a) for a in audio]) if audio is not None else None
        starts: dict[str, list[np.ndarray]] = {k: [] for k in ("motion", "music", *self._raw, "audio")}
        seq_of = []
        for i, m in enumerate(motions):
            j = int(music_of[i])
            n = len(m)
            if len(music[j]) < n:
                raise ValueError(f"music track {j} has {len(music[j])} frames, motion {names[i]} has {n}")
            s = np.arange(0, n - W + 1, self.stride_frames, dtype=np.int64)
            for r in self.extra_fps:  # keep the windows every stream can serve
                n_r = len(extra_motions[r][i])
                if n_r < extra_len[r]:
                    s = s[:0]
            if audio is not None and len(audio[j]) < audio_len:
                s = s[:0]
            starts["motion"].append(m_off[i] + s)
            starts["music"].append(a_off[j] + s)
            for r in self.extra_fps:
                n_r = len(extra_motions[r][i])
                starts[stream_name(r)].append(_starts_at_rate(s, self.fps, r, e_off[r][i], n_r, extra_len[r]))
            if audio is not None:
                starts["audio"].append(_starts_at_rate(s, self.fps, self.audio_sr, w_off[j], len(audio[j]), audio_len))
            seq_of.append(np.full(len(s), i, np.int64))
        self.window_sequence = np.concatenate(seq_of)
        self.styles = tuple(str(s) for s in styles) if labels is not None else ()
        if labels is not None and len(labels) != len(motions):
            raise ValueError("one style label per motion sequence is needed")

        music_t = torch.from_numpy(np.concatenate([np.asarray(a, np.float32) for a in music], axis=0))
        self._streams = {"motion": _Stream(self._normalise(self._raw["motion"]), np.concatenate(starts["motion"]), W)}
        self._streams["music"] = _Stream(music_t, np.concatenate(starts["music"]), W)
        for r in self.extra_fps:
            key = stream_name(r)
            self._streams[key] = _Stream(self._normalise(self._raw[key]), np.concatenate(starts[key]), extra_len[r])
        if audio is not None:
            wave = torch.from_numpy(np.concatenate([np.asarray(a, np.float32).reshape(-1) for a in audio]))
            self._streams["audio"] = _Stream(wave, np.concatenate(starts["audio"]), audio_len)
        if labels is not None:  # a "stream" of one value per window
            per_window = np.asarray(labels, np.int64)[self.window_sequence]
            self._streams["style"] = _Stream(torch.from_numpy(per_window), np.arange(len(per_window)), 1)

    def _normalise(self, raw: torch.Tensor) -> torch.Tensor:
        return self.normalizer.normalize(raw.double()).float()

    def set_normalizer(self, normalizer: MinMaxNormalizer | StandardNormalizer) -> None:
        """Use other statistics (e.g. a resumed run's) and re-normalise the stored frames."""
        self.normalizer = normalizer
        for key, raw in self._raw.items():
            st = self._streams[key]
            st.data = self._normalise(raw).to(st.data.device)

    def to(self, device) -> WindowDataset:
        """Keep the frames on ``device`` (a GPU gathers batches in place of a host-to-device copy per step)."""
        device = torch.device(device)
        for st in self._streams.values():
            st.to(device)
        return self

    @property
    def motion_dim(self) -> int:
        return int(self._raw["motion"].shape[1])

    def __len__(self) -> int:
        return int(self._streams["motion"].starts.shape[0])

    def get(self, items) -> dict[str, torch.Tensor]:
        """Windows by index: ``{"motion": (B, W, C) normalised, "music": (B, W, F), ...}`` float32 tensors.

        The tensors live where the dataset does (CPU unless :meth:`to` moved it).
        """
        idx = torch.as_tensor(np.asarray(items, np.int64), device=self._streams["motion"].starts.device)
        out = {k: st.gather(idx) for k, st in self._streams.items()}
        if "style" in out:
            out["style"] = out["style"][:, 0]
        return out

    def spec(self):
        """The :class:`~choreo.data.spec.DataSpec` a method trained on these windows is built with."""
        from choreo.data.spec import DataSpec

        return DataSpec(
            representation=self.representation,
            normalizer=self.normalizer,
            feature_dim=self.feature_dim,
            feature_set=self.feature_set,
            fps=self.fps,
            window_frames=self.window_frames,
            extra_fps=self.extra_fps,
            audio_sr=self.audio_sr,
            styles=self.styles,
        )

    def summary(self) -> str:
        n_seq = sum(not s.mirrored for s in self.sequences)
        frames = sum(s.n_frames for s in self.sequences if not s.mirrored)
        mirrored = any(s.mirrored for s in self.sequences)
        extra = "".join(f", also at {r:g} fps" for r in self.extra_fps)
        extra += f", audio at {self.audio_sr} Hz" if self.audio_sr else ""
        return (
            f"{n_seq} sequences ({frames / self.fps / 60:.1f} min at {self.fps:g} fps), {len(self)} windows of "
            f"{self.window_frames} frames{' incl. mirrored' if mirrored else ''}, motion {self.motion_dim} + "
            f"music {self.feature_dim} ({self.feature_set}) channels{extra}"
        )
