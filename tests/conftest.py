"""Shared test fixtures: where ../shared lives (real data and reference numbers; never copied here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"
FIXTURES = SHARED / "fixtures"

#: the four AIST++ sequences in data/aistpp_samples (and in fixtures/metrics/joints.npz)
AISTPP_SEQUENCES = (
    "gBR_sBM_cAll_d04_mBR2_ch08",
    "gBR_sBM_cAll_d06_mBR2_ch06",
    "gJS_sBM_cAll_d03_mJS2_ch07",
    "gJS_sFM_cAll_d02_mJS4_ch09",
)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: the tests read real data from ../shared beside the repo")
    return SHARED


@pytest.fixture(scope="session")
def data_dir(shared_dir: Path) -> Path:
    return shared_dir / "data"


@pytest.fixture(scope="session")
def fixtures_dir(shared_dir: Path) -> Path:
    return shared_dir / "fixtures"


@pytest.fixture(scope="session")
def joints(fixtures_dir: Path) -> dict[str, np.ndarray]:
    """Every array of fixtures/metrics/joints.npz (reference FK joints of the AIST++ samples)."""
    with np.load(fixtures_dir / "metrics" / "joints.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="session")
def windows(fixtures_dir: Path) -> dict[str, np.ndarray]:
    """fixtures/metrics/windows.npz: the 35 root-zeroed 240-frame reference windows and their metadata."""
    with np.load(fixtures_dir / "metrics" / "windows.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="session")
def features(fixtures_dir: Path) -> dict[str, np.ndarray]:
    """fixtures/metrics/features.npz: the reference's kinetic/manual features of the windows."""
    with np.load(fixtures_dir / "metrics" / "features.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="session")
def expected(fixtures_dir: Path) -> dict:
    """fixtures/metrics/expected.json: every reference number."""
    return json.loads((fixtures_dir / "metrics" / "expected.json").read_text())
