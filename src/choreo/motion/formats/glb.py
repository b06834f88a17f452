"""glTF 2.0 binary (``.glb``): a skinned skeleton with its dance, for Blender, three.js and any glTF viewer.

Writing
-------
- One node per joint, named after the joint and nested as the skeleton's tree; a ``skin`` over those
  nodes and a small skinned body (a capsule around every bone, a ball for the head) bound rigidly to the
  bones, so the file shows a moving figure in any viewer and imports into Blender as an armature.
- One animation, ``dance``, keyed at every frame of the motion (times ``i / fps``, LINEAR interpolation):
  every joint's ``rotation``; the root's ``translation``; and, for positions-only motions, every joint's
  ``translation`` too (below). Units: metres, y up, as glTF requires (choreo's own space).
- A motion with rotations (SMPL, BVH) is written as it is: the joints' rest translations are the
  skeleton's offsets and only rotations (and the root's path) move.
- A positions-only motion (Dance with Melody, generated keypoints) gets its rotations by
  :func:`~choreo.motion.kinematics.inverse_kinematics` (so the body's bones turn with the dance) and each
  joint's translation in its parent's frame is keyed as well, ``W_parent^T (p_joint - p_parent)``: the
  joints' world positions are then exactly the motion's (up to float32), bone-length variation included,
  which no rotation-only rig could reproduce.
- The bind pose (the nodes' own transforms, the inverse bind matrices, the body's vertices) is frame 0.
- The root's ``extras`` hold ``{"choreo": {...}}``: fps, the skeleton's name, feet, mirror pairs and upper
  body, so reading the file back gives the same :class:`~choreo.motion.skeleton.Skeleton`.

Reading
-------
:func:`read_glb` samples the first animation at its key times and returns the world positions of the
skin's joints (a positions-only motion, metres, y up); files not written by choreo work too when they
have a skin (or, failing that, animated nodes). Cameras, meshes and materials are ignored.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np

from choreo import __version__
from choreo.errors import ChoreoError
from choreo.fileio import atomic_path
from choreo.motion.motion import Motion
from choreo.motion.skeleton import Skeleton, joint_sides, recognise_skeleton
from choreo.palette import CENTRE, LEFT, RIGHT

MAGIC = b"glTF"
JSON_CHUNK = 0x4E4F534A
BIN_CHUNK = 0x004E4942
FLOAT, UBYTE, USHORT, UINT = 5126, 5121, 5123, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
_DTYPES = {FLOAT: "<f4", UBYTE: "u1", USHORT: "<u2", UINT: "<u4", 5120: "i1", 5122: "<i2"}

#: body radii in metres: limbs, the centre line (spine, pelvis), and the ball on a head joint.
LIMB_RADIUS = 0.03
CENTRE_RADIUS = 0.045
HEAD_RADIUS = 0.075


# --- pose: local translations and rotations per joint and frame -------------------------------------------


def _quat_matrices(q: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions (w, x, y, z) -> (..., 3, 3) rotation matrices (numpy, float64)."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def _rest_template(skeleton: Skeleton) -> np.ndarray | None:
    """Rest-pose bone directions for inverse kinematics: the skeleton's offsets, or Dance with Melody's T-pose."""
    if skeleton.offsets is not None:
        return skeleton.offsets
    from choreo.motion.formats.dwm import DWM23, DWM23_REST

    return DWM23_REST if skeleton.same_structure(DWM23) else None


def local_pose(motion: Motion) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The motion as node transforms: local translations (T, J, 3), rotations (T, J, 4) (w, x, y, z), and
    (J,) bool, which joints' translations change over time (see the module docstring)."""
    sk = motion.skeleton
    T, J = motion.n_frames, sk.n_joints
    root = sk.root
    if motion.rotations is not None and sk.offsets is not None:
        q = np.asarray(motion.rotations, np.float64)
        t = np.broadcast_to(sk.offsets, (T, J, 3)).copy()
        t[:, root] = np.asarray(motion.root, np.float64)
        moving = np.zeros(J, bool)
        moving[root] = True
        return t, q, moving
    from choreo.motion.kinematics import inverse_kinematics

    P = motion.joint_positions()
    q, _, _ = inverse_kinematics(P, sk, rest=_rest_template(sk))
    R = _quat_matrices(q)
    world = np.zeros_like(R)
    t = np.zeros_like(P)
    for j in sk.order:
        p = int(sk.parents[j])
        if p < 0:
            world[:, j] = R[:, j]
            t[:, j] = P[:, j]
        else:
            world[:, j] = world[:, p] @ R[:, j]
            # the parent's frame absorbs bone-length changes and best-fit rotations: positions stay exact
            t[:, j] = np.einsum("tki,tk->ti", world[:, p], P[:, j] - P[:, p])
    return t, q, np.ones(J, bool)


