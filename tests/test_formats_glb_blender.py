"""Optional: Blender's own glTF importer reads choreo's GLB to the same joint positions, frames and rate.

Runs only with ``CHOREO_TEST_BLENDER=1`` and a ``blender`` binary on PATH (Debian's ``blender`` and
``python3-numpy`` packages: its glTF importer needs numpy); the normal suite never needs Blender.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from choreo.motion.formats import read_motion, write_motion

pytestmark = pytest.mark.skipif(
    not os.environ.get("CHOREO_TEST_BLENDER") or shutil.which("blender") is None,
    reason="set CHOREO_TEST_BLENDER=1 and install blender to run",
)

BPY_SCRIPT = r"""
import json, sys
import bpy
import numpy

# Debian's Blender 3.4 importer still uses numpy.bool, which Debian's numpy 1.24 no longer has; same type.
numpy.bool = bool

glb, ref, out = sys.argv[sys.argv.index("--") + 1:]
z = json.load(open(ref))
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
# the importer turns key times into frames at the scene's rate: give it the dance's
scene.render.fps, scene.render.fps_base = int(round(z["fps"])), round(z["fps"]) / z["fps"]
bpy.ops.import_scene.gltf(filepath=glb)
arm = [o for o in scene.objects if o.type == "ARMATURE"][0]
bodies = [o for o in scene.objects if o.type == "MESH"]
f0, f1 = [int(round(x)) for x in arm.animation_data.action.frame_range]
err = 0.0
for t in range(f1 - f0 + 1):
    scene.frame_set(f0 + t)
    for j, n in enumerate(z["names"]):
        h = arm.matrix_world @ arm.pose.bones[n].head
        err = max(err, max(abs(a - b) for a, b in zip((h.x, h.z, -h.y), z["positions"][t][j])))
res = {"frames": f1 - f0 + 1, "fps": scene.render.fps / scene.render.fps_base, "max_err": err,
       "bones": len(arm.pose.bones), "meshes": len(bodies)}
json.dump(res, open(out, "w"))
"""


@pytest.mark.parametrize(
    "source",
    [
        "aistpp_samples/annotation/motions/gJS_sBM_cAll_d03_mJS2_ch07.pkl",
        "bandai_namco_dance/data/dataset-1_dance-short_normal_001.bvh",
        "dance_with_melody/DANCE_C_2",
    ],
)
def test_blender_imports_choreo_glb(tmp_path, data_dir, source):
    m = read_motion(data_dir / source).crop(0, 120)
    write_motion(m, tmp_path / "m.glb")
    ref = {"names": list(m.skeleton.joint_names), "positions": m.joint_positions().tolist(), "fps": m.fps}
    (tmp_path / "ref.json").write_text(json.dumps(ref))
    (tmp_path / "check.py").write_text(BPY_SCRIPT)
    cmd = ["blender", "-b", "--factory-startup", "--python-exit-code", "1", "-P", str(tmp_path / "check.py"), "--"]
    subprocess.run(
        cmd + [str(tmp_path / f) for f in ("m.glb", "ref.json", "out.json")], check=True, capture_output=True
    )
    res = json.loads((tmp_path / "out.json").read_text())
    assert res["frames"] == m.n_frames and res["fps"] == pytest.approx(m.fps)
    assert res["bones"] == m.skeleton.n_joints and res["meshes"] == 1
    assert res["max_err"] < 1e-4  # metres (Blender works in float32)
