"""The packaged codec (trained by choreo, `choreo models` lists it as `codec`): loads by name and reconstructs a song
it never trained on (a held-out Dance with Melody test song)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from choreo.audio import load_audio
from choreo.checkpoint import load_method
from choreo.packaged import packaged_models, resolve_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_packaged_codec_reconstructs_an_unseen_song(data_dir):
    assert "codec" in [m.name for m in packaged_models()]
    method, state = load_method(resolve_model("codec"), device="cpu")
    assert state["method"] == "codec" and state["step"] == 20000 and "research use only" in state["info"]["licence"]
    codec = method.codec
    y, _ = load_audio(
        data_dir / "dance_with_melody" / "DANCE_R_5" / "audio.mp3", sr=codec.sample_rate, start=20, end=30
    )
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(y))[None]
        mel = codec.log_mel(x)
        zq, codes = codec.quantize(codec.encode(x))
        rec = codec.decode_mel(zq)
    n = min(mel.shape[-1], rec.shape[-1])
    err = float((rec[..., :n] - mel[..., :n]).abs().mean())
    # the song's own mean spectrum, held over time, is what a codec that ignored the song would give
    flat = float((mel - mel.mean(dim=-1, keepdim=True)).abs().mean())
    assert codes.shape[-1] == 8 and err < 0.3 and err < 0.6 * flat, (err, flat)
    audio = codec.decode(codes[0], n_samples=len(y))
    assert audio.shape == (len(y),) and np.isfinite(audio).all() and np.abs(audio).max() > 1e-3
