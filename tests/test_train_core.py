"""Normaliser, run config, Adan, EMA, the deterministic sampler and checkpoint files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from choreo import checkpoint as ck
from choreo.data.normalizer import MinMaxNormalizer
from choreo.data.representation import get_representation
from choreo.data.spec import DataSpec
from choreo.errors import ChoreoError
from choreo.motion.skeleton import SMPL24
from choreo.optim.adan import Adan
from choreo.train.config import RunConfig, apply_overrides, builtin_configs
from choreo.train.ema import EMA
from choreo.train.sampling import GlobalBatchSampler, mix_seed
from conftest import REPO


# --- normaliser ---------------------------------------------------------------------------------------
def test_normalizer_maps_train_range_to_unit_interval_and_back():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 6)) * [1, 10, 0.1, 5, 2, 3] + [0, 5, -3, 100, 0, 0]
    x[:, 4] = 7.5  # a constant channel
    n = MinMaxNormalizer().fit(x)
    y = n.normalize(x)
    np.testing.assert_allclose(y.min(axis=0)[[0, 1, 2, 3, 5]], -1.0, atol=1e-12)
    np.testing.assert_allclose(y.max(axis=0)[[0, 1, 2, 3, 5]], 1.0, atol=1e-12)
    assert np.all(y[:, 4] == 0.0)
    np.testing.assert_allclose(n.denormalize(y), x, atol=1e-12)
    # torch tensors: same numbers, dtype and device kept
    t = torch.tensor(x, dtype=torch.float32)
    yt = n.normalize(t)
    assert yt.dtype == torch.float32
    np.testing.assert_allclose(yt.numpy(), y, atol=1e-5)
    np.testing.assert_allclose(n.denormalize(yt).numpy(), x, rtol=1e-5, atol=1e-4)
    # state round trip, and channel-count mismatch is a clear error
    n2 = MinMaxNormalizer.from_state_dict(n.state_dict())
    np.testing.assert_array_equal(n2.normalize(x), y)
    with pytest.raises(ChoreoError, match="channels"):
        n.normalize(np.zeros((3, 5)))
    with pytest.raises(ChoreoError, match="not been fitted"):
        MinMaxNormalizer().normalize(x)
    with pytest.raises(ChoreoError):
        MinMaxNormalizer.from_state_dict({"lo": [1.0], "hi": [0.0]})


def test_normalizer_is_differentiable():
    n = MinMaxNormalizer().fit(np.array([[0.0, -2.0], [4.0, 2.0]]))
    t = torch.tensor([[1.0, 1.0]], requires_grad=True)
    n.denormalize(t).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), [[2.0, 2.0]])


# --- config -------------------------------------------------------------------------------------------
def test_config_round_trip_yaml_and_json(tmp_path):
    cfg = RunConfig.from_dict(
        {
            "method": "edge",
            "data": {"fps": 25, "sequences": ["A", "B"]},
            "model": {"width": 64},
            "train": {"lr": "1e-4"},
        }
    )
    assert cfg.data.fps == 25.0 and cfg.train.lr == 1e-4 and cfg.data.window_frames == 125
    for name in ("run.yaml", "run.json"):
        cfg.save(tmp_path / name)
        assert RunConfig.load(tmp_path / name) == cfg


def test_config_rejects_unknown_keys_and_bad_types(tmp_path):
    with pytest.raises(ChoreoError, match="unknown key.*lrr"):
        RunConfig.from_dict({"train": {"lrr": 1}})
    with pytest.raises(ChoreoError, match="data.mirror"):
        RunConfig.from_dict({"data": {"mirror": "yes"}})
    with pytest.raises(ChoreoError, match="train.steps"):
        RunConfig.from_dict({"train": {"steps": 1.5}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed")
    with pytest.raises(ChoreoError, match="bad.yaml"):
        RunConfig.load(bad)
    with pytest.raises(ChoreoError, match="built-in"):
        RunConfig.load("no_such_config")


def test_builtin_configs_load_and_one_setting_changes_with_set():
    assert {"edge", "edge_tiny", "diffdance", "d2mgan", "codec"} <= set(builtin_configs())
    for name in builtin_configs():
        RunConfig.load(name)
    edge = RunConfig.load("edge")
    changed = apply_overrides(edge, ["model.width=64", "train.lr=1e-3", "data.fps=30", "model.dilations=[1, 3]"])
    assert changed.model["width"] == 64 and changed.model["dilations"] == [1, 3]
    assert changed.train.lr == 1e-3 and changed.data.fps == 30.0
    assert {k: v for k, v in changed.model.items() if k not in ("width", "dilations")} == {
        k: v for k, v in edge.model.items() if k != "width"
    }
    assert edge.model["width"] == 192  # the recipe itself is left alone
    for bad, message in (
        ("train.stepz=2", "stepz"),
        ("model=3", "SECTION.KEY"),
        ("optim.lr=1", "data, model or train"),
        ("train.steps=many", "train.steps"),
    ):
        with pytest.raises(ChoreoError, match=message):
            apply_overrides(edge, [bad])
    # one source of configs: the package's (the repository has no second copy to drift)
    assert not (REPO / "configs").exists()


# --- Adan ---------------------------------------------------------------------------------------------
def test_adan_first_step_by_hand():
    # Step 1: m = g, v = 0, n = g^2 after bias correction -> update = g / (|g| + eps) = sign(g).
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 3.0]))
    opt = Adan([p], lr=0.1, weight_decay=0.5, eps=0.0)
    p.grad = torch.tensor([0.5, -4.0, 2.0])
    opt.step()
    expected = (torch.tensor([1.0, -2.0, 3.0]) - 0.1 * torch.tensor([1.0, -1.0, 1.0])) / (1 + 0.1 * 0.5)
    torch.testing.assert_close(p.data, expected)


def test_adan_second_step_by_hand():
    b1, b2, b3, lr = 0.98, 0.92, 0.99, 0.01
    p = torch.nn.Parameter(torch.tensor([0.0]))
    opt = Adan([p], lr=lr, betas=(b1, b2, b3), eps=0.0)
    g0, g1 = 2.0, 1.0
    p.grad = torch.tensor([g0])
    opt.step()
    p.grad = torch.tensor([g1])
    opt.step()
    m = (b1 * (1 - b1) * g0 + (1 - b1) * g1) / (1 - b1**2)
    v = ((1 - b2) * (g1 - g0)) / (1 - b2**2)
    nest0, nest1 = g0, g1 + b2 * (g1 - g0)
    n = (b3 * (1 - b3) * nest0**2 + (1 - b3) * nest1**2) / (1 - b3**2)
    expected = -lr * 1.0 - lr * (m + b2 * v) / np.sqrt(n)
    assert p.item() == pytest.approx(expected, rel=1e-5)


def test_adan_minimises_an_ill_conditioned_quadratic():
    torch.manual_seed(0)
    A = torch.diag(torch.tensor([1.0, 10.0, 100.0]))
    target = torch.tensor([1.0, -2.0, 0.5])
    x = torch.nn.Parameter(torch.zeros(3))
    opt = Adan([x], lr=0.05)
    start = 0.5 * (target @ A @ target).item()
    for _ in range(600):
        opt.zero_grad()
        loss = 0.5 * (x - target) @ A @ (x - target)
        loss.backward()
        opt.step()
    assert loss.item() < 1e-4 * start
    torch.testing.assert_close(x.data, target, atol=1e-2, rtol=0)


# --- EMA ----------------------------------------------------------------------------------------------
def test_ema_follows_the_formula_with_warmup():
    m = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        m.weight.fill_(0.0)
    ema = EMA(m, decay=0.9, warmup=True)
    with torch.no_grad():
        m.weight.fill_(1.0)
    ema.update(m)  # d = min(0.9, 1/10) = 0.1 -> 0.9
    torch.testing.assert_close(ema.shadow.weight, torch.full((1, 2), 0.9))
    ema.updates = 1000
    ema.update(m)  # d = 0.9 -> 0.9 * 0.9 + 0.1
    torch.testing.assert_close(ema.shadow.weight, torch.full((1, 2), 0.91))
    assert not ema.shadow.weight.requires_grad


# --- sampler ------------------------------------------------------------------------------------------
def test_sampler_covers_every_item_once_per_epoch_and_is_deterministic():
    s = GlobalBatchSampler(10, 4, seed=3)
    stream = np.concatenate([s.items(s.positions(k)) for k in range(5)])  # 20 positions = 2 epochs
    assert sorted(stream[:10]) == list(range(10)) and sorted(stream[10:]) == list(range(10))
    assert not np.array_equal(stream[:10], stream[10:])
    s2 = GlobalBatchSampler(10, 4, seed=3)
    np.testing.assert_array_equal(s2.items(s2.positions(3)), s.items(s.positions(3)))
    # the two processes' slices make up the global batch; seeds do not depend on the split
    parts = [s.local_slice(7, r, 2) for r in range(2)]
    np.testing.assert_array_equal(np.concatenate(parts), s.positions(7))
    np.testing.assert_array_equal(
        np.concatenate([s.sample_seeds(7, p) for p in parts]), s.sample_seeds(7, s.positions(7))
    )
    seeds = s.sample_seeds(7, s.positions(7))
    assert seeds.dtype == np.int64 and np.all(seeds >= 0) and len(set(seeds.tolist())) == 4
    assert mix_seed(1, 2, 3) != mix_seed(1, 3, 2)
    with pytest.raises(ValueError):
        s.local_slice(0, 0, 3)


# --- checkpoints --------------------------------------------------------------------------------------
def _spec() -> DataSpec:
    rep = get_representation("smpl_rot6d", SMPL24, 0.4)
    return DataSpec(rep, MinMaxNormalizer().fit(np.eye(3)), 35, "baseline35", 30.0, 150)


def _state(step: int) -> dict:
    return {
        "method": "edge",
        "produces": "dance",
        "config": RunConfig().to_dict(),
        "spec": _spec().state_dict(),
        "components": {"denoiser": {"w": torch.full((4,), float(step))}},
        "ema": {"denoiser": {"w": torch.zeros(4)}},
        "optimizers": {"main": {"state": {}, "param_groups": []}},
        "step": step,
        "rng": {"numpy_keys": np.arange(3, dtype=np.uint32)},
    }


def test_checkpoint_round_trip_and_spec(tmp_path):
    ck.save_checkpoint(tmp_path / "a.ckpt", _state(5))
    s = ck.load_checkpoint(tmp_path / "a.ckpt")
    assert s["format"] == "choreo-checkpoint" and s["version"] == 2 and s["step"] == 5
    spec = DataSpec.from_state_dict(s["spec"])
    sk = spec.representation.skeleton
    assert sk.same_structure(SMPL24) and sk.mirror_pairs == SMPL24.mirror_pairs
    np.testing.assert_array_equal(sk.offsets, SMPL24.offsets)
    assert spec.representation.name == "smpl_rot6d" and spec.representation.contact_speed == 0.4
    assert (spec.feature_dim, spec.feature_set, spec.fps, spec.window_frames) == (35, "baseline35", 30.0, 150)
    np.testing.assert_array_equal(spec.normalizer.hi, [1, 1, 1])
    torch.testing.assert_close(s["components"]["denoiser"]["w"], torch.full((4,), 5.0))


def test_version_1_checkpoints_are_upgraded(tmp_path):
    """A run written before named components: whole-method state dicts, data settings at the top level."""
    v1 = {
        "format": "choreo-checkpoint",
        "version": 1,
        "method": "edge",
        "config": {**RunConfig().to_dict(), "model": {"width": 8}},
        "model_config": {"width": 64},
        "representation": "smpl_rot6d",
        "skeleton": SMPL24.to_arrays(),
        "feature_set": "baseline35",
        "fps": 25.0,
        "window_frames": 125,
        "normalizer": MinMaxNormalizer().fit(np.eye(3)).state_dict(),
        "model": {"denoiser.music_proj.weight": torch.zeros(64, 35), "denoiser.b": torch.ones(2)},
        "ema": {"denoiser.music_proj.weight": torch.ones(64, 35), "denoiser.b": torch.ones(2)},
        "optimizer": {"state": {}, "param_groups": []},
        "ema_updates": 7,
        "step": 9,
    }
    ck.save_checkpoint(tmp_path / "v1.ckpt", v1)
    s = ck.load_checkpoint(tmp_path / "v1.ckpt")
    assert s["version"] == 2 and s["step"] == 9 and s["produces"] == "dance"
    assert set(s["components"]) == {"denoiser"} and set(s["components"]["denoiser"]) == {"music_proj.weight", "b"}
    torch.testing.assert_close(s["ema"]["denoiser"]["music_proj.weight"], torch.ones(64, 35))
    assert s["ema_updates"] == {"denoiser": 7} and set(s["optimizers"]) == {"main"}
    assert s["config"]["model"] == {"width": 64}  # version 1 built the model from model_config
    spec = DataSpec.from_state_dict(s["spec"])
    assert (spec.feature_dim, spec.fps, spec.window_frames, spec.representation.contact_speed) == (35, 25.0, 125, 0.3)


def test_run_checkpoints_keep_last_k_and_last_points_at_newest(tmp_path):
    for step in (10, 20, 30, 40):
        ck.save_run_checkpoint(tmp_path, _state(step), step, keep_last=2)
    assert [p.name for _, p in ck.list_step_checkpoints(tmp_path)] == ["step_000030.ckpt", "step_000040.ckpt"]
    assert ck.load_checkpoint(tmp_path)["step"] == 40  # a run folder resolves to last.ckpt
    assert not list(tmp_path.glob(".*tmp*"))


def test_bad_checkpoints_are_clear_errors(tmp_path):
    (tmp_path / "junk.ckpt").write_bytes(b"not a zip file at all")
    with pytest.raises(ChoreoError, match="junk.ckpt.*not a readable checkpoint"):
        ck.load_checkpoint(tmp_path / "junk.ckpt")
    ck.save_checkpoint(tmp_path / "good.ckpt", _state(1))
    data = (tmp_path / "good.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ChoreoError, match="cut.ckpt"):
        ck.load_checkpoint(tmp_path / "cut.ckpt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ChoreoError, match="not a choreo checkpoint"):
        ck.load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(ChoreoError, match="not found"):
        ck.load_checkpoint(tmp_path / "missing.ckpt")
    empty = tmp_path / "empty_run"
    empty.mkdir()
    with pytest.raises(ChoreoError, match="no checkpoint"):
        ck.load_checkpoint(empty)


def test_export_inference_drops_training_state(tmp_path):
    big = _state(3)
    big["components"]["critic"] = {"v": torch.ones(3)}  # no EMA for this one: its trained weights are kept
    big["optimizers"] = {"main": {"state": {0: {"m": torch.zeros(10_000)}}, "param_groups": []}}
    ck.save_checkpoint(tmp_path / "full.ckpt", big)
    ck.export_inference(tmp_path / "full.ckpt", tmp_path / "slim.ckpt", dtype=torch.float16, info={"data": "x"})
    slim = ck.load_checkpoint(tmp_path / "slim.ckpt")
    assert "optimizers" not in slim and "rng" not in slim and set(slim["components"]) == {"critic"}
    assert slim["ema"]["denoiser"]["w"].dtype == torch.float16
    assert slim["components"]["critic"]["v"].dtype == torch.float16
    assert slim["spec"] == big["spec"] and slim["info"] == {"data": "x"}
    assert (tmp_path / "slim.ckpt").stat().st_size < (tmp_path / "full.ckpt").stat().st_size
