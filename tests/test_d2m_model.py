"""D2M-GAN's networks and losses on a real Dance with Melody dance: time alignment, the 3-scale discriminator,
loss terms and where their gradients go, chunked generation, styles."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from choreo.data.normalizer import MinMaxNormalizer
from choreo.data.representation import get_representation
from choreo.data.spec import DataSpec
from choreo.errors import ChoreoError
from choreo.models.codec import CodecConfig, MelVQCodec
from choreo.models.d2m import D2MConfig, D2MGANMethod, interpolate_frames

torch.set_num_threads(1)

TINY_CODEC = {"channels": 16, "res_blocks": 1, "latent_dim": 8, "n_codebooks": 2, "codebook_size": 16}
TINY = {"hidden": 16, "motion_blocks": 1, "dilations": [1, 3], "noise_dim": 2, "style_dim": 4, "disc_channels": 8}


@pytest.fixture(scope="module")
def dance(data_dir):
    from choreo.motion.formats import read_motion

    return read_motion(data_dir / "dance_with_melody" / "DANCE_W_15").crop(0, 600)  # 24 s at 25 fps


def tiny_method(dance, feature_set: str = "mel", **overrides) -> tuple[D2MGANMethod, np.ndarray]:
    """A tiny D2M-GAN (config ``TINY`` + overrides) over the dance's representation, and the encoded dance."""
    torch.manual_seed(0)
    rep = get_representation("positions+rootvel", dance.skeleton)
    x = rep.encode(dance)
    spec = DataSpec(rep, MinMaxNormalizer().fit(x), 0, feature_set, 25.0, 50, audio_sr=22050, styles=("waltz", "tango"))
    codec = MelVQCodec(CodecConfig(**TINY_CODEC))
    # a codec whose codebooks hold something: one update from random latents
    codec.quantizer(torch.randn(1, 64, 8), update=True, seed=0)
    cfg = D2MConfig(**{**TINY, **overrides}, codec={"kind": "melvq", "config": TINY_CODEC})
    return D2MGANMethod(cfg, spec, codec), x


@pytest.fixture(scope="module")
def method(dance):
    m, x = tiny_method(dance)
    return m.eval(), x


def test_interpolation_to_latent_times():
    x = torch.arange(5.0)[None, None, :] * torch.tensor([1.0, 10.0])[None, :, None]  # (1, 2, 5)
    out = interpolate_frames(x, torch.tensor([0.0, 0.5, 2.25, 4.0, 7.0, -1.0]))
    torch.testing.assert_close(out[0, 0], torch.tensor([0.0, 0.5, 2.25, 4.0, 4.0, 0.0]))
    torch.testing.assert_close(out[0, 1], 10 * out[0, 0])


def test_latents_follow_the_dance_in_time(method):
    m, x = method
    fps, rate = 25.0, m.latent_rate
    motion = torch.as_tensor(np.asarray(m.normalizer.normalize(x), np.float32))[None]
    n = m.codec.n_latents(int(len(x) / fps * 22050))
    pos = m.positions(n)
    noise = torch.zeros(1, n, 2)
    with torch.no_grad():
        base = m.generator(motion, pos, noise)
        t0 = 12.0  # perturb the dance between 12.0 s and 12.4 s
        bumped = motion.clone()
        bumped[:, int(t0 * fps) : int((t0 + 0.4) * fps)] += 0.5
        out = m.generator(bumped, pos, noise)
    changed = (out - base).abs().amax(dim=(0, 2)) > 0
    times = m.codec.latent_times(n)
    reach = m.generator.receptive(fps, rate)
    assert changed.any()
    assert changed[(times > t0) & (times < t0 + 0.4)].all()  # latents at the perturbed time move
    far = (times < t0 - reach) | (times > t0 + 0.4 + reach)
    assert far.sum() > n // 2 and not changed[far].any()  # latents far from it do not (exactly)
    assert reach < 3.0
    assert base.abs().max() < m.generator.sigma  # tanh x sigma


def test_discriminator_has_three_scales(method):
    m, _ = method
    outs = m.discriminator(torch.randn(2, 88, 8))
    assert len(outs) == 3
    lengths = [o[-1].shape[-1] for o in outs]
    assert lengths[0] > lengths[1] > lengths[2] and [o[-1].shape[:2] for o in outs] == [(2, 1)] * 3
    assert all(len(o) == 1 + 3 + 2 for o in outs)  # input conv, 3 strided layers, conv, score


