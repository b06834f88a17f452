"""Shared pieces of the dance-to-music tests: short Dance with Melody sequences, tiny codec and D2M-GAN runs.

The data are real (../shared): two Dance with Melody sequences cut to their first 8 s (200 frames at 25 fps, the
song linked, not copied), Creative-Commons clips for the codec. Runs use the bundled tiny configs with fewer
steps, one thread and a private cache folder, so each is trained in seconds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from choreo.train.config import RunConfig
from choreo.train.trainer import Trainer

SHORT_DWM = ("DANCE_C_2", "DANCE_W_15")


def short_dwm(data_dir: Path, out: Path, frames: int = 200, names=SHORT_DWM) -> Path:
    """A Dance with Melody folder of ``names`` cut to their first ``frames`` frames (audio symlinked)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        src, dst = data_dir / "dance_with_melody" / name, out / name
        dst.mkdir(exist_ok=True)
        sk = json.loads((src / "skeletons.json").read_text())
        cf = json.loads((src / "config.json").read_text())
        cut = {"length": frames, "center": sk["center"][:frames], "skeletons": sk["skeletons"][:frames]}
        (dst / "skeletons.json").write_text(json.dumps(cut))
        start = cf["start_position"]
        (dst / "config.json").write_text(json.dumps({"start_position": start, "end_position": start + frames}))
        if not (dst / "audio.mp3").exists():
            os.symlink(src / "audio.mp3", dst / "audio.mp3")
    return out


def codec_config(music: Path, cache: Path, steps: int = 6, **train) -> RunConfig:
    cfg = RunConfig.load("codec_tiny")
    cfg.data.path = str(music)
    cfg.data.cache_dir = str(cache)
    cfg.train.steps = steps
    cfg.train.save_every = steps
    cfg.train.log_every = 1
    for k, v in train.items():
        setattr(cfg.train, k, v)
    return cfg


def train_codec(music: Path, cache: Path, run: Path, steps: int = 6, **train) -> dict:
    return Trainer(codec_config(music, cache, steps, **train), run, progress=False).fit()


def d2m_config(dwm: Path, codec_run: Path, cache: Path, steps: int = 4, **train) -> RunConfig:
    cfg = RunConfig.load("d2mgan_tiny")
    cfg.data.path = str(dwm)
    cfg.data.cache_dir = str(cache)
    cfg.model["codec_checkpoint"] = str(codec_run)
    cfg.train.steps = steps
    cfg.train.save_every = steps
    cfg.train.log_every = 1
    for k, v in train.items():
        setattr(cfg.train, k, v)
    return cfg
