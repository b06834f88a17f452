"""The shipped default model: present, small, loads by itself, and `choreo dance --demo` works out of the box."""

from __future__ import annotations

import numpy as np
import pytest

from choreo.cli import main
from choreo.motion.formats import read_motion
from choreo.packaged import packaged_models, resolve_model

pytestmark = pytest.mark.usefixtures("private_cache")


def default_checkpoint():
    return resolve_model(None, produces="dance")


def test_packaged_model_is_small_and_self_contained():
    from choreo.generate import Choreographer

    path = default_checkpoint()
    assert path.stat().st_size < 20 * 2**20
    model = Choreographer.load(path, device="cpu", threads=1)
    # DiffDance: 25 fps out, a 20 s base window (500 frames at the output rate)
    assert model.method.name == "diffdance" and model.fps == 25.0 and model.window_frames == 500
    assert model.feature_set == "rhythm"
    assert model.representation.name == "positions+rootvel" and model.representation.skeleton.name == "dwm23"


def test_demo_writes_the_three_files(tmp_path):
    out = tmp_path / "demo"
    rc = main(["dance", "--demo", "--seconds", "4", "--steps", "4", "-o", str(out), "--no-progress", "--threads", "1"])
    assert rc == 0
    assert {p.name for p in out.iterdir()} >= {"demo.wav", "demo.mp4", "demo.bvh", "demo.npz"}
    npz = read_motion(out / "demo.npz")
    bvh = read_motion(out / "demo.bvh")
    assert npz.n_frames == bvh.n_frames == 100 and npz.fps == bvh.fps == 25.0
    # a dancer standing on the floor, not noise: feet near the ground (the real captures' feet have a median
    # height of 0.03-0.45 m: their floors differ), head above the pelvis, body ~1.5 m tall
    p = npz.joint_positions()
    sk = npz.skeleton
    feet_y = p[:, [j for j in sk.feet if j >= 0], 1]
    assert np.percentile(feet_y, 5) > -0.2 and np.percentile(feet_y, 50) < 0.45
    assert np.all(p[:, sk.index("left_head"), 1] > p[:, sk.index("pelvis"), 1])
    assert 1.2 < np.median(p[..., 1].max(axis=1) - p[..., 1].min(axis=1)) < 2.0


def test_models_lists_the_packaged_model(capsys):
    import json

    names = ["edge", "codec", "d2mgan", "dancerevolution", "diffdance", "diffdance_style"]
    assert [m.name for m in packaged_models()] == names
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "diffdance  (default)" in text and "dances from music with diffdance: 25 fps" in text
    assert "edge  (default)" not in text and "research use only" in text
    assert "recipe: choreo train --config diffdance" in text and "an audio codec at 22050 Hz" in text
    assert main(["models", "--json"]) == 0
    row, codec, d2m, dr, dd, dds = json.loads(capsys.readouterr().out)
    assert codec["makes"] == "codec" and codec["audio_sr"] == 22050 and not codec["default"]
    assert d2m["makes"] == "music" and d2m["method"] == "d2mgan" and d2m["default"] and d2m["size_mb"] < 20
    assert dr["method"] == "dancerevolution" and dr["fps"] == 15.0 and not dr["default"] and dr["size_mb"] < 20
    assert dd["method"] == "diffdance" and dd["fps"] == 25.0 and dd["default"] and 1 < dd["size_mb"] < 20
    assert row["method"] == "edge" and row["fps"] == 25.0 and row["skeleton"] == "dwm23" and not row["default"]
    assert 1 < row["size_mb"] < 20 and "Dance with Melody" in dd["data"]
    assert dds["method"] == "diffdance" and not dds["default"] and 1 < dds["size_mb"] < 20
    assert dds["styles"] == dd["styles"] == d2m["styles"] == ["cha-cha", "rumba", "tango", "waltz"]
    assert row["styles"] == dr["styles"] == []
    # sampling defaults as the files hold them, and the recipe that rebuilds each
    assert row["sampling"] == {"guidance": 2.0, "steps": 8, "sampler": "dpm++2m", "eta": 1.0, "precision": "auto"}
    assert dd["sampling"]["guidance"] == 3.5 and dd["sampling"]["guidance_from"] == "style"
    assert [r["recipe"] for r in (row, codec, d2m, dr, dd, dds)] == names


def test_choreo_load_by_name_gives_a_dance_generator():
    import choreo
    from choreo.generate import Choreographer

    model = choreo.load("edge", device="cpu", threads=1)
    assert isinstance(model, Choreographer) and model.checkpoint == str(resolve_model("edge", produces="dance"))
    # the fast path (issue 15) is the packaged model's own setting: DPM-Solver++ 8 steps, bf16 where native
    want = {"guidance": 2.0, "steps": 8, "sampler": "dpm++2m", "eta": 1.0, "precision": "auto"}
    assert model.method.sampling_defaults() == want
    assert "Dance with Melody" in model.info["data"]


def test_sampling_settings_saved_in_the_checkpoint_are_honoured(tmp_path):
    """A copy of the default model whose config says guidance 1 and 10 steps, run with no sampling flags, gives
    exactly the dance that --guidance 1 --steps 10 gives with the original."""
    from choreo.checkpoint import load_checkpoint, save_checkpoint

    state = load_checkpoint(default_checkpoint())
    state["config"]["model"].update(guidance=1.0, steps=10)
    save_checkpoint(tmp_path / "g1s10.pt", state)
    common = ["dance", "--demo", "--seconds", "3", "--format", "npz", "--no-progress", "--threads", "1", "--seed", "3"]
    assert main([*common, "-c", str(tmp_path / "g1s10.pt"), "-o", str(tmp_path / "copy")]) == 0
    assert main([*common, "--guidance", "1", "--steps", "10", "-o", str(tmp_path / "flags")]) == 0
    assert main([*common, "-o", str(tmp_path / "plain")]) == 0
    copy, flags, plain = (read_motion(tmp_path / d / "demo.npz") for d in ("copy", "flags", "plain"))
    np.testing.assert_array_equal(copy.positions, flags.positions)
    assert copy.meta["guidance"] == 1.0 and copy.meta["steps"] == 10
    # DiffDance's own (chosen on validation songs): guidance 3.5 from the style, the paper's 100 steps, the SSR
    # unguided
    assert plain.meta["guidance"] == 3.5 and plain.meta["steps"] == 100 and plain.meta["sampler"] == "ddim"
    assert plain.meta["guidance_from"] == "style"
    assert plain.meta["ssr_guidance"] == 1.0 and plain.meta["ssr_root"] == "base"
    assert np.abs(plain.positions - flags.positions).max() > 1e-2
