"""Models: each method is a network plus its training objective plus its sampler.

``build_method(name, model_config, representation, normalizer, feature_dim)`` makes any registered
method; the trainer and :mod:`choreo.generate` only use this entry point, ``method.training_loss(batch)``
and the method's sampling API.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from choreo.errors import ChoreoError

#: method name -> "module:builder"; builders take (model_config, representation, normalizer, feature_dim).
METHODS: dict[str, str] = {
    "edge": "choreo.models.edge:build_edge",
}


def method_builder(name: str) -> Callable:
    """The builder function registered for ``name`` (imported on first use)."""
    try:
        target = METHODS[name]
    except KeyError:
        raise ChoreoError(f"unknown method {name!r} (known: {', '.join(sorted(METHODS))})") from None
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


def build_method(name: str, model_config: dict | None, representation, normalizer, feature_dim: int):
    """Build method ``name`` (an ``nn.Module`` with ``training_loss(batch) -> (loss, logs)``).

    Args:
        name: a key of :data:`METHODS` (``"edge"``).
        model_config: the method's own settings (e.g. :class:`choreo.models.edge.EdgeConfig` fields);
            missing keys take the method's defaults.
        representation: motion representation (``choreo.data.representation``).
        normalizer: fitted normaliser for the representation's channels.
        feature_dim: music features per frame.
    """
    return method_builder(name)(model_config, representation, normalizer, int(feature_dim))
