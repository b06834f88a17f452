"""Skeletons recognised by joint names: sides, mirror pairs, feet, SMPL by parents, and ``choreo eval`` on
a Bailando-named npz that carries no feet."""

from __future__ import annotations

import json

import numpy as np
import pytest

from choreo.cli import main
from choreo.motion.formats import read_motion, write_motion
from choreo.motion.formats.dwm import DWM23
from choreo.motion.motion import Motion
from choreo.motion.skeleton import (
    BODY25,
    SMPL24,
    SMPL24_PARENTS,
    name_feet,
    name_mirror_pairs,
    other_side,
    recognise_skeleton,
    side_of,
)

#: Bailando's SMPL joint names (utils/features/manual_new.py order = SMPL order).
BAILANDO = (
    "root lhip rhip belly lknee rknee spine lankle rankle chest ltoes rtoes neck linshoulder rinshoulder head "
    "lshoulder rshoulder lelbow relbow lwrist rwrist lhand rhand"
).split()

#: A Mixamo rig (names without the namespace), parents in file order.
MIXAMO = {
    "Hips": None,
    "Spine": "Hips",
    "Spine1": "Spine",
    "Spine2": "Spine1",
    "Neck": "Spine2",
    "Head": "Neck",
    "HeadTop_End": "Head",
    "LeftShoulder": "Spine2",
    "LeftArm": "LeftShoulder",
    "LeftForeArm": "LeftArm",
    "LeftHand": "LeftForeArm",
    "RightShoulder": "Spine2",
    "RightArm": "RightShoulder",
    "RightForeArm": "RightArm",
    "RightHand": "RightForeArm",
    "LeftUpLeg": "Hips",
    "LeftLeg": "LeftUpLeg",
    "LeftFoot": "LeftLeg",
    "LeftToeBase": "LeftFoot",
    "LeftToe_End": "LeftToeBase",
    "RightUpLeg": "Hips",
    "RightLeg": "RightUpLeg",
    "RightFoot": "RightLeg",
    "RightToeBase": "RightFoot",
    "RightToe_End": "RightToeBase",
}


def _tree(spec: dict[str, str | None], prefix: str = "") -> tuple[list[str], np.ndarray]:
    names = list(spec)
    parents = np.array([-1 if p is None else names.index(p) for p in spec.values()])
    return [prefix + n for n in names], parents


def _leg_rig(fmt) -> tuple[list[str], np.ndarray]:
    """A small rig whose sided names are ``fmt(side, part)`` with side in ("L", "R")."""
    spec: dict[str, str | None] = {"Hips": None, "Spine": "Hips", "Head": "Spine"}
    for s in ("L", "R"):
        spec[fmt(s, "UpperLeg")] = "Hips"
        spec[fmt(s, "LowerLeg")] = fmt(s, "UpperLeg")
        spec[fmt(s, "Foot")] = fmt(s, "LowerLeg")
        spec[fmt(s, "Toes")] = fmt(s, "Foot")
        spec[fmt(s, "Arm")] = "Spine"
        spec[fmt(s, "Hand")] = fmt(s, "Arm")
    return _tree(spec)


def _assert_pairs_sound(names, pairs) -> None:
    flat = [j for p in pairs for j in p]
    assert len(flat) == len(set(flat)), "a joint is in two mirror pairs"
    for a, b in pairs:
        assert side_of(names[a]) == "left" and side_of(names[b]) == "right"
        assert other_side(names[a]) == names[b] and other_side(names[b]) == names[a]


# --- sides ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "side", "other"),
    [
        ("lankle", "left", "rankle"),
        ("rtoes", "right", "ltoes"),
        ("linshoulder", "left", "rinshoulder"),
        ("rhip", "right", "lhip"),
        ("LeftFoot", "left", "RightFoot"),
        ("mixamorig:LeftToeBase", "left", "mixamorig:RightToeBase"),
        ("mixamorig:RightHand", "right", "mixamorig:LeftHand"),
        ("leftfoot", "left", "rightfoot"),
        ("LEFT_FOOT", "left", "RIGHT_FOOT"),
        ("Right-Knee", "right", "Left-Knee"),
        ("FootLeft", "left", "FootRight"),
        ("Foot.L", "left", "Foot.R"),
        ("hand.r", "right", "hand.l"),
        ("Foot_L", "left", "Foot_R"),
        ("knee_r", "right", "knee_l"),
        ("L_Hand", "left", "R_Hand"),
        ("r_elbow", "right", "l_elbow"),
        ("LHip", "left", "RHip"),
        ("RHipJoint", "right", "LHipJoint"),
        ("Bip01_L_Foot", "left", "Bip01_R_Foot"),
        ("Toes_L_end", "left", "Toes_R_end"),
    ],
)
def test_sided_names(name, side, other):
    assert side_of(name) == side
    assert other_side(name) == other
    assert side_of(other) != side and other_side(other) == name


