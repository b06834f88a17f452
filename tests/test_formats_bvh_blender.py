"""Optional: Blender's own BVH importer reads choreo's BVH to the same joint positions, frames and rate.

Runs only with ``CHOREO_TEST_BLENDER=1`` and a ``blender`` binary on PATH (Debian's ``blender`` package);
the normal suite never needs Blender.
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
import builtins, json, sys
import bpy
import io_anim_bvh.import_bvh as importer

# Debian's Blender 3.4 opens files with mode "rU", which its Python 3.11 rejects; the importer is unchanged.
importer.open = lambda f, mode="r", *a, **k: builtins.open(f, mode.replace("U", ""), *a, **k)
bvh, ref, out = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_anim.bvh(filepath=bvh, global_scale=0.01, update_scene_fps=True, update_scene_duration=True)
arm = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"][0]
f0, f1 = [int(round(x)) for x in arm.animation_data.action.frame_range]
scene = bpy.context.scene
z = json.load(open(ref))
err = 0.0
for t in range(f1 - f0 + 1):
    scene.frame_set(f0 + t)
    for j, n in enumerate(z["names"]):
        h = arm.matrix_world @ arm.pose.bones[n].head
        err = max(err, max(abs(a - b) for a, b in zip((h.x, h.z, -h.y), z["positions"][t][j])))
json.dump({"frames": f1 - f0 + 1, "fps": scene.render.fps / scene.render.fps_base, "max_err": err}, open(out, "w"))
"""


@pytest.mark.parametrize(
    "source",
    [
        "aistpp_samples/annotation/motions/gJS_sBM_cAll_d03_mJS2_ch07.pkl",
        "bandai_namco_dance/data/dataset-1_dance-short_normal_001.bvh",
        "dance_with_melody/DANCE_C_2",
    ],
)
def test_blender_imports_choreo_bvh(tmp_path, data_dir, source):
    m = read_motion(data_dir / source).crop(0, 120)
    write_motion(m, tmp_path / "m.bvh")
    back = read_motion(tmp_path / "m.bvh")  # what choreo reads from the file (positions of its joints)
    ref = {"names": list(back.skeleton.joint_names), "positions": back.joint_positions().tolist()}
    (tmp_path / "ref.json").write_text(json.dumps(ref))
    (tmp_path / "check.py").write_text(BPY_SCRIPT)
    cmd = ["blender", "-b", "--factory-startup", "--python-exit-code", "1", "-P", str(tmp_path / "check.py"), "--"]
    subprocess.run(
        cmd + [str(tmp_path / f) for f in ("m.bvh", "ref.json", "out.json")], check=True, capture_output=True
    )
    res = json.loads((tmp_path / "out.json").read_text())
    assert res["frames"] == m.n_frames and res["fps"] == pytest.approx(m.fps)
    assert res["max_err"] < 1e-4  # metres (Blender works in float32)
