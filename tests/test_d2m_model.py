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


def test_the_pulse_term_adds_to_the_loss_and_reaches_the_generator(method):
    from choreo.models.pulse import onset_envelope, pulse_lags, pulse_profile

    term, weight = "pulse", "loss_pulse"
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
        with torch.no_grad():  # the L1 between the pulse profiles of the decoded generated and the real log-mel
            mel_real = m.codec.log_mel(batch["audio"])
            n = mel_real.shape[-1]
            noise, style = m._draws(batch["seed"], m.codec.n_latents(batch["audio"].shape[-1]), batch["style"])
            z = m.generator(batch["motion"], m.positions(noise.shape[1]), noise, style)
            mel_fake = m.codec.decode_mel(m.codec.quantize(z)[0])[..., :n]
            lags = pulse_lags(22050 / 256)
            want = pulse_profile(onset_envelope(mel_fake), *lags) - pulse_profile(onset_envelope(mel_real), *lags)
            torch.testing.assert_close(terms[term], want.abs().mean(dim=-1), rtol=1e-4, atol=1e-5)
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


def test_removed_experiments_load_when_off_and_are_refused_when_on():
    """Old checkpoints carry the research options removed in the consolidation: at their off value they are dropped
    silently (the model is what it was); switched on, the error names the experiment and the commit that had it."""
    from choreo.models.d2m.config import REMOVED, REMOVED_IN

    old = {"motion_input": "raw", "loss_beat": 0.0, "loss_mel_stats": 0.0, "loss_dance_beat": 0.0,
           "dance_beat_accent": 4.0, "loss_onset_dist": 0.0, "onset_dist_pooled": False, "mel_disc_motion": 0,
           "mel_disc_mismatch": 0.0, "loss_fm_mel": None}  # fmt: skip
    assert set(old) == set(REMOVED)
    assert D2MConfig.from_dict({**TINY, **old}) == D2MConfig.from_dict(TINY)
    assert D2MConfig.from_dict({**TINY, "loss_adv_mel": 1.0, "loss_fm_mel": 3.0}).loss_fm == 3.0  # = loss_fm
    for on in ({"loss_beat": 1.0}, {"motion_input": "both"}, {"loss_adv_mel": 1.0, "loss_fm_mel": 1.0}):
        with pytest.raises(ChoreoError, match=f"{list(on)[-1]}=.*removed.*{REMOVED_IN}"):
            D2MConfig.from_dict({**TINY, **on})
    with pytest.raises(ChoreoError, match="unknown D2M-GAN settings: loss_typo"):
        D2MConfig.from_dict({**TINY, "loss_typo": 1.0})


def test_the_codec_comes_from_the_loader_and_is_embedded(dance):
    """A new run names its codec (codec_checkpoint); the loader reads it (trained_parts) and hands it to the builder,
    which embeds its architecture in the config; a checkpoint's settings embed it already and name nothing to read."""
    from choreo.models.codec import CodecMethod
    from choreo.models.d2m import build_d2mgan

    m, _ = tiny_method(dance)
    settings = {**TINY, "codec_checkpoint": "runs/codec"}
    assert type(m).trained_parts(settings) == {"codec": "runs/codec"}
    assert type(m).trained_parts({**settings, "codec": m.config.codec}) == {}
    with pytest.raises(ChoreoError, match="read by the loader"):
        build_d2mgan(settings, m.spec)
    trained = CodecMethod(m.codec.config, m.spec)
    trained.codec.load_state_dict(m.codec.state_dict())
    built = build_d2mgan(settings, m.spec, codec=trained)
    assert built.codec is trained.codec and built.config.codec == {"kind": "melvq", "config": m.codec.config.to_dict()}
    with pytest.raises(ChoreoError, match="codec_checkpoint holds method 'd2mgan'"):
        build_d2mgan(settings, m.spec, codec=m)


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
