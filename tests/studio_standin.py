"""Helpers for the studio tests: a song that is not in ../shared, a tiny model, a studio app, waiting on jobs."""

from __future__ import annotations

import re
import time
from pathlib import Path

from choreo.audio.demo import demo_song, write_wav
from edge_standin import make_checkpoint

SONG_SECONDS = 3.0


def write_song(path: Path, seconds: float = SONG_SECONDS) -> Path:
    """choreo's synthesised demo song (120 bpm) as a WAV."""
    y, sr = demo_song(seconds=seconds, sr=16000)
    write_wav(path, y, sr)
    return path


def tiny_model(folder: Path) -> Path:
    """A run folder holding a tiny untrained EDGE checkpoint (SMPL-24, 30 fps, baseline35 features)."""
    folder.mkdir(parents=True, exist_ok=True)
    make_checkpoint(folder / "last.ckpt")
    return folder


def page_token(page_html: str) -> str:
    """The run's token, read from the page as its scripts read it."""
    m = re.search(r'<meta name="choreo-token" content="([^"]+)">', page_html)
    assert m, "the page holds no token"
    return m.group(1)


def as_the_page(client, origin: str = "http://testserver"):
    """Give a TestClient the headers the studio's own page sends with every request (its origin and token)."""
    client.headers.update({"origin": origin, "x-choreo-token": page_token(client.get("/").text)})
    return client


def wait_job(client, job: dict, timeout: float = 60.0) -> dict:
    """Poll a job through the API until it has finished."""
    end = time.monotonic() + timeout
    while True:
        j = client.get(f"/api/jobs/{job['id']}").json()
        if j["state"] in ("done", "failed"):
            return j
        if time.monotonic() > end:
            raise TimeoutError(j)
        time.sleep(0.05)


# --- a stand-in dance-to-music model, registered only inside tests ---------------------------------------------
STANDIN_METHOD = "standin_music"


def build_standin_music(model_config: dict, spec):
    """A tiny ``produces = "music"`` method: a tone whose loudness follows how fast the dance moves."""
    import numpy as np
    import torch

    from choreo.models.method import Method

    class _Standin(Method):
        name = STANDIN_METHOD
        produces = "music"
        sample_rate = 8000

        def __init__(self, config, spec):
            super().__init__(config, spec)
            self.gain = torch.nn.Linear(1, 1)

        def compose(self, x, seed=0, progress=False, **settings):
            x = np.asarray(x, np.float64)
            n = int(round(len(x) / self.spec.fps * self.sample_rate))
            speed = np.r_[0.0, np.linalg.norm(np.diff(x, axis=0), axis=1)]
            loud = np.interp(np.arange(n) / self.sample_rate * self.spec.fps, np.arange(len(x)), speed)
            loud = 0.1 + 0.4 * loud / max(float(loud.max()), 1e-9)
            return (loud * np.sin(2 * np.pi * 440.0 * np.arange(n) / self.sample_rate)).astype(np.float32)

    return _Standin(model_config, spec)


def standin_music_checkpoint(path: Path) -> Path:
    """Write a checkpoint of the stand-in music method (SMPL-24 rotations at 30 fps); returns the path."""
    from choreo.checkpoint import save_checkpoint
    from choreo.data.spec import DataSpec
    from edge_standin import fitted_normalizer, rot6d_rep

    rep = rot6d_rep()
    spec = DataSpec(rep, fitted_normalizer(rep), 0, "", 30.0, 60)
    m = build_standin_music({}, spec)
    state = {
        "method": STANDIN_METHOD,
        "produces": "music",
        "config": {"method": STANDIN_METHOD, "model": {}},
        "spec": spec.state_dict(),
        "components": m.component_state(),
        "step": 0,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, state)
    return path


def register_standin_music(monkeypatch) -> None:
    """Make the stand-in method loadable for the rest of one test (or fixture)."""
    from choreo.models import METHODS

    monkeypatch.setitem(METHODS, STANDIN_METHOD, "studio_standin:build_standin_music")
