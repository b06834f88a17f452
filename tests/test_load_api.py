"""choreo.load: a checkpoint gives back what its method makes (a dance generator or a music generator)."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch
from torch import nn

import choreo
from choreo.checkpoint import save_checkpoint
from choreo.compose import Composer
from choreo.data.normalizer import MinMaxNormalizer
from choreo.data.spec import DataSpec
from choreo.errors import ChoreoError
from choreo.generate import Choreographer
from choreo.models import METHODS
from choreo.models.method import Method
from edge_standin import make_checkpoint, positions_motion, positions_rep


class ClickTrack(Method):
    """A stand-in dance-to-music method: a click at every frame where the root moves down (learnable gain)."""

    name = "clicks"
    produces = "music"
    sample_rate = 8000
    sampling_options = ("gain",)

    def __init__(self, config, spec):
        super().__init__(types.SimpleNamespace(gain=float(config.get("gain", 1.0))), spec)
        self.net = nn.Linear(1, 1)

    def compose(self, x: np.ndarray, seed: int = 0, progress: bool = False, gain: float = 1.0) -> np.ndarray:
        hop = int(self.sample_rate / self.spec.fps)
        y = np.zeros(len(x) * hop, np.float32)
        down = np.nonzero(np.diff(x[:, 5]) < 0)[0]
        y[down * hop] = gain * float(self.net.weight.detach().abs().item() + 1)
        return y


def build_clicks(config: dict, spec) -> ClickTrack:
    return ClickTrack(config, spec)


@pytest.fixture
def music_ckpt(tmp_path, monkeypatch):
    module = types.ModuleType("clicks_standin")
    module.build_clicks = build_clicks
    monkeypatch.setitem(sys.modules, "clicks_standin", module)
    monkeypatch.setitem(METHODS, "clicks", "clicks_standin:build_clicks")
    rep = positions_rep()
    norm = MinMaxNormalizer().fit(rep.encode(positions_motion(40)))
    spec = DataSpec(rep, norm, 0, "", 20.0, 40)
    torch.manual_seed(0)
    m = ClickTrack({"gain": 0.5}, spec)
    path = tmp_path / "clicks.ckpt"
    state = {"method": "clicks", "produces": "music", "config": {"model": {"gain": 0.5}}, "spec": spec.state_dict()}
    save_checkpoint(path, {**state, "components": m.component_state(), "ema": {}, "step": 0})
    return path


def test_load_gives_a_composer_for_a_music_model(music_ckpt):
    composer = choreo.load(music_ckpt, device="cpu", threads=1)
    assert isinstance(composer, Composer) and composer.sample_rate == 8000 and composer.fps == 20.0
    dance = positions_motion(60)  # 2 s at 30 fps
    y, sr = composer.music(dance)
    assert sr == 8000 and y.shape == (16000,) and y.dtype == np.float32 and np.abs(y).max() > 0
    louder, _ = composer.music(dance, gain=2.0)  # a sampling option overrides the checkpoint's 0.5
    np.testing.assert_allclose(louder, 4 * y, rtol=1e-6)
    with pytest.raises(ChoreoError, match="makes music, not dance"):
        Choreographer.load(music_ckpt)
    with pytest.raises(ChoreoError, match="guidance"):
        composer.music(dance, guidance=2.0)


def test_load_gives_a_choreographer_for_a_dance_model(tmp_path):
    path = make_checkpoint(tmp_path / "edge.ckpt", rep=positions_rep(), window=16)
    dancer = choreo.load(path, device="cpu", threads=1)
    assert isinstance(dancer, Choreographer) and dancer.window_frames == 16
    with pytest.raises(ChoreoError, match="makes dance, not music"):
        Composer.load(path)
    with pytest.raises(ChoreoError, match="no such packaged model"):
        choreo.load("no_such_model")
