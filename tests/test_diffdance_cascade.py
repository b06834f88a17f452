"""DiffDance's cascade: frame-rate conversions, SSR conditioning, timestep-weighted losses, long-form sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from choreo.errors import ChoreoError
from choreo.models.diffdance import decimate, downsample_constraint, low_frames, timestep_weight, upsample
from choreo.models.diffdance.loss import DIFFUSION_DRAWS, weighted_loss
from choreo.seeding import sample_generators
from diffdance_standin import batch_from, synthetic_set, trained_tiny, untrained
from edge_standin import music_for, positions_motion
from test_generate_longform import frame_speeds, seam_ratios

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---- frame rates ---------------------------------------------------------------------------------------------
def test_upsample_decimate_and_low_frames_by_hand():
    low = torch.tensor([[0.0], [2.0], [4.0]])
    assert upsample(low, 2, 6)[:, 0].tolist() == [0, 1, 2, 3, 4, 4]  # past the last low frame: held
    np.testing.assert_allclose(upsample(low, 3, 7)[:, 0], [0, 2 / 3, 4 / 3, 2, 8 / 3, 10 / 3, 4], atol=1e-6)
    ramp = torch.arange(9.0).view(1, 9, 1)
    # triangle [0.25, 0.5, 0.25] centred on frames 0, 2, 4, 6, 8 (edges repeated)
    np.testing.assert_allclose(decimate(ramp, 2, 5)[0, :, 0], [0.25, 2, 4, 6, 7.75])
    np.testing.assert_allclose(decimate(ramp, 2, 6)[0, -1, 0], 8.0)  # past the end: the last frame
    np.testing.assert_allclose(decimate(torch.full((2, 10, 3), 1.5), 3, 4), torch.full((2, 4, 3), 1.5))
    assert [low_frames(L, 2) for L in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3] and low_frames(7, 3) == 3
    # what the data layer's exact decimation gives: upsampling it back restores the even frames
    x = torch.randn(1, 9, 4)
    torch.testing.assert_close(upsample(x[:, ::2], 2, 9)[:, ::2], x[:, ::2])


def test_downsample_constraint_by_hand():
    known = np.arange(12, dtype=np.float32).reshape(6, 2)  # channel 1 holds displacements
    mask = np.ones((6, 2), bool)
    mask[3, 1] = False
    k, m = downsample_constraint(known, mask, 2, 4, velocity_channels=(1,))
    assert k[:3, 0].tolist() == [0, 4, 8] and m[:3, 0].all() and not m[3].any()  # frame 6 is past the end
    assert k[:3, 1].tolist() == [1, 4, 8]  # means of frames (0), (1, 2), (3, 4)
    assert m[:3, 1].tolist() == [True, True, False]  # frame 3's displacement is free


# ---- the SSR stage -------------------------------------------------------------------------------------------
def test_ssr_input_is_the_noisy_dance_beside_the_low_rate_one_and_level_s_is_an_input():
    m = untrained()
    C, E = m.representation.dim, m.config.embed_dim
    assert m.ssr.input_proj.in_features == 2 * C and m.base.input_proj.in_features == C
    g = torch.Generator().manual_seed(0)
    x, low, cond = torch.randn(2, 26, C, generator=g), torch.randn(2, 26, C, generator=g), torch.randn(2, 26, E)
    t = torch.tensor([10, 700])
    out = m.ssr(x, t, cond, None, low, torch.tensor([0, 0]))
    assert out.shape == (2, 26, C)
    assert not torch.allclose(out, m.ssr(x, t, cond, None, low, torch.tensor([400, 400])), atol=1e-5)
    assert not torch.allclose(out, m.ssr(x, t, cond, None, low + 0.5, torch.tensor([0, 0])), atol=1e-5)
    with pytest.raises(ChoreoError):
        m.ssr(x, t, cond)
    with pytest.raises(ChoreoError):
        m.base(x, t, cond, None, low, torch.tensor([0, 0]))
    # the sampling cache gives the plain forward's numbers (conditional rows, then the null music)
    ctx = m.ssr.prepare(cond, True, low, 400)
    for rows, keep in ((slice(0, 2), None), (slice(2, 4), torch.tensor([False, False]))):
        want = m.ssr(x, torch.tensor([300, 300]), cond, keep, low, torch.tensor([400, 400]))
        torch.testing.assert_close(m.ssr.forward_cached(x, 300, ctx, rows), want, rtol=1e-4, atol=1e-5)


def test_training_noises_the_low_rate_dance_to_the_drawn_level():
    m = untrained(ssr_window=32, ssr_aug_max=0.5)  # the SSR crop is the whole 32-frame window
    _, full, low, music = synthetic_set(6, 80)
    batch = batch_from(full, low, music, m.normalizer, np.random.default_rng(0), size=8)
    seen = {}
    real = m.ssr.forward

    def spy(x, t, cond, keep=None, low=None, level=None):
        seen.update(low=low, level=level)
        return real(x, t, cond, keep, low, level)

    m.ssr.forward = spy
    try:
        m.training_loss(batch, "diffusion", 10, 0.0)
    finally:
        del m.ssr.forward
    level, z = seen["level"], seen["low"]
    assert level.shape == (8,) and int(level.max()) <= 500 and len(set(level.tolist())) > 1
    up = upsample(m.to_stage(batch["motion@15"]), 2, 32)
    abar = m.diffusion.alphas_cumprod[level].float()[:, None, None]
    eps = (z - abar.sqrt() * up) / (1 - abar).sqrt()
    assert 0.9 < float(eps.std()) < 1.1 and abs(float(eps.mean())) < 0.1  # z = q_sample(up, s, noise)


def test_sampling_uses_the_fixed_noise_level():
    m = untrained()
    levels = []
    real = m.ssr.prepare

    def spy(cond, uncond=True, low=None, level=None):
        levels.append(level)
        return real(cond, uncond, low, level)

    m.ssr.prepare = spy
    try:
        a = m.generate(music_for(40), steps=2, seed=1, noise_level=0.0)
        b = m.generate(music_for(40), steps=2, seed=1, noise_level=0.5)
    finally:
        del m.ssr.prepare
    assert set(levels) == {0, round(0.5 * 999)}
    assert np.abs(a - b).max() > 1e-3
    with pytest.raises(ChoreoError, match="noise_level"):
        m.generate(music_for(40), steps=2, noise_level=1.5)


# ---- losses --------------------------------------------------------------------------------------------------
def test_timestep_weight_by_hand():
    t = torch.tensor([0, 999, 333, 500])
    w = timestep_weight(t, 1000, 0.1)
    np.testing.assert_allclose(w, [1.0, 0.1, 0.1 ** (1 / 3), 0.1 ** (500 / 999)], rtol=1e-6)
    assert w.tolist()[2] == pytest.approx(0.46416, abs=1e-5)
    assert timestep_weight(t, 1000, 1.0).tolist() == [1, 1, 1, 1]  # decay 1: every timestep alike (EDGE)


def test_per_sample_loss_weighting():
    m = untrained(loss_x0=1.0, loss_vel=1.0, loss_fk=2.0, loss_foot=1.0)
    terms = {k: torch.tensor(v) for k, v in {"x0": [1, 2.0], "vel": [1, 1.0], "fk": [2, 0.0], "foot": [0, 1.0]}.items()}
    torch.testing.assert_close(weighted_loss(m.config, terms, torch.tensor([1.0, 0.1])), torch.tensor([6.0, 2.2]))

    # in training: the constant-weight loss minus the weighted one is (1 - lambda(t)) x geometric part, per stage
    _, full, low, music = synthetic_set(6, 80)
    batch = batch_from(full, low, music, m.normalizer, np.random.default_rng(0), size=6)
    exp_loss, logs = m.training_loss(batch, "diffusion", 10, 0.0)
    m.config.loss_decay = 1.0
    const_loss, logs_c = m.training_loss(batch, "diffusion", 10, 0.0)
    for k in ("base_x0", "base_fk", "ssr_vel", "ssr_foot"):
        torch.testing.assert_close(logs[k], logs_c[k])
    t_b, t_s = [], []
    for g in sample_generators(batch["seed"], DIFFUSION_DRAWS):  # the draw order of loss.diffusion_loss
        t_b.append(int(torch.randint(0, 1000, (1,), generator=g)))
        torch.rand(1, generator=g), torch.randn((16, 16), generator=g)
        t_s.append(int(torch.randint(0, 1000, (1,), generator=g)))

    def geo(stage):
        return logs[f"{stage}_vel"] + 2.0 * logs[f"{stage}_fk"] + logs[f"{stage}_foot"]

    lam_b, lam_s = timestep_weight(torch.tensor(t_b), 1000), timestep_weight(torch.tensor(t_s), 1000)
    want = (1 - lam_b) * geo("base") + (1 - lam_s) * geo("ssr")
    torch.testing.assert_close((const_loss - exp_loss).detach(), want, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(logs["geo_weight"], 0.5 * (lam_b + lam_s))
    # a sample's loss does not depend on the batch it sits in (what makes 1 and N processes agree)
    part = {k: v[:2] for k, v in batch.items()}
    torch.testing.assert_close(m.training_loss(part, "diffusion", 10, 0.0)[0], const_loss[:2])


def test_misaligned_low_rate_windows_are_a_clear_error():
    m = untrained()
    _, full, low, music = synthetic_set(4, 80)
    batch = batch_from(full, low, music, m.normalizer, np.random.default_rng(0), size=4)
    batch["motion"] = torch.roll(batch["motion"], 1, dims=1)  # windows one full-rate frame off
    with pytest.raises(ChoreoError, match="stride"):
        m.training_loss(batch, "diffusion", 10, 0.0)
    del batch["motion@15"]
    with pytest.raises(ChoreoError, match="extra_fps"):
        m.training_loss(batch, "diffusion", 10, 0.0)


# ---- sampling ------------------------------------------------------------------------------------------------
def test_ten_minute_song_without_seams_in_bounded_memory():
    m = trained_tiny(150)
    rep = m.representation
    L = 10 * 60 * 30
    rows = []
    orig = {s: getattr(m, s).forward_cached for s in ("base", "ssr")}

    def spy(stage):
        def fn(x, t, ctx, sl):
            rows.append(x.shape[0])
            return orig[stage](x, t, ctx, sl)

        return fn

    for s in orig:
        getattr(m, s).forward_cached = spy(s)
    try:
        res = m.cascade(music_for(L, phase=0.3), steps=4, guidance=1.0, seed=0, chunk_windows=32)
    finally:
        for s in orig:
            del getattr(m, s).forward_cached
    assert res.motion.shape == (L, rep.dim) and res.low.shape == (low_frames(L, 2), rep.dim)
    assert np.isfinite(res.motion).all() and res.low_fps == 15.0
    # memory: never more than 2 x 32 rows in one forward (cond + null music while the guidance ramps up to 1)
    assert max(rows) <= 64 and len(rows) > 4 * (L // 13) // 32
    # SSR windows share borders every 13 frames, base windows every 8 low-rate (16 full-rate) frames
    speeds = frame_speeds(rep, res.motion)
    for hop in (13, 16):
        med, top = seam_ratios(speeds, hop)
        assert med < 1.25 and top < 1.25, (hop, med, top)
    med, top = seam_ratios(frame_speeds(rep, res.low), 8)
    assert med < 1.25 and top < 1.25, (med, top)
    # and it dances the synthetic dance its music describes (root-relative joints within a few cm)
    gt = positions_motion(L, 0.3, 30.0).positions
    got = rep.decode(res.motion, 30.0).positions
    assert np.abs((got - got[:, :1]) - (gt - gt[:, :1])).mean() < 0.03


def test_chunking_does_not_change_the_dance():
    m = untrained()
    music = music_for(150, 0.5)
    a = m.generate(music, steps=3, seed=3, chunk_windows=64)
    b = m.generate(music, steps=3, seed=3, chunk_windows=3)
    c = m.generate(music, steps=3, seed=3, chunk_windows=1)
    np.testing.assert_allclose(a, b, atol=1e-4)
    np.testing.assert_allclose(a, c, atol=1e-4)


@pytest.mark.parametrize("L", [1, 2, 5, 17, 33, 101])
def test_any_length_and_seeds(L):
    m = untrained()
    a = m.cascade(music_for(L), steps=2, seed=7)
    assert a.motion.shape == (L, m.representation.dim) and a.low.shape == (low_frames(L, 2), m.representation.dim)
    assert np.isfinite(a.motion).all()
    assert np.array_equal(m.generate(music_for(L), steps=2, seed=7), a.motion)
    if L >= 17:
        assert np.abs(m.generate(music_for(L), steps=2, seed=8) - a.motion).max() > 1e-2


def test_sampling_options_defaults_and_guidance():
    m = untrained()
    assert m.sampling_defaults() == {
        "guidance": 2.5,
        "steps": 100,
        "sampler": "ddim",
        "eta": 1.0,
        "precision": "fp32",
        "ssr_guidance": None,
        "ssr_steps": None,
        "noise_level": 0.05,
        "ssr_root": "ssr",
        "style": None,
        "guidance_from": "nothing",
    }
    with pytest.raises(ChoreoError, match="trained without dance styles"):
        m.generate(music_for(20), steps=2, style="waltz")
    with pytest.raises(ChoreoError, match="sampler"):
        m.generate(music_for(20), steps=2, sampler="plms")
    with pytest.raises(ChoreoError):
        m.generate(music_for(20), steps=0)
    with pytest.raises(ChoreoError, match="F = 5"):
        m.generate(np.zeros((20, 4), np.float32))
    a, b = music_for(40, 0.0), 3 * music_for(40, 2.0)
    # guidance 0 (both stages: the SSR follows the base's weight unless set) never sees the music
    np.testing.assert_allclose(m.generate(a, steps=3, guidance=0.0), m.generate(b, steps=3, guidance=0.0), atol=1e-5)
    assert np.abs(m.generate(a, steps=3, guidance=1.0) - m.generate(b, steps=3, guidance=1.0)).max() > 1e-3


def test_root_travel_from_the_base_stage():
    """ssr_root base: the full-rate root displacements are the base stage's, interpolated (stage units are per
    full-rate frame already); the SSR still makes the body, so everything else is as with ssr_root ssr."""

    m = untrained()
    travel = list(m.representation.root_velocity_channels)
    assert travel
    music = music_for(60, 0.3)
    ssr = m.cascade(music, steps=3, seed=4)
    base = m.cascade(music, steps=3, seed=4, ssr_root="base")
    np.testing.assert_allclose(base.low, ssr.low)
    stage = torch.as_tensor(base.low[None] / m.factor)
    want = upsample(stage, m.factor, 60)[0].numpy()[:, travel]
    np.testing.assert_allclose(base.motion[:, travel], want, atol=1e-6)
    others = [c for c in range(m.representation.dim) if c not in travel]
    np.testing.assert_allclose(base.motion[:, others], ssr.motion[:, others])
    assert np.abs(base.motion[:, travel] - ssr.motion[:, travel]).max() > 1e-4
    with pytest.raises(ChoreoError, match="ssr_root"):
        m.cascade(music, steps=2, ssr_root="low")


def test_fast_path_dpm_solver_and_bf16_at_both_stages():
    """The few-step solver and bf16 networks (issue 15's fast path) work for the cascade as for EDGE."""
    m = untrained()
    music = music_for(60, 0.4)
    full = m.generate(music, steps=4, seed=2, sampler="dpm++2m", eta=0.0)
    again = m.generate(music, steps=4, seed=2, sampler="dpm++2m", eta=0.0)
    half = m.generate(music, steps=4, seed=2, sampler="dpm++2m", eta=0.0, precision="bf16")
    assert np.array_equal(full, again) and np.isfinite(half).all() and half.dtype == np.float32
    assert not np.array_equal(full, half) and np.abs(half - full).max() < 0.05 * np.abs(full).max()
    with pytest.raises(ChoreoError, match="precision"):
        m.generate(music, steps=2, precision="fp8")