@pytest.mark.parametrize(
    "name",
    ["root", "Root", "lowerback", "LowerBack", "LOWERBACK", "rhythm", "Rhythm", "upright", "Hips", "pelvis", "leg",
     "ring", "radius", "spine", "Spine1", "neck", "head", "L", "Left", "mixamorig:Hips"],
)  # fmt: skip
def test_names_without_a_side(name):
    assert side_of(name) is None and other_side(name) is None


# --- feet and mirror pairs --------------------------------------------------------------------------------


def test_bailando_names_give_smpl_feet_and_pairs_by_name():
    assert name_feet(BAILANDO, SMPL24_PARENTS) == (7, 10, 8, 11)
    assert name_mirror_pairs(BAILANDO) == SMPL24.mirror_pairs
    # shuffled joints and parents (no longer SMPL's parents): the names alone still find the same joints
    perm = np.random.default_rng(0).permutation(24)
    inv = np.argsort(perm)
    names = [BAILANDO[i] for i in perm]
    parents = np.array([-1 if SMPL24_PARENTS[i] < 0 else inv[SMPL24_PARENTS[i]] for i in perm])
    sk = recognise_skeleton("shuffled", names, parents)
    assert sk.feet == tuple(int(inv[j]) for j in (7, 10, 8, 11))
    assert {(names[a], names[b]) for a, b in sk.mirror_pairs} == {
        (BAILANDO[a], BAILANDO[b]) for a, b in SMPL24.mirror_pairs
    }
    _assert_pairs_sound(names, sk.mirror_pairs)
    assert {names[j] for j in sk.upper_body} == {BAILANDO[j] for j in SMPL24.upper_body}


@pytest.mark.parametrize("prefix", ["", "mixamorig:", "Character1|"])
def test_mixamo_names_with_and_without_namespace(prefix):
    names, parents = _tree(MIXAMO, prefix)
    sk = recognise_skeleton("mixamo", names, parents)
    assert [names[j] for j in sk.feet] == [prefix + n for n in ("LeftFoot", "LeftToeBase", "RightFoot", "RightToeBase")]
    pairs = {(names[a][len(prefix) :], names[b][len(prefix) :]) for a, b in sk.mirror_pairs}
    assert ("LeftHand", "RightHand") in pairs and ("LeftToe_End", "RightToe_End") in pairs
    assert len(pairs) == 9  # 4 arm + 5 leg joints (toe ends included), nothing central
    _assert_pairs_sound(names, sk.mirror_pairs)
    upper = {names[j][len(prefix) :] for j in sk.upper_body}
    assert {"LeftHand", "Head", "Spine"} <= upper and not upper & {"Hips", "LeftFoot", "RightToeBase"}


@pytest.mark.parametrize(
    "fmt",
    [
        lambda s, p: f"{p}.{s}",  # Blender
        lambda s, p: f"{p}_{s.lower()}",
        lambda s, p: f"{p}.{s.lower()}",
        lambda s, p: f"{s}_{p}",
        lambda s, p: f"{s.lower()}_{p.lower()}",
        lambda s, p: f"{'Left' if s == 'L' else 'Right'}{p}",
        lambda s, p: f"{'left' if s == 'L' else 'right'}_{p.lower()}",
        lambda s, p: f"{'LEFT' if s == 'L' else 'RIGHT'}{p.upper()}",
        lambda s, p: f"{s}{p}",  # CMU style
    ],
)
def test_side_conventions_give_feet_and_pairs(fmt):
    names, parents = _leg_rig(fmt)
    sk = recognise_skeleton("rig", names, parents)
    assert [names[j] for j in sk.feet] == [fmt("L", "Foot"), fmt("L", "Toes"), fmt("R", "Foot"), fmt("R", "Toes")]
    assert len(sk.mirror_pairs) == 6
    _assert_pairs_sound(names, sk.mirror_pairs)


def test_ankle_wins_over_foot_and_toe_is_below_the_ankle():
    # SMPL's own names: left_foot is the toe, below left_ankle; a shallower toe-named marker elsewhere loses
    spec = {
        "pelvis": None,
        "l_toe_marker": "pelvis",
        "r_toe_marker": "pelvis",
        "left_hip": "pelvis",
        "left_ankle": "left_hip",
        "left_foot": "left_ankle",
        "right_hip": "pelvis",
        "right_ankle": "right_hip",
        "right_toe": "right_ankle",
    }
    names, parents = _tree(spec)
    assert [names[j] for j in name_feet(names, parents)] == ["left_ankle", "left_foot", "right_ankle", "right_toe"]