def _continuous(q: np.ndarray) -> np.ndarray:
    """Quaternions with signs flipped so that consecutive frames lie in the same hemisphere (clean curves)."""
    q = q.copy()
    for i in range(1, len(q)):
        flip = np.sum(q[i] * q[i - 1], axis=-1) < 0
        q[i, flip] *= -1
    return q


# --- the body: capsules around the bones at frame 0 ------------------------------------------------------------


def _srgb_to_linear(rgb: tuple[int, int, int]) -> np.ndarray:
    c = np.asarray(rgb, np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _capsule(a: np.ndarray, b: np.ndarray, r: float, segments: int = 10, rings: int = 3):
    """Vertices, normals and triangles of a capsule from ``a`` to ``b`` (a ball when they coincide)."""
    axis = b - a
    length = float(np.linalg.norm(axis))
    axis = axis / length if length > 1e-9 else np.array([0.0, 1.0, 0.0])
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    v = np.cross(axis, u)
    theta = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    ring_dirs = np.cos(theta)[:, None] * u + np.sin(theta)[:, None] * v  # (S, 3)
    verts, norms = [], []
    phis = [(-np.pi / 2 + np.pi / 2 * k / rings, a) for k in range(rings + 1)]
    phis += [(np.pi / 2 * k / rings, b) for k in range(rings + 1)]
    for phi, centre in phis:
        n = np.cos(phi) * ring_dirs + np.sin(phi) * axis
        verts.append(centre + r * n)
        norms.append(n)
    V = np.concatenate(verts)
    N = np.concatenate(norms)
    tris = []
    for i in range(len(phis) - 1):
        for s in range(segments):
            a0, a1 = i * segments + s, i * segments + (s + 1) % segments
            b0, b1 = a0 + segments, a1 + segments
            tris += [(a0, b0, a1), (a1, b0, b1)]
    return V, N, np.asarray(tris, np.int64)


def body_mesh(skeleton: Skeleton, P0: np.ndarray):
    """The skinned body at frame 0: positions, normals, colours (linear RGB), joint index per vertex, triangles.

    Each bone's capsule is bound to the bone's parent joint (the joint whose rotation turns it); a joint
    named like a head that ends a chain gets a ball bound to itself.
    """
    sides = joint_sides(skeleton)
    colour = {1: _srgb_to_linear(LEFT), -1: _srgb_to_linear(RIGHT), 0: _srgb_to_linear(CENTRE)}
    parts = []
    for j in skeleton.order:
        p = int(skeleton.parents[j])
        if p >= 0 and np.linalg.norm(P0[j] - P0[p]) > 1e-6:
            r = CENTRE_RADIUS if sides[j] == 0 and sides[p] == 0 else LIMB_RADIUS
            parts.append((_capsule(P0[p], P0[j], r), p, colour[int(sides[j])]))
        if not skeleton.children(j) and "head" in skeleton.joint_names[j].lower():
            parts.append((_capsule(P0[j], P0[j], HEAD_RADIUS), j, colour[0]))
    pos, nrm, col, jnt, tri = [], [], [], [], []
    n = 0
    for (V, N, F), joint, c in parts:
        pos.append(V)
        nrm.append(N)
        col.append(np.broadcast_to(c, V.shape))
        jnt.append(np.full(len(V), joint))
        tri.append(F + n)
        n += len(V)
    if not parts:
        return None
    return (np.concatenate(pos), np.concatenate(nrm), np.concatenate(col), np.concatenate(jnt), np.concatenate(tri))


# --- the file ---------------------------------------------------------------------------------------------------


class _Builder:
    """Accumulates the binary buffer, its views and accessors."""

    def __init__(self) -> None:
        self.blob = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def add(self, array: np.ndarray, kind: str, ctype: int, target: int | None = None, minmax: bool = False) -> int:
        a = np.ascontiguousarray(array, dtype=_DTYPES[ctype])
        while len(self.blob) % 4:
            self.blob.append(0)
        view = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": a.nbytes}
        if target is not None:
            view["target"] = target
        self.blob.extend(a.tobytes())
        self.views.append(view)
        count = a.shape[0]
        acc = {"bufferView": len(self.views) - 1, "componentType": ctype, "count": int(count), "type": kind}
        if minmax:
            flat = a.reshape(count, -1)
            acc["min"] = [float(x) for x in flat.min(axis=0)]
            acc["max"] = [float(x) for x in flat.max(axis=0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1


def _matrix(t: np.ndarray, q: np.ndarray) -> np.ndarray:
    M = np.eye(4)
    M[:3, :3] = _quat_matrices(q)
    M[:3, 3] = t
    return M


def glb_bytes(motion: Motion) -> bytes:
    """The motion as a GLB file's bytes (see the module docstring)."""
    sk = motion.skeleton
    src = motion.meta.get("source")
    if sk.dim != 3:
        raise ChoreoError(f"GLB needs a 3D motion; skeleton {sk.name!r} is {sk.dim}D", src)
    T, J = motion.n_frames, sk.n_joints
    t, q, moving = local_pose(motion)
    q = _continuous(q / np.linalg.norm(q, axis=-1, keepdims=True))
    xyzw = q[..., [1, 2, 3, 0]]

    b = _Builder()
    nodes: list[dict] = []
    world0 = [None] * J
    for j in range(J):
        node = {"name": sk.joint_names[j], "translation": [float(x) for x in t[0, j]]}
        node["rotation"] = [float(x) for x in xyzw[0, j]]
        kids = sk.children(j)
        if kids:
            node["children"] = kids
        nodes.append(node)
    for j in sk.order:
        p = int(sk.parents[j])
        M = _matrix(t[0, j], q[0, j])
        world0[j] = M if p < 0 else world0[p] @ M
    P0 = np.stack([w[:3, 3] for w in world0])
    nodes[sk.root]["extras"] = {
        "choreo": {
            "fps": motion.fps,
            "frames": T,
            "skeleton": sk.name,
            "feet": [int(f) for f in sk.feet],
            "mirror_pairs": [[int(a), int(c)] for a, c in sk.mirror_pairs],
            "upper_body": [int(u) for u in sk.upper_body],
        }
    }

    gltf: dict = {
        "asset": {"version": "2.0", "generator": f"choreo {__version__}"},
        "scene": 0,
        "scenes": [{"name": "dance", "nodes": [sk.root]}],
        "nodes": nodes,
    }

    body = body_mesh(sk, P0)
    if body is not None:
        pos, nrm, col, jnt, tri = body
        joints = np.zeros((len(pos), 4), np.int64)
        joints[:, 0] = jnt
        weights = np.zeros((len(pos), 4))
        weights[:, 0] = 1.0
        attrs = {
            "POSITION": b.add(pos, "VEC3", FLOAT, ARRAY_BUFFER, minmax=True),
            "NORMAL": b.add(nrm, "VEC3", FLOAT, ARRAY_BUFFER),
            "COLOR_0": b.add(col, "VEC3", FLOAT, ARRAY_BUFFER),
            "JOINTS_0": b.add(joints, "VEC4", UBYTE if J < 256 else USHORT, ARRAY_BUFFER),
            "WEIGHTS_0": b.add(weights, "VEC4", FLOAT, ARRAY_BUFFER),
        }
        index_type = USHORT if len(pos) < 65536 else UINT
        indices = b.add(tri.reshape(-1), "SCALAR", index_type, ELEMENT_ARRAY_BUFFER)
        ibm = np.stack([np.linalg.inv(world0[j]).T for j in range(J)])  # glTF matrices are column-major
        gltf["materials"] = [{"name": "body", "pbrMetallicRoughness": {"metallicFactor": 0.0, "roughnessFactor": 0.7}}]
        gltf["meshes"] = [{"name": "body", "primitives": [{"attributes": attrs, "indices": indices, "material": 0}]}]
        gltf["skins"] = [
            {
                "name": sk.name,
                "joints": list(range(J)),
                "skeleton": sk.root,
                "inverseBindMatrices": b.add(ibm.reshape(J, 16), "MAT4", FLOAT),
            }
        ]
        nodes.append({"name": "body", "mesh": 0, "skin": 0})
        gltf["scenes"][0]["nodes"].append(J)

    times = b.add(np.arange(T) / motion.fps, "SCALAR", FLOAT, minmax=True)
    samplers, channels = [], []
    for j in range(J):
        outputs = [("rotation", b.add(xyzw[:, j], "VEC4", FLOAT))]
        if moving[j]:
            outputs.append(("translation", b.add(t[:, j], "VEC3", FLOAT)))
        for path, acc in outputs:
            samplers.append({"input": times, "output": acc, "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": j, "path": path}})
    gltf["animations"] = [{"name": "dance", "samplers": samplers, "channels": channels}]
    gltf["accessors"] = b.accessors
    gltf["bufferViews"] = b.views
    while len(b.blob) % 4:
        b.blob.append(0)
    gltf["buffers"] = [{"byteLength": len(b.blob)}]

    text = json.dumps(gltf, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    total = 12 + 8 + len(text) + 8 + len(b.blob)
    out = bytearray(struct.pack("<4sII", MAGIC, 2, total))
    out += struct.pack("<II", len(text), JSON_CHUNK) + text
    out += struct.pack("<II", len(b.blob), BIN_CHUNK) + bytes(b.blob)
    return bytes(out)


def write_glb(motion: Motion, path: str | os.PathLike) -> None:
    """Write ``motion`` as a GLB file (atomic: a failure leaves no file)."""
    data = glb_bytes(motion)
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    except OSError as exc:
        raise ChoreoError(f"cannot write ({exc.strerror or exc})", path) from None


# --- reading ----------------------------------------------------------------------------------------------------


def _parse(path: Path) -> tuple[dict, bytes]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ChoreoError(f"cannot read ({exc.strerror or exc})", path) from None
    if len(raw) < 20 or raw[:4] != MAGIC:
        raise ChoreoError("not a GLB file (no glTF header)", path)
    version, total = struct.unpack_from("<II", raw, 4)
    if version != 2:
        raise ChoreoError(f"glTF version {version}; only 2 is read", path)
    if total > len(raw):
        raise ChoreoError(f"the file is truncated ({len(raw)} of {total} bytes)", path)
    gltf, blob, off = None, b"", 12
    while off + 8 <= total:
        length, kind = struct.unpack_from("<II", raw, off)
        chunk = raw[off + 8 : off + 8 + length]
        if len(chunk) != length:
            raise ChoreoError("a chunk runs past the end of the file (truncated?)", path)
        if kind == JSON_CHUNK and gltf is None:
            try:
                gltf = json.loads(chunk.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise ChoreoError(f"the JSON chunk is corrupt ({exc})", path) from None
        elif kind == BIN_CHUNK and not blob:
            blob = chunk
        off += 8 + length
    if not isinstance(gltf, dict):
        raise ChoreoError("no JSON chunk", path)
    return gltf, blob


def _accessor(gltf: dict, blob: bytes, index: int, path: Path) -> np.ndarray:
    try:
        acc = gltf["accessors"][index]
        view = gltf["bufferViews"][acc["bufferView"]]
        dtype = np.dtype(_DTYPES[acc["componentType"]])
        k = _COMPONENTS[acc["type"]]
        count = int(acc["count"])
        start = int(view.get("byteOffset", 0)) + int(acc.get("byteOffset", 0))
        stride = int(view.get("byteStride", 0)) or dtype.itemsize * k
        need = start + stride * (count - 1) + dtype.itemsize * k if count else start
        if need > len(blob):
            raise ChoreoError(f"accessor {index} reads past the binary chunk (truncated?)", path)
        rows = [np.frombuffer(blob, dtype, k, start + i * stride) for i in range(count)] if count else []
        a = np.stack(rows).astype(np.float64) if rows else np.zeros((0, k))
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ChoreoError(f"accessor {index} is malformed ({type(exc).__name__}: {exc})", path) from None
    return a.reshape(count, k) if k > 1 else a.reshape(count)


def _sample(times: np.ndarray, keys: np.ndarray, values: np.ndarray, quat: bool) -> np.ndarray:
    """Linear interpolation of keyed values at ``times`` (quaternions: normalised lerp on the short arc)."""
    if len(keys) == len(times) and np.allclose(keys, times, atol=1e-6):
        return values
    if quat:
        values = _continuous(values[:, None])[:, 0]
    out = np.stack([np.interp(times, keys, values[:, c]) for c in range(values.shape[1])], -1)
    if quat:
        out /= np.linalg.norm(out, axis=-1, keepdims=True)
    return out


def read_glb(path: str | os.PathLike, fps: float | None = None, scale: float | None = None) -> Motion:
    """Read the first animation of a GLB file as joint world positions (see the module docstring).

    Args:
        fps: frame rate (default: the one choreo recorded, else 1 / the median key interval).
        scale: metres per file unit (default 1: glTF is in metres).
    """
    p = Path(path)
    gltf, blob = _parse(p)
    nodes = gltf.get("nodes") or []
    anims = gltf.get("animations") or []
    if not nodes or not anims:
        raise ChoreoError("the file holds no animated nodes", p)
    skins = gltf.get("skins") or []
    animated = sorted({int(c["target"]["node"]) for c in anims[0].get("channels", []) if "node" in c["target"]})
    joints = [int(j) for j in skins[0]["joints"]] if skins else animated
    parent_of = {}
    for i, n in enumerate(nodes):
        for c in n.get("children", []):
            parent_of[int(c)] = i

    samplers = anims[0]["samplers"]
    chans = [c for c in anims[0]["channels"] if c["target"].get("path") in ("translation", "rotation", "scale")]
    if not chans:
        raise ChoreoError("the animation has no translation or rotation channels", p)
    key_times = [_accessor(gltf, blob, samplers[c["sampler"]]["input"], p) for c in chans]
    longest = max(key_times, key=len)
    extras = {}
    for j in joints:
        extras = nodes[j].get("extras", {}).get("choreo", {}) or extras
    rate = fps or extras.get("fps")
    if rate is None:
        steps = np.diff(longest)
        rate = 1.0 / float(np.median(steps)) if len(steps) else 30.0
    n_frames = int(round((longest[-1] - longest[0]) * rate)) + 1 if len(longest) else 1
    times = longest[0] + np.arange(n_frames) / rate

    N = len(nodes)
    trans = np.zeros((n_frames, N, 3))
    rot = np.zeros((n_frames, N, 4))
    rot[..., 0] = 1.0
    scl = np.ones((n_frames, N, 3))
    static = np.zeros((N, 4, 4))
    for i, n in enumerate(nodes):
        if "matrix" in n:
            static[i] = np.asarray(n["matrix"], np.float64).reshape(4, 4).T
            continue
        trans[:, i] = n.get("translation", [0, 0, 0])
        x, y, z, w = n.get("rotation", [0, 0, 0, 1])
        rot[:, i] = (w, x, y, z)
        scl[:, i] = n.get("scale", [1, 1, 1])
    for c, keys in zip(chans, key_times, strict=True):
        i, what = int(c["target"]["node"]), c["target"]["path"]
        values = _accessor(gltf, blob, samplers[c["sampler"]]["output"], p)
        if samplers[c["sampler"]].get("interpolation") == "CUBICSPLINE":
            values = values[1::3]  # (in-tangent, value, out-tangent) per key
        if what == "rotation":
            rot[:, i] = _sample(times, keys, values[:, [3, 0, 1, 2]], quat=True)
        elif what == "translation":
            trans[:, i] = _sample(times, keys, values, quat=False)
        else:
            scl[:, i] = _sample(times, keys, values, quat=False)

    world: dict[int, np.ndarray] = {}

    def world_of(i: int) -> np.ndarray:
        if i not in world:
            if "matrix" in nodes[i]:
                M = np.broadcast_to(static[i], (n_frames, 4, 4)).copy()
            else:
                M = np.zeros((n_frames, 4, 4))
                M[:, :3, :3] = _quat_matrices(rot[:, i]) * scl[:, i, None, :]
                M[:, :3, 3] = trans[:, i]
                M[:, 3, 3] = 1.0
            world[i] = M if i not in parent_of else world_of(parent_of[i]) @ M
        return world[i]

    P = np.stack([world_of(j)[:, :3, 3] for j in joints], axis=1) * (1.0 if scale is None else float(scale))
    index = {j: k for k, j in enumerate(joints)}
    parents = []
    for j in joints:
        a = parent_of.get(j)
        while a is not None and a not in index:
            a = parent_of.get(a)
        parents.append(-1 if a is None else index[a])
    names = [str(nodes[j].get("name") or f"joint{k}") for k, j in enumerate(joints)]
    if extras and len(extras.get("feet", [])) == 4:
        sk = Skeleton(
            name=str(extras.get("skeleton", "glb")),
            joint_names=tuple(names),
            parents=np.array(parents),
            feet=tuple(int(f) for f in extras["feet"]),
            mirror_pairs=tuple(tuple(int(v) for v in pr) for pr in extras.get("mirror_pairs", [])),
            upper_body=tuple(int(u) for u in extras.get("upper_body", [])),
        )
    else:
        sk = recognise_skeleton(p.stem, names, np.array(parents))
    return Motion(sk, float(rate), positions=P, meta={"source": str(p)})
