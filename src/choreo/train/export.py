"""A trained run as a packaged model file: slim (no optimiser state), fp16 weights, its info and sampling defaults."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from choreo.checkpoint import export_inference, load_checkpoint, load_method, save_checkpoint
from choreo.errors import ChoreoError


def export_packaged(run: str | os.PathLike, out: str | os.PathLike, settings: dict, info: dict) -> Path:
    """Write the packaged-model file ``out`` from ``run`` (a run folder or checkpoint): its (EMA) weights in fp16,
    ``info`` (``description``, ``data``, ``licence``: what ``choreo models`` shows), ``settings`` as the model's
    sampling defaults (on top of its config's), and ``train.device: auto`` so that a model trained on a GPU loads
    on a CPU-only machine. The file is built and loaded under a temporary name first: nothing is written at ``out``
    unless the model loads and takes the settings.

    Raises:
        ChoreoError: a setting the method does not take or of the wrong type; a run that does not load.
    """
    settings = dict(settings)  # float fields are coerced below; the caller's dict stays as given
    with tempfile.TemporaryDirectory() as tmp:
        # the file is built and loaded under a temporary name: nothing is written at ``out`` unless it works
        probe = export_inference(run, Path(tmp) / "probe.pt", torch.float16, info=info)
        state = load_checkpoint(probe)
        state["config"]["train"]["device"] = "auto"
        model = state["config"]["model"]
        for name, value in settings.items():
            old = model.get(name)
            numeric = isinstance(old, (int, float)) and isinstance(value, (int, float)) and not isinstance(value, bool)
            if old is not None and value is not None and type(old) is not type(value) and not numeric:
                raise ChoreoError(
                    f"{run}: {name}={value!r} is not of type {type(old).__name__} (the model's value: {old!r})"
                )
            if isinstance(old, float) and numeric:
                # ``guidance=3`` reads as an int; the file keeps the field's own type
                settings[name] = float(value)
        model.update(settings)
        save_checkpoint(probe, state)
        try:
            method = load_method(probe, device="cpu")[0]
            method.sampling_settings(**settings)
        except ChoreoError as e:
            raise ChoreoError(f"{run} with {settings}: {str(e).replace(str(probe) + ': ', '')}") from None
        if any(method.sampling_defaults()[k] != v for k, v in settings.items()):
            raise ChoreoError(f"{run}: the settings {settings} did not reach the model's sampling defaults")
    save_checkpoint(out, state)
    return Path(out)