def test_heel_is_the_ankle_of_last_resort_and_missing_feet_stay_minus_one():
    names, parents = _tree({"hips": None, "LHeel": "hips", "LToe": "LHeel", "RKnee": "hips"})
    assert name_feet(names, parents) == (1, 2, -1, -1)
    names, parents = _tree({"root": None, "rhythm": "root", "lowerback": "root"})
    sk = recognise_skeleton("none", names, parents)
    assert sk.feet == (-1, -1, -1, -1) and sk.mirror_pairs == ()


def test_smpl_parents_mean_smpl_whatever_the_names():
    names = [f"j{i:02d}" for i in range(24)]  # no side, no body word
    sk = recognise_skeleton("anon", names, np.array(SMPL24_PARENTS))
    assert sk.joint_names == tuple(names)
    assert sk.feet == (7, 10, 8, 11) and sk.mirror_pairs == SMPL24.mirror_pairs
    assert sk.upper_body == SMPL24.upper_body
    # one parent changed: no longer SMPL, and these names say nothing
    other = np.array(SMPL24_PARENTS)
    other[23] = 20
    assert recognise_skeleton("anon", names, other).feet == (-1, -1, -1, -1)


@pytest.mark.parametrize("builtin", [SMPL24, DWM23, BODY25], ids=lambda s: s.name)
def test_builtin_skeletons_are_recognised_as_they_are(builtin):
    sk = recognise_skeleton(builtin.name, builtin.joint_names, builtin.parents, dim=builtin.dim)
    assert sk.feet == builtin.feet and sk.mirror_pairs == builtin.mirror_pairs
    assert sk.upper_body == builtin.upper_body


# --- readers ----------------------------------------------------------------------------------------------


def _bare_npz(path, positions, names, parents, fps=60.0, dtype=np.float32, **extra) -> None:
    """A choreo npz as another tool would write it: only the required arrays (plus ``extra``)."""
    np.savez(
        path,
        positions=np.asarray(positions, dtype),
        fps=np.array(float(fps)),
        joint_names=np.array(names),
        parents=np.asarray(parents, np.int64),
        **extra,
    )


def test_npz_without_feet_is_recognised_and_given_feet_are_kept(tmp_path, joints):
    pos = joints["joints__gBR_sBM_cAll_d04_mBR2_ch08"][:30]
    _bare_npz(tmp_path / "bare.npz", pos, BAILANDO, SMPL24_PARENTS)
    sk = read_motion(tmp_path / "bare.npz").skeleton
    assert sk.joint_names == tuple(BAILANDO) and sk.feet == (7, 10, 8, 11)
    assert sk.mirror_pairs == SMPL24.mirror_pairs and sk.upper_body == SMPL24.upper_body
    # all -1 counts as "no feet"; empty mirror pairs as "none"
    _bare_npz(tmp_path / "neg.npz", pos, BAILANDO, SMPL24_PARENTS, feet=np.full(4, -1), mirror_pairs=np.zeros((0, 2)))
    sk = read_motion(tmp_path / "neg.npz").skeleton
    assert sk.feet == (7, 10, 8, 11) and sk.mirror_pairs == SMPL24.mirror_pairs
    # feet and pairs the file gives win, even where the names would say otherwise
    own = {"feet": np.array([4, 7, 5, 8]), "mirror_pairs": np.array([[1, 2]]), "upper_body": np.array([3])}
    _bare_npz(tmp_path / "own.npz", pos, BAILANDO, SMPL24_PARENTS, **own)
    sk = read_motion(tmp_path / "own.npz").skeleton
    assert sk.feet == (4, 7, 5, 8) and sk.mirror_pairs == ((1, 2),) and sk.upper_body == (3,)
    # feet given, pairs missing: only the pairs are recognised
    _bare_npz(tmp_path / "half.npz", pos, BAILANDO, SMPL24_PARENTS, feet=np.array([4, 7, 5, 8]))
    sk = read_motion(tmp_path / "half.npz").skeleton
    assert sk.feet == (4, 7, 5, 8) and sk.mirror_pairs == SMPL24.mirror_pairs
    # a choreo-written file round-trips unchanged
    write_motion(Motion(SMPL24, 60, positions=pos), tmp_path / "smpl.npz")
    sk = read_motion(tmp_path / "smpl.npz").skeleton
    assert sk.same_structure(SMPL24) and sk.feet == SMPL24.feet and sk.mirror_pairs == SMPL24.mirror_pairs


