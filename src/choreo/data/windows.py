"""Training windows held in memory: every sequence encoded once, windows gathered by index.

The encoded frames of all sequences sit in one normalised float32 tensor (and the music features in another);
a window is (sequence, start frame), so a batch is one gather, with no per-window copies kept around.
Mirrored sequences share the music of their original.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from choreo.data.normalizer import MinMaxNormalizer
from choreo.errors import ChoreoError


@dataclass(frozen=True)
class SequenceInfo:
    name: str
    n_frames: int
    mirrored: bool = False


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
        normalizer: a fitted normaliser, or None to fit one on all the motions given.
        feature_set: the music feature set's name.
        fps: frames per second of motions and music.
        names: per-sequence names; mirrored: per-sequence flags (for reports).

    ``get(items)`` returns ``{"motion": (B, W, C) normalised float32, "music": (B, W, F) float32}``.
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
        normalizer: MinMaxNormalizer | None = None,
        feature_set: str = "",
        fps: float = 30.0,
        names: Sequence[str] | None = None,
        mirrored: Sequence[bool] | None = None,
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
        names = list(names) if names is not None else [f"seq{i}" for i in range(len(motions))]
        mirrored = list(mirrored) if mirrored is not None else [False] * len(motions)
        self.sequences = [
            SequenceInfo(n, int(m.shape[0]), bool(f)) for n, m, f in zip(names, motions, mirrored, strict=True)
        ]

        raw = np.concatenate([np.asarray(m, np.float32) for m in motions], axis=0)
        self.normalizer = normalizer if normalizer is not None else MinMaxNormalizer().fit(raw)
        self._raw = torch.from_numpy(raw)
        self._motion = self._normalise(self._raw)
        self._music = torch.from_numpy(np.concatenate([np.asarray(a, np.float32) for a in music], axis=0))
        self.feature_dim = int(self._music.shape[1])

        m_off = np.cumsum([0] + [len(m) for m in motions])
        a_off = np.cumsum([0] + [len(a) for a in music])
        starts_m, starts_a, seq_of = [], [], []
        for i, m in enumerate(motions):
            j = int(music_of[i])
            n = len(m)
            if len(music[j]) < n:
                raise ValueError(f"music track {j} has {len(music[j])} frames, motion {names[i]} has {n}")
            s = np.arange(0, n - self.window_frames + 1, self.stride_frames, dtype=np.int64)
            starts_m.append(m_off[i] + s)
            starts_a.append(a_off[j] + s)
            seq_of.append(np.full(len(s), i, np.int64))
        self._start_motion = torch.from_numpy(np.concatenate(starts_m))
        self._start_music = torch.from_numpy(np.concatenate(starts_a))
        self.window_sequence = np.concatenate(seq_of)
        self._arange = torch.arange(self.window_frames)

    def _normalise(self, raw: torch.Tensor) -> torch.Tensor:
        return self.normalizer.normalize(raw.double()).float()

    def set_normalizer(self, normalizer: MinMaxNormalizer) -> None:
        """Use other statistics (e.g. a resumed run's) and re-normalise the stored frames."""
        self.normalizer = normalizer
        self._motion = self._normalise(self._raw).to(self._motion.device)

    def to(self, device) -> WindowDataset:
        """Keep the frames on ``device`` (a GPU gathers batches in place of a host-to-device copy per step)."""
        device = torch.device(device)
        self._motion, self._music = self._motion.to(device), self._music.to(device)
        self._start_motion, self._start_music = self._start_motion.to(device), self._start_music.to(device)
        self._arange = self._arange.to(device)
        return self

    @property
    def motion_dim(self) -> int:
        return int(self._raw.shape[1])

    def __len__(self) -> int:
        return int(self._start_motion.shape[0])

    def get(self, items) -> dict[str, torch.Tensor]:
        """Windows by index: {"motion": (B, W, C) normalised, "music": (B, W, F)} float32 tensors.

        The tensors live where the dataset does (CPU unless :meth:`to` moved it).
        """
        idx = torch.as_tensor(np.asarray(items, np.int64), device=self._start_motion.device)
        frames = self._arange[None, :]
        return {
            "motion": self._motion[self._start_motion[idx][:, None] + frames],
            "music": self._music[self._start_music[idx][:, None] + frames],
        }

    def summary(self) -> str:
        n_seq = sum(not s.mirrored for s in self.sequences)
        frames = sum(s.n_frames for s in self.sequences if not s.mirrored)
        mirrored = any(s.mirrored for s in self.sequences)
        return (
            f"{n_seq} sequences ({frames / self.fps / 60:.1f} min at {self.fps:g} fps), {len(self)} windows of "
            f"{self.window_frames} frames{' incl. mirrored' if mirrored else ''}, motion {self.motion_dim} + "
            f"music {self.feature_dim} ({self.feature_set}) channels"
        )
