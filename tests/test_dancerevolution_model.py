"""Dance Revolution's parts by hand: banded attention, the curriculum, teacher forcing vs self-feeding, the L1
loss, random initial states, whole-song generation in bounded memory, continuation, SMPL rotations."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from choreo.data.normalizer import MinMaxNormalizer
from choreo.errors import ChoreoError
from choreo.models import build_method
from choreo.models.editing import Constraint
from choreo.models.seq2seq import (
    DanceRevolutionConfig,
    MusicEncoder,
    PoseDecoder,
    band_mask,
    banded_attention,
    initial_state,
    plan_encoder_windows,
    self_fed_frames,
    teacher_mask,
)

torch.set_num_threads(1)

TINY = {
    "d_model": 16,
    "layers": 1,
    "heads": 2,
    "d_head": 8,
    "ff_size": 32,
    "band": 4,
    "dropout": 0.0,
    "pose_embed": 8,
    "hidden": 16,
    "lstm_layers": 2,
}


def _spec(C: int = 6, F: int = 5, window: int = 24, rep=None, normalizer=None):
    rep = rep or types.SimpleNamespace(name="toy", dim=C)
    if normalizer is None:
        normalizer = MinMaxNormalizer().fit(np.random.default_rng(0).normal(size=(50, rep.dim)) * 3)
    return types.SimpleNamespace(
        representation=rep, normalizer=normalizer, feature_dim=F, window_frames=window, fps=15.0
    )


def _method(**cfg):
    torch.manual_seed(0)
    return build_method("dancerevolution", {**TINY, **cfg}, _spec()).eval()


# ---- banded self-attention ------------------------------------------------------------------------------
def test_band_mask_by_hand():
    m = band_mask(4, 6, band=1, q_offset=1)
    want = [
        [1, 1, 1, 0, 0, 0],
        [0, 1, 1, 1, 0, 0],
        [0, 0, 1, 1, 1, 0],
        [0, 0, 0, 1, 1, 1],
    ]
    assert m.tolist() == [[bool(v) for v in row] for row in want]


def test_frames_outside_the_band_have_no_effect():
    torch.manual_seed(1)
    band, layers, T = 3, 2, 40
    enc = MusicEncoder(5, 16, layers, 2, 8, 32, band, 0.0, chunk=512).eval()
    x = torch.randn(1, T, 5)
    base = enc(x)
    far = x.clone()
    far[0, 30] += 5.0  # frame 30 is more than layers * band = 6 frames from frames 0..23
    out = enc(far)
    torch.testing.assert_close(out[0, :24], base[0, :24], rtol=0, atol=0)
    assert not torch.allclose(out[0, 24:37], base[0, 24:37])  # within reach it does change the encoding
    # one layer: exactly frames 27..33 see frame 30
    one = MusicEncoder(5, 16, 1, 2, 8, 32, band, 0.0).eval()
    changed = (one(far) - one(x)).abs().amax(dim=-1)[0] > 0
    assert changed.nonzero().flatten().tolist() == list(range(27, 34))


def test_chunked_attention_equals_one_masked_attention():
    torch.manual_seed(2)
    q, k, v = (torch.randn(2, 3, 50, 4) for _ in range(3))
    whole = banded_attention(q, k, v, band=5, chunk=1000)
    torch.testing.assert_close(banded_attention(q, k, v, band=5, chunk=7), whole, rtol=1e-5, atol=1e-6)
    # by hand: softmax over the band only
    s = (q @ k.transpose(-1, -2)) / 2.0
    s = s.masked_fill(~band_mask(50, 50, 5), float("-inf"))
    torch.testing.assert_close(whole, s.softmax(-1) @ v, rtol=1e-5, atol=1e-6)


# ---- curriculum -----------------------------------------------------------------------------------------
def test_self_fed_frames_by_hand_for_every_schedule():
    assert self_fed_frames("teacher_forcing", 1e6, 5.0) == 0
    assert self_fed_frames("const", 0.0, 0.01, const=7) == 7 == self_fed_frames("const", 500.0, 0.01, const=7)
    # released code: int(0.01 * epoch): teacher forcing below epoch 100
    assert [self_fed_frames("linear", e, 0.01) for e in (0, 99.9, 100, 250.5, 1000)] == [0, 0, 1, 2, 10]
    assert [self_fed_frames("quadratic", e, 0.5) for e in (0, 1, 2, 3, 10)] == [0, 0, 2, 4, 50]
    assert [self_fed_frames("exponential", e, 1.0) for e in (0, 1, 2, 3.5)] == [1, 2, 7, 33]
    assert self_fed_frames("linear", 2.5, 1.0) == 2  # fractional epochs from the trainer
    assert self_fed_frames("exponential", 1e4, 1e300) == 2**31 - 1  # capped, no overflow
    with pytest.raises(ChoreoError, match="schedule"):
        self_fed_frames("cosine", 1.0)


def test_teacher_mask_by_hand():
    # input frames 0.. follow [3 self-fed, 10 ground truth]; step t reads input frame t - 1, step 0 the start pose
    got = "".join("G" if g else "s" for g in teacher_mask(30, 3, 10).tolist())
    assert got == "s" + "sss" + "G" * 10 + "sss" + "G" * 10 + "sss"
    assert teacher_mask(6, 0, 10).tolist() == [False, True, True, True, True, True]  # teacher forcing
    assert not teacher_mask(6, 6, 10).any()  # p >= T: every step self-fed


# ---- teacher forcing vs self-feeding ----------------------------------------------------------------------
def _decoder():
    torch.manual_seed(3)
    return PoseDecoder(pose_dim=4, d_model=6, pose_embed=5, hidden=7, lstm_layers=2, dropout=0.0)


def _manual(dec, enc, state, inputs):
    """Step-by-step reference: inputs[t] is the (B, C) pose fed at step t (a callable of the outputs so far)."""
    outs = []
    for t in range(enc.shape[1]):
        y, state = dec.run(inputs(t, outs)[:, None], enc[:, t : t + 1], state)
        outs.append(y[:, 0])
    return torch.stack(outs, dim=1)


def test_teacher_forced_steps_read_ground_truth_and_self_fed_steps_their_detached_predictions():
    dec = _decoder()
    B, T = 2, 12
    enc, target = torch.randn(B, T, 6), torch.randn(B, T, 4)
    state = initial_state([1, 2], B, 2, 7, 1.0, "cpu")
    start = torch.zeros(B, 4)
    tf = dec.unroll(enc, state, target, teacher_mask(T, 0, 10))
    ref_tf = _manual(dec, enc, state, lambda t, outs: start if t == 0 else target[:, t - 1])
    torch.testing.assert_close(tf, ref_tf, rtol=1e-5, atol=1e-6)
    free = dec.unroll(enc, state, target, teacher_mask(T, T, 10))
    ref_free = _manual(dec, enc, state, lambda t, outs: start if t == 0 else outs[-1].detach())
    torch.testing.assert_close(free, ref_free, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(tf[:, 1:], free[:, 1:])
    # a mixed pattern: [2 self-fed, 10 ground truth] is the manual loop switching input source
    mask = teacher_mask(T, 2, 10)
    mixed = dec.unroll(enc, state, target, mask)
    ref_mixed = _manual(
        dec, enc, state, lambda t, outs: start if t == 0 else (target[:, t - 1] if mask[t] else outs[-1].detach())
    )
    torch.testing.assert_close(mixed, ref_mixed, rtol=1e-5, atol=1e-6)
    # the ground truth reaches teacher-forced outputs only; self-fed outputs never see it
    other = target + 1.0
    assert not torch.allclose(dec.unroll(enc, state, other, teacher_mask(T, 0, 10))[:, 1:], tf[:, 1:])
    torch.testing.assert_close(dec.unroll(enc, state, other, teacher_mask(T, T, 10)), free, rtol=0, atol=0)


def test_self_fed_predictions_are_detached():
    dec = _decoder()
    enc, target = torch.randn(1, 4, 6), torch.randn(1, 4, 4)
    state = initial_state([5], 1, 2, 7, 1.0, "cpu")
    start = torch.zeros(1, 4)

    def grads(out):
        dec.zero_grad()
        out[:, 3].sum().backward()
        return torch.cat([p.grad.flatten() for p in dec.parameters()])

    got = grads(dec.unroll(enc, state, target, teacher_mask(4, 4, 10)))
    detached = grads(_manual(dec, enc, state, lambda t, outs: start if t == 0 else outs[-1].detach()))
    attached = grads(_manual(dec, enc, state, lambda t, outs: start if t == 0 else outs[-1]))
    torch.testing.assert_close(got, detached, rtol=1e-5, atol=1e-7)
    assert not torch.allclose(got, attached)  # backpropagating through the fed-back poses would differ


# ---- loss and initial states ------------------------------------------------------------------------------
def test_l1_per_sample_by_hand_and_the_mask_follows_the_epoch(monkeypatch):
    method = _method(schedule="linear", curriculum_lambda=0.5, condition_frames=3)
    B, T, C = 3, 9, 6
    x = torch.rand(B, T, C) * 2 - 1
    pred = torch.rand(B, T, C) * 2 - 1
    seen = {}

    def fake_unroll(enc, state, target, teacher):
        seen["teacher"], seen["state"] = teacher, state
        return pred

    monkeypatch.setattr(method.decoder, "unroll", fake_unroll)
    batch = {"motion": x, "music": torch.randn(B, T, 5), "seed": torch.tensor([7, 8, 9])}
    loss, terms = method.training_loss(batch, "main", step=40, epoch=4.2)
    want = torch.tensor([float(np.abs(pred[i].numpy() - x[i].numpy()).mean()) for i in range(B)])
    torch.testing.assert_close(loss, want, rtol=1e-6, atol=1e-7)
    assert loss.shape == (B,) and terms["self_fed"] == 2.0  # floor(0.5 * 4.2)
    assert seen["teacher"].tolist() == teacher_mask(T, 2, 3).tolist()
    # sample i's initial states depend on its own seed only
    h, c = seen["state"]
    h1, c1 = initial_state([8], 1, TINY["lstm_layers"], TINY["hidden"], 1.0, "cpu")
    torch.testing.assert_close(h[:, 1:2], h1, rtol=0, atol=0)
    torch.testing.assert_close(c[:, 1:2], c1, rtol=0, atol=0)
    assert h.shape == (2, 3, 16) and float(h.std()) == pytest.approx(1.0, abs=0.3)


def test_config_checks():
    with pytest.raises(ChoreoError, match="unknown Dance Revolution model settings: widht"):
        DanceRevolutionConfig.from_dict({"widht": 3})
    with pytest.raises(ChoreoError, match="schedule"):
        DanceRevolutionConfig.from_dict({"schedule": "cosine"})
    cfg = DanceRevolutionConfig.from_dict({"schedule": "quadratic"})
    assert cfg.to_dict()["schedule"] == "quadratic" and cfg.to_dict()["init_state_std"] == 1.0


# ---- generation ---------------------------------------------------------------------------------------------
def test_encoder_windows_tile_the_song_with_context():
    plan = plan_encoder_windows(1000, 120, receptive=200)
    assert plan.context == 30 and plan.cores[0][0] == 0 and plan.cores[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in zip(plan.cores, plan.cores[1:], strict=False))
    for s, (a, b) in zip(plan.starts, plan.cores, strict=True):
        assert 0 <= s and s + 120 <= 1000
        assert a - s >= min(30, a) and (s + 120) - b >= min(30, 1000 - b)
    assert plan_encoder_windows(50, 120, 8).starts == (0,)


def test_a_long_song_is_danced_in_bounded_memory_and_seeds_differ(monkeypatch):
    method = _method()
    L = 5 * 60 * 15  # five minutes at 15 fps
    music = np.random.default_rng(0).normal(size=(L, 5)).astype(np.float32)
    lengths = []
    real_forward = MusicEncoder.forward

    def spy(self, x, positions=None):
        lengths.append(tuple(x.shape))
        return real_forward(self, x, positions)

    monkeypatch.setattr(MusicEncoder, "forward", spy)
    a = method.generate(music, seed=1)
    assert a.shape == (L, 6) and np.isfinite(a).all()
    # the encoder only ever sees batches of <= 16 windows of the 24-frame training window
    assert max(n for n, _, _ in lengths) <= 16 and {t for _, t, _ in lengths} == {24}
    b = method.generate(music[:300], seed=1)
    np.testing.assert_array_equal(b, method.generate(music[:300], seed=1))  # same seed, same dance
    c = method.generate(music[:300], seed=2)
    assert np.abs(c - b).mean() > 1e-3  # other seed, other initial states, other dance
    still = method.generate(music[:300], seed=1, init_state_std=0.0)
    np.testing.assert_array_equal(still, method.generate(music[:300], seed=2, init_state_std=0.0))


def test_continuation_keeps_the_seed_frames():
    method = _method()
    music = np.random.default_rng(1).normal(size=(60, 5)).astype(np.float32)
    seed_motion = np.random.default_rng(2).uniform(-2, 2, size=(60, 6)).astype(np.float32)
    mask = np.zeros((60, 6), bool)
    mask[:20] = True
    out = method.generate(music, seed=3, constraint=Constraint(seed_motion, mask))
    np.testing.assert_array_equal(out[:20], seed_motion[:20])
    free = method.generate(music, seed=3)
    assert not np.allclose(out[20:25], free[20:25])  # the decoder continues from the seed, not from its own start
    with pytest.raises(ChoreoError, match="constraint"):
        method.generate(music, constraint=Constraint(seed_motion[:10], mask[:10]))
    with pytest.raises(ChoreoError, match="F = 5"):
        method.generate(music[:, :3])


def test_smpl_rotations_train_and_dance(data_dir):
    """AIST++ layout: SMPL-24 rotations as 6D (151 channels) through the same method."""
    from choreo.data.representation import get_representation
    from choreo.motion.formats import read_motion
    from conftest import AISTPP_SEQUENCES

    m = read_motion(data_dir / "aistpp_samples" / "annotation" / "motions" / f"{AISTPP_SEQUENCES[0]}.pkl")
    m = m.resample(15.0).crop(0, 60)
    rep = get_representation("smpl_rot6d", m.skeleton)
    x = rep.encode(m)
    spec = _spec(rep=rep, normalizer=MinMaxNormalizer().fit(x), window=20)
    torch.manual_seed(0)
    method = build_method("dancerevolution", {**TINY, "schedule": "const", "const_frames": 3}, spec)
    xn = torch.as_tensor(np.asarray(spec.normalizer.normalize(x), np.float32))
    batch = {"motion": xn[None, :20].repeat(2, 1, 1), "music": torch.randn(2, 20, 5), "seed": torch.tensor([0, 1])}
    loss, _ = method.training_loss(batch, epoch=0.0)
    loss.mean().backward()
    assert loss.shape == (2,) and all(p.grad is not None for p in method.parameters())
    out = method.eval().generate(np.zeros((45, 5), np.float32), seed=0)
    dance = rep.decode(out, 15.0)
    assert (
        out.shape == (45, 151) and dance.rotations.shape == (45, 24, 4) and np.isfinite(dance.joint_positions()).all()
    )
