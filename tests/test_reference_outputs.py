"""Every packaged model makes exactly what it made when ``tests/fixtures/reference_outputs.npz`` was saved
(``scripts/save_reference_outputs.py``): same input, same seed, same settings -> the same dance and music. A
refactor that changes what a model makes fails here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "reference_outputs.npz"


def _script():
    path = ROOT / "scripts" / "save_reference_outputs.py"
    spec = importlib.util.spec_from_file_location("save_reference_outputs", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def outputs() -> dict[str, np.ndarray]:
    return _script().reference_outputs()


def test_the_reference_covers_every_packaged_model(outputs):
    from choreo.packaged import packaged_models

    saved = np.load(FIXTURE)
    assert set(saved.files) == set(outputs)
    makers = {m.name for m in packaged_models()} - {"codec"}  # the codec makes no output of its own
    assert makers == {k.split("/", 1)[1] for k in outputs}


@pytest.mark.parametrize("key", ["dance/edge", "dance/diffdance", "dance/diffdance_style", "dance/dancerevolution"])
def test_dances_are_unchanged(outputs, key):
    ref = np.load(FIXTURE)[key]
    got = outputs[key]
    assert got.shape == ref.shape
    assert float(np.abs(got - ref).max()) < 1e-4  # metres


def test_music_is_unchanged(outputs):
    ref = np.load(FIXTURE)["music/d2mgan"].astype(np.float32)
    got = outputs["music/d2mgan"].astype(np.float32)
    assert got.shape == ref.shape
    assert float(np.abs(got - ref).max()) < 2e-3  # float16 storage
    assert float(np.abs(ref).max()) > 0.05  # the reference is music, not silence
