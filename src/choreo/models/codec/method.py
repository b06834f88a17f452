"""The codec as a trainable method (``choreo train --method codec --data MUSIC_DIR``)."""

from __future__ import annotations

from typing import ClassVar

import torch

from choreo.errors import ChoreoError
from choreo.models.codec.melvq import CodecConfig, MelVQCodec
from choreo.models.method import Method


class CodecMethod(Method):
    """The codec as a trainable method: ``choreo train --method codec --data MUSIC_DIR``.

    It trains on batches ``{"audio": (B, N) waveform windows at the codec's rate, "seed": (B,)}`` (an
    :class:`~choreo.data.audio_windows.AudioWindowDataset`; ``trains_on = "audio"`` tells the trainer).
    Loss per sample: ``recon + commitment * commit``. The codebooks are EMA buffers, not
    optimised; the weights get no extra EMA copy (``ema_components = ()``: an averaged encoder with the live
    codebooks would not match). ``produces = "codec"``: a component for music methods, not a generator.
    """

    name = "codec"
    produces = "codec"
    trains_on: ClassVar[str] = "audio"
    ema_components = ()

    def __init__(self, config: CodecConfig, spec):
        super().__init__(config, spec)
        sr = int(getattr(spec, "audio_sr", 0) or 0)
        if sr and sr != config.sample_rate:
            raise ChoreoError(f"the data's audio is at {sr} Hz but the codec works at {config.sample_rate} Hz")
        self.codec = MelVQCodec(config)

    def training_loss(
        self, batch: dict, phase: str = "main", step: int = 0, epoch: float = 0.0
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor | float]]:
        """Reconstruction + commitment per sample on ``batch["audio"]`` (B, N); updates the codebooks."""
        if "audio" not in batch:
            raise ChoreoError("the codec trains on audio windows: its data must carry 'audio' (data.audio_sr)")
        from choreo.train.distributed import all_cat  # training only: inference never imports choreo.train

        y = batch["audio"].to(self.device, torch.float32)
        # the restarts' random draws: a function of the global batch (the same on every process)
        seed = int(all_cat(batch["seed"].reshape(-1)[:1].to(self.device))[0])
        t = self.codec.losses(y, seed=seed)
        cfg = self.config
        loss = t["recon"] + cfg.commitment * t["commit"]
        return loss, {
            "recon": t["recon"].detach(),
            "commit": t["commit"].detach(),
            "perplexity": float(t["perplexity"]),
            "dead": float(t["dead"]),
        }

    @property
    def sample_rate(self) -> int:
        return int(self.config.sample_rate)


def build_codec(model_config: dict | None, spec) -> CodecMethod:
    """Registry entry: a :class:`CodecMethod` from its config dict and the data spec."""
    return CodecMethod(CodecConfig.from_dict(model_config), spec)
