"""The shipped default model: present, small, loads by itself, and `choreo dance --demo` works out of the box."""

from __future__ import annotations

import numpy as np
import pytest

from choreo.cli import main
from choreo.commands.dance import default_checkpoint
from choreo.motion.formats import read_motion


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CHOREO_CACHE", str(tmp_path / "cache"))


def test_packaged_model_is_small_and_self_contained():
    from choreo.generate import Choreographer

    path = default_checkpoint()
    assert path.stat().st_size < 20 * 2**20
    model = Choreographer.load(path, device="cpu", threads=1)
    assert model.fps == 25.0 and model.window_frames == 125 and model.feature_set == "baseline35"
    assert model.representation.name == "positions+rootvel" and model.representation.skeleton.name == "dwm23"


def test_demo_writes_the_three_files(tmp_path):
    out = tmp_path / "demo"
    rc = main(["dance", "--demo", "--seconds", "4", "--steps", "4", "-o", str(out), "--no-progress", "--threads", "1"])
    assert rc == 0
    assert {p.name for p in out.iterdir()} >= {"demo.wav", "demo.mp4", "demo.bvh", "demo.npz"}
    npz = read_motion(out / "demo.npz")
    bvh = read_motion(out / "demo.bvh")
    assert npz.n_frames == bvh.n_frames == 100 and npz.fps == bvh.fps == 25.0
    # a dancer standing on the floor, not noise: feet near the ground, head above the pelvis, body ~1.5 m tall
    p = npz.joint_positions()
    sk = npz.skeleton
    feet_y = p[:, [j for j in sk.feet if j >= 0], 1]
    assert np.percentile(feet_y, 5) > -0.2 and np.percentile(feet_y, 50) < 0.3
    assert np.all(p[:, sk.index("left_head"), 1] > p[:, sk.index("pelvis"), 1])
    assert 1.2 < np.median(p[..., 1].max(axis=1) - p[..., 1].min(axis=1)) < 2.0
