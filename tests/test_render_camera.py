"""Projection, framing, clipping, timing and body sides of the renderer (no video written)."""

from __future__ import annotations

import numpy as np
import pytest

from choreo.errors import ChoreoError
from choreo.motion import BODY25, SMPL24, Motion, Skeleton
from choreo.render import camera as cam
from choreo.render import style
from choreo.render.draw import clip_near, clip_segments_near, clip_segments_rect
from choreo.render.scene import build_scene, mean_facing, output_timing, resample_indices
from choreo.render.synthetic import demo_dance, rest_positions


def test_projection_hand_computed():
    # Camera 5 m in front of the origin on +z, level, looking at -z: right is +x, up is +y.
    c = cam.Camera(
        kind="perspective",
        panel=(0, 0, 200, 100),
        eye=np.array([[0.0, 0.0, 5.0]]),
        basis=cam.view_basis(np.array([0.0, 0.0, 1.0]))[None],
        focal=100.0,
    )
    pts = np.array([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0]]])
    pix, depth = c.project(pts)
    np.testing.assert_allclose(depth[0], [5.0, 5.0, 5.0, 2.0])
    # principal point at the panel centre (100, 50); x right, y down
    np.testing.assert_allclose(pix[0], [[100, 50], [120, 50], [100, 30], [100, 50]])


def test_view_basis_is_orthonormal_and_right_handed():
    back = cam.view_direction(np.array([0.3, 1.0]))
    B = cam.view_basis(back)
    np.testing.assert_allclose(B @ B.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(np.cross(B[0], B[1]), -B[2], atol=1e-12)  # right x up = backwards
    assert B[1, 1] > 0  # camera up points up
    assert back[1] > 0  # the camera is above the target, looking down


def test_view_direction_faces_the_dancer_turned_by_azimuth():
    back = cam.view_direction(np.array([0.0, 1.0]), azimuth_deg=0.0, elevation_deg=0.0)
    np.testing.assert_allclose(back, [0, 0, 1], atol=1e-12)
    back = cam.view_direction(np.array([0.0, 1.0]), azimuth_deg=90.0, elevation_deg=0.0)
    np.testing.assert_allclose(np.abs(back), [1, 0, 0], atol=1e-12)


def test_required_distance_keeps_every_point_inside_the_margin():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(7, 30, 3)) * [1.0, 0.8, 1.5]
    targets = pts.mean(axis=1)
    back = cam.view_direction(np.array([0.2, 1.0]))
    aspect = 4 / 3
    d = cam.required_distance(pts, targets, cam.view_basis(back), aspect)
    panel = (0, 0, 400, 300)
    for t in range(len(pts)):
        c = cam.perspective_camera(targets[t : t + 1], back, float(d[t]), panel)
        pix, depth = c.project(pts[t : t + 1])
        assert np.all(depth > 0)
        half = np.array([200.0, 150.0]) * cam.MARGIN
        off = np.abs(pix[0] - [200, 150])
        assert np.all(off <= half + 1e-6)
        # tight: some point touches the margin
        assert np.isclose(np.max(off / half), 1.0, atol=1e-6)


def test_follow_targets_smooth_and_fixed_targets_hold():
    t = np.arange(600) / 30.0
    wobble = np.stack([np.sin(2 * np.pi * 3 * t), np.zeros_like(t), t], axis=1)  # 3 Hz wobble while walking
    follow = cam.follow_targets(wobble, 30.0, "follow")
    inner = slice(100, -100)  # away from the ends, where the held edge values bend the smoothing
    assert np.std(follow[inner, 0]) < 0.05 * np.std(wobble[:, 0])  # the wobble is smoothed away
    np.testing.assert_allclose(follow[inner, 2], wobble[inner, 2], atol=1e-3)  # the walk is followed
    fixed = cam.follow_targets(wobble, 30.0, "fixed")
    assert np.all(fixed == fixed[0])
    np.testing.assert_allclose(fixed[0], [0.0, 0.0, t[-1] / 2], atol=1e-2)


def test_clip_near_polygon_and_segments():
    quad = np.array([[-1, 0, -1.0], [1, 0, -1.0], [1, 0, 3.0], [-1, 0, 3.0]])
    out = clip_near(quad)
    assert out[:, 2].min() >= cam.NEAR - 1e-12
    assert len(out) == 4 and np.isclose(out[:, 2].max(), 3.0)
    a = np.array([[0, 0, -1.0], [0, 0, 1.0], [0, 0, -2.0]])
    b = np.array([[0, 0, 2.0], [1, 0, 2.0], [0, 0, -1.0]])
    a2, b2, keep = clip_segments_near(a, b)
    assert keep.tolist() == [True, True, False]
    assert np.isclose(a2[0, 2], cam.NEAR) and np.array_equal(a2[1], a[1]) and np.array_equal(b2[0], b[0])


