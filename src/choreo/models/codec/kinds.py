"""Codec kinds a music method can embed, by name: a checkpoint stores ``{"kind", "config"}`` and rebuilds from it."""

from __future__ import annotations

from choreo.errors import ChoreoError
from choreo.models.codec.interface import AudioCodec
from choreo.models.codec.melvq import CodecConfig, MelVQCodec

#: codec kinds a music method can embed: kind -> (config class, codec class).
CODECS: dict[str, tuple[type, type]] = {"melvq": (CodecConfig, MelVQCodec)}


def build_audio_codec(kind: str, config: dict) -> AudioCodec:
    """An (untrained) codec of a registered kind from its config dict (weights come from a checkpoint)."""
    try:
        cfg_cls, codec_cls = CODECS[kind]
    except KeyError:
        raise ChoreoError(f"unknown codec kind {kind!r} (known: {', '.join(CODECS)})") from None
    return codec_cls(cfg_cls.from_dict(config))


def codec_spec(codec: AudioCodec) -> dict:
    """``{"kind", "config"}`` of a codec: what a music method's checkpoint stores to rebuild its architecture with
    :func:`build_audio_codec` (the weights travel as the method's ``codec`` component)."""
    for kind, (_, codec_cls) in CODECS.items():
        if type(codec) is codec_cls:
            return {"kind": kind, "config": codec.config.to_dict()}
    raise ChoreoError(f"{type(codec).__name__} is not a registered codec kind (known: {', '.join(CODECS)})")
