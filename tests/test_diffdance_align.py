"""DiffDance's music-motion embedding: InfoNCE by hand, learnable temperatures, staged training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from choreo.metrics.retrieval import retrieval_report
from choreo.models.diffdance.align import (
    Adapter,
    SequenceEncoder,
    clamp_logit_scale,
    info_nce,
    overlap_mask,
    shared_frames,
)
from choreo.train.config import TrainConfig
from diffdance_standin import batch_from, spec_for, synthetic_set, untrained

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_info_nce_by_hand():
    a = F.normalize(torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]), dim=-1)
    b = F.normalize(torch.tensor([[0.8, 0.6], [0.0, 1.0], [-1.0, 0.2]]), dim=-1)
    scale = torch.tensor(2.0)
    s = 2.0 * (a @ b.T).numpy()

    def nll(row: np.ndarray, i: int) -> float:
        return -(row[i] - math.log(np.exp(row).sum()))

    want = [0.5 * (nll(s[i], i) + nll(s[:, i], i)) for i in range(3)]
    got = info_nce(a, b, scale)
    assert got.shape == (3,)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    # a perfectly aligned batch at a low temperature costs almost nothing
    eye = torch.eye(3)
    assert float(info_nce(eye, eye, torch.tensor(100.0)).max()) < 1e-10


def test_temperature_is_learned_and_capped():
    enc = SequenceEncoder(3, 8, 4, layers=1, temperature=0.07)
    assert float(enc.logit_scale.detach()) == pytest.approx(math.log(1 / 0.07))
    assert float(clamp_logit_scale(torch.tensor(10.0), 100.0)) == 100.0
    # pairs that are already told apart: a lower temperature (larger scale) lowers the loss, so its gradient
    # pushes log_scale up, and one optimiser step moves it
    a = F.normalize(torch.randn(6, 4, generator=torch.Generator().manual_seed(0)), dim=-1)
    opt = torch.optim.SGD([enc.logit_scale], lr=0.1)
    before = float(enc.logit_scale.detach())
    info_nce(a, a, clamp_logit_scale(enc.logit_scale)).mean().backward()
    assert float(enc.logit_scale.grad) < 0
    opt.step()
    assert float(enc.logit_scale.detach()) > before


def test_encoders_give_per_frame_and_unit_clip_embeddings_of_any_length():
    enc = SequenceEncoder(5, 16, 8, layers=4, kernel=5)
    for T in (1, 7, 300):
        x = torch.randn(2, T, 5)
        assert enc(x).shape == (2, T, 8)
        z = enc.embed(x)
        torch.testing.assert_close(z.norm(dim=-1), torch.ones(2))
    # a frame only sees its receptive field (1 + 4 x (1 + 2 + 4 + 8) = 61 frames): far frames do not matter
    x = torch.randn(1, 200, 5)
    y = x.clone()
    y[:, 150:] += 1.0
    torch.testing.assert_close(enc(x)[:, :119], enc(y)[:, :119])
    assert not torch.allclose(enc(x)[:, 121:], enc(y)[:, 121:])


def test_adapter_starts_as_identity_and_is_a_two_layer_mlp():
    ad = Adapter(8, 512)
    e = torch.randn(3, 10, 8)
    torch.testing.assert_close(ad(e), e)
    assert [tuple(p.shape) for n, p in ad.named_parameters() if n.endswith("weight")] == [(512, 8), (8, 512)]


def _step(m, opts, batch, phase):
    loss, logs = m.training_loss(batch, phase, 0, 0.0)
    o = opts[phase]
    o.optimizer.zero_grad()
    loss.mean().backward()
    o.optimizer.step()
    return loss, logs


def _state(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_each_stage_trains_only_its_components():
    m = untrained(seed=1).train()
    rep, full, low, music = synthetic_set(6, 80)
    norm = m.normalizer
    batch = batch_from(full, low, music, norm, np.random.default_rng(1), size=8)
    opts = m.configure_optimizers(TrainConfig(steps=10, lr=1e-2, optimizer="adamw"))
    assert set(opts) == {"encoders", "adapter", "diffusion"}
    assert [m.phases(s) for s in range(6)] == [("encoders",)] * 2 + [("adapter",)] * 2 + [("diffusion",)] * 2
    names = ("music_encoder", "motion_encoder", "adapter", "base", "ssr")
    trains = {"encoders": {"music_encoder", "motion_encoder"}, "adapter": {"adapter"}, "diffusion": {"base", "ssr"}}
    for phase, changed in trains.items():
        before = {n: _state(getattr(m, n)) for n in names}
        m.zero_grad(set_to_none=True)
        loss, logs = _step(m, opts, batch, phase)
        assert loss.shape == (8,) and torch.isfinite(loss).all()
        for n in names:
            same = all(torch.equal(before[n][k], v) for k, v in getattr(m, n).state_dict().items())
            assert same == (n not in changed), (phase, n)
            # frozen components get no gradient at all in this phase
            if n not in changed:
                assert all(p.grad is None or not p.grad.any() for p in getattr(m, n).parameters()), (phase, n)
    # the adapter stage's temperature lives in the adapter, stage 1's in the music encoder
    assert m.adapter.logit_scale.requires_grad and m.music_encoder.logit_scale.requires_grad


def test_contrastive_logs_and_nan_for_the_other_stage():
    m = untrained()
    rep, full, low, music = synthetic_set(4, 80)
    batch = batch_from(full, low, music, m.normalizer, np.random.default_rng(2), size=4)
    loss, logs = m.training_loss(batch, "adapter", 2, 0.0)
    torch.testing.assert_close(logs["nce"], loss.detach())
    assert logs["temperature"] == pytest.approx(0.07) and logs["stage"] == 1.0
    assert math.isnan(logs["base_x0"]) and math.isnan(logs["geo_weight"])
    loss, logs = m.training_loss(batch, "diffusion", 4, 0.0)
    assert math.isnan(logs["nce"]) and logs["base_x0"].shape == (4,)


def test_stage_one_aligns_paired_clips():
    """A few dozen encoder steps on the synthetic set: paired clips find each other far above chance."""
    rep, full, low, music = synthetic_set(16, 120, seed=3)
    spec = spec_for(rep, full)
    from choreo.models import build_method

    torch.manual_seed(0)
    m = build_method("diffdance", {**untrained_cfg(), "encoder_steps": 60, "encoder_lr": 3e-3}, spec)
    opts = m.configure_optimizers(TrainConfig(steps=100, optimizer="adamw"))
    rng = np.random.default_rng(0)
    for _ in range(60):
        _step(m, opts, batch_from(full, low, music, spec.normalizer, rng, size=16), "encoders")
    with torch.no_grad():
        x = torch.as_tensor(spec.normalizer.normalize(np.stack([f[40:55] for f in full])), dtype=torch.float32)
        mu = torch.from_numpy(np.stack([a[40:55] for a in music]))
        r = retrieval_report(m.music_encoder.embed(mu), m.motion_encoder.embed(x), ["g"] * 16)
    assert r["top1"] >= 4 * r["chance_top1"], r
    assert float(1 / m.music_encoder.logit_scale.detach().exp()) != pytest.approx(0.07)


def untrained_cfg() -> dict:
    from diffdance_standin import TINY

    return dict(TINY)


# ---- false negatives, augmentation, standardisation, time-aligned similarity --------------------------------
def _clips_of(tracks: list[np.ndarray], cuts: list[tuple[int, int]], n: int) -> torch.Tensor:
    return torch.from_numpy(np.stack([tracks[t][s : s + n] for t, s in cuts]))


def test_overlap_mask_marks_the_same_song_at_overlapping_times_only():
    rng = np.random.default_rng(0)
    song_a, song_b = (rng.normal(size=(100, 3)).astype(np.float32) for _ in range(2))
    # 20-frame clips: a@0, a@15 (5 frames shared with a@0), a@40 (none), b@0 (same times, other song),
    # a@19 (1 frame shared with a@0: below 10 %, 16 with a@15), b@5 (15 with b@0)
    cuts = [(0, 0), (0, 15), (0, 40), (1, 0), (0, 19), (1, 5)]
    clips = _clips_of([song_a, song_b], cuts, 20)
    counts = shared_frames(clips)
    assert counts[0].tolist() == [20, 5, 0, 0, 1, 0] and counts[1, 4] == 16 and counts[3, 5] == 15
    want = np.eye(6, dtype=bool)
    for i, j in ((0, 1), (1, 4), (3, 5)):
        want[i, j] = want[j, i] = True
    np.testing.assert_array_equal(overlap_mask(clips).numpy(), want)
    # any shared frame counts with min_shared 0 (a@0 and a@19 then too)
    assert bool(overlap_mask(clips, 0.0)[0, 4])


def test_info_nce_leaves_excluded_negatives_out_of_both_softmaxes():
    g = torch.Generator().manual_seed(1)
    a = F.normalize(torch.randn(4, 3, generator=g), dim=-1)
    b = F.normalize(torch.randn(4, 3, generator=g), dim=-1)
    scale = torch.tensor(3.0)
    exclude = torch.zeros(4, 4, dtype=torch.bool)
    exclude[0, 2] = exclude[2, 0] = True
    exclude[1, 1] = True  # a pair's own column is never excluded
    s = (3.0 * a @ b.T).numpy()

    def nll(row: np.ndarray, i: int, keep: np.ndarray) -> float:
        return -(row[i] - math.log(np.exp(row[keep]).sum()))

    want = []
    for i in range(4):
        keep = ~exclude[i].numpy()
        keep[i] = True
        want.append(0.5 * (nll(s[i], i, keep) + nll(s[:, i], i, keep)))
    np.testing.assert_allclose(info_nce(a, b, scale, exclude).numpy(), want, rtol=1e-6)
    # rows without exclusions are the plain loss
    torch.testing.assert_close(info_nce(a, b, scale, exclude)[[1, 3]], info_nce(a, b, scale)[[1, 3]])


def test_overlap_masking_in_the_stage_one_loss():
    """Distinct songs: masking changes nothing; the same window twice: the duplicate is no negative any more."""
    rep, full, low, music = synthetic_set(6, 80, seed=4)
    plain, masked = untrained(seed=2).train(), untrained(seed=2, mask_overlaps=True).train()
    norm, W = plain.normalizer, plain.window_frames
    batch = {  # the first window of six different songs
        "motion": torch.as_tensor(norm.normalize(np.stack([f[:W] for f in full])), dtype=torch.float32),
        "music": torch.from_numpy(np.stack([m[:W] for m in music])),
        "seed": torch.arange(6) + 10,
    }
    a, _ = plain.training_loss(batch, "encoders", 0, 0.0)
    b, _ = masked.training_loss(batch, "encoders", 0, 0.0)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    dup = {k: torch.cat([v[:1], v[:5]]) for k, v in batch.items()}  # song 0 twice, same seed: the same clip
    c, _ = plain.training_loss(dup, "encoders", 0, 0.0)
    d, _ = masked.training_loss(dup, "encoders", 0, 0.0)
    # masked, each copy of song 0 sees exactly the five-song batch's negatives (the copy left out)
    e, _ = plain.training_loss({k: v[:5] for k, v in batch.items()}, "encoders", 0, 0.0)
    torch.testing.assert_close(d[:2].detach(), e[:1].detach().expand(2), rtol=1e-5, atol=1e-6)
    # unmasked, the copy is a negative scoring exactly as the positive: a higher loss for both copies
    assert bool(torch.all(c[:2] > d[:2]))
    # the other songs keep both copies of song 0 as negatives: masking does not touch them
    torch.testing.assert_close(d[2:], c[2:], rtol=0, atol=0)