def test_bvh_with_mixamo_namespace_gets_feet(tmp_path):
    names, parents = _tree(MIXAMO, "mixamorig:")
    rng = np.random.default_rng(1)
    offsets = rng.normal(0, 10, (len(names), 3))
    children = {j: [c for c in range(len(names)) if parents[c] == j] for j in range(len(names))}
    lines = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        ind = "  " * depth
        lines.append(f"{ind}{'ROOT' if parents[j] < 0 else 'JOINT'} {names[j]}")
        lines.append(f"{ind}{{")
        lines.append(f"{ind}  OFFSET {' '.join(f'{v:.4f}' for v in offsets[j])}")
        chans = (
            "6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
            if parents[j] < 0
            else "3 Zrotation Xrotation Yrotation"
        )
        lines.append(f"{ind}  CHANNELS {chans}")
        for c in children[j]:
            emit(c, depth + 1)
        lines.append(f"{ind}}}")

    emit(0, 0)
    n_ch = 6 + 3 * (len(names) - 1)
    lines += ["MOTION", "Frames: 2", "Frame Time: 0.0333333"]
    lines += [" ".join(f"{v:.3f}" for v in rng.normal(0, 5, n_ch)) for _ in range(2)]
    (tmp_path / "mixamo.bvh").write_text("\n".join(lines) + "\n")
    sk = read_motion(tmp_path / "mixamo.bvh").skeleton
    assert [sk.joint_names[j] for j in sk.feet] == [
        "mixamorig:LeftFoot", "mixamorig:LeftToeBase", "mixamorig:RightFoot", "mixamorig:RightToeBase"
    ]  # fmt: skip
    _assert_pairs_sound(sk.joint_names, sk.mirror_pairs)
    assert (sk.index("mixamorig:LeftHand"), sk.index("mixamorig:RightHand")) in sk.mirror_pairs


# --- choreo eval end to end -------------------------------------------------------------------------------


def _eval(root, name: str) -> dict:
    out = root / f"{name}.json"
    assert main(["eval", "--pred", str(root / name / "pred"), "--gt", str(root / name / "gt"), "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_eval_on_bailando_named_npz_without_feet_matches_smpl(tmp_path, joints, expected):
    seqs = [str(n) for n in joints["names"]]
    for k, seq in enumerate(sorted(seqs)):
        s = "pred" if k < 2 else "gt"
        pos = joints[f"joints__{seq}"]
        for name in ("bailando", "smpl"):
            (tmp_path / name / s).mkdir(parents=True, exist_ok=True)
        # only the required arrays: no feet, no mirror pairs, no skeleton name. Positions stay float64 (the
        # reader takes any float) so PFC can be held to the reference's float64 tolerance (1e-9).
        _bare_npz(tmp_path / "bailando" / s / f"{seq}.npz", pos, BAILANDO, SMPL24_PARENTS, dtype=np.float64)
        with np.load(tmp_path / "bailando" / s / f"{seq}.npz") as z:
            assert set(z.files) == {"positions", "fps", "joint_names", "parents"}
        # the fixtures' own SMPL run: the same positions on the built-in SMPL-24 skeleton (feet 7, 10, 8, 11)
        np.savez(tmp_path / "smpl" / s / f"{seq}.npz", positions=pos, fps=np.array(60.0), **SMPL24.to_arrays())
    bailando, smpl = _eval(tmp_path, "bailando"), _eval(tmp_path, "smpl")
    assert not any("no feet" in n for n in bailando["notes"])
    per_seq = expected["pfc"]["per_full_sequence"]
    for s, suffix in (("pred", ""), ("gt", "_gt")):
        assert len(bailando["per_file"][s]) == 2
        for file, rec in bailando["per_file"][s].items():
            ref = smpl["per_file"][s][file]
            assert rec["pfc"] == pytest.approx(per_seq[file[:-4]], rel=1e-9), file
            assert rec["pfc"] == pytest.approx(ref["pfc"], rel=1e-12), file
            assert rec["foot_sliding"] is not None
            assert rec["foot_sliding"] == pytest.approx(ref["foot_sliding"], rel=1e-12), file
        mean = np.mean([per_seq[f[:-4]] for f in bailando["per_file"][s]])
        assert bailando["pfc" + suffix] == pytest.approx(mean, rel=1e-9)
        assert bailando["foot_sliding" + suffix] == pytest.approx(smpl["foot_sliding" + suffix], rel=1e-12)
