"""Deterministic batch order and per-sample seeds, independent of the number of processes.

The run is a stream of global batch positions 0, 1, 2, ...; position p is item ``perm_e[p mod N]`` of epoch
``e = p // N``, where ``perm_e`` is a permutation seeded by (seed, e). Step s takes positions
``[s B, (s + 1) B)``; under torchrun process r takes the r-th contiguous slice of it. Every random draw for the
sample at position p is seeded from (seed, s, p). So a run with 1 or N processes, or a resumed run, sees
the same samples with the same noise: the state of the sampler is just the step number.
"""

from __future__ import annotations

import numpy as np

from choreo.seeding import mix_seed


class GlobalBatchSampler:
    """Item indices for every step of a run (see the module docstring).

    Args:
        n_items: dataset size N (> 0).
        batch_size: global batch B.
        seed: run seed.
    """

    def __init__(self, n_items: int, batch_size: int, seed: int):
        if n_items <= 0:
            raise ValueError("the dataset is empty")
        self.n, self.batch_size, self.seed = int(n_items), int(batch_size), int(seed)
        self._perms: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            if len(self._perms) > 4:
                self._perms.pop(min(self._perms))
            rng = np.random.default_rng([self.seed, epoch, 0x5EED])
            self._perms[epoch] = rng.permutation(self.n)
        return self._perms[epoch]

    def positions(self, step: int) -> np.ndarray:
        """(B,) global stream positions of a step."""
        return np.arange(step * self.batch_size, (step + 1) * self.batch_size, dtype=np.int64)

    def items(self, positions: np.ndarray) -> np.ndarray:
        """Dataset item indices for stream positions."""
        positions = np.asarray(positions, np.int64)
        out = np.empty_like(positions)
        epochs = positions // self.n
        for e in np.unique(epochs):
            sel = epochs == e
            out[sel] = self._perm(int(e))[positions[sel] % self.n]
        return out

    def local_slice(self, step: int, rank: int, world_size: int) -> np.ndarray:
        """The positions process ``rank`` handles at ``step`` (a contiguous share of the global batch)."""
        if self.batch_size % world_size:
            raise ValueError(f"global batch {self.batch_size} is not divisible by {world_size} processes")
        per = self.batch_size // world_size
        return self.positions(step)[rank * per : (rank + 1) * per]

    def sample_seeds(self, step: int, positions: np.ndarray) -> np.ndarray:
        """(n,) int64 seeds for the samples at these positions of this step."""
        return mix_seed(self.seed, step, np.asarray(positions, np.int64))