def test_clip_segments_rect():
    p = np.array([[-10.0, 5.0], [2.0, 2.0], [-5.0, -5.0]])
    q = np.array([[20.0, 5.0], [8.0, 8.0], [-1.0, -1.0]])
    p2, q2, keep = clip_segments_rect(p, q, (0, 0, 10, 10))
    assert keep.tolist() == [True, True, False]
    np.testing.assert_allclose(p2[0], [0, 5])
    np.testing.assert_allclose(q2[0], [10, 5])
    np.testing.assert_allclose(p2[1], p[1])
    np.testing.assert_allclose(q2[1], q[1])


def test_gif_timing_is_quantised_to_centiseconds():
    assert output_timing(2.0, 25.0, "gif") == (25.0, 50, 4)
    fps, n, delay = output_timing(2.0, 30.0, "gif")
    assert delay == 3 and np.isclose(fps, 100 / 3) and n == 67
    fps, n, delay = output_timing(1.0, 60.0, "gif")
    assert delay == 2 and fps == 50.0 and n == 50
    assert output_timing(2.0, 30.0, "mp4") == (30.0, 60, None)
    with pytest.raises(ChoreoError):
        output_timing(2.0, 0.0, "mp4")


def test_resample_indices_identity_and_halving():
    i0, i1, w = resample_indices(10, 30.0, 10, 30.0)
    assert np.array_equal(i0, np.arange(10)) and np.all(w == 0)
    i0, i1, w = resample_indices(10, 30.0, 20, 60.0)
    assert np.array_equal(i0[::2], np.arange(10))
    np.testing.assert_allclose(w[1:-1:2], 0.5)
    # past the end the last frame holds
    i0, i1, w = resample_indices(5, 30.0, 12, 30.0)
    assert np.all(i0[5:] == 4) and np.all(w[5:] == 0)


def test_joint_sides_smpl_and_bvh_names():
    sides = style.joint_sides(SMPL24)
    for j, n in enumerate(SMPL24.joint_names):
        assert sides[j] == (1 if n.startswith("left") else -1 if n.startswith("right") else 0)
    bvh = Skeleton("bvh", ("Hips", "LeftUpLeg", "RightUpLeg", "Spine", "LHand", "RHand"), np.array([-1, 0, 0, 0, 3, 3]))
    assert style.joint_sides(bvh).tolist() == [0, 1, -1, 0, 1, -1]
    # pairs stated (right, left) are put right by the names
    swapped = Skeleton("x", ("root", "left_a", "right_a"), np.array([-1, 0, 0]), mirror_pairs=((2, 1),))
    assert style.joint_sides(swapped).tolist() == [0, 1, -1]


def test_mean_facing_of_smpl_rest_pose_is_plus_z():
    pos = np.repeat(rest_positions(SMPL24)[None], 10, axis=0)
    f = mean_facing(pos, style.joint_sides(SMPL24), SMPL24.mirror_pairs, 30.0)
    np.testing.assert_allclose(f, [0.0, 1.0], atol=0.05)
    # turned 90 degrees about y (left side now at -z): facing +x
    R = np.array([[0, 0, 1.0], [0, 1, 0], [-1.0, 0, 0]])
    f = mean_facing(pos @ R.T, style.joint_sides(SMPL24), SMPL24.mirror_pairs, 30.0)
    np.testing.assert_allclose(f, [1.0, 0.0], atol=0.05)


def test_scene_frames_the_dancer_and_draws_front_view():
    m = demo_dance(3.0, 30.0)
    for mode in ("follow", "fixed"):
        sc = build_scene(m, size=(320, 240), camera=mode)
        p = sc.panels[0]
        assert p.pixels.shape == (90, 24, 2)
        assert np.all(p.pixels >= 0) and np.all(p.pixels[..., 0] <= 320) and np.all(p.pixels[..., 1] <= 240)
        head, l_ankle = SMPL24.index("head"), SMPL24.index("left_ankle")
        assert np.all(p.pixels[:, head, 1] < p.pixels[:, l_ankle, 1])  # y-up world, y-down picture
    # seen from the front: the dancer's left hip is on the picture's right
    sc = build_scene(m, size=(320, 240))
    px = sc.panels[0].pixels
    assert np.mean(px[:, SMPL24.index("left_hip"), 0] > px[:, SMPL24.index("right_hip"), 0]) > 0.9