def _batch(m, x, B=2, seconds=2.0):
    motion = torch.as_tensor(np.asarray(m.normalizer.normalize(x[: int(seconds * 25) * B]), np.float32))
    motion = motion.reshape(B, int(seconds * 25), -1)
    audio = torch.randn(B, int(seconds * 22050), generator=torch.Generator().manual_seed(1)) * 0.1
    return {"motion": motion, "audio": audio, "seed": torch.tensor([5, 6]), "style": torch.tensor([0, -1])}


def test_loss_terms_and_the_mel_gradient_reaches_the_generator(method):
    m, x = method
    m.train()
    batch = _batch(m, x)
    loss, terms = m.training_loss(batch, "generator")
    assert loss.shape == (2,) and torch.isfinite(loss).all()
    assert set(terms) == {"adv", "fm", "latent", "quantized", "mel"} and all(t.shape == (2,) for t in terms.values())
    cfg = m.config
    total = (
        cfg.loss_adv * terms["adv"] + cfg.loss_fm * terms["fm"] + cfg.loss_latent * terms["latent"]
        + cfg.loss_quantized * terms["quantized"] + cfg.loss_mel * terms["mel"]
    )  # fmt: skip
    torch.testing.assert_close(loss.detach(), total)
    # the mel term alone (every other weight 0) moves the generator: the codec's decoder carries the gradient
    saved = dataclass_weights(cfg)
    try:
        for k in ("loss_adv", "loss_fm", "loss_latent", "loss_quantized"):
            setattr(cfg, k, 0.0)
        m.zero_grad(set_to_none=True)
        loss, _ = m.training_loss(batch, "generator")
        loss.sum().backward()
        grads = [p.grad for p in m.generator.parameters() if p.grad is not None]
        assert grads and sum(float(g.abs().sum()) for g in grads) > 0
        assert all(p.grad is None for p in m.codec.parameters())  # frozen
        cfg.loss_mel = 0.0
        m.zero_grad(set_to_none=True)
        m.training_loss(batch, "generator")[0].sum().backward()
        assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in m.generator.parameters())
    finally:
        for k, v in saved.items():
            setattr(cfg, k, v)
    m.zero_grad(set_to_none=True)
    d_loss, d_terms = m.training_loss(batch, "discriminator")
    assert d_loss.shape == (2,) and set(d_terms) == {"d_real", "d_fake"}
    d_loss.sum().backward()
    assert all(p.grad is None for p in m.generator.parameters())  # the fake is detached
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in m.discriminator.parameters())
    m.zero_grad(set_to_none=True)
    m.eval()


@pytest.mark.parametrize("term,weight", [("pulse", "loss_pulse"), ("mel_stats", "loss_mel_stats")])
def test_the_optional_phase_free_terms_add_to_the_loss_and_reach_the_generator(method, term, weight):
    m, x = method
    batch = _batch(m, x)
    base, terms = m.training_loss(batch, "generator")
    assert term not in terms  # the published loss by default
    saved = dataclass_weights(m.config)
    setattr(m.config, weight, 2.0)
    try:
        m.zero_grad(set_to_none=True)
        loss, terms = m.training_loss(batch, "generator")
        assert terms[term].shape == (2,) and float(terms[term].min()) > 0
        torch.testing.assert_close(loss.detach(), base.detach() + 2.0 * terms[term])
        for k in ("loss_adv", "loss_fm", "loss_latent", "loss_quantized", "loss_mel"):
            setattr(m.config, k, 0.0)
        m.training_loss(batch, "generator")[0].sum().backward()
        assert sum(float(p.grad.abs().sum()) for p in m.generator.parameters() if p.grad is not None) > 0
    finally:
        setattr(m.config, weight, 0.0)
        for k, v in saved.items():
            setattr(m.config, k, v)
        m.zero_grad(set_to_none=True)


