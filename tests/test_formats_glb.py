"""GLB (glTF 2.0 binary): joints' world positions survive a round trip to 1e-4 m for motions with rotations and
for positions-only ones; the file is well formed (skin, body, one key per frame); ``choreo convert`` and
``choreo dance --format glb`` write it; bad files get clear errors."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from choreo.cli import main
from choreo.errors import ChoreoError
from choreo.motion.formats import read_motion, write_motion
from choreo.motion.formats.glb import glb_bytes, read_glb
from choreo.motion.motion import Motion
from choreo.motion.skeleton import BODY25
from edge_standin import make_checkpoint

SOURCES = [
    "aistpp_samples/annotation/motions/gJS_sBM_cAll_d03_mJS2_ch07.pkl",  # SMPL rotations
    "bandai_namco_dance/data/dataset-1_dance-short_normal_001.bvh",  # a BVH hierarchy
    "dance_with_melody/DANCE_C_2",  # positions only
]


def parse(data: bytes) -> dict:
    magic, version, total = struct.unpack_from("<4sII", data)
    assert magic == b"glTF" and version == 2 and total == len(data)
    n, kind = struct.unpack_from("<II", data, 12)
    assert kind == 0x4E4F534A
    return json.loads(data[20 : 20 + n])


@pytest.mark.parametrize("source", SOURCES)
def test_round_trip_gives_the_joint_positions(tmp_path, data_dir, source):
    m = read_motion(data_dir / source).crop(0, 90)
    write_motion(m, tmp_path / "m.glb")
    back = read_motion(tmp_path / "m.glb")
    assert back.n_frames == m.n_frames and back.fps == pytest.approx(m.fps)
    assert back.skeleton.joint_names == m.skeleton.joint_names
    assert np.array_equal(back.skeleton.parents, m.skeleton.parents)
    assert back.skeleton.feet == m.skeleton.feet and back.skeleton.upper_body == m.skeleton.upper_body
    assert np.abs(back.joint_positions() - m.joint_positions()).max() < 1e-4


def test_file_structure(data_dir):
    m = read_motion(data_dir / SOURCES[2]).crop(0, 50)
    data = glb_bytes(m)
    g = parse(data)
    J = m.skeleton.n_joints
    skin = g["skins"][0]
    assert skin["joints"] == list(range(J)) and [n["name"] for n in g["nodes"][:J]] == list(m.skeleton.joint_names)
    body = g["nodes"][J]
    assert body["mesh"] == 0 and body["skin"] == 0
    attrs = g["meshes"][0]["primitives"][0]["attributes"]
    assert {"POSITION", "NORMAL", "COLOR_0", "JOINTS_0", "WEIGHTS_0"} <= set(attrs)
    anim = g["animations"][0]
    paths = {(c["target"]["node"], c["target"]["path"]) for c in anim["channels"]}
    assert paths == {(j, p) for j in range(J) for p in ("rotation", "translation")}  # positions-only: both
    times = g["accessors"][anim["samplers"][0]["input"]]
    assert times["count"] == 50 and times["max"][0] == pytest.approx(49 / 25, abs=1e-6)
    # a motion with rotations keys only the root's translation
    smpl = read_motion(data_dir / SOURCES[0]).crop(0, 10)
    g2 = parse(glb_bytes(smpl))
    translated = {c["target"]["node"] for c in g2["animations"][0]["channels"] if c["target"]["path"] == "translation"}
    assert translated == {smpl.skeleton.root}


def test_bad_inputs(tmp_path):
    flat = Motion(BODY25, 30.0, positions=np.zeros((3, 25, 2)))
    with pytest.raises(ChoreoError, match="3D"):
        write_motion(flat, tmp_path / "flat.glb")
    assert not (tmp_path / "flat.glb").exists()
    (tmp_path / "text.glb").write_text("hello")
    with pytest.raises(ChoreoError, match="not a GLB"):
        read_glb(tmp_path / "text.glb")


def test_truncated_file(tmp_path, data_dir):
    data = glb_bytes(read_motion(data_dir / SOURCES[0]).crop(0, 10))
    (tmp_path / "cut.glb").write_bytes(data[: len(data) // 2])
    with pytest.raises(ChoreoError, match="truncated"):
        read_motion(tmp_path / "cut.glb")


def test_convert_npz_to_glb(tmp_path, data_dir, capsys):
    m = read_motion(data_dir / SOURCES[2]).crop(0, 40)
    write_motion(m, tmp_path / "x.npz")
    assert main(["convert", str(tmp_path / "x.npz"), str(tmp_path / "x.glb")]) == 0
    assert "40 frames" in capsys.readouterr().out
    assert np.abs(read_motion(tmp_path / "x.glb").joint_positions() - m.joint_positions()).max() < 1e-4


def test_dance_writes_glb(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("CHOREO_CACHE", str(tmp_path / "cache"))
    ckpt = make_checkpoint(tmp_path / "run" / "last.ckpt")
    song = data_dir / "cc_music/sorohanro_-_solo-trumpet-06.hq.ogg"
    argv = ["dance", str(song), "-c", str(ckpt), "-o", str(tmp_path / "out"), "--seconds", "1", "--steps", "2"]
    assert main([*argv, "--format", "glb,npz", "--no-progress", "--threads", "1"]) == 0
    glb = read_motion(tmp_path / "out" / f"{song.stem}.glb")
    npz = read_motion(tmp_path / "out" / f"{song.stem}.npz")
    assert glb.n_frames == npz.n_frames == 30
    assert np.abs(glb.joint_positions() - npz.joint_positions()).max() < 1e-4
