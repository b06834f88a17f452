"""A trained model loaded for use: what the dance and music APIs share (loading, device, threads).

:class:`TrainedModel` loads any checkpoint file, run folder or packaged model name and checks that the method
makes what the subclass promises (``produces``: ``"dance"`` or ``"music"``).
"""

from __future__ import annotations

import os

from choreo.errors import ChoreoError


def default_threads() -> int:
    """CPU threads for sampling: the cores this process may use (at most 16), less those already busy.

    PyTorch's thread pool spins while it waits for its slowest thread; on cores shared with other busy
    processes that wait can cost more than the extra thread brings (10x slower seen with 2 threads on 2
    loaded cores), so cores kept busy by others (1-minute load average) are left to them.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    try:
        busy = int(os.getloadavg()[0] + 0.5)
    except (AttributeError, OSError):
        busy = 0
    return max(1, min(n, 16, n - busy + 1))


def set_threads(device, threads: int | None) -> None:
    """On the CPU, use ``threads`` torch threads (default :func:`default_threads`, only ever lowering torch's)."""
    import torch

    if device.type == "cpu":
        want = default_threads() if threads is None else int(threads)
        if threads is not None or torch.get_num_threads() > want:
            torch.set_num_threads(max(1, want))


class TrainedModel:
    """A trained method ready to use. Attributes: ``method``, ``spec``, ``representation``, ``fps``, ``device``,
    ``checkpoint`` (path), ``info`` (the checkpoint's description, for packaged models)."""

    produces = ""

    def __init__(self, method, checkpoint: str | None = None, threads: int | None = None, info: dict | None = None):
        if method.produces != self.produces:
            raise ChoreoError(f"method {method.name!r} makes {method.produces}, not {self.produces}", checkpoint)
        self.method = method.eval()
        self.spec = method.spec
        self.representation = self.spec.representation
        self.fps = float(self.spec.fps)
        self.checkpoint = checkpoint
        self.info = dict(info or {})
        self.device = method.device
        set_threads(self.device, threads)

    @classmethod
    def load(
        cls,
        checkpoint: str | os.PathLike | None = None,
        device: str | None = None,
        weights: str = "ema",
        threads: int | None = None,
    ):
        """Load a checkpoint file, a run folder's ``last.ckpt``, or a packaged model by name (``choreo models``;
        None: the packaged default of this kind).

        Args:
            checkpoint: file, run directory or packaged model name.
            device: ``"cpu"``, ``"cuda"``, ... (default: CUDA when available, else CPU).
            weights: ``"ema"`` (the averaged weights, when the checkpoint has them) or ``"model"``.
            threads: CPU threads (default :func:`default_threads`).

        Raises:
            ChoreoError: missing, corrupt or truncated file; not a choreo checkpoint; a model that makes
                something else; weights that do not fit its config.
        """
        from choreo.checkpoint import load_method
        from choreo.packaged import resolve_model

        path = resolve_model(checkpoint, produces=cls.produces)
        method, state = load_method(path, weights=weights, device=device)
        if method.produces != cls.produces:
            raise ChoreoError(
                f"this checkpoint's method is {method.name!r}, which makes {method.produces}, not {cls.produces}", path
            )
        return cls(method, str(path), threads, state.get("info"))
