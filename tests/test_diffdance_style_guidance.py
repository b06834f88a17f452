"""Guidance from the style alone (``music_dropout`` in training, ``guidance_from: style`` at sampling): the
"music dropped, style kept" condition of the base stage, how training draws it, and what sampling does with it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from choreo import checkpoint as ck
from choreo.cli import main as cli_main
from choreo.errors import ChoreoError
from choreo.models.diffdance import DiffDanceConfig
from choreo.models.diffdance.denoiser import StageDenoiser
from choreo.train.config import resolve_config_path

SEQS = ["DANCE_W_22", "DANCE_W_24"]


def _stage(style_channels: int = 3) -> StageDenoiser:
    torch.manual_seed(0)
    net = StageDenoiser(5, 4, width=16, layers=1, heads=2, ff_size=32, dropout=0.0, style_channels=style_channels)
    with torch.no_grad():  # adaLN-Zero starts blind to its condition: give every weight a value
        for p in net.parameters():
            p.normal_(0, 0.3)
    return net.eval()


def _cond(music: torch.Tensor, style: int, n_styles: int = 3) -> torch.Tensor:
    code = torch.nn.functional.one_hot(torch.tensor(style), n_styles).float()
    return torch.cat((music, code.expand(*music.shape[:-1], n_styles)), dim=-1)


def test_the_style_only_condition_keeps_the_style_and_drops_the_music():
    net = _stage()
    g = torch.Generator().manual_seed(1)
    x, t = torch.randn(1, 6, 5, generator=g), torch.tensor([300])
    m1, m2 = torch.randn(1, 6, 4, generator=g), torch.randn(1, 6, 4, generator=g)
    off, on = torch.tensor([False]), torch.tensor([True])
    with torch.no_grad():
        style_only = net(x, t, _cond(m1, 0), keep=off, keep_style=on)
        # the music does not matter once dropped; the style does
        torch.testing.assert_close(net(x, t, _cond(m2, 0), keep=off, keep_style=on), style_only)
        assert not torch.allclose(net(x, t, _cond(m1, 1), keep=off, keep_style=on), style_only, atol=1e-4)
        # dropping both is the null condition, blind to the style too
        null = net(x, t, _cond(m1, 0), keep=off)
        torch.testing.assert_close(net(x, t, _cond(m2, 1), keep=off, keep_style=off), null)
        assert not torch.allclose(null, style_only, atol=1e-4)
        # keep=True ignores keep_style: the full condition
        full = net(x, t, _cond(m1, 0), keep=on, keep_style=on)
        torch.testing.assert_close(full, net(x, t, _cond(m1, 0)))
        # the sampling cache gives the same three rows
        ctx = net.prepare(_cond(m1, 0), uncond="style")
        both = net.forward_cached(torch.cat((x, x)), 300, ctx, slice(0, 2))
        torch.testing.assert_close(both[:1], full, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(both[1:], style_only, rtol=1e-5, atol=1e-5)
        ctx = net.prepare(_cond(m1, 0), uncond=True)
        torch.testing.assert_close(net.forward_cached(x, 300, ctx, slice(1, 2)), null, rtol=1e-5, atol=1e-5)


def test_a_stage_without_styles_has_no_style_only_condition():
    net = _stage(style_channels=0)
    with pytest.raises(ChoreoError, match="takes no style"):
        net.prepare(torch.zeros(1, 6, 4), uncond="style")


def test_music_dropout_needs_styles_and_guidance_from_is_checked():
    with pytest.raises(ChoreoError, match="music_dropout .* needs style_cond"):
        DiffDanceConfig.from_dict({"music_dropout": 0.2})
    with pytest.raises(ChoreoError, match="music_dropout is a probability"):
        DiffDanceConfig.from_dict({"music_dropout": 1.5, "style_cond": True})
    with pytest.raises(ChoreoError, match="guidance_from must be one of nothing, style"):
        DiffDanceConfig.from_dict({"guidance_from": "music"})


def _train(root, data_dir, run, **model) -> None:
    cfg = yaml.safe_load(resolve_config_path("diffdance_tiny").read_text())
    cfg["data"].update(sequences=SEQS, style_labels=True)
    cfg["model"].update(style_cond=True, style_dropout=0.2, **model)
    path = root / f"{run.name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    argv = ["train", "--config", str(path), "--data", str(data_dir / "dance_with_melody"), "--out", str(run)]
    argv += ["--cache-dir", str(root / "cache"), "--device", "cpu", "--no-progress", "--steps", "3"]
    assert cli_main(argv) == 0


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("style_guidance")
    _train(root, data_dir, root / "dropped", music_dropout=0.5)
    _train(root, data_dir, root / "plain")
    return root


def _batch(method, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 100, method.representation.dim, generator=g)
    return {
        "motion": x,
        "motion@12.5": x[:, ::2].clone(),
        "music": torch.randn(4, 100, method.feature_dim, generator=g),
        "style": torch.tensor([0, 1, 2, 3]),
        "seed": torch.arange(4) + 10 * seed,
    }


def test_training_with_music_dropout_one_never_shows_the_base_stage_the_music(runs):
    method, _ = ck.load_method(runs / "dropped", weights="model", device="cpu")
    a, b = _batch(method, 0), _batch(method, 1)
    b = {**a, "music": b["music"]}  # the same windows, other music
    for p, same in ((1.0, True), (0.0, False)):
        method.config.music_dropout = p
        method.config.cond_dropout = 0.0
        with torch.no_grad():
            _, la = method.training_loss(a, "diffusion")
            _, lb = method.training_loss(b, "diffusion")
        base_same = torch.allclose(la["base_x0"], lb["base_x0"], rtol=0, atol=1e-7)
        assert base_same == same, p
        assert not torch.allclose(la["ssr_x0"], lb["ssr_x0"], rtol=0, atol=1e-7)  # the SSR always hears it


def test_guidance_from_the_style_weighs_only_the_music(runs, data_dir):
    method, _ = ck.load_method(runs / "dropped", device="cpu")
    g = np.random.default_rng(0)
    m1, m2 = (g.normal(size=(150, method.feature_dim)).astype(np.float32) for _ in range(2))
    kw = dict(seed=3, steps=3, ssr_steps=1, noise_level=0.0)
    # guidance 0 from the style: the base stage dances the style whatever the music
    a = method.cascade(m1, guidance=0.0, guidance_from="style", style="waltz", **kw).low
    np.testing.assert_array_equal(method.cascade(m2, guidance=0.0, guidance_from="style", style="waltz", **kw).low, a)
    tango = method.cascade(m1, guidance=0.0, guidance_from="style", style="tango", **kw).low
    assert not np.allclose(tango, a, atol=1e-4)
    # guidance 0 from nothing: the null condition, blind to the style as well
    n = method.cascade(m1, guidance=0.0, guidance_from="nothing", style="waltz", **kw).low
    np.testing.assert_array_equal(method.cascade(m2, guidance=0.0, style="tango", **kw).low, n)
    assert not np.allclose(n, a, atol=1e-4)
    # guidance 1 (not ramped up from 0) is the full condition from either start; guidance 2 from the style
    # hears the music
    full = method.cascade(m1, guidance=1.0, guidance_from="style", style="waltz", ramp=False, **kw).low
    np.testing.assert_array_equal(method.cascade(m1, guidance=1.0, style="waltz", ramp=False, **kw).low, full)
    g2 = method.cascade(m1, guidance=2.0, guidance_from="style", style="waltz", **kw).low
    assert not np.allclose(method.cascade(m2, guidance=2.0, guidance_from="style", style="waltz", **kw).low, g2)


def test_a_model_never_trained_without_its_music_refuses_guidance_from_the_style(runs):
    method, _ = ck.load_method(runs / "plain", device="cpu")
    music = np.zeros((50, method.feature_dim), np.float32)
    with pytest.raises(ChoreoError, match="needs a model trained with styles and music_dropout"):
        method.cascade(music, steps=1, guidance_from="style")
    with pytest.raises(ChoreoError, match="guidance_from must be one of"):
        method.cascade(music, steps=1, guidance_from="silence")


def test_choreo_dance_takes_guidance_from(runs, data_dir, tmp_path, capsys):
    song = str(data_dir / "dance_with_melody" / "DANCE_W_22" / "audio.mp3")
    argv = ["dance", song, "--seconds", "3", "--steps", "2", "--style", "waltz", "--format", "npz", "--no-progress"]
    argv += ["--device", "cpu", "--guidance-from", "style"]
    out = tmp_path / "ok"
    assert cli_main([*argv, "-c", str(runs / "dropped"), "-o", str(out)]) == 0
    assert len(list(out.glob("*.npz"))) == 1
    bad = tmp_path / "bad"
    assert cli_main([*argv, "-c", str(runs / "plain"), "-o", str(bad)]) != 0
    assert "needs a model trained with styles and music_dropout" in capsys.readouterr().err
    assert not list(bad.glob("*.npz"))
