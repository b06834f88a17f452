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

#: Dance with Melody, and the default model's test split of it (the dances every packaged model was held out from)
DWM = DATA / "dance_with_melody"
DWM_TEST_SPLIT = ("DANCE_C_4", "DANCE_R_5", "DANCE_W_3", "DANCE_W_17")


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """A feature cache of the test's own (CHOREO_CACHE), so no test reads what another one wrote."""
    monkeypatch.setenv("CHOREO_CACHE", str(tmp_path / "cache"))


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


# --- OpenPose BODY_25 folders (there is no real OpenPose data in ../shared: tests write their own) ---------

#: BODY_25 joint -> the SMPL-24 joint standing in for it when projecting a 3D dance to keypoints (face points
#: -> head, toes -> SMPL's foot, heels -> ankle).
SMPL_FOR_BODY25 = (15, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 15, 15, 15, 15, 10, 10, 7, 11, 11, 8)


def openpose_frame(points, conf=None) -> dict:
    """One OpenPose JSON frame: ``points`` (25, 2) image pixels (y down), ``conf`` (25,) or None (all 1)."""
    kp = []
    for j in range(25):
        x, y = points[j]
        kp += [float(x), float(y), 1.0 if conf is None else float(conf[j])]
    return {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": kp}]}


def write_openpose(folder: Path, frames: list[dict], stem: str = "clip") -> Path:
    """``folder/<stem>_<i>_keypoints.json`` for each frame dict, as OpenPose names them; returns the folder."""
    folder.mkdir(parents=True)
    for i, fr in enumerate(frames):
        (folder / f"{stem}_{i}_keypoints.json").write_text(json.dumps(fr))
    return folder


def smpl_to_openpose_pixels(joints: np.ndarray, pixels_per_metre: float = 200.0, centre=(640.0, 600.0)) -> np.ndarray:
    """(T, 24, 3) SMPL joints (metres, y-up) -> (T, 25, 2) BODY_25 image pixels (y down).

    An orthographic camera looking along -z: x to the right, the floor's height (y = 0) at ``centre[1]``.
    """
    xy = np.asarray(joints, np.float64)[:, list(SMPL_FOR_BODY25), :2] * pixels_per_metre
    return np.stack([centre[0] + xy[..., 0], centre[1] - xy[..., 1]], axis=-1)


def train_cli(config, data: Path, cache_dir: Path, out: Path, *extra: str) -> int:
    """``choreo train --config CONFIG --data DATA --out OUT`` on the CPU with a shared cache; the exit status."""
    from choreo.cli import main

    args = ["train", "--config", str(config), "--data", str(data), "--out", str(out), "--cache-dir", str(cache_dir)]
    return main([*args, "--device", "cpu", "--no-progress", *extra])


def flat_components(components: dict) -> dict:
    """A checkpoint's ``{component: state_dict}`` as one ``{"component.key": tensor}`` dict (easy to compare)."""
    return {f"{c}.{k}": v for c, sd in components.items() for k, v in sd.items()}


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a test module (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``):
    tiny models gain nothing from threads, and lose a lot when other processes share the cores."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
