"""`scripts/export_packaged_model.py`: a run (here the packaged DiffDance file) becomes a packaged model file whose
sampling defaults are the ones given; bad settings are refused before anything is written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from choreo.checkpoint import load_checkpoint
from choreo.generate import Choreographer
from choreo.packaged import resolve_model

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "export_packaged_model.py"
INFO = ["--description", "a test export", "--data", "Dance with Melody", "--licence", "research use only"]

pytestmark = pytest.mark.usefixtures("private_cache")


def export(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(SCRIPT), *args, *INFO]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=False)


def test_export_writes_the_settings_and_the_info(tmp_path):
    src = resolve_model("diffdance")
    out = tmp_path / "dd.pt"
    r = export(str(src), str(out), "--set", "guidance=3", "--set", "ssr_root=ssr", "--set", "ssr_steps=null")
    assert r.returncode == 0, r.stderr
    state = load_checkpoint(out)
    assert state["info"]["description"] == "a test export" and state["config"]["train"]["device"] == "auto"
    weights = [t for sd in state["ema"].values() for t in sd.values() if torch.is_floating_point(t)]
    assert weights and all(t.dtype == torch.float16 for t in weights)
    d = Choreographer.load(out, device="cpu", threads=1).method.sampling_defaults()
    assert (d["guidance"], d["ssr_root"], d["ssr_steps"], d["ssr_guidance"], d["steps"]) == (3, "ssr", None, 1.0, 100)
    # ``guidance=3`` reads as YAML's int; the file keeps the field's float type
    assert type(state["config"]["model"]["guidance"]) is float and type(d["steps"]) is int
    # the weights are the source's, cast to fp16 (the packaged file already is): identical
    src_ema = load_checkpoint(src)["ema"]
    assert all(torch.equal(src_ema[c][n], t) for c, sd in state["ema"].items() for n, t in sd.items())


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("bogus=1", "unknown DiffDance model settings: bogus"),
        ("steps=many", "steps='many' is not of type int"),
        ("x", "NAME=VALUE"),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_written(tmp_path, setting, message):
    out = tmp_path / "dd.pt"
    r = export(str(resolve_model("diffdance")), str(out), "--set", setting)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []
