"""Small vector helpers shared by the metric modules."""

from __future__ import annotations

import numpy as np


def norm_last(v: np.ndarray) -> np.ndarray:
    """Euclidean norm over the last (small) axis, summed in component order like ``np.linalg.norm``.

    Same values as ``np.linalg.norm(v, axis=-1)`` for real input, but explicit per-component arithmetic:
    numpy's reductions over a size-2 or size-3 last axis are several times slower.
    """
    sq = v[..., 0] * v[..., 0]
    for k in range(1, v.shape[-1]):
        sq += v[..., k] * v[..., k]
    return np.sqrt(sq)