def test_the_optional_mel_discriminator_judges_decoded_spectrograms(dance):
    """With loss_adv_mel > 0 a second multi-scale discriminator over the decoded log-mel joins both phases: the
    discriminator optimiser holds it, its terms are logged and its gradient reaches the generator only in the
    generator phase."""
    m, x = tiny_method(dance, loss_adv_mel=2.0)
    assert m.mel_discriminator.discs[0].layers[0][0].in_channels == m.codec.n_mels
    from types import SimpleNamespace

    train = SimpleNamespace(lr=1e-4, warmup_steps=0, steps=10, schedule="constant", min_lr_ratio=0.0,
                            optimizer="adam", weight_decay=0.0, betas=None, eps=1e-8)  # fmt: skip
    opts = m.configure_optimizers(train)
    held = {id(p) for p in opts["discriminator"].params}
    assert all(id(p) in held for p in m.mel_discriminator.parameters())
    batch = _batch(m, x)
    d_loss, d_terms = m.training_loss(batch, "discriminator")
    assert {"d_mel_real", "d_mel_fake"} <= set(d_terms)
    torch.testing.assert_close(
        d_loss.detach(), d_terms["d_real"] + d_terms["d_fake"] + d_terms["d_mel_real"] + d_terms["d_mel_fake"]
    )
    d_loss.sum().backward()
    assert all(p.grad is None for p in m.generator.parameters())
    m.zero_grad(set_to_none=True)
    for k in ("loss_adv", "loss_fm", "loss_latent", "loss_quantized", "loss_mel"):
        setattr(m.config, k, 0.0)
    loss, terms = m.training_loss(batch, "generator")
    torch.testing.assert_close(loss.detach(), 2.0 * terms["adv_mel"])  # fm weight 0 here
    loss.sum().backward()
    assert sum(float(p.grad.abs().sum()) for p in m.generator.parameters() if p.grad is not None) > 0


def test_the_mel_discriminator_can_judge_music_with_its_dance(dance):
    """mel_disc_motion > 0: the mel discriminator reads the dance beside the bands, its score changes with the
    dance alone, and the matching-aware term scores the real music under another window's dance as fake."""
    m, x = tiny_method(dance, loss_adv_mel=1.0, mel_disc_motion=4, mel_disc_mismatch=0.5, loss_fm_mel=0.0)
    assert m.mel_discriminator.judge.discs[0].layers[0][0].in_channels == m.codec.n_mels + 4
    batch = _batch(m, x)
    mel = m.codec.decode_mel(m.codec.quantize(m.codec.encode(batch["audio"]))[0]).transpose(1, 2).detach()
    judge = m._mel_judge(batch["motion"], mel.shape[1])
    other = m._mel_judge(batch["motion"].flip(1), mel.shape[1])  # the same windows danced backwards
    assert not torch.allclose(judge(mel)[0][-1], other(mel)[0][-1])
    with torch.no_grad():
        d_loss, d_terms = m.training_loss(batch, "discriminator")
    assert {"d_mel_real", "d_mel_fake", "d_mel_mismatch"} <= set(d_terms)
    assert float(d_terms["d_mel_mismatch"].min()) >= 0.0
    # the mismatch term is part of the fake side with its weight: remove it and the rest is the plain hinge
    m.config.mel_disc_mismatch = 0.0
    try:
        with torch.no_grad():
            plain, plain_terms = m.training_loss(batch, "discriminator")
    finally:
        m.config.mel_disc_mismatch = 0.5
    assert "d_mel_mismatch" not in plain_terms
    torch.testing.assert_close(d_loss, plain + 0.5 * d_terms["d_mel_mismatch"])
    # feature matching against it can be switched off on its own
    for k in ("loss_adv", "loss_fm", "loss_latent", "loss_quantized", "loss_mel"):
        setattr(m.config, k, 0.0)
    m.config.loss_fm = 5.0
    loss, terms = m.training_loss(batch, "generator")
    torch.testing.assert_close(loss.detach(), 5.0 * terms["fm"] + 1.0 * terms["adv_mel"])


@pytest.mark.parametrize(
    "bad",
    [
        {"mel_disc_motion": 4},  # no mel discriminator to condition
        {"loss_adv_mel": 1.0, "mel_disc_mismatch": 0.5},  # mismatch needs the dance
        {"loss_adv_mel": 1.0, "mel_disc_motion": -1},
    ],
)
def test_mel_discriminator_options_that_cannot_work_are_refused(bad):
    with pytest.raises(ChoreoError):
        D2MConfig.from_dict({**TINY, **bad})


