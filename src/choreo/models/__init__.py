"""Models: each method is a set of named networks plus its training objective plus its sampler.

``build_method(name, model_config, spec)`` makes any registered method (a :class:`~choreo.models.method.Method`)
from its settings and the :class:`~choreo.data.spec.DataSpec` of its data; the trainer, checkpoints and
:mod:`choreo.generate` only use this entry point and the protocol in :mod:`choreo.models.method`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from choreo.errors import ChoreoError

#: method name -> "module:builder"; builders take (model_config: dict, spec: DataSpec) and return a Method.
METHODS: dict[str, str] = {
    "edge": "choreo.models.edge:build_edge",
    "diffdance": "choreo.models.diffdance:build_diffdance",
    "dancerevolution": "choreo.models.seq2seq:build_dancerevolution",
    "codec": "choreo.models.codec:build_codec",
    "d2mgan": "choreo.models.d2m:build_d2mgan",
}


def method_builder(name: str) -> Callable:
    """The builder function registered for ``name`` (imported on first use)."""
    try:
        target = METHODS[name]
    except KeyError:
        raise ChoreoError(f"unknown method {name!r} (known: {', '.join(sorted(METHODS))})") from None
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


def trains_on(name: str) -> str:
    """The training data method ``name`` declares: ``"pairs"`` (motion + music windows, the default) or
    ``"audio"`` (waveform windows from a folder of songs: :mod:`choreo.data.audio_windows`).

    Read from the ``trains_on`` attribute of the class the builder's return annotation names, so the trainer
    can pick the dataset before anything is built; an unknown name or unannotated builder means ``"pairs"``.
    """
    import inspect

    try:
        cls = inspect.signature(method_builder(name), eval_str=True).return_annotation
    except (ChoreoError, ImportError, NameError, TypeError, ValueError):
        return "pairs"
    return str(getattr(cls, "trains_on", "pairs"))


def build_method(name: str, model_config: dict | None, spec):
    """Build method ``name``.

    Args:
        name: a key of :data:`METHODS`.
        model_config: the method's own settings (e.g. :class:`choreo.models.edge.EdgeConfig` fields);
            missing keys take the method's defaults.
        spec: the :class:`~choreo.data.spec.DataSpec` (representation, normaliser, feature dimension, fps ...).
    """
    return method_builder(name)(dict(model_config or {}), spec)
