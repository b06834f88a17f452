"""Long-form generation (EDGE's overlapping windows), seeds, lengths, memory bounds (tiny models)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from choreo.data.spec import DataSpec
from choreo.errors import ChoreoError
from choreo.models import build_method
from choreo.models.edge import make_blend
from choreo.models.longform import crossfade_weights, pad_frames, plan_windows, split_windows, stitch
from edge_standin import TINY, fitted_normalizer, music_for, positions_rep, rot6d_rep, trained_tiny

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def untrained(rep=None, seed=0, **over):
    rep = rep or positions_rep()
    torch.manual_seed(seed)
    return build_method("edge", dict(TINY, **over), DataSpec(rep, fitted_normalizer(rep), 5)).eval()


def frame_speeds(rep, x: np.ndarray) -> np.ndarray:
    """(L-1,) mean joint speed (metres per frame) between consecutive frames."""
    p = rep.joint_positions(torch.from_numpy(np.asarray(x, np.float64))).numpy()
    return np.linalg.norm(p[1:] - p[:-1], axis=-1).mean(-1)


def border_mask(n_speeds: int, hop: int) -> np.ndarray:
    """Speeds that straddle a window border (every hop frames: where one window's share starts or ends)."""
    b = np.zeros(n_speeds, bool)
    for s in range(hop, n_speeds + 1, hop):
        b[max(s - 1, 0) : s + 1] = True
    return b[:n_speeds]


def seam_ratios(speeds: np.ndarray, hop: int) -> tuple[float, float]:
    """How much faster the body moves across window borders than elsewhere.

    Returns:
        the largest median speed of any phase (speed index mod ``hop``) over the median of all speeds
        (a seam repeats at the same phase of every window), and the fastest border speed over the
        fastest interior speed.
    """
    n = len(speeds) // hop * hop
    phases = speeds[:n].reshape(-1, hop)
    med = float(np.median(phases, axis=0).max() / np.median(speeds))
    b = border_mask(len(speeds), hop)
    return med, float(speeds[b].max() / speeds[~b].max())


# ---- window plans and stitching ----------------------------------------------------------------------
@pytest.mark.parametrize("L,W", [(1, 16), (15, 16), (16, 16), (17, 16), (100, 16), (7200, 150), (151, 150), (33, 7)])
def test_plan_covers_the_length_with_fewest_windows(L, W):
    p = plan_windows(L, W)
    assert p.hop == W // 2 and p.overlap == W - W // 2
    assert p.padded_frames >= L
    if p.n_windows > 1:
        assert (p.n_windows - 2) * p.hop + W < L  # one window fewer would not do
    assert p.starts()[-1] + W == p.padded_frames


def test_plan_rejects_nonsense():
    with pytest.raises(ChoreoError):
        plan_windows(0, 16)
    with pytest.raises(ChoreoError):
        plan_windows(10, 1)


def test_pad_mirrors_and_split_windows_share_frames():
    x = np.arange(10, dtype=np.float32)[:, None]
    assert pad_frames(x, 13)[:, 0].tolist() == list(range(10)) + [9, 8, 7]
    assert pad_frames(x[:1], 4)[:, 0].tolist() == [0, 0, 0, 0]
    plan = plan_windows(40, 16)
    w = split_windows(torch.arange(plan.padded_frames, dtype=torch.float32)[:, None], plan)
    assert w.shape == (plan.n_windows, 16, 1)
    assert torch.equal(w[1:, :8], w[:-1, 8:])


@pytest.mark.parametrize("L,W", [(100, 16), (61, 10), (40, 9)])
def test_stitch_of_agreeing_windows_is_the_signal(L, W):
    plan = plan_windows(L, W)
    sig = np.random.default_rng(0).normal(size=(plan.padded_frames, 3))
    windows = split_windows(torch.from_numpy(sig), plan).numpy()
    np.testing.assert_allclose(stitch(windows, plan), sig[:L], atol=1e-12)


def test_crossfade_runs_from_earlier_to_later_window():
    plan = plan_windows(24, 16)  # two windows sharing 8 frames
    windows = np.stack([np.zeros((16, 1)), np.ones((16, 1))])
    out = stitch(windows, plan)[:, 0]
    assert np.all(out[:8] == 0) and np.all(out[16:] == 1)
    np.testing.assert_allclose(out[8:16], crossfade_weights(8))
    assert crossfade_weights(8)[0] == 0 and crossfade_weights(8)[-1] == 1


def test_rotation_windows_are_slerped():
    from choreo.motion import rotations as R

    rep = rot6d_rep()
    blend = make_blend(rep)
    O = 5
    a = np.zeros((O, rep.dim))
    b = np.zeros((O, rep.dim))
    ang_a, ang_b = 0.2, 1.4  # rotations about y for every joint
    for arr, ang in ((a, ang_a), (b, ang_b)):
        m = R.axis_angle_to_matrix(torch.tensor([0.0, ang, 0.0], dtype=torch.float64))
        arr[:, rep.rot6d_channels] = np.tile(R.matrix_to_rot6d(m).numpy(), 24)
        arr[:, 4:7] = ang
    w = crossfade_weights(O)
    out = blend(a, b, w)
    got = R.matrix_to_axis_angle(R.rot6d_to_matrix(torch.from_numpy(out[:, 7:13]))).numpy()
    np.testing.assert_allclose(got[:, 1], ang_a + w * (ang_b - ang_a), atol=1e-6)  # constant angular speed
    np.testing.assert_allclose(out[:, 4], ang_a + w * (ang_b - ang_a), atol=1e-12)  # root: linear


# ---- sampling ----------------------------------------------------------------------------------------
def test_four_minute_song_in_one_call_without_seams_in_bounded_memory():
    m = trained_tiny()
    rep = m.representation
    L = 4 * 60 * 30  # a 4-minute song at 30 fps, 16-frame windows
    music = music_for(L, phase=0.3)
    rows = []
    orig = m.denoiser.forward_cached

    def spy(x, t, ctx, sl):
        rows.append(x.shape[0])
        return orig(x, t, ctx, sl)

    m.denoiser.forward_cached = spy
    try:
        x = m.generate(music, steps=6, guidance=1.0, seed=0, chunk_windows=32)
    finally:
        del m.denoiser.forward_cached
    assert x.shape == (L, rep.dim) and np.isfinite(x).all()
    # memory: never more than 2 x 32 windows (cond + uncond) in one forward, however long the song
    assert max(rows) <= 64 and len(rows) > 6 * (L // 8) // 32
    med, top = seam_ratios(frame_speeds(rep, x), 8)
    assert med < 1.25 and top < 1.25, (med, top)

    # the same check catches seams: windows sampled independently and laid end to end
    indep = m.generate(music[: 60 * 16], steps=6, guidance=1.0, seed=0, coupled=False)
    med_bad, _ = seam_ratios(frame_speeds(rep, indep), 16)
    assert med_bad > 1.5


def test_chunking_does_not_change_the_dance():
    m = untrained()
    music = music_for(200, 0.5)
    a = m.generate(music, steps=5, seed=3, chunk_windows=64)
    b = m.generate(music, steps=5, seed=3, chunk_windows=3)
    c = m.generate(music, steps=5, seed=3, chunk_windows=1)
    np.testing.assert_allclose(a, b, atol=1e-4)
    np.testing.assert_allclose(a, c, atol=1e-4)


def test_same_seed_same_dance_other_seed_other_dance():
    m = untrained()
    music = music_for(70, 0.1)
    a = m.generate(music, steps=4, seed=7)
    b = m.generate(music, steps=4, seed=7)
    c = m.generate(music, steps=4, seed=8)
    assert np.array_equal(a, b)
    assert np.abs(a - c).max() > 1e-2
    s1 = m.generate(music[:16], steps=4, seed=7)
    s2 = m.generate(music[:16], steps=4, seed=7)
    assert np.array_equal(s1, s2)


@pytest.mark.parametrize("L", [1, 5, 16, 17, 23, 40])
def test_any_length(L):
    m = untrained()
    out = m.generate(music_for(L), steps=3, seed=0)
    assert out.shape == (L, m.representation.dim) and np.isfinite(out).all()


@pytest.mark.parametrize("sampler,eta", [("ddim", 0.0), ("ddim", 1.0), ("ddpm", 1.0)])
def test_samplers_give_right_shapes(sampler, eta):
    m = untrained()
    out = m.generate(music_for(16, 1.0), steps=7, sampler=sampler, eta=eta, seed=1)
    assert out.shape == (16, m.representation.dim) and np.isfinite(out).all()
    with pytest.raises(ChoreoError):
        m.generate(music_for(16), steps=2, sampler="plms")
    with pytest.raises(ChoreoError):
        m.generate(music_for(16), steps=0)


def test_guidance_zero_ignores_the_music_and_one_uses_it():
    m = untrained()
    a, b = music_for(16, 0.0), 3 * music_for(16, 2.0)
    u1, u2 = m.generate(a, steps=4, guidance=0.0, seed=2), m.generate(b, steps=4, guidance=0.0, seed=2)
    np.testing.assert_allclose(u1, u2, atol=1e-5)
    c1, c2 = m.generate(a, steps=4, guidance=1.0, seed=2), m.generate(b, steps=4, guidance=1.0, seed=2)
    assert np.abs(c1 - c2).max() > 1e-3


def test_bad_music_is_a_choreo_error():
    m = untrained()
    with pytest.raises(ChoreoError, match="F = 5"):
        m.generate(np.zeros((20, 4), np.float32))
    bad = music_for(20)
    bad[3, 1] = np.nan
    with pytest.raises(ChoreoError, match="NaN"):
        m.generate(bad)


def test_split_windows_by_chunk_matches_all():
    plan = plan_windows(200, 16)
    x = torch.randn(plan.padded_frames, 3)
    every = split_windows(x, plan)
    for a, b in ((0, 4), (4, 9), (20, 99)):
        torch.testing.assert_close(split_windows(x, plan, a, b), every[a:b])


def test_bf16_precision_runs_the_network_in_bf16_and_stays_close():
    from choreo.models import precision

    m = untrained()
    music = music_for(40, 0.2)
    full = m.generate(music, steps=4, seed=1, precision="fp32")
    half = m.generate(music, steps=4, seed=1, precision="bf16")
    assert half.dtype == np.float32 and not np.array_equal(full, half)  # the network really ran in bf16
    assert np.abs(half - full).max() < 0.05 * np.abs(full).max()
    assert precision.resolve("fp32", torch.device("cpu")) is None
    assert precision.resolve("bf16", torch.device("cpu")) == torch.bfloat16
    want = torch.bfloat16 if precision.cpu_has_native_bf16() else None
    assert precision.resolve("auto", torch.device("cpu")) == want
    with pytest.raises(ChoreoError, match="precision"):
        m.generate(music, steps=2, precision="fp8")


def test_dpm_solver_samples_and_is_deterministic_with_eta_zero():
    m = untrained()
    music = music_for(40, 0.3)
    a = m.generate(music, steps=6, seed=2, sampler="dpm++2m", eta=0.0)
    b = m.generate(music, steps=6, seed=2, sampler="dpm++2m", eta=0.0)
    c = m.generate(music, steps=6, seed=3, sampler="dpm++2m", eta=0.0)
    assert a.shape == (40, m.representation.dim) and np.isfinite(a).all()
    assert np.array_equal(a, b) and np.abs(a - c).max() > 1e-3  # the seed still matters: the initial noise
