"""FID and diversity on motion features, as Bailando ``utils/metrics_new.py`` computes them.

Conventions:

* Normalisation (:func:`normalize`): both sets are standardised with the **ground-truth** set's mean and
  **population** std (ddof 0): ``(x - mean) / (std + 1e-10)``. The arithmetic stays in the features' dtype
  (float32 for features from :mod:`choreo.metrics.features`), as in the reference.
* FID (:func:`fid`): ``|mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2)`` with ``np.cov`` (ddof 1). The trace
  of the matrix square root is the sum of the square roots of the eigenvalues of the symmetric PSD matrix
  ``sqrt(S1) S2 sqrt(S1)`` (same spectrum as ``S1 S2``); :func:`fid` obtains those square roots as singular
  values of the centred cross-Gram matrix (no round-off eigenvalue is square-rooted), and
  :func:`fid_from_statistics` by ``eigh`` from covariances. The result is always real.
  The reference uses ``scipy.linalg.sqrtm(S1 @ S2)`` and, through an inverted test, returns a complex FID
  whose real part is this value (to ~2e-7 relative on the fixtures).
* Diversity (:func:`diversity`): mean Euclidean distance over unordered pairs i < j of the (normalised)
  features (Bailando ``calculate_avg_distance``), computed with ``scipy.spatial.distance.pdist``.
"""

from __future__ import annotations

import contextlib

import numpy as np
from scipy.spatial.distance import pdist


def _single_threaded_blas():
    """These matrices are small (N x D, D <= a few hundred): BLAS threads only add overhead, and on a busy
    machine an oversubscribed OpenBLAS is 100x slower. threadpoolctl (installed with scikit-learn / librosa)
    pins BLAS to one thread when present."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


#: Added to the std before dividing, as in the reference.
NORMALIZE_EPS = 1e-10


def normalize(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standardise both feature sets with the ground truth's mean and population std.

    Args:
        gt: (N_gt, D) ground-truth features.
        pred: (N_pred, D) generated features.

    Returns:
        ``(gt_normalised, pred_normalised)`` in the inputs' dtype (float32 features stay float32).
    """
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    if gt.ndim != 2 or pred.ndim != 2 or gt.shape[1] != pred.shape[1]:
        raise ValueError(f"feature sets must be (N, D) with the same D, got {gt.shape} and {pred.shape}")
    mean = gt.mean(axis=0)
    std = gt.std(axis=0)
    return (gt - mean) / (std + NORMALIZE_EPS), (pred - mean) / (std + NORMALIZE_EPS)


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (real-valued).

    Args:
        features_a: (N_a, D) features, e.g. generated and normalised (N_a >= 2).
        features_b: (N_b, D) features, e.g. ground truth and normalised (N_b >= 2).

    Returns:
        ``|mu_a - mu_b|^2 + tr S_a + tr S_b - 2 tr (S_a S_b)^(1/2)`` (float64). Symmetric in its arguments.
        With rank-deficient covariances (N < D) it can come out a little below 0 (~1e-6 of tr S).
    """
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sets must be (N, D) with the same D, got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("FID needs at least 2 samples in each set")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    xa, xb = a - mu_a, b - mu_b
    # tr sqrt(S_a S_b) = sum of sqrt(eigenvalues of the symmetric PSD sqrt(S_a) S_b sqrt(S_a)), and those square
    # roots are the singular values of the cross-Gram matrix xa xb^T / sqrt((n_a - 1)(n_b - 1)). Taking them
    # from an SVD avoids square roots of round-off eigenvalues, so FID(a, a) is 0 to ~1e-12 even with N < D.
    # With xa = Qa Ra and xb = Qb Rb (thin QR), xa xb^T = Qa (Ra Rb^T) Qb^T has the singular values of the small
    # Ra Rb^T (at most D x D), so large sets cost O(N D^2), not an N x N SVD.
    with _single_threaded_blas():
        ra = np.linalg.qr(xa, mode="r")
        rb = np.linalg.qr(xb, mode="r")
        sv = np.linalg.svd(ra @ rb.T, compute_uv=False)
    tr_covmean = float(sv.sum() / np.sqrt((len(a) - 1) * (len(b) - 1)))
    tr_a = float(np.sum(xa * xa) / (len(a) - 1))
    tr_b = float(np.sum(xb * xb) / (len(b) - 1))
    diff = mu_a - mu_b
    return float(diff @ diff + tr_a + tr_b - 2.0 * tr_covmean)


def fid_from_statistics(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray) -> float:
    """FID from precomputed means (D,) and covariances (D, D), via the eigenvalues of sqrt(S_a) S_b sqrt(S_a).

    Prefer :func:`fid` when the samples are at hand: with rank-deficient covariances this route carries a
    round-off floor of about sqrt(machine epsilon) * tr S per missing rank.
    """
    s_a = np.asarray(cov_a, dtype=np.float64)
    s_b = np.asarray(cov_b, dtype=np.float64)
    w, v = np.linalg.eigh(s_a)
    root_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    middle = root_a @ s_b @ root_a
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    diff = np.asarray(mu_a, np.float64) - np.asarray(mu_b, np.float64)
    tr_covmean = float(np.sum(np.sqrt(np.clip(eig, 0.0, None))))
    return float(diff @ diff + np.trace(s_a) + np.trace(s_b) - 2.0 * tr_covmean)


def diversity(features: np.ndarray) -> float:
    """Mean pairwise Euclidean distance over unordered pairs (Bailando ``calculate_avg_distance``).

    Args:
        features: (N, D) features, normally normalised with :func:`normalize` (N >= 2).
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"diversity needs (N >= 2, D) features, got {x.shape}")
    return float(np.mean(pdist(x)))
