"""The audio codec's parts by hand: nearest codewords, EMA updates, dead-code restarts, commitment, the mel front
end against librosa, Griffin-Lim on a real song, chunked decoding, latent timing, and the audio-only dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from choreo.audio.griffinlim import mel_to_audio, overlap_chunks
from choreo.data.audio_windows import AudioWindowDataset, list_songs, split_songs
from choreo.models.codec import CodecConfig, MelVQCodec, ResidualVQ

torch.set_num_threads(1)


def _vq(levels=1, size=3, dim=2, decay=0.9, eps=0.0, threshold=0.0) -> ResidualVQ:
    return ResidualVQ(levels, size, dim, decay, eps, threshold)


def test_nearest_codeword_by_hand_with_ties_to_the_lowest_index():
    vq = _vq()
    vq.embed[0] = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    x = torch.tensor([[0.4, 0.1], [0.6, 0.0], [0.1, 1.2], [0.5, 0.0]])
    # squared distances: x0 (0.17, 0.37, 3.77), x1 (0.36, 0.16, 4.36), x2 (1.45, 2.25, 0.65), x3 (0.25, 0.25, 4.25)
    assert vq.nearest(x, 0).tolist() == [0, 1, 2, 0]


def test_residual_levels_quantise_what_the_previous_left():
    vq = _vq(levels=2)
    vq.embed[0] = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    vq.embed[1] = torch.tensor([[0.0, 0.0], [0.1, 0.1], [-0.2, 0.0]])
    z = torch.tensor([[[1.1, 0.1], [-0.2, 1.9]]])  # level 0 -> (1, 0), (0, 2); residuals (0.1, 0.1), (-0.2, -0.1)
    zq, codes, _ = vq(z)
    assert codes[0].tolist() == [[1, 1], [2, 2]]
    torch.testing.assert_close(zq, torch.tensor([[[1.1, 0.1], [-0.2, 2.0]]]))
    torch.testing.assert_close(vq.lookup(codes), zq)
    zq1, codes1, _ = vq(z, levels=1)  # the first level alone
    assert codes1.shape == (1, 2, 1) and torch.equal(zq1, torch.tensor([[[1.0, 0.0], [0.0, 2.0]]]))


def test_commitment_loss_and_its_gradient_by_hand():
    vq = _vq()
    vq.embed[0] = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    z = torch.tensor([[[0.4, 0.1], [0.6, 0.0]], [[0.1, 1.2], [0.5, 0.0]]], requires_grad=True)
    zq, _, commit = vq(z)
    want = ((z.detach() - zq) ** 2).mean(dim=(1, 2))
    torch.testing.assert_close(commit, want)
    assert not zq.requires_grad  # the codebook gets no gradient: it moves by EMA
    commit.sum().backward()
    torch.testing.assert_close(z.grad, 2 * (z.detach() - zq) / 4)  # d/dz of the mean over T x D = 4 values


def test_ema_update_by_hand():
    vq = _vq(decay=0.9, eps=1e-5, threshold=0.0)
    e = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    vq.embed[0] = e
    vq.cluster_size[0] = torch.tensor([2.0, 1.0, 3.0])
    vq.embed_sum[0] = e * vq.cluster_size[0][:, None]
    x = torch.tensor([[0.4, 0.1], [0.6, 0.0], [0.1, 1.2], [0.5, 0.0]])  # codes 0, 1, 2, 0
    vq(x[None], update=True, seed=0)
    n = torch.tensor([2.0, 1.0, 1.0])
    s = torch.tensor([[0.9, 0.1], [0.6, 0.0], [0.1, 1.2]])
    N = 0.9 * torch.tensor([2.0, 1.0, 3.0]) + 0.1 * n
    S = 0.9 * e * torch.tensor([2.0, 1.0, 3.0])[:, None] + 0.1 * s
    smoothed = (N + 1e-5) / (N.sum() + 3e-5) * N.sum()
    torch.testing.assert_close(vq.cluster_size[0], N)
    torch.testing.assert_close(vq.embed_sum[0], S)
    torch.testing.assert_close(vq.embed[0], S / smoothed[:, None])


def test_dead_codes_restart_at_batch_vectors_reproducibly():
    def run(seed):
        vq = _vq(size=4, decay=0.9, threshold=1.0)
        vq.embed[0] = torch.tensor([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0], [9.0, 9.0]])
        vq.cluster_size[0] = torch.tensor([4.0, 4.0, 1.05, 0.0])
        vq.embed_sum[0] = vq.embed[0] * vq.cluster_size[0][:, None]
        x = torch.tensor([[0.1, 0.0], [0.9, 0.1], [1.1, 0.0], [0.0, 0.2], [-0.1, 0.0]])  # codes 0 and 1 only
        vq(x[None], update=True, seed=seed)
        return vq, x

    vq, x = run(7)
    # codes 2 (0.945 after decay) and 3 (0) are dead: restarted at batch vectors with count = threshold
    assert vq.cluster_size[0].tolist()[2:] == [1.0, 1.0]
    for k in (2, 3):
        assert min(float((vq.embed[0][k] - v).abs().max()) for v in x) < 1e-6
        torch.testing.assert_close(vq.embed_sum[0][k], vq.embed[0][k])
    assert vq.cluster_size[0][0] == pytest.approx(0.9 * 4 + 0.1 * 3)  # live codes keep their EMA
    assert torch.equal(run(7)[0].embed, vq.embed)  # the draw is a function of the seed
    assert any(not torch.equal(run(s)[0].embed, vq.embed) for s in range(1, 6))


def test_the_first_training_batch_initialises_the_codebooks():
    z = torch.randn(2, 16, 3, generator=torch.Generator().manual_seed(0))
    vq = _vq(levels=2, size=8, dim=3, decay=0.0, threshold=0.5)  # decay 0: codewords = this batch's cluster means
    _, codes0, before = vq(z, update=False)
    assert (codes0 == 0).all()  # an untrained codebook: every vector on codeword 0 (all zeros)
    _, codes, _ = vq(z, update=True, seed=1)
    flat = z.reshape(-1, 3)
    for k in codes[..., 0].unique().tolist():  # each used codeword is the mean of the vectors it won
        torch.testing.assert_close(vq.embed[0][k], flat[codes[..., 0].reshape(-1) == k].mean(0), atol=1e-4, rtol=0)
    assert codes[..., 0].unique().numel() >= 4
    _, _, after = vq(z, update=False)
    assert after.mean() < 0.3 * before.mean()


def test_log_mel_front_end_matches_librosa():
    import librosa

    codec = MelVQCodec(CodecConfig(channels=8, res_blocks=1, latent_dim=4, n_codebooks=1, codebook_size=4))
    y = np.random.default_rng(0).normal(0, 0.1, 22050).astype(np.float32)
    ours = codec.log_mel(torch.from_numpy(y)[None])[0].numpy()
    ref = librosa.feature.melspectrogram(y=y, sr=22050, n_fft=1024, hop_length=256, n_mels=80, power=1.0)
    ref = np.log10(np.maximum(ref, 1e-5))
    assert ours.shape == ref.shape == (80, 1 + 22050 // 256)
    np.testing.assert_allclose(ours, ref, atol=2e-4)


@pytest.fixture(scope="module")
def song(data_dir):
    from choreo.audio.io import load_audio

    y, sr = load_audio(data_dir / "cc_music" / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg", sr=22050, start=10.0, end=18.0)
    return y, sr


def test_griffin_lim_round_trip_of_a_real_song_is_close(song):
    import librosa

    from choreo.metrics.music import mel_l1

    y, sr = song
    m = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=256, n_mels=80, power=1.0)
    log_mel = np.log10(np.maximum(m, 1e-5))
    whole = mel_to_audio(log_mel, sr, 1024, 256, n_iter=32, length=len(y))
    chunked = mel_to_audio(log_mel, sr, 1024, 256, n_iter=32, length=len(y), chunk_frames=200, overlap_frames=32)
    for out in (whole, chunked):
        assert out.shape == y.shape and out.dtype == np.float32
        assert mel_l1(y, out, sr) < 0.1  # log10 units: about 2 dB of magnitude on average
        assert 0.5 < np.sqrt(np.mean(out**2)) / np.sqrt(np.mean(y**2)) < 2.0
    silence = mel_l1(y, np.zeros_like(y), sr)
    assert silence > 1.0


def test_overlapping_chunks_reassemble_a_signal_exactly():
    hop, T = 16, 100
    sig = np.random.default_rng(1).normal(size=T * hop).astype(np.float32)
    out = overlap_chunks(T, hop, len(sig), lambda a, b: sig[a * hop : b * hop], chunk_frames=30, overlap_frames=7)
    np.testing.assert_allclose(out, sig, rtol=0, atol=1e-6)
    short = overlap_chunks(T, hop, 1000, lambda a, b: sig[a * hop : b * hop], chunk_frames=30, overlap_frames=7)
    np.testing.assert_allclose(short, sig[:1000], atol=1e-6)


def test_latent_timing_and_chunked_decoding_equal_the_whole():
    torch.manual_seed(0)
    cfg = CodecConfig(channels=16, res_blocks=2, latent_dim=8, n_codebooks=2, codebook_size=16)
    codec = MelVQCodec(cfg).eval()
    assert (codec.hop, codec.down, codec.latent_dim) == (1024, 4, 8)
    n = 22050 * 3
    assert codec.n_mel_frames(n) == 259 and codec.n_latents(n) == 65
    np.testing.assert_allclose(codec.latent_times(3), np.array([1.5, 5.5, 9.5]) * 256 / 22050)
    y = torch.randn(1, n) * 0.1
    z = codec.encode(y)
    assert z.shape == (1, 65, 8)
    zq = torch.randn(1, 200, 8)
    with torch.no_grad():
        whole = codec.decode_mel(zq)
        m = codec.decoder_margin()
        a, b = 80, 120
        part = codec.decode_mel(zq[:, a - m : b + m])[..., m * 4 : (m + b - a) * 4]
    torch.testing.assert_close(part, whole[..., a * 4 : b * 4], rtol=1e-4, atol=1e-5)
    audio = codec.decode(zq[0], n_samples=5000 * 4, chunk_latents=64)
    assert audio.shape == (20000,) and np.all(np.isfinite(audio))


def test_audio_windows_of_every_song_with_the_dance_splits(data_dir, tmp_path):
    songs = list_songs(data_dir / "dance_with_melody")
    assert len(songs) == 38 and songs[0][0] == "DANCE_C_2/audio"
    test = split_songs(songs, data_dir / "dance_with_melody", "test")
    assert sorted(n.split("/")[0] for n, _ in test) == ["DANCE_C_4", "DANCE_R_5", "DANCE_W_17", "DANCE_W_3"]
    assert len(split_songs(songs, data_dir / "dance_with_melody", "train")) == 34
    sr = 1000
    a = (np.sin(np.arange(2500) / 7) * 0.5).astype(np.float32)
    b = np.linspace(-1, 1, 1200).astype(np.float32)
    ds = AudioWindowDataset([a, b], ["a", "b"], sr, window=1000, stride=500)
    assert len(ds) == 4 + 1  # starts 0, 500, 1000, 1500 in a; 0 in b
    batch = ds.get([1, 4])
    assert batch["audio"].shape == (2, 1000) and batch["audio"].dtype == torch.float32
    np.testing.assert_allclose(batch["audio"][0].numpy(), a[500:1500], atol=1 / 32767)
    np.testing.assert_allclose(batch["audio"][1].numpy(), b[:1000], atol=1 / 32767)
    spec = ds.spec()
    assert spec.audio_sr == 1000 and spec.representation is None and spec.normalizer is None
