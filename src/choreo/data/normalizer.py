"""Per-channel min-max normaliser: model tensors to [-1, 1] with statistics fitted on the training set.

The statistics travel with every checkpoint (:meth:`MinMaxNormalizer.state_dict`), so a model never sees data
scaled differently from what it was trained on.
"""

from __future__ import annotations

import numpy as np
import torch

from choreo.errors import ChoreoError

#: a channel whose range is below this is treated as constant (mapped to 0, restored to its value).
_MIN_RANGE = 1e-8


class MinMaxNormalizer:
    """Maps every channel linearly from its fitted [min, max] to [-1, 1].

    Works on numpy arrays and torch tensors of shape (..., C); the result keeps the input's type, dtype and
    device. Constant channels (max - min < 1e-8) normalise to 0 and denormalise back to their constant.
    """

    def __init__(self, lo: np.ndarray | None = None, hi: np.ndarray | None = None):
        self.lo: np.ndarray | None = None if lo is None else np.asarray(lo, np.float64)
        self.hi: np.ndarray | None = None if hi is None else np.asarray(hi, np.float64)
        self._torch_cache: dict = {}

    @property
    def fitted(self) -> bool:
        return self.lo is not None

    @property
    def dim(self) -> int:
        self._check()
        return int(self.lo.shape[0])

    def fit(self, x: np.ndarray) -> MinMaxNormalizer:
        """Fit on x (N, C) (any leading dims; the last is channels). Returns self."""
        x = np.asarray(x, np.float64)
        if x.ndim < 2 or x.shape[0] == 0 or x.shape[-1] == 0:
            raise ChoreoError(f"cannot fit a normaliser on an array of shape {x.shape}")
        flat = x.reshape(-1, x.shape[-1])
        if not np.all(np.isfinite(flat)):
            raise ChoreoError("cannot fit a normaliser on NaN or infinite values")
        self.lo, self.hi = flat.min(axis=0), flat.max(axis=0)
        self._torch_cache = {}
        return self

    def _check(self) -> None:
        if self.lo is None:
            raise ChoreoError("the normaliser has not been fitted")

    def _scale_shift(self) -> tuple[np.ndarray, np.ndarray]:
        rng = self.hi - self.lo
        const = rng < _MIN_RANGE
        # y = (x - mid) * 2 / range; a constant channel gets scale 1 around its value.
        scale = np.where(const, 1.0, rng / 2.0)
        mid = (self.hi + self.lo) / 2.0
        return scale, mid

    def _params(self, x):
        self._check()
        if x.shape[-1] != self.lo.shape[0]:
            raise ChoreoError(f"data have {x.shape[-1]} channels, the normaliser was fitted on {self.lo.shape[0]}")
        scale, mid = self._scale_shift()
        if isinstance(x, torch.Tensor):
            key = (x.device, x.dtype)
            if key not in self._torch_cache:
                self._torch_cache[key] = (
                    torch.as_tensor(scale, dtype=x.dtype, device=x.device),
                    torch.as_tensor(mid, dtype=x.dtype, device=x.device),
                )
            return self._torch_cache[key]
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
        return scale.astype(dtype), mid.astype(dtype)

    def normalize(self, x):
        """(…, C) real units -> (…, C) in [-1, 1] (on the fitted range)."""
        if not isinstance(x, torch.Tensor):
            x = np.asarray(x)
        scale, mid = self._params(x)
        return (x - mid) / scale

    def denormalize(self, x):
        """(…, C) normalised -> (…, C) real units."""
        if not isinstance(x, torch.Tensor):
            x = np.asarray(x)
        scale, mid = self._params(x)
        return x * scale + mid

    def state_dict(self) -> dict:
        """Plain lists (loadable with ``torch.load(weights_only=True)``)."""
        self._check()
        return {"kind": "minmax", "lo": self.lo.tolist(), "hi": self.hi.tolist()}

    @classmethod
    def from_state_dict(cls, d: dict) -> MinMaxNormalizer:
        try:
            if d.get("kind", "minmax") != "minmax":
                raise ChoreoError(f"unknown normaliser kind {d.get('kind')!r}")
            lo, hi = np.asarray(d["lo"], np.float64), np.asarray(d["hi"], np.float64)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ChoreoError("the normaliser state is malformed") from None
        if lo.ndim != 1 or lo.shape != hi.shape or np.any(hi < lo):
            raise ChoreoError("the normaliser state is malformed")
        return cls(lo, hi)
