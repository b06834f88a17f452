"""Per-channel normalisers: min-max (model tensors to [-1, 1], the default) or standard (zero mean, unit
standard deviation), with statistics fitted on the training set.

The statistics travel with every checkpoint (:meth:`MinMaxNormalizer.state_dict`), so a model never sees data
scaled differently from what it was trained on.
"""

from __future__ import annotations

import numpy as np
import torch

from choreo.errors import ChoreoError

#: a channel whose range is below this is treated as constant (mapped to 0, restored to its value).
_MIN_RANGE = 1e-8


class _AffineNormalizer:
    """What both normalisers share: ``y = (x - shift) / scale`` per channel from :meth:`_scale_shift`, on numpy
    arrays and torch tensors of shape (..., C) (the result keeps the input's type, dtype and device); ``lo`` and
    ``hi`` are the fitted data's per-channel min and max (None until fitted)."""

    lo: np.ndarray | None
    hi: np.ndarray | None
    _torch_cache: dict

    @property
    def fitted(self) -> bool:
        return self.lo is not None

    @property
    def dim(self) -> int:
        self._check()
        return int(self.lo.shape[0])

    def _check(self) -> None:
        if self.lo is None:
            raise ChoreoError("the normaliser has not been fitted")

    def _scale_shift(self) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

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
        """(…, C) real units -> (…, C) normalised ([-1, 1] on the fitted range for min-max)."""
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


class MinMaxNormalizer(_AffineNormalizer):
    """Maps every channel linearly from its fitted [min, max] to [-1, 1].

    Works on numpy arrays and torch tensors of shape (..., C); the result keeps the input's type, dtype and
    device. Constant channels (max - min < 1e-8) normalise to 0 and denormalise back to their constant.
    """

    def __init__(self, lo: np.ndarray | None = None, hi: np.ndarray | None = None):
        self.lo: np.ndarray | None = None if lo is None else np.asarray(lo, np.float64)
        self.hi: np.ndarray | None = None if hi is None else np.asarray(hi, np.float64)
        self._torch_cache: dict = {}

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

    def _scale_shift(self) -> tuple[np.ndarray, np.ndarray]:
        rng = self.hi - self.lo
        const = rng < _MIN_RANGE
        # y = (x - mid) * 2 / range; a constant channel gets scale 1 around its value.
        scale = np.where(const, 1.0, rng / 2.0)
        mid = (self.hi + self.lo) / 2.0
        return scale, mid

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

    def bounds(self) -> tuple[float, float]:
        """Where the fitted data lie once normalised: [-1, 1] (a sampler clamps its x0 predictions there)."""
        return -1.0, 1.0


class StandardNormalizer(_AffineNormalizer):
    """Maps every channel to zero mean and unit standard deviation over the fitted data (population std).

    Why it exists: min-max scaling sets a channel's scale by its extremes, so a channel whose values move
    little within a dance compared with its range over the whole data set (the joints' heights relative to
    the root: a few centimetres against the dancers' whole height range) sits near the diffusion noise floor
    and a denoiser damps it (docs/diffdance.md, "Stiff limbs"). Standardising gives every channel the same
    spread. Same interface as :class:`MinMaxNormalizer`; it also keeps the fitted min and max, whose
    normalised values are the sampler's clamp :meth:`bounds`. Constant channels (std < 1e-8) normalise to 0.
    """

    def __init__(
        self,
        mean: np.ndarray | None = None,
        std: np.ndarray | None = None,
        lo: np.ndarray | None = None,
        hi: np.ndarray | None = None,
    ):
        as64 = lambda a: None if a is None else np.asarray(a, np.float64)  # noqa: E731
        self.mean, self.std, self.lo, self.hi = as64(mean), as64(std), as64(lo), as64(hi)
        self._torch_cache: dict = {}

    def fit(self, x: np.ndarray) -> StandardNormalizer:
        """Fit on x (N, C) (any leading dims; the last is channels). Returns self."""
        flat = MinMaxNormalizer().fit(x)  # the same checks, and the min / max
        data = np.asarray(x, np.float64).reshape(-1, np.shape(x)[-1])
        self.mean, self.std = data.mean(axis=0), data.std(axis=0)
        self.lo, self.hi = flat.lo, flat.hi
        self._torch_cache = {}
        return self

    def _scale_shift(self) -> tuple[np.ndarray, np.ndarray]:
        return np.where(self.std < _MIN_RANGE, 1.0, self.std), self.mean

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(C,) normalised fitted min and max: where the training data lie."""
        self._check()
        scale, mid = self._scale_shift()
        return (self.lo - mid) / scale, (self.hi - mid) / scale

    def state_dict(self) -> dict:
        """Plain lists (loadable with ``torch.load(weights_only=True)``)."""
        self._check()
        return {
            "kind": "standard",
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "lo": self.lo.tolist(),
            "hi": self.hi.tolist(),
        }

    @classmethod
    def from_state_dict(cls, d: dict) -> StandardNormalizer:
        try:
            if d.get("kind") != "standard":
                raise ChoreoError(f"not a standard normaliser state (kind {d.get('kind')!r})")
            arrays = [np.asarray(d[k], np.float64) for k in ("mean", "std", "lo", "hi")]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ChoreoError("the normaliser state is malformed") from None
        mean, std, lo, hi = arrays
        if mean.ndim != 1 or any(a.shape != mean.shape for a in arrays) or np.any(std < 0) or np.any(hi < lo):
            raise ChoreoError("the normaliser state is malformed")
        return cls(mean, std, lo, hi)


#: normaliser kinds by name (``data.normalizer``)
NORMALIZERS = {"minmax": MinMaxNormalizer, "standard": StandardNormalizer}


def make_normalizer(kind: str):
    """An unfitted normaliser of ``kind`` (``minmax`` or ``standard``)."""
    if kind not in NORMALIZERS:
        raise ChoreoError(f"unknown normaliser {kind!r} (known: {', '.join(NORMALIZERS)})")
    return NORMALIZERS[kind]()


def normalizer_from_state_dict(d: dict):
    """A fitted normaliser from its :meth:`state_dict` (``kind`` says which; old states are min-max)."""
    kind = d.get("kind", "minmax") if isinstance(d, dict) else None
    if kind not in NORMALIZERS:
        raise ChoreoError(f"unknown normaliser kind {kind!r}")
    return NORMALIZERS[kind].from_state_dict(d)
