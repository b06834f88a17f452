"""DiffDance editing by inpainting at both stages: constrained joints and frames, continuation from a seed."""

from __future__ import annotations

import numpy as np
import pytest

from choreo.models.editing import Edit, build_constraint
from diffdance_standin import trained_tiny, untrained
from edge_standin import music_for, positions_motion
from test_generate_longform import frame_speeds

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def cascade(m, L, edits, chunk=32, seed=0, steps=4, phase=0.7):
    c = build_constraint(edits, m.representation, 30.0, L)
    return m.cascade(music_for(L, phase), steps=steps, seed=seed, constraint=c, chunk_windows=chunk), c


@pytest.mark.parametrize("chunk", [32, 2])
def test_frames_of_all_joints_hold_at_both_stages(chunk):
    m = untrained()
    rep = m.representation
    ref = positions_motion(90, phase=1.0)
    res, c = cascade(m, 80, Edit(ref, frames=(10, 50)), chunk=chunk)  # several windows at both stages
    assert c.mask[10:50].all() and not c.mask[:10].any() and not c.mask[50:].any()
    np.testing.assert_allclose(res.motion[c.mask], c.known[c.mask], atol=1e-6)
    enc = rep.encode(ref)
    assert np.abs(res.motion[60:] - enc[60:80]).max() > 1e-2  # the rest is free
    # the base stage (15 fps) holds the decimated constraint: frames 2i for 5 <= i < 25, displacements summed
    low_ref = rep.encode(ref.resample(15.0))
    joints = slice(rep.joints_start, rep.dim)
    np.testing.assert_allclose(res.low[5:25, joints], low_ref[5:25, joints], atol=1e-5)
    np.testing.assert_allclose(res.low[6:25, list(rep.root_velocity_channels)], low_ref[6:25, [4, 6]], atol=1e-5)
    assert np.abs(res.low[30:40, joints] - low_ref[30:40, joints]).max() > 1e-2


def test_upper_body_follows_the_reference_at_both_stages():
    m = untrained(seed=1)
    rep = m.representation
    ref = positions_motion(60, phase=2.0)
    res, c = cascade(m, 60, Edit(ref, joints="upper"))
    chest = rep.joint_channels([1])
    np.testing.assert_allclose(res.motion[:, chest], rep.encode(ref)[:, chest], atol=1e-6)
    np.testing.assert_allclose(res.low[:30, chest], rep.encode(ref.resample(15.0))[:, chest], atol=1e-5)
    feet = rep.joint_channels([2, 3])
    assert np.abs(res.motion[:, feet] - rep.encode(ref)[:, feet]).max() > 1e-2


def test_continuation_from_a_two_second_seed():
    """The seed's 2 s are kept at both stages; the dance goes on from where and how the seed ends, without a seam."""
    m = trained_tiny(150)
    rep = m.representation
    L, n = 240, 60  # 8 s at 30 fps, the first 2 s from the seed
    seed = positions_motion(n, phase=2.5)  # not the dance the music (phase 0.7) describes
    res, c = cascade(m, L, Edit(seed), steps=8)
    enc = rep.encode(seed)
    np.testing.assert_allclose(res.motion[1:n], enc[1:], atol=1e-6)  # frame 0's displacement is free
    joints = slice(rep.joints_start, rep.dim)
    np.testing.assert_allclose(res.low[: n // 2, joints], rep.encode(seed.resample(15.0))[:, joints], atol=1e-5)
    # the dance starts where the seed starts and is the seed for 2 s (root path included)
    out = rep.decode(res.motion, 30.0).positions
    np.testing.assert_allclose(out[:n] - out[:1, :1], seed.positions - seed.positions[:1, :1], atol=1e-5)
    # no seam where the seed ends: joint speeds across it within those inside the next 2 s (and at 15 fps)
    for x, at, period in ((res.motion, n, 60), (res.low, n // 2, 30)):
        s = frame_speeds(rep, x)
        assert s[at - 2 : at + 1].max() < 1.25 * s[at + 1 : at + period].max(), (at, s[at - 2 : at + 1])