def test_follow_keeps_dancer_centred_fixed_sees_it_travel():
    m = demo_dance(6.0, 30.0, radius=2.0)
    follow = build_scene(m, size=(320, 240), camera="follow").panels[0].pixels.mean(axis=1)
    fixed = build_scene(m, size=(320, 240), camera="fixed").panels[0].pixels.mean(axis=1)
    assert np.ptp(follow[:, 0]) < 0.5 * np.ptp(fixed[:, 0])


def test_compare_side_by_side_same_scale():
    a, b = demo_dance(2.0, 30.0), demo_dance(3.0, 25.0, radius=0.2)
    sc = build_scene(a, size=(640, 240), compare=b)
    assert sc.n_frames == 90 and sc.fps == 30.0  # the longer dance, at the first dance's fps
    left, right = sc.panels
    assert left.camera.panel == (0, 0, 320, 240) and right.camera.panel == (320, 0, 320, 240)
    assert np.all(left.pixels[..., 0] <= 320) and np.all(right.pixels[..., 0] >= 320)
    # one scale for both: equal focal lengths and equal eye-to-target distances
    assert left.camera.focal == right.camera.focal
    assert left.camera.distance == right.camera.distance > 0
    # the first dance holds its last pose after it ends
    np.testing.assert_allclose(left.positions[60:], np.repeat(left.positions[59:60], 30, axis=0))


def _body25_motion(T: int = 40) -> Motion:
    """A 2D stick figure in image pixels stepping right, y negated (up) as choreo's OpenPose reader gives it."""
    base = {
        "nose": (0, -160), "neck": (0, -130), "right_shoulder": (-30, -128), "right_elbow": (-45, -90),
        "right_wrist": (-50, -55), "left_shoulder": (30, -128), "left_elbow": (45, -90), "left_wrist": (50, -55),
        "mid_hip": (0, -40), "right_hip": (-15, -40), "right_knee": (-18, 10), "right_ankle": (-20, 60),
        "left_hip": (15, -40), "left_knee": (18, 10), "left_ankle": (20, 60), "right_eye": (-6, -166),
        "left_eye": (6, -166), "right_ear": (-12, -162), "left_ear": (12, -162), "left_big_toe": (30, 68),
        "left_small_toe": (34, 66), "left_heel": (16, 66), "right_big_toe": (-30, 68), "right_small_toe": (-34, 66),
        "right_heel": (-16, 66),
    }  # fmt: skip
    pts = np.array([base[n] for n in BODY25.joint_names], float)
    t = np.arange(T)[:, None, None]
    pos = (pts[None] + np.array([960.0, 600.0]) + t * np.array([4.0, 0.0])) * np.array([1.0, -1.0])
    return Motion(BODY25, 25.0, positions=pos)


def test_flat_camera_draws_2d_keypoints_upright():
    m = _body25_motion()
    sc = build_scene(m, size=(320, 240), camera="fixed")
    p = sc.panels[0]
    assert p.dim == 2 and p.camera.kind == "flat"
    nose, l_ankle = BODY25.index("nose"), BODY25.index("left_ankle")
    assert np.all(p.pixels[:, nose, 1] < p.pixels[:, l_ankle, 1])
    assert np.all(p.pixels[:, BODY25.index("left_wrist"), 0] > p.pixels[:, BODY25.index("right_wrist"), 0])
    # fixed: the figure walks to the right across the picture, inside it
    assert p.pixels[-1, nose, 0] > p.pixels[0, nose, 0] + 20
    assert np.all((p.pixels >= 0) & (p.pixels <= [320, 240]))
    # flat projection is an exact scale and shift, y flipped (motion y up, picture y down)
    s = p.camera.scale
    d = m.positions[5, 3] - m.positions[5, 4]
    np.testing.assert_allclose(p.pixels[5, 3] - p.pixels[5, 4], [s * d[0], -s * d[1]])


def test_joint_pixels_matches_scene():
    m = demo_dance(1.0, 30.0)
    sc = build_scene(m, size=(200, 150), camera="fixed")
    np.testing.assert_array_equal(cam.joint_pixels(m, 7, size=(200, 150), camera="fixed"), sc.panels[0].pixels[7])


def test_bad_scene_arguments():
    m = demo_dance(0.5, 30.0)
    with pytest.raises(ChoreoError, match="camera"):
        build_scene(m, camera="orbit")
    with pytest.raises(ChoreoError, match="size"):
        build_scene(m, size=(8, 8))
    with pytest.raises(ChoreoError, match="frame rate"):
        build_scene(m, fps=-1)
    assert build_scene(m, size=(321, 241)).size == (320, 240)  # even for yuv420p
    assert build_scene(m, size=(321, 241), fmt="gif").size == (321, 241)
