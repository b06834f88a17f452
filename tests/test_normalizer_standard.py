"""The standard (z-score) normaliser, its sampler clamp, and a model trained with it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from choreo.data.normalizer import MinMaxNormalizer, StandardNormalizer, make_normalizer, normalizer_from_state_dict
from choreo.errors import ChoreoError
from choreo.models.diffusion import GaussianDiffusion, clip_bounds


def test_standard_normaliser_by_hand():
    x = np.array([[0.0, 1.0, 5.0], [2.0, 1.0, 5.0], [4.0, 1.0, 11.0], [6.0, 1.0, 11.0]])
    n = StandardNormalizer().fit(x)
    # channel 0: mean 3, population std sqrt(5); channel 1 constant -> 0; channel 2: mean 8, std 3
    np.testing.assert_allclose(n.normalize(x)[:, 0], (x[:, 0] - 3.0) / np.sqrt(5.0))
    np.testing.assert_array_equal(n.normalize(x)[:, 1], 0.0)
    np.testing.assert_allclose(n.normalize(x)[:, 2], [-1.0, -1.0, 1.0, 1.0])
    np.testing.assert_allclose(n.denormalize(n.normalize(x)), x, atol=1e-12)
    lo, hi = n.bounds()
    np.testing.assert_allclose(lo, [-3.0 / np.sqrt(5.0), 0.0, -1.0])
    np.testing.assert_allclose(hi, [3.0 / np.sqrt(5.0), 0.0, 1.0])
    t = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    n.normalize(t).sum().backward()  # differentiable, keeps torch in and out
    np.testing.assert_allclose(t.grad.numpy()[0], [1 / np.sqrt(5.0), 1.0, 1 / 3.0], rtol=1e-6)

    again = normalizer_from_state_dict(n.state_dict())
    assert isinstance(again, StandardNormalizer)
    np.testing.assert_array_equal(again.normalize(x), n.normalize(x))
    old = {"lo": [0.0], "hi": [2.0]}  # checkpoints from before normaliser kinds: min-max
    assert isinstance(normalizer_from_state_dict(old), MinMaxNormalizer)
    with pytest.raises(ChoreoError, match="unknown normaliser kind"):
        normalizer_from_state_dict({"kind": "robust"})
    with pytest.raises(ChoreoError, match="malformed"):
        normalizer_from_state_dict({"kind": "standard", "mean": [0.0], "std": [-1.0], "lo": [0.0], "hi": [1.0]})
    with pytest.raises(ChoreoError, match="unknown normaliser 'robust'"):
        make_normalizer("robust")
    with pytest.raises(ChoreoError, match="not been fitted"):
        StandardNormalizer().normalize(x)


def test_a_small_moving_channel_gets_the_spread_min_max_denies_it():
    """A joint height that moves a few centimetres within each dance but whose range over the data set is set
    by a few extreme frames: min-max leaves its within-dance motion a tenth of the scale; standardising does
    not (the cause of DiffDance's stiff limbs, docs/diffdance.md)."""
    rng = np.random.default_rng(0)
    h = -0.9 + 0.03 * rng.standard_normal(5000)
    h[:5] = [-1.4, -1.3, -0.3, -0.35, -0.4]  # a fall, a kneel, a leg raised high
    x = h[:, None]
    mm = MinMaxNormalizer().fit(x).normalize(x)[5:, 0].std()
    st = StandardNormalizer().fit(x).normalize(x)[5:, 0].std()
    assert mm < 0.15 and st > 0.5


def test_the_sampler_clamps_x0_to_the_fitted_range():
    d = GaussianDiffusion(100)
    assert clip_bounds(MinMaxNormalizer().fit(np.array([[0.0], [1.0]]))) is True
    n = StandardNormalizer().fit(np.array([[0.0, 0.0], [1.0, 10.0], [2.0, 20.0], [3.0, 90.0]]))
    lo, hi = clip_bounds(n)
    np.testing.assert_allclose(lo.numpy(), n.bounds()[0], rtol=1e-6)
    wild = lambda x, t, i: torch.full_like(x, 50.0) * torch.tensor([1.0, -1.0])  # noqa: E731
    out = d.sample_loop(wild, torch.zeros(3, 4, 2), 1, "ddim", 0.0, None, None, (lo, hi))
    np.testing.assert_allclose(out[..., 0].numpy(), hi[0].item(), rtol=1e-5)
    np.testing.assert_allclose(out[..., 1].numpy(), lo[1].item(), rtol=1e-5)
    free = d.sample_loop(wild, torch.zeros(3, 4, 2), 1, "ddim", 0.0, None, None, False)
    np.testing.assert_allclose(free[..., 0].numpy(), 50.0, rtol=1e-5)


def test_a_diffdance_trained_with_standardised_motion_saves_and_uses_it(data_dir, tmp_path, capsys):
    from choreo import checkpoint as ck
    from choreo.cli import main as cli_main
    from choreo.generate import Choreographer
    from choreo.train.config import resolve_config_path

    cfg = yaml.safe_load(resolve_config_path("diffdance_tiny").read_text())
    cfg["data"].update(sequences=["DANCE_W_22"], normalizer="standard")
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    argv = ["train", "--method", "diffdance", "--config", str(path), "--data", str(data_dir / "dance_with_melody")]
    argv += ["--out", str(run), "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--no-progress"]
    assert cli_main([*argv, "--steps", "3"]) == 0
    assert ck.load_checkpoint(run)["spec"]["normalizer"]["kind"] == "standard"
    ch = Choreographer.load(str(run), device="cpu")
    assert isinstance(ch.method.normalizer, StandardNormalizer)
    song = str(data_dir / "dance_with_melody" / "DANCE_W_22" / "audio.mp3")
    dance = ch.dance(song, seconds=3, steps=2, progress=False)
    assert dance.n_frames == 75 and np.isfinite(dance.positions).all()
    bad = dict(cfg, data=dict(cfg["data"], normalizer="robust"))
    path.write_text(yaml.safe_dump(bad))
    data = str(data_dir / "dance_with_melody")
    bad_argv = ["train", "--config", str(path), "--data", data, "--out", str(tmp_path / "bad"), "--device", "cpu"]
    assert cli_main([*bad_argv, "--cache-dir", str(tmp_path / "cache"), "--steps", "1", "--no-progress"]) != 0
    assert "unknown normaliser 'robust' (known: minmax, standard)" in capsys.readouterr().err