def test_the_beat_accent_term_uses_the_real_music_beats(dance):
    """loss_beat > 0 reads the beats from the batches' music features (the feature set's beat column), puts them
    on the onset envelope's frames, and its gradient reaches the generator; a feature set without beats is
    refused."""
    with pytest.raises(ChoreoError, match="loss_beat needs the real music's beats"):
        tiny_method(dance, loss_beat=1.0)  # the mel set has no beat column
    m, x = tiny_method(dance, feature_set="rhythm", loss_beat=3.0)
    assert m.beat_column == 2
    batch = _batch(m, x)
    music = torch.zeros(2, batch["motion"].shape[1], 9)
    music[:, [0, 25, 49], 2] = 1.0  # beat one-hots on the frames at 0 s, 1 s and 1.96 s (25 fps)
    mask = m.beats_on_envelope(music[..., 2], 172)
    # the beat of frame f at (f - 1) / 25 - 0.03 s; envelope frame i is the change into mel frame i + 1, at
    # (i + 1) * 256 / 22050 s: 1 s -> round(0.93 * 86.13) - 1 = 79, 1.96 s -> round(1.89 * 86.13) - 1 = 162
    assert mask[0].nonzero().flatten().tolist() == [0, 79, 162]
    batch["music"] = music
    for k in ("loss_adv", "loss_fm", "loss_latent", "loss_quantized", "loss_mel"):
        setattr(m.config, k, 0.0)
    loss, terms = m.training_loss(batch, "generator")
    assert "beat" in terms and terms["beat"].shape == (2,)
    torch.testing.assert_close(loss.detach(), 3.0 * terms["beat"])
    loss.sum().backward()
    assert sum(float(p.grad.abs().sum()) for p in m.generator.parameters() if p.grad is not None) > 0
    del batch["music"]
    with pytest.raises(ChoreoError, match="music features"):
        m.training_loss(batch, "generator")


def test_the_dance_beat_term_asks_for_accents_on_the_dance_own_steps(dance):
    """loss_dance_beat > 0: a hinge under the generated music's beat accent on the dance's kinematic beats (read
    from the motion, no music features needed); zero once the accent reaches the target; its gradient reaches
    the generator."""
    from choreo.models.motion_rhythm import motion_rhythm
    from choreo.models.pulse import beat_accent, onset_envelope

    m, x = tiny_method(dance, loss_dance_beat=2.0, dance_beat_accent=50.0)
    # the dance's events sit on their own frame: frame 25 at 1 s - 0.03 s -> round(0.97 * 86.13) - 1 = 83
    one = torch.zeros(1, 50)
    one[0, 25] = 1.0
    assert m.beats_on_envelope(one, 172, lag_frames=0)[0].nonzero().flatten().tolist() == [83]
    batch = _batch(m, x)
    for k in ("loss_adv", "loss_fm", "loss_latent", "loss_quantized", "loss_mel"):
        setattr(m.config, k, 0.0)
    loss, terms = m.training_loss(batch, "generator")
    assert terms["dance_beat"].shape == (2,)
    torch.testing.assert_close(loss.detach(), 2.0 * terms["dance_beat"])
    # the same hinge, computed here from the pieces: the generator's music, its envelope, the dance's beats
    steps = motion_rhythm(batch["motion"], 25.0)[..., 2]
    assert (steps.sum(dim=-1) > 0).all()
    with torch.no_grad():
        n = m.codec.n_latents(batch["audio"].shape[-1])
        noise, style = m._draws(batch["seed"], n, batch["style"])
        z = m.generator(m.generator_input(batch["motion"]), m.positions(n), noise, style)
        zq = z + (m.codec.quantize(z)[0] - z)
        mel = m.codec.decode_mel(zq)[..., : m.codec.log_mel(batch["audio"]).shape[-1]]
        env = onset_envelope(mel)
        accent = beat_accent(env, m.beats_on_envelope(steps, env.shape[-1], lag_frames=0), tolerance=3)
    torch.testing.assert_close(terms["dance_beat"], 50.0 - accent, rtol=1e-4, atol=1e-4)
    loss.sum().backward()
    assert sum(float(p.grad.abs().sum()) for p in m.generator.parameters() if p.grad is not None) > 0
    m.config.dance_beat_accent = 1e-3  # any music accents its peaks above that: nothing left to ask
    loss, terms = m.training_loss(batch, "generator")
    assert float(terms["dance_beat"].abs().max()) == 0.0
    with pytest.raises(ChoreoError, match="dance_beat"):
        D2MConfig.from_dict({**TINY, "loss_dance_beat": -1.0})


