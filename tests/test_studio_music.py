"""Dance to music in the studio, wired to a tiny stand-in music method registered only here (choreo ships no
music model yet): the page is told whether one is installed, a typed checkpoint or a packaged default works,
and the music comes back as a take that plays with its dance."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from starlette.testclient import TestClient

import choreo.packaged as packaged
from choreo.motion.formats import write_motion
from choreo.studio.server import create_app
from choreo.studio.session import Studio
from edge_standin import smooth_smpl
from studio_standin import as_the_page, register_standin_music, standin_music_checkpoint, wait_job


@pytest.fixture
def client(tmp_path, monkeypatch):
    register_standin_music(monkeypatch)
    studio = Studio(threads=1, root=tmp_path)
    with TestClient(create_app(studio, ["testserver"])) as c:
        yield as_the_page(c)


def upload_bvh(client, tmp_path, frames: int = 45) -> dict:
    write_motion(smooth_smpl(frames), tmp_path / "moves.bvh")
    r = client.post("/api/upload?name=moves.bvh", content=(tmp_path / "moves.bvh").read_bytes())
    assert r.status_code == 200, r.text
    return r.json()["take"]


def test_music_from_a_typed_checkpoint(client, tmp_path):
    models = client.get("/api/state").json()["models"]
    assert models["music_available"] is True and models["default"]["music"] == "d2mgan"  # the packaged one
    ckpt = standin_music_checkpoint(tmp_path / "d2m" / "last.ckpt")
    info = client.get("/api/model", params={"name": str(ckpt.parent), "produces": "music"}).json()
    assert info["produces"] == "music" and info["method"] == "standin_music"
    take = upload_bvh(client, tmp_path)
    job = wait_job(client, client.post("/api/music", json={"source": take["id"], "model": str(ckpt.parent)}).json())
    assert job["state"] == "done", job
    music = client.get(f"/api/takes/{job['result']['take']}").json()
    assert music["kind"] == "music" and music["frames"] == 45 and music["audio"]
    y, sr = sf.read(io.BytesIO(client.get(f"/files/{music['audio']}").content))
    assert len(y) / sr == pytest.approx(45 / 30, abs=1e-3) and np.abs(y).max() > 0.05
    # a music model is refused for dancing, with a reason
    r = client.post("/api/dance", json={"song": "x", "model": str(ckpt)})
    assert r.status_code == 400 and "makes music from dances" in r.json()["error"]


def test_a_packaged_music_model_is_offered(client, tmp_path, monkeypatch):
    ckpt = standin_music_checkpoint(tmp_path / "standin.ckpt")
    models = [packaged.PackagedModel("standin", ckpt, "stand-in music", "none", "none")]
    monkeypatch.setattr(packaged, "packaged_models", lambda: models)
    monkeypatch.setattr(packaged, "_index", lambda: {"default": {"music": "standin"}, "models": {}})
    s = client.get("/api/state").json()["models"]
    assert s["music_available"] is True and s["default"]["music"] == "standin"
    assert [m["name"] for m in s["music"]] == ["standin"] and s["dance"] == []
    take = upload_bvh(client, tmp_path, 30)
    job = wait_job(client, client.post("/api/music", json={"source": take["id"], "model": "standin"}).json())
    assert job["state"] == "done", job


def test_a_motion_on_another_skeleton_fails_clearly(client, tmp_path, data_dir):
    ckpt = standin_music_checkpoint(tmp_path / "standin.ckpt")
    zip_path = tmp_path / "dwm.npz"
    from choreo.motion.formats import read_motion

    write_motion(read_motion(data_dir / "dance_with_melody" / "DANCE_C_2").crop(0, 30), zip_path)
    r = client.post("/api/upload?name=dwm.npz", content=zip_path.read_bytes())
    take = r.json()["take"]
    job = wait_job(client, client.post("/api/music", json={"source": take["id"], "model": str(ckpt)}).json())
    assert job["state"] == "failed" and "skeleton" in job["error"]
