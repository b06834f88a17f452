"""Seeds and random generators that do not depend on the number of processes, the batch size or the chunking.

Every sampler and every training step in choreo draws its random numbers from generators derived from integers
(a run seed, a step, a sample's position, a window's index), never from the global torch state, so that a result
depends only on those integers: resumed runs, runs on several processes and long songs sampled chunk by chunk
give the same numbers. This module holds the derivations; it imports only numpy and torch, so any layer may use it.
"""

from __future__ import annotations

import numpy as np
import torch

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser (a bijective 64-bit mix), on uint64 arrays with wrap-around."""
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK64
    x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
    x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
    return x ^ (x >> np.uint64(31))


def mix_seed(*parts: int | np.ndarray) -> np.ndarray:
    """Hash integers (broadcast arrays allowed) into non-negative int64 seeds.

    The parts are folded in order through splitmix64, so ``mix_seed(1, 2) != mix_seed(2, 1)``.
    """
    with np.errstate(over="ignore"):
        h = np.zeros(np.broadcast_shapes(*(np.shape(p) for p in parts)), np.uint64)
        for part in parts:
            h = _splitmix64(h ^ (np.asarray(part).astype(np.int64).astype(np.uint64)))
    return (h >> np.uint64(1)).astype(np.int64)


def sample_generators(seeds: torch.Tensor, purpose: int) -> list[torch.Generator]:
    """One CPU generator per training sample, from the sample's seed and what its draws are for.

    Args:
        seeds: (B,) int64 per-sample seeds (the batches' ``seed``; :class:`~choreo.train.sampling.GlobalBatchSampler`).
        purpose: a small integer naming the use (e.g. DiffDance: 1 contrastive clip starts, 2 diffusion noise,
            3 style dropout, 4 music dropout), so that two uses of one sample never share a stream.
    Returns:
        B generators, generator i seeded with ``mix_seed(seeds[i], purpose)``.
    """
    return [torch.Generator().manual_seed(int(mix_seed(int(s), purpose))) for s in seeds.reshape(-1).tolist()]


def stage_generators(seed: int, stage: int, n: int) -> list[torch.Generator]:
    """``n`` independent CPU generators for one stage of one sampling run, from (seed, stage, k).

    Window k of stage ``stage`` draws all its noise from generator k (numpy's SeedSequence over the seed's two
    32-bit halves, a fixed tag and the stage), so a dance does not depend on how its windows are chunked.
    """
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(seed) >> 32 & 0xFFFFFFFF, 0xD1FF, int(stage)])
    return [torch.Generator().manual_seed(int(s.generate_state(1, np.uint64)[0] >> np.uint64(1))) for s in ss.spawn(n)]
