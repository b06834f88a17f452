"""FID / Div, BAS and PFC against the reference numbers, plus property tests and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from choreo.metrics.beats import (
    bas_bailando,
    bas_fact,
    beat_align_score,
    beats_to_frames,
    motion_beats_bailando,
    motion_beats_fact,
)
from choreo.metrics.fid import diversity, fid, fid_from_statistics, normalize
from choreo.metrics.physics import (
    floor_height,
    foot_sliding,
    freezing,
    jitter,
    pfc,
    resample_linear,
    to_edge_pfc_frame,
)


# --- FID and diversity -----------------------------------------------------------------------------------
def test_normalize_is_bit_identical_to_reference(features):
    gi, pi = features["gt_index"], features["pred_index"]
    for kind in ("kinetic", "manual"):
        gt_n, pred_n = normalize(features[kind][gi], features[kind][pi])
        assert gt_n.dtype == np.float32
        np.testing.assert_array_equal(gt_n, features[f"gt_{kind}_normalized"])
        np.testing.assert_array_equal(pred_n, features[f"pred_{kind}_normalized"])


def test_fid_and_div_match_reference(features, expected):
    m = expected["metrics"]
    gk, pk = features["gt_kinetic_normalized"], features["pred_kinetic_normalized"]
    gm, pm = features["gt_manual_normalized"], features["pred_manual_normalized"]
    got = {
        "FID_k": fid(pk, gk),
        "FID_g": fid(pm, gm),
        "Div_k": diversity(pk),
        "Div_g": diversity(pm),
        "Div_k_gt": diversity(gk),
        "Div_g_gt": diversity(gm),
    }
    for name, value in got.items():
        assert value == pytest.approx(m[name]["value"], rel=1e-5), name
    assert fid_from_statistics(pk.mean(0), np.cov(pk.T), gk.mean(0), np.cov(gk.T)) == pytest.approx(
        m["FID_k"]["value"], rel=1e-5
    )


def test_fid_of_a_set_with_itself_is_zero(features):
    for key in ("gt_kinetic_normalized", "pred_manual_normalized"):
        x = features[key]
        assert abs(fid(x, x)) < 1e-6


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 30), d=st.integers(1, 40), seed=st.integers(0, 2**31 - 1))
def test_fid_properties(n, d, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, d)) * rng.uniform(0.1, 3, size=d)
    b = rng.normal(size=(n + 3, d)) + 0.5
    assert abs(fid(a, a)) < 1e-6 * max(1.0, np.trace(np.atleast_2d(np.cov(a.T))))
    assert fid(a, b) == pytest.approx(fid(b, a), rel=1e-9, abs=1e-9)
    assert fid(a, b) >= -1e-9
    # a pure mean shift adds |shift|^2
    shift = rng.normal(size=d)
    assert fid(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-7, abs=1e-7)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 25), d=st.integers(1, 10), seed=st.integers(0, 2**31 - 1))
def test_diversity_is_order_invariant(n, d, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    assert diversity(x[rng.permutation(n)]) == pytest.approx(diversity(x), rel=1e-12)


def test_diversity_hand_computed():
    x = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]])
    assert diversity(x) == pytest.approx((5 + 4 + 3) / 3)


# --- BAS ---------------------------------------------------------------------------------------------------
def test_bailando_motion_beats_and_bas_per_window(windows, expected):
    e = expected["beat_align_score"]
    music = beats_to_frames(windows["music_beats"] / windows["fps"], 60)
    np.testing.assert_array_equal(music, e["music_beats_per_window"])
    beats = motion_beats_bailando(windows["windows"])
    scores = {}
    for wid, b in zip(windows["window_id"], beats, strict=True):
        assert b.tolist() == e["motion_beats_per_window"][wid]
        scores[wid] = bas_bailando(music, b, n_frames=240)
        assert scores[wid] == pytest.approx(e["per_window"][wid], abs=1e-12)
    for s, idx in (("gt", windows["gt_index"]), ("pred", windows["pred_index"])):
        mean = np.mean([scores[windows["window_id"][i]] for i in idx])
        assert mean == pytest.approx(e["set_mean_calc_ba_score"][s], abs=1e-12)


def test_bailando_bas_full_sequences_truncates_music_beats(joints, expected):
    e = expected["beat_align_score"]
    for name in joints["names"]:
        p = joints[f"joints__{name}"]
        music = np.arange(15, len(p) + 60, 30)  # runs past the end: beats >= T-1 must be dropped
        assert motion_beats_bailando(p).tolist() == e["motion_beats_per_full_sequence"][name]
        assert beat_align_score(p, music, 60) == pytest.approx(e["per_full_sequence"][name], abs=1e-12)


def test_bas_is_one_when_motion_beats_sit_on_music_beats():
    # a joint that stops (speed minimum) exactly every 30 frames: a clean sine speed profile
    T = 300
    t = np.arange(T)
    x = np.cumsum(1.0 - np.cos(2 * np.pi * (t - 10) / 30)) * 0.01  # speed 0 at frames 10, 40, 70, ...
    p = np.zeros((T, 2, 3))
    p[:, :, 0] = x[:, None]
    mb = motion_beats_bailando(p)
    # speed curve index k is the displacement k -> k+1: minima at 9/10 boundaries; put the music beats there
    music = mb.copy()
    assert bas_bailando(music, mb, n_frames=T) == pytest.approx(1.0)
    assert bas_fact(music, mb) == pytest.approx(1.0)
    assert len(mb) >= 8 and np.all(np.diff(mb) == 30)
    # and both fall off as exp(-d^2 / 18) when every beat is 3 frames late
    assert bas_bailando(music + 3, mb) == pytest.approx(np.exp(-0.5))
    assert bas_fact(music + 3, mb) == pytest.approx(np.exp(-0.5))


def test_bas_directions_differ():
    music = np.array([10, 50])
    motion = np.array([10, 20, 30, 40])
    # Bailando: per music beat (10 -> 0, 50 -> 10 frames); FACT: per motion beat (0, 10, 20, 10 frames)
    assert bas_bailando(music, motion) == pytest.approx((1 + np.exp(-100 / 18)) / 2)
    assert bas_fact(music, motion) == pytest.approx((1 + 2 * np.exp(-100 / 18) + np.exp(-400 / 18)) / 4)
    assert bas_bailando(music, []) == 0.0
    assert bas_fact(music, []) == 0.0
    assert np.isnan(bas_bailando([], motion))


def test_fact_motion_beats_are_minima_of_summed_speed_order_10():
    T = 200
    speed = 2.0 + np.sin(2 * np.pi * np.arange(T) / 48)  # minima at 36 + 48 n
    p = np.zeros((T, 3, 3))
    p[:, :, 1] = np.cumsum(speed)[:, None]
    b = motion_beats_fact(p, fps=60)
    # position k moves by speed[k] from k-1, so the envelope at frame k is 3 * speed[k]
    assert b.tolist() == [36, 84, 132, 180]
    # order 10: a dip 5 frames from a deeper one is not a beat
    speed[40] = 0.5
    p[:, :, 1] = np.cumsum(speed)[:, None]
    assert motion_beats_fact(p, fps=60).tolist() == [40, 84, 132, 180]
    assert motion_beats_fact(p, fps=6).tolist() == [36, 40, 84, 132, 180]  # order 1 at 6 fps


# --- PFC and the other physical scores ----------------------------------------------------------------------
def test_pfc_full_sequences_and_windows(joints, windows, expected):
    e = expected["pfc"]
    for name in joints["names"]:
        assert pfc(joints[f"joints__{name}"], fps=60) == pytest.approx(e["per_full_sequence"][name], rel=1e-9)
    per_window = pfc(windows["windows"], fps=60)
    for wid, v in zip(windows["window_id"], per_window, strict=True):
        assert v == pytest.approx(e["per_window"][wid], rel=1e-9)
    assert per_window[windows["gt_index"]].mean() == pytest.approx(e["set_mean"]["gt"], rel=1e-9)
    assert per_window[windows["pred_index"]].mean() == pytest.approx(e["set_mean"]["pred"], rel=1e-9)


def test_pfc_conversion_and_resampling(joints):
    p = joints["joints__gBR_sBM_cAll_d04_mBR2_ch08"]
    z = to_edge_pfc_frame(p, 60)
    assert z.shape == (288, 24, 3)
    np.testing.assert_array_equal(z[:, :, 2], p[::2, :, 1])  # up
    np.testing.assert_array_equal(z[:, :, 1], -p[::2, :, 2])
    # 120 fps input decimates by 4 to the same frames; a 50 fps version is resampled and lands close
    up = resample_linear(p, 60, 120)
    assert pfc(up, fps=120) == pytest.approx(pfc(p, fps=60), rel=1e-12)
    assert resample_linear(p, 60, 50).shape[0] == 480
    assert pfc(resample_linear(p, 60, 50), fps=50) == pytest.approx(pfc(p, fps=60), rel=0.5)


def test_foot_sliding_hand_computed():
    fps = 30.0
    p = np.zeros((4, 4, 3))
    p[:, 0, 0] = [0.0, 0.1, 0.2, 0.3]  # left ankle slides 0.1 m per frame = 3 m/s
    contacts = np.zeros((4, 4), dtype=bool)
    contacts[:, 0] = True  # sliding ankle in contact throughout
    contacts[:, 2] = True  # still right ankle in contact
    v = foot_sliding(p, contacts, fps, feet=(0, 1, 2, 3))
    assert v == pytest.approx((3 * 3.0 + 3 * 0.0) / 6)
    assert foot_sliding(p, np.zeros((4, 4), bool), fps, feet=(0, 1, 2, 3)) == 0.0


def test_floor_height_hand_computed():
    p = np.zeros((5, 3, 3))
    p[:, 0, 1] = [0.1, 0.1, 0.2, 0.9, 0.1]  # the lowest joint changes: joint 0 ...
    p[:, 1, 1] = [0.5, 0.3, 0.05, 0.4, 0.6]  # ... then joint 1 at frame 2
    p[:, 2, 1] = 1.0
    # lowest per frame 0.1, 0.1, 0.05, 0.4, 0.1: median 0.1, not moved by one frame in the air
    assert floor_height(p) == pytest.approx(0.1)
    lifted = p.copy()
    lifted[..., 1] += 0.5  # a dancer half a metre up
    np.testing.assert_allclose(floor_height(np.stack([p, lifted])), [0.1, 0.6])
    zup = p[..., [0, 2, 1]]  # the same heights on the z axis
    assert floor_height(zup, up_axis=2) == pytest.approx(0.1)


def test_jitter_and_freezing_hand_computed():
    fps = 10.0
    t = np.arange(50) / fps
    p = np.zeros((50, 1, 3))
    p[:, 0, 0] = t**3  # jerk = 6 m/s^3 everywhere
    assert jitter(p, fps) == pytest.approx(6.0)
    moving = np.zeros((51, 2, 3))
    moving[:, :, 0] = np.arange(51)[:, None] * 0.1
    assert freezing(moving, fps) == pytest.approx(1.0)
    stops = moving.copy()
    stops[30:] = stops[30]  # frozen for the last 20 frames
    assert freezing(stops, fps) == pytest.approx(0.0)
