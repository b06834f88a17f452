"""choreo's audio codec: a residual-VQ VAE on log-mel frames, decoded to audio by Griffin-Lim.

D2M-GAN generates the continuous latent of an audio codec and decodes its nearest codewords to audio. Its
codec, Jukebox's VQ-VAE, needs a large GPU and weights that are not available here, so choreo trains its
own, small enough for 2 CPU cores in hours:

- **Front end** (:mod:`.frontend`, :class:`LogMel`): mono audio at ``sample_rate`` (22050 Hz) ->
  ``log10(max(M, 1e-5))`` with ``M = mel_basis @ |STFT|`` (n_fft 1024, Hann, hop 256, 80 Slaney mel bands,
  librosa's filters and ``center=True`` framing, so ``librosa.feature.melspectrogram(power=1)`` gives the same
  magnitudes): 86.1 mel frames per second, frame ``i`` centred on sample ``i * 256``.
- **Encoder** (:mod:`.melvq`): 1D convolutions over time with dilated residual blocks, ``log2(down)`` stride-2
  stages: ``down`` (4) mel frames per latent frame, so one ``latent_dim`` (64) vector every 1024 samples (21.5 Hz).
- **Quantiser** (:mod:`.quantizer`, :class:`ResidualVQ`): ``n_codebooks`` residual levels of ``codebook_size``
  codewords; nearest-codeword lookup, commitment loss, EMA codebook updates with Laplace smoothing, dead-code
  restarts from the batch's own vectors (every codeword starts dead, so the first batch initialises the codebooks).
- **Decoder** (:mod:`.melvq`): the mirror image (transposed stride-2 convolutions) back to log-mel frames;
  differentiable, which D2M-GAN's mel loss needs.
- **Audio**: Griffin-Lim on the decoded mel (:mod:`choreo.audio.griffinlim`), in chunks.

:class:`AudioCodec` (:mod:`.interface`) is what the dance-to-music method uses, so another codec (Jukebox's VQ-VAE
for someone with its weights and a GPU) can plug in: ``encode``, ``quantize``, ``lookup``, ``decode_mel``,
``log_mel``, ``decode`` plus ``sample_rate``, ``hop``, ``latent_dim`` and the latent timing; it registers its kind
in :data:`CODECS` (:mod:`.kinds`).

:class:`CodecMethod` (:mod:`.method`; ``choreo train --method codec --data MUSIC_DIR``) trains it on waveform
windows from any folder of audio files (:mod:`choreo.data.audio_windows`). No file IO here.
"""

from __future__ import annotations

from choreo.models.codec.frontend import LogMel
from choreo.models.codec.interface import AudioCodec
from choreo.models.codec.kinds import CODECS, build_audio_codec, codec_spec
from choreo.models.codec.melvq import CodecConfig, MelVQCodec, ResBlock
from choreo.models.codec.method import CodecMethod, build_codec
from choreo.models.codec.quantizer import ResidualVQ

__all__ = [
    "CODECS",
    "AudioCodec",
    "CodecConfig",
    "CodecMethod",
    "LogMel",
    "MelVQCodec",
    "ResBlock",
    "ResidualVQ",
    "build_audio_codec",
    "build_codec",
    "codec_spec",
]
