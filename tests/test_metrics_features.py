"""Kinetic and geometric features against the Bailando reference numbers (fixtures/metrics/features.npz)."""

from __future__ import annotations

import numpy as np
import pytest

from choreo.metrics.features import (
    GEOMETRIC_ROLES,
    GEOMETRIC_TESTS,
    HUMERUS_LENGTH,
    geometric_features,
    kinetic_features,
    root_zero,
)


def test_kinetic_features_match_reference_per_window(windows, features):
    k = kinetic_features(windows["windows"], fps=60)
    assert k.shape == (35, 72) and k.dtype == np.float32
    np.testing.assert_allclose(k, features["kinetic"], rtol=1e-6, atol=0)


def test_geometric_features_match_reference_per_window(windows, features):
    g = geometric_features(windows["windows"], fps=60)
    assert g.shape == (35, 32) and g.dtype == np.float32
    np.testing.assert_allclose(g, features["manual"], rtol=0, atol=1e-6)


def test_features_of_full_root_zeroed_sequences(joints, features):
    for i, name in enumerate(features["full_seq_names"]):
        z = root_zero(joints[f"joints__{name}"])
        assert np.all(z[0, 0] == 0)
        np.testing.assert_allclose(kinetic_features(z), features["full_seq_kinetic"][i], rtol=1e-6)
        np.testing.assert_allclose(geometric_features(z), features["full_seq_manual"][i], atol=1e-6)


def test_batch_equals_single_clip(windows):
    w = windows["windows"][:3]
    np.testing.assert_array_equal(kinetic_features(w)[1], kinetic_features(w[1]))
    np.testing.assert_array_equal(geometric_features(w)[2], geometric_features(w[2]))


def test_reference_energy_depends_on_position_corrected_does_not(windows):
    w = windows["windows"][0]
    shifted = w + np.array([0.0, 0.0, 3.0])
    ref, ref_shift = kinetic_features(w), kinetic_features(shifted)
    cor, cor_shift = (kinetic_features(x, variant="corrected") for x in (w, shifted))
    energy = slice(2, None, 3)
    # the reference's precedence quirk puts p/dt^2 into the "acceleration": a translation changes it
    assert np.max(np.abs(ref_shift[energy] - ref[energy])) > 100
    np.testing.assert_allclose(cor_shift, cor, rtol=1e-4, atol=1e-3)
    # kinetic energies (velocity only) do not have the quirk: both variants agree
    np.testing.assert_array_equal(ref[0::3], cor[0::3])


def test_corrected_acceleration_on_a_parabola():
    # one joint, x = a t^2 / 2: acceleration a everywhere in the interior, so energy expenditure ~ a
    fps, a = 60.0, 2.0
    t = np.arange(120) / fps
    p = np.zeros((120, 1, 3))
    p[:, 0, 0] = 0.5 * a * t**2
    e = kinetic_features(p, fps=fps, variant="corrected")[2]
    assert e == pytest.approx(a, rel=1e-4)
    # horizontal KE = mean over frames 1..T-1 of v^2 with v the windowed mean velocity
    h = kinetic_features(p, fps=fps, variant="corrected")[0]
    assert h == pytest.approx(np.mean((a * t[1:]) ** 2), rel=0.02)


def test_reference_velocity_tests_use_1_over_120_s():
    # the "fast root" test (speed > 2.3 humerus lengths per second): the reference measures displacement * 120,
    # i.e. twice the true speed of 60 fps data, so it fires at 0.8 x threshold where the corrected one does not
    fps = 60.0
    threshold = 2.3 * HUMERUS_LENGTH
    test = [i for i, (_, names, _) in enumerate(GEOMETRIC_TESTS) if names == ("root",)][0]
    rest = np.zeros((24, 3))
    rest[:, 1] = np.linspace(0, 1.6, 24)  # distinct heights keep other tests well defined
    for speed, ref_expected, cor_expected in ((0.8 * threshold, 1.0, 0.0), (1.5 * threshold, 1.0, 1.0)):
        T = 30
        p = np.repeat(rest[None], T, axis=0).copy()
        p[:, :, 0] += (speed / fps * np.arange(T))[:, None]  # true speed `speed` m/s
        # reference: displacement / (1/120) = 2 * speed
        ref = geometric_features(p, fps=fps)[test]
        cor = geometric_features(p, fps=fps, variant="corrected")[test]
        assert (ref, cor) == (pytest.approx(ref_expected), pytest.approx(cor_expected))


def test_geometric_roles_for_another_joint_order(windows, features):
    w = windows["windows"][:2]
    perm = np.random.default_rng(0).permutation(24)  # new joint j is old joint perm[j]
    inv = np.argsort(perm)
    roles = {r: int(inv[j]) for r, j in GEOMETRIC_ROLES.items()}
    np.testing.assert_array_equal(geometric_features(w[:, :, perm], roles=roles), features["manual"][:2])


def test_bad_inputs():
    with pytest.raises(ValueError):
        kinetic_features(np.zeros((2, 24, 3)))
    with pytest.raises(ValueError):
        kinetic_features(np.zeros((5, 24, 3)), variant="bailando-fixed")
    with pytest.raises(ValueError):
        geometric_features(np.zeros((5, 24, 2)))