def test_the_onset_distribution_term_compares_real_and_generated_envelopes(dance):
    from choreo.models.pulse import envelope_distribution_distance, onset_envelope

    m, x = tiny_method(dance, loss_onset_dist=4.0)
    for k in ("loss_adv", "loss_fm", "loss_latent", "loss_quantized", "loss_mel"):
        setattr(m.config, k, 0.0)
    batch = _batch(m, x)
    loss, terms = m.training_loss(batch, "generator")
    torch.testing.assert_close(loss.detach(), 4.0 * terms["onset_dist"])
    with torch.no_grad():
        real = onset_envelope(m.codec.log_mel(batch["audio"]))
        assert float(envelope_distribution_distance(real, real).max()) == 0.0
    assert (terms["onset_dist"] > 0).all()
    assert float(terms["onset_dist"][0]) == float(terms["onset_dist"][1])  # pooled over the batch (default)
    m.config.onset_dist_pooled = False
    _, per_window = m.training_loss(batch, "generator")
    assert float(per_window["onset_dist"][0]) != float(per_window["onset_dist"][1])
    loss.sum().backward()
    assert sum(float(p.grad.abs().sum()) for p in m.generator.parameters() if p.grad is not None) > 0


@pytest.mark.parametrize("kind,extra", [("rhythm", 0), ("both", 1)])
def test_the_generator_can_read_the_dance_rhythm_only(dance, kind, extra):
    """motion_input rhythm / both: the generator reads the five song-independent descriptors (alone or beside
    the raw channels), in training and in whole-dance generation, and chunking still changes nothing."""
    from choreo.models.motion_rhythm import N_DESCRIPTORS

    m, x = tiny_method(dance, motion_input=kind)
    assert m.generator.motion_in.in_channels == N_DESCRIPTORS + extra * m.representation.dim
    loss, _ = m.training_loss(_batch(m, x), "generator")
    assert torch.isfinite(loss).all()
    m.eval()
    whole = m.latents(x, seed=1, quantize=False)
    m.config.chunk_seconds = 3.0
    try:
        chunked = m.latents(x, seed=1, quantize=False)
    finally:
        m.config.chunk_seconds = 30.0
    torch.testing.assert_close(chunked, whole, rtol=1e-4, atol=1e-5)
    with pytest.raises(ChoreoError, match="too short"):
        m.latents(x[:2], seed=0)


def test_an_unknown_motion_input_is_refused():
    with pytest.raises(ChoreoError, match="unknown motion_input"):
        D2MConfig.from_dict({**TINY, "motion_input": "joints"})


def dataclass_weights(cfg) -> dict:
    return {k: getattr(cfg, k) for k in ("loss_adv", "loss_fm", "loss_latent", "loss_quantized", "loss_mel")}


def test_chunked_generation_equals_the_whole_and_music_lasts_the_dance(method):
    m, x = method
    whole = m.latents(x, seed=3, quantize=False)
    old = m.config.chunk_seconds
    m.config.chunk_seconds = 3.0
    try:
        chunked = m.latents(x, seed=3, quantize=False)
    finally:
        m.config.chunk_seconds = old
    torch.testing.assert_close(chunked, whole, rtol=1e-4, atol=1e-5)
    assert whole.shape == (m.codec.n_latents(len(x) * 22050 // 25), 8)
    assert not torch.equal(m.latents(x, seed=4, quantize=False), whole)  # the noise follows the seed
    y = m.compose(x[:100], seed=0)  # 4 s
    assert y.shape == (4 * 22050,) and y.dtype == np.float32 and np.all(np.isfinite(y))


def test_styles_condition_the_generator_and_unknown_ones_are_refused(method):
    m, x = method
    withheld = m.latents(x[:100], quantize=False)
    waltz = m.latents(x[:100], style="waltz", quantize=False)
    assert not torch.equal(withheld, waltz)
    torch.testing.assert_close(m.latents(x[:100], style=0, quantize=False), waltz)
    with pytest.raises(ChoreoError, match="unknown style"):
        m.latents(x[:100], style="polka")
    with pytest.raises(ChoreoError, match="NaN"):
        m.latents(np.full_like(x[:10], np.nan))
    with pytest.raises(ChoreoError, match="no frames"):
        m.latents(x[:0])
