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
    "codec": "choreo.models.codec.method:build_codec",
    "d2mgan": "choreo.models.d2m.method:build_d2mgan",
}


def method_builder(name: str) -> Callable:
    """The builder function registered for ``name`` (imported on first use)."""
    try:
        target = METHODS[name]
    except KeyError:
        raise ChoreoError(f"unknown method {name!r} (known: {', '.join(sorted(METHODS))})") from None
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


def method_class(name: str) -> type:
    """The :class:`~choreo.models.method.Method` subclass method ``name`` builds (the builder's return annotation),
    so callers can ask a method what it is (``produces``, ``trains_on``, ``sampling_options``, ``takes_style``)
    before anything is built.

    Raises:
        ChoreoError: an unknown method, or a builder that does not say what it builds.
    """
    import inspect

    from choreo.models.method import Method

    cls = inspect.signature(method_builder(name), eval_str=True).return_annotation
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise ChoreoError(f"the builder of method {name!r} does not annotate the Method class it returns")
    return cls


def trains_on(name: str) -> str:
    """The training data method ``name`` declares: ``"pairs"`` (motion + music windows) or ``"audio"`` (waveform
    windows from a folder of songs: :mod:`choreo.data.audio_windows`), read before anything is built."""
    return str(method_class(name).trains_on)


def build_method(name: str, model_config: dict | None, spec, **parts):
    """Build method ``name``.

    Args:
        name: a key of :data:`METHODS`.
        model_config: the method's own settings (e.g. :class:`choreo.models.edge.EdgeConfig` fields);
            missing keys take the method's defaults.
        spec: the :class:`~choreo.data.spec.DataSpec` (representation, normaliser, feature dimension, fps ...).
        parts: trained models a new run is built on, read by the loader (the method class's ``trained_parts``
            names them: D2M-GAN's ``codec``); passed to the builder by keyword.
    """
    return method_builder(name)(dict(model_config or {}), spec, **parts)
