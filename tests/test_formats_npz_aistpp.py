"""choreo npz and AIST++/EDGE pickles: readers against the reference joints, round trips."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from choreo.motion import SMPL24
from choreo.motion.formats import read_motion, write_motion
from choreo.motion.formats.dwm import DWM23
from conftest import AISTPP_SEQUENCES as SEQS


def pkl(data_dir, name):
    return data_dir / "aistpp_samples" / "annotation" / "motions" / f"{name}.pkl"


@pytest.mark.parametrize("name", SEQS)
def test_aistpp_reader_matches_reference_fk(data_dir, joints, name):
    m = read_motion(pkl(data_dir, name))
    assert m.skeleton is SMPL24 and m.fps == 60 and m.n_frames == len(joints[f"joints__{name}"])
    np.testing.assert_allclose(m.root, joints[f"root_pos__{name}"], atol=1e-15)
    assert np.abs(m.joint_positions() - joints[f"joints__{name}"]).max() < 1e-12


def test_aistpp_write_read_round_trip(tmp_path, data_dir, joints):
    name = SEQS[2]
    m = read_motion(pkl(data_dir, name))
    out = tmp_path / "out.pkl"
    write_motion(m.resample(30), out)
    with open(out, "rb") as fh:
        raw = pickle.load(fh)
    assert raw["smpl_poses"].shape == (288, 72) and raw["smpl_trans"].shape == (288, 3)
    np.testing.assert_array_equal(raw["smpl_scaling"], [1.0])
    back = read_motion(out)
    assert back.fps == 30 and back.n_frames == 288
    assert np.abs(back.joint_positions() - joints[f"joints__{name}"][::2]).max() < 1e-5


def test_edge_output_pickle_is_turned_back_to_y_up(tmp_path, data_dir, joints):
    # EDGE's outputs live in its z-up model space: +90 degrees about x, no smpl_scaling, with full_pose
    from scipy.spatial.transform import Rotation

    name = SEQS[0]
    with open(pkl(data_dir, name), "rb") as fh:
        src = pickle.load(fh)
    rx = Rotation.from_euler("x", 90, degrees=True)
    poses = src["smpl_poses"].astype(np.float64).reshape(-1, 24, 3).copy()
    poses[:, 0] = (rx * Rotation.from_rotvec(poses[:, 0])).as_rotvec()
    trans = rx.apply(src["smpl_trans"].astype(np.float64) / np.float64(src["smpl_scaling"][0]))
    full_pose = rx.apply(joints[f"joints__{name}"].reshape(-1, 3)).reshape(-1, 24, 3)
    with open(tmp_path / "edge.pkl", "wb") as fh:
        pickle.dump({"smpl_poses": poses.reshape(-1, 72), "smpl_trans": trans, "full_pose": full_pose}, fh)
    m = read_motion(tmp_path / "edge.pkl")
    assert m.fps == 30 and m.meta["format"] == "edge"
    assert np.abs(m.joint_positions() - joints[f"joints__{name}"]).max() < 1e-9


def test_pkl_writer_maps_other_skeletons_and_refuses_what_cannot_map(tmp_path, data_dir):
    from choreo.errors import ChoreoError
    from choreo.motion import Motion
    from choreo.motion.skeleton import Skeleton

    m = read_motion(data_dir / "dance_with_melody" / "DANCE_C_2").crop(0, 10)
    write_motion(m, tmp_path / "x.pkl")  # Dance with Melody's 23 joints, mapped onto SMPL-24 by joint roles
    back = read_motion(tmp_path / "x.pkl")
    assert back.skeleton.same_structure(SMPL24) and back.n_frames == 10 and back.fps == 25.0
    two = Motion(Skeleton("two", ("a", "b"), np.array([-1, 0])), 25.0, positions=np.zeros((10, 2, 3)))
    with pytest.raises(ChoreoError, match="SMPL-24.*no joint for left hip"):
        write_motion(two, tmp_path / "two.pkl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.pkl"]


def test_npz_round_trip_keeps_skeleton_meta_and_rotations(tmp_path, data_dir, joints):
    name = SEQS[1]
    m = read_motion(pkl(data_dir, name))
    out = tmp_path / "m.npz"
    write_motion(m, out)
    with np.load(out, allow_pickle=False) as z:  # no pickled objects anywhere
        assert z["positions"].dtype == np.float32 and z["positions"].shape == (576, 24, 3)
        assert z["rotations"].shape == (576, 24, 4)
        assert str(z["skeleton_name"]) == "smpl24" and list(z["joint_names"]) == list(SMPL24.joint_names)
        assert all(z[k].dtype != object for k in z.files)
    back = read_motion(out)
    assert back.skeleton.same_structure(SMPL24)
    assert back.skeleton.feet == SMPL24.feet and back.skeleton.mirror_pairs == SMPL24.mirror_pairs
    assert back.skeleton.upper_body == SMPL24.upper_body
    assert back.fps == 60 and back.rotations is not None
    assert np.abs(back.joint_positions() - joints[f"joints__{name}"]).max() < 1e-5


def test_npz_positions_only_keeps_audio_link(tmp_path, data_dir):
    m = read_motion(data_dir / "dance_with_melody" / "DANCE_R_2")
    write_motion(m, tmp_path / "d.npz")
    back = read_motion(tmp_path / "d.npz")
    assert back.skeleton.same_structure(DWM23) and back.skeleton.feet == DWM23.feet
    assert back.skeleton.offsets is None and back.rotations is None
    assert back.meta["audio"] == m.meta["audio"] and back.meta["audio_start"] == m.meta["audio_start"]
    np.testing.assert_allclose(back.joint_positions(), m.joint_positions(), atol=1e-6)
    assert back.fps == 25
