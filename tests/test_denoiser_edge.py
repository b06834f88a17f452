"""The EDGE denoiser and EdgeMethod.training_loss (tiny sizes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from choreo.data.spec import DataSpec
from choreo.errors import ChoreoError
from choreo.models import METHODS, build_method
from choreo.models.denoiser import EdgeDenoiser
from choreo.models.edge import EdgeConfig, EdgeMethod
from choreo.models.rotary import apply_rotary, rotary_tables
from edge_standin import TINY, fitted_normalizer, positions_rep, rot6d_rep

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_denoiser(C=13, F=5, **kw) -> EdgeDenoiser:
    torch.manual_seed(0)
    args = dict(width=32, layers=2, heads=2, ff_size=64, dropout=0.0, music_layers=1, window_frames=16)
    args.update(kw)
    return EdgeDenoiser(C, F, **args).eval()


def test_default_config_is_edges():
    cfg = EdgeConfig()
    assert (cfg.width, cfg.layers, cfg.heads, cfg.ff_size, cfg.dropout, cfg.music_layers) == (512, 8, 8, 1024, 0.1, 2)
    assert (cfg.n_timesteps, cfg.schedule, cfg.cosine_s) == (1000, "cosine", 0.008)
    assert (cfg.cond_dropout, cfg.guidance, cfg.steps, cfg.eta) == (0.25, 2.0, 50, 1.0)
    assert (cfg.loss_x0, cfg.loss_vel, cfg.loss_fk, cfg.loss_foot) == (0.636, 2.964, 0.646, 10.942)
    assert EdgeConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ChoreoError, match="widht"):
        EdgeConfig.from_dict({"widht": 3})
    with pytest.raises(ChoreoError):
        EdgeConfig.from_dict({"width": 30, "heads": 4})


def test_full_size_parameter_count_is_edges_order():
    # EDGE's DanceDecoder with baseline features has about 50 M parameters
    rep = positions_rep()
    m = build_method("edge", {}, DataSpec(rep, fitted_normalizer(rep), 35))
    n = sum(p.numel() for p in m.parameters())
    assert 35e6 < n < 60e6


def test_rotary_scores_depend_on_offset_only():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(8, generator=g), torch.randn(8, generator=g)
    f = rotary_tables(40, 8)
    score = lambda i, j: float(apply_rotary(q, f[i]) @ apply_rotary(k, f[j]))  # noqa: E731
    assert score(3, 1) == pytest.approx(score(30, 28), abs=1e-5)
    assert score(5, 5) == pytest.approx(float(q @ k), abs=1e-5)
    assert score(3, 1) != pytest.approx(score(3, 2), abs=1e-3)


def test_forward_shapes_and_null_condition():
    net = tiny_denoiser()
    g = torch.Generator().manual_seed(1)
    x, music = torch.randn(3, 16, 13, generator=g), torch.randn(3, 16, 5, generator=g)
    t = torch.tensor([0, 500, 999])
    with torch.no_grad():
        out = net(x, t, music)
        assert out.shape == (3, 16, 13) and torch.isfinite(out).all()
        drop = net(x, t, music, keep=torch.tensor([True, False, False]))
        assert torch.allclose(drop[0], out[0], atol=1e-5)
        # without music the output no longer depends on it
        other = net(x, t, torch.randn(3, 16, 5, generator=g), keep=torch.tensor([True, False, False]))
        assert torch.allclose(other[1:], drop[1:], atol=1e-5) and not torch.allclose(other[0], drop[0], atol=1e-3)
        # shorter and longer than the null embedding
        assert net(x[:, :5], t, music[:, :5], keep=torch.zeros(3, dtype=torch.bool)).shape == (3, 5, 13)
        long_x, long_m = torch.randn(2, 40, 13, generator=g), torch.randn(2, 40, 5, generator=g)
        assert net(long_x, t[:2], long_m, keep=torch.zeros(2, dtype=torch.bool)).shape == (2, 40, 13)


def test_cached_sampling_forward_equals_plain_forward():
    net = tiny_denoiser()
    g = torch.Generator().manual_seed(2)
    x, music = torch.randn(4, 16, 13, generator=g), torch.randn(4, 16, 5, generator=g)
    with torch.no_grad():
        ctx = net.prepare(music, uncond=True)
        for t in (999, 321, 0):
            tt = torch.full((4,), t)
            cond = net(x, tt, music)
            uncond = net(x, tt, music, keep=torch.zeros(4, dtype=torch.bool))
            both = net.forward_cached(torch.cat((x, x)), t, ctx, slice(0, 8))
            torch.testing.assert_close(both[:4], cond, atol=2e-5, rtol=1e-4)
            torch.testing.assert_close(both[4:], uncond, atol=2e-5, rtol=1e-4)
            torch.testing.assert_close(net.forward_cached(x, t, ctx, slice(4, 8)), uncond, atol=2e-5, rtol=1e-4)
            torch.testing.assert_close(net.forward_cached(x, t, ctx, slice(0, 4)), cond, atol=2e-5, rtol=1e-4)


def _method(seed=0, rep=None, **over):
    rep = rep or positions_rep()
    torch.manual_seed(seed)
    cfg = dict(TINY)
    cfg.update(over)
    return build_method("edge", cfg, DataSpec(rep, fitted_normalizer(rep), 5)), rep


def _batch(m, rep, B=4, T=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(B, T, rep.dim, generator=g) * 1.6 - 0.8
    return {"motion": x, "music": torch.randn(B, T, 5, generator=g), "seed": torch.arange(B) + 100 * seed}


def test_registry_and_training_loss_runs_and_backprops():
    assert "edge" in METHODS
    with pytest.raises(ChoreoError, match="unknown method"):
        build_method("nope", {}, DataSpec(None, None, 3))
    m, rep = _method()
    assert isinstance(m, EdgeMethod)
    m.train()
    per_sample, logs = m.training_loss(_batch(m, rep))
    assert per_sample.shape == (4,) and torch.isfinite(per_sample).all()
    assert set(logs) == {"x0", "vel", "fk", "foot"} and all(v.shape == (4,) for v in logs.values())
    loss = per_sample.mean()
    loss.backward()
    grads = [p.grad for p in m.parameters() if p.requires_grad]
    assert all(g is not None for g in grads[:5])
    assert m.denoiser.null_music.grad is not None  # condition dropout reaches the null embedding
    # seeded draws: the same batch and seeds give the same loss
    m.eval()
    a, _ = m.training_loss(_batch(m, rep))
    b, _ = m.training_loss(_batch(m, rep))
    assert torch.equal(a.detach(), b.detach())


@pytest.mark.parametrize("rep_fn", [positions_rep, rot6d_rep])
def test_loss_terms_by_hand(rep_fn):
    # replace the network by a fixed prediction and recompute every term from its definition
    m, rep = _method(rep=rep_fn(), cond_dropout=0.0)
    batch = _batch(m, rep, B=2, T=8, seed=3)
    x0 = batch["motion"]
    pred = x0 + 0.1 * torch.sin(torch.arange(x0.numel()).reshape(x0.shape).float())
    pred[:, :, 0] = 0.99  # left-foot contact "on" (real contact > 0.95 once denormalised)
    m.denoiser.forward = lambda *a, **k: pred
    total, logs = m.training_loss(batch)
    # per-sample terms: the batch means are the terms' definitions over the whole batch (equal sizes)
    logs = {k: float(v.mean()) for k, v in logs.items()}
    total = total.mean()
    norm = m.normalizer
    x0_loss = float(((pred - x0) ** 2).mean())
    vel = lambda z: z[:, 1:, 4:] - z[:, :-1, 4:]  # noqa: E731
    vel_loss = float(((vel(pred) - vel(x0)) ** 2).mean())
    pp = rep.joint_positions(norm.denormalize(pred.double()))
    pt = rep.joint_positions(norm.denormalize(x0.double()))
    fk_loss = float(((pp - pt) ** 2).mean())
    contact = norm.denormalize(pred.double())[:, :-1, :4] > 0.95
    feet = list(rep.skeleton.feet)
    fv = pp[:, 1:, feet] - pp[:, :-1, feet]
    foot_loss = float(((fv * contact[..., None]) ** 2).mean())
    assert contact[..., 0].all() and foot_loss > 0
    assert logs["x0"] == pytest.approx(x0_loss, rel=1e-5)
    assert logs["vel"] == pytest.approx(vel_loss, rel=1e-5)
    assert logs["fk"] == pytest.approx(fk_loss, rel=1e-4)
    assert logs["foot"] == pytest.approx(foot_loss, rel=1e-4)
    want = 0.636 * x0_loss + 2.964 * vel_loss + 0.646 * fk_loss + 10.942 * foot_loss
    assert float(total) == pytest.approx(want, rel=1e-4)


def test_a_few_steps_of_training_reduce_the_loss():
    m, rep = _method(seed=1)
    batch = _batch(m, rep, B=8, T=16, seed=4)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    m.train()
    first = None
    for _ in range(60):
        loss = m.training_loss(batch)[0].mean()
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * first
    assert np.isfinite(float(loss.detach()))


def test_rotary_in_half_precision_keeps_the_dtype():
    f = rotary_tables(6, 8)
    x = torch.randn(2, 6, 8)
    out = apply_rotary(x.to(torch.bfloat16), f)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), apply_rotary(x, f), atol=0.05, rtol=0.05)
    # rotation keeps norms
    torch.testing.assert_close(apply_rotary(x, f).norm(dim=-1), x.norm(dim=-1))


def test_training_loss_under_bf16_autocast():
    m, rep = _method()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, logs = m.training_loss(_batch(m, rep))
    assert torch.isfinite(loss).all()
