"""Export a finished run as a packaged model file: slim (no optimiser state), fp16 weights, its sampling defaults.

The steps the files under ``src/choreo/assets`` were made with, in one command, so the sampling settings chosen on
training dances (``scripts/tune_sampling.py``) travel inside the file and ``choreo dance --checkpoint FILE`` (or
``--model NAME`` once it is packaged) uses them::

    .venv/bin/python scripts/export_packaged_model.py RUN FILE \\
        --set guidance=3 --set ssr_guidance=1.0 --set noise_level=0 --set ssr_root=base \\
        --description "..." --data "..." --licence "..."

``--set NAME=VALUE`` takes any of the method's sampling options (``choreo dance --help``); values are read as
YAML (``3`` is a number, ``base`` a string, ``null`` None). The file's ``train.device`` becomes ``auto`` so a
model trained on a GPU loads on a CPU-only machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
import yaml

from choreo.checkpoint import export_inference, load_checkpoint, save_checkpoint
from choreo.errors import ChoreoError
from choreo.generate import Choreographer


def parse_settings(pairs: list[str]) -> dict:
    """``["guidance=3", "ssr_root=base"]`` -> ``{"guidance": 3, "ssr_root": "base"}`` (values as YAML)."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ChoreoError(f"--set wants NAME=VALUE, got {pair!r}")
        out[name.strip()] = yaml.safe_load(value)
    return out


def export(run: str, out: str, settings: dict, info: dict) -> Path:
    """Write ``out`` from ``run`` with ``settings`` as the model's sampling defaults; checks the result loads."""
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
            method = Choreographer.load(probe, device="cpu", threads=1).method
            method.sampling_settings(**settings)
        except ChoreoError as e:
            raise ChoreoError(f"{run} with {settings}: {str(e).replace(str(probe) + ': ', '')}") from None
        if any(method.sampling_defaults()[k] != v for k, v in settings.items()):
            raise ChoreoError(f"{run}: the settings {settings} did not reach the model's sampling defaults")
    save_checkpoint(out, state)
    return Path(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="run folder or checkpoint")
    p.add_argument("out", help="the packaged file to write")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a sampling default")
    p.add_argument("--description", required=True)
    p.add_argument("--data", required=True, help="what it was trained on")
    p.add_argument("--licence", required=True)
    args = p.parse_args(argv)
    try:
        info = {"description": args.description, "data": args.data, "licence": args.licence}
        path = export(args.run, args.out, parse_settings(args.set), info)
    except ChoreoError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
