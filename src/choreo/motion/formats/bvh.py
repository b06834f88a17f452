"""BVH (Biovision hierarchy) motion files: read any hierarchy, write a clean one.

Reading
-------
- Any hierarchy and channel layout: position channels on any joint, rotation channels in any order
  and number. Rotation channels compose intrinsically in the order listed (``Zrotation Xrotation
  Yrotation`` means ``R = Rz @ Rx @ Ry``), angles in degrees. Position channels *replace* the
  corresponding OFFSET component for that frame (as Blender's importer does); missing ones keep OFFSET.
- ``End Site`` blocks with a non-zero offset become joints named ``<parent>_end`` (their position is
  real information, e.g. a head top or toe tip); zero-offset End Sites add nothing and are dropped.
- Axes are taken as y-up. Units: ``scale`` (metres per file unit) if given, else detected from the
  first frame: a figure more than 10 units across is in centimetres (x 0.01), otherwise metres.
- The frame rate is ``1 / Frame Time``, rounded to an integer when within 0.01 % of one.
- A root joint that never moves (constant channels) and whose one child carries the real translation
  (game-engine exports such as Bandai Namco's ``joint_Root``) is folded into that child, which becomes
  the root; ``meta["dropped_joints"]`` names it. If some other non-root joint's translation changes over
  time (stretching bones), rotations cannot describe the motion: the motion keeps exact positions only.
- Joints written by choreo as ``<child>_link`` (zero offset, one child; see writing) are folded away
  again, giving a positions-only motion on the original skeleton.
- When the joint names and parents are those of a built-in skeleton (SMPL-24, Dance with Melody 23) the
  joints are put in that skeleton's order and it keeps its feet, mirror pairs and body parts; other
  skeletons get feet, left/right pairs and body parts from
  :func:`~choreo.motion.skeleton.recognise_skeleton` (joint names such as Mixamo's ``LeftFoot``,
  ``Foot_L``, ``lankle``; SMPL's feet for a 24-joint tree with SMPL's parents).

Writing
-------
- Root: 6 channels ``Xposition Yposition Zposition Zrotation Xrotation Yrotation``; every other joint
  3 channels ``Zrotation Xrotation Yrotation``; every leaf joint ends in an ``End Site`` with a zero
  offset (Blender then extends the leaf bone along its parent), except a leaf named ``<parent>_end``
  that is its parent's only child, which is written back as that parent's End Site. Euler angles are
  unwrapped over time so the curves have no 360-degree jumps.
- Units: **centimetres** (metres x 100), the most common BVH unit (Bandai Namco, Mixamo, CMU
  conversions). Blender's importer takes numbers as they are: import with Scale 0.01 to get metres.
  choreo's reader detects cm, so reading back gives the same positions.
- ``Frame Time`` is ``1 / fps`` with 10 significant digits; ``Frames`` is the frame count.
- A motion with rotations is written as it is. A positions-only motion (Dance with Melody, generated
  keypoints) goes through :func:`~choreo.motion.kinematics.inverse_kinematics`, rest pose from the
  skeleton's offsets or, for Dance with Melody, :data:`~choreo.motion.formats.dwm.DWM23_REST`, bone
  lengths the per-bone means. A joint with several children cannot point each child bone exactly (only
  a best fit), so the writer gives each of its children a zero-length ``<child>_link`` joint: every
  bone's direction is then reproduced exactly and only bone-length variation is lost.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from choreo.errors import ChoreoError
from choreo.fileio import atomic_open
from choreo.motion.motion import Motion
from choreo.motion.skeleton import SMPL24, Skeleton, recognise_skeleton

WRITE_ORDER = "ZXY"
CM_PER_M = 100.0
LINK_SUFFIX = "_link"
END_SUFFIX = "_end"
_AXES = {"x": 0, "y": 1, "z": 2}


@dataclass
class _Node:
    name: str
    parent: int
    offset: np.ndarray
    channels: list[str] = field(default_factory=list)  # lower-case, e.g. "xposition"
    first_channel: int = 0
    end_site: bool = False


class _Tokens:
    """Whitespace tokens of the hierarchy part, with line numbers for error messages."""

    def __init__(self, lines: list[str], path):
        self.items: list[tuple[str, int]] = []
        for no, line in enumerate(lines, start=1):
            self.items.extend((tok, no) for tok in line.split())
        self.i = 0
        self.path = path

    def peek(self) -> str | None:
        return self.items[self.i][0] if self.i < len(self.items) else None

    def line(self) -> int:
        return self.items[min(self.i, len(self.items) - 1)][1] if self.items else 0

    def next(self, what: str) -> str:
        if self.i >= len(self.items):
            raise ChoreoError(f"file ends inside the HIERARCHY while expecting {what} (truncated?)", self.path)
        tok = self.items[self.i][0]
        self.i += 1
        return tok

    def expect(self, word: str) -> None:
        line = self.line()
        tok = self.next(repr(word))
        if tok.lower() != word.lower():
            raise ChoreoError(f"line {line}: expected {word!r}, found {tok!r}", self.path)

    def number(self, what: str) -> float:
        line = self.line()
        tok = self.next(what)
        try:
            v = float(tok)
        except ValueError:
            raise ChoreoError(f"line {line}: expected a number for {what}, found {tok!r}", self.path) from None
        if not math.isfinite(v):
            raise ChoreoError(f"line {line}: {what} is not finite ({tok})", self.path)
        return v


def _parse_hierarchy(tokens: _Tokens) -> tuple[list[_Node], int]:
    nodes: list[_Node] = []
    n_channels = 0
    path = tokens.path

    def parse_joint(parent: int) -> None:
        nonlocal n_channels
        line = tokens.line()
        name_parts = []
        while tokens.peek() not in (None, "{"):
            name_parts.append(tokens.next("a joint name"))
        if not name_parts:
            raise ChoreoError(f"line {line}: joint without a name", path)
        name = "_".join(name_parts)
        tokens.expect("{")
        tokens.expect("OFFSET")
        offset = np.array([tokens.number(f"{name}'s OFFSET") for _ in range(3)])
        node = _Node(name, parent, offset, first_channel=n_channels)
        idx = len(nodes)
        nodes.append(node)
        if (tokens.peek() or "").upper() == "CHANNELS":
            tokens.next("CHANNELS")
            line = tokens.line()
            count_tok = tokens.next("a channel count")
            if not count_tok.isdigit():
                raise ChoreoError(f"line {line}: channel count of {name} is not an integer: {count_tok!r}", path)
            for _ in range(int(count_tok)):
                line = tokens.line()
                ch = tokens.next(f"{name}'s channels").lower()
                if ch not in ("xposition", "yposition", "zposition", "xrotation", "yrotation", "zrotation"):
                    raise ChoreoError(f"line {line}: unknown channel {ch!r} on joint {name}", path)
                node.channels.append(ch)
            if len(set(node.channels)) != len(node.channels):
                raise ChoreoError(f"line {line}: joint {name} lists a channel twice", path)
            n_channels += len(node.channels)
        while True:
            line = tokens.line()
            tok = tokens.next("'}' closing joint " + name)
            up = tok.upper()
            if tok == "}":
                return
            if up == "JOINT":
                parse_joint(idx)
            elif up == "END":
                tokens.expect("Site")
                while tokens.peek() not in (None, "{"):  # some files name their End Sites
                    tokens.next("'{'")
                tokens.expect("{")
                tokens.expect("OFFSET")
                off = np.array([tokens.number(f"{name}'s End Site OFFSET") for _ in range(3)])
                tokens.expect("}")
                nodes.append(_Node(name + END_SUFFIX, idx, off, first_channel=n_channels, end_site=True))
            else:
                raise ChoreoError(f"line {line}: expected JOINT, End Site or '}}' in joint {name}, found {tok!r}", path)

    tokens.expect("HIERARCHY")
    tokens.expect("ROOT")
    parse_joint(-1)
    if tokens.peek() is not None:
        raise ChoreoError(
            f"line {tokens.line()}: unexpected {tokens.peek()!r} after the root joint (only one ROOT is supported)",
            path,
        )
    return nodes, n_channels


def _parse(path: Path) -> tuple[list[_Node], float, np.ndarray]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise ChoreoError("file not found", path) from None
    except OSError as exc:
        raise ChoreoError(f"cannot read ({exc.strerror or exc})", path) from None
    lines = text.splitlines()
    motion_line = next((i for i, ln in enumerate(lines) if ln.strip().upper() == "MOTION"), None)
    if not lines or not lines[0].strip().upper().startswith("HIERARCHY"):
        raise ChoreoError("not a BVH file (it does not start with HIERARCHY)", path)
    if motion_line is None:
        raise ChoreoError("no MOTION section (truncated BVH?)", path)
    nodes, n_channels = _parse_hierarchy(_Tokens(lines[:motion_line], path))
    rest = lines[motion_line + 1 :]
    header = [ln for ln in rest[:4] if ln.strip()]
    m_frames = re.match(r"\s*Frames:\s*(\S+)\s*$", header[0], re.I) if header else None
    if not m_frames:
        raise ChoreoError("MOTION must be followed by a 'Frames: N' line", path)
    try:
        n_frames = int(m_frames.group(1))
    except ValueError:
        raise ChoreoError(f"'Frames:' is not an integer: {m_frames.group(1)!r}", path) from None
    m_time = re.match(r"\s*Frame\s+Time:\s*(\S+)\s*$", header[1], re.I) if len(header) > 1 else None
    if not m_time:
        raise ChoreoError("'Frames:' must be followed by a 'Frame Time: seconds' line", path)
    try:
        frame_time = float(m_time.group(1))
    except ValueError:
        raise ChoreoError(f"'Frame Time:' is not a number: {m_time.group(1)!r}", path) from None
    if not (math.isfinite(frame_time) and frame_time > 0):
        raise ChoreoError(f"'Frame Time:' must be a positive number of seconds, got {frame_time}", path)
    if n_frames <= 0:
        raise ChoreoError("the motion has zero frames", path)
    start = rest.index(next(ln for ln in rest if re.match(r"\s*Frame\s+Time:", ln, re.I))) + 1
    body = " ".join(rest[start:]).split()
    expected = n_frames * n_channels
    if len(body) != expected:
        got_frames = len(body) / n_channels if n_channels else 0
        raise ChoreoError(
            f"motion data has {len(body)} numbers but Frames: {n_frames} x {n_channels} channels needs {expected} "
            f"({got_frames:.2f} frames' worth: truncated or wrong channel count)",
            path,
        )
    try:
        data = np.array(body, dtype=np.float64).reshape(n_frames, n_channels)
    except ValueError:
        bad = next(tok for tok in body if not _is_float(tok))
        raise ChoreoError(f"motion data contains a non-number: {bad!r}", path) from None
    if not np.all(np.isfinite(data)):
        frame = int(np.argwhere(~np.isfinite(data))[0, 0])
        raise ChoreoError(f"motion data contains NaN or infinite values (first at frame {frame})", path)
    return nodes, frame_time, data


def _is_float(tok: str) -> bool:
    try:
        float(tok)
        return True
    except ValueError:
        return False


def _elementary(axis: int, rad: np.ndarray) -> np.ndarray:
    c, s = np.cos(rad), np.sin(rad)
    R = np.zeros(rad.shape + (3, 3))
    a, b = [(1, 2), (2, 0), (0, 1)][axis]
    R[..., axis, axis] = 1.0
    R[..., a, a] = c
    R[..., b, b] = c
    R[..., a, b] = -s
    R[..., b, a] = s
    return R


def _local_transforms(nodes: list[_Node], data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame local translations (T, J, 3) and rotations (T, J, 3, 3), in file units."""
    T, J = len(data), len(nodes)
    trans = np.broadcast_to(np.stack([n.offset for n in nodes]), (T, J, 3)).copy()
    rot = np.broadcast_to(np.eye(3), (T, J, 3, 3)).copy()
    for j, n in enumerate(nodes):
        R = None
        for k, ch in enumerate(n.channels):
            col = data[:, n.first_channel + k]
            axis = _AXES[ch[0]]
            if ch.endswith("position"):
                trans[:, j, axis] = col
            else:
                E = _elementary(axis, np.radians(col))
                R = E if R is None else R @ E
        if R is not None:
            rot[:, j] = R
    return trans, rot


def _fk(parents: np.ndarray, order: list[int], trans: np.ndarray, rot: np.ndarray) -> np.ndarray:
    T, J = trans.shape[:2]
    P = np.zeros((T, J, 3))
    W = np.zeros((T, J, 3, 3))
    for j in order:
        p = parents[j]
        if p < 0:
            P[:, j] = trans[:, j]
            W[:, j] = rot[:, j]
        else:
            P[:, j] = P[:, p] + np.einsum("tij,tj->ti", W[:, p], trans[:, j])
            W[:, j] = W[:, p] @ rot[:, j]
    return P


def _builtin_skeletons() -> list[Skeleton]:
    from choreo.motion.formats.dwm import DWM23

    return [SMPL24, DWM23]


def _match_builtin(names: list[str], parents: np.ndarray) -> tuple[Skeleton, np.ndarray] | None:
    """A built-in skeleton with the same joints and tree, and the permutation file -> builtin order."""
    for sk in _builtin_skeletons():
        if set(names) != set(sk.joint_names) or len(names) != sk.n_joints:
            continue
        perm = np.array([names.index(n) for n in sk.joint_names])
        same = all(
            (sk.parents[j] == -1 and parents[perm[j]] == -1)
            or (
                sk.parents[j] >= 0
                and parents[perm[j]] >= 0
                and names[parents[perm[j]]] == sk.joint_names[sk.parents[j]]
            )
            for j in range(sk.n_joints)
        )
        if same:
            return sk, perm
    return None


def _order(parents: np.ndarray) -> list[int]:
    from choreo.motion.kinematics import traversal_order

    return traversal_order(parents)


def read_bvh(path: str | os.PathLike, fps: float | None = None, scale: float | None = None) -> Motion:
    """Read a BVH file as a motion in metres, y-up (see the module docstring for every convention).

    Args:
        fps: overrides the file's frame rate.
        scale: metres per file unit (default: detected, 0.01 for centimetre files, else 1).
    """
    import torch

    from choreo.motion.rotations import matrix_to_quat

    path = Path(path)
    nodes, frame_time, data = _parse(path)
    # drop zero-offset End Sites: they add a joint that always sits on its parent
    keep = [i for i, n in enumerate(nodes) if not (n.end_site and np.allclose(n.offset, 0.0))]
    trans_all, rot_all = _local_transforms(nodes, data)
    remap = {old: new for new, old in enumerate(keep)}
    names = [nodes[i].name for i in keep]
    parents = np.array([remap.get(nodes[i].parent, -1) if nodes[i].parent >= 0 else -1 for i in keep])
    trans, rot = trans_all[:, keep], rot_all[:, keep]
    # unique names (End Site names could collide with real joints)
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in seen:
            k = 2
            while f"{n}{k}" in seen or f"{n}{k}" in names:
                k += 1
            names[i] = f"{n}{k}"
        seen[names[i]] = i
    has_pos = np.array([any(c.endswith("position") for c in nodes[i].channels) for i in keep])
    meta: dict = {"source": os.fspath(path), "format": "bvh"}

    def moving(j: int) -> bool:
        return bool(
            np.ptp(trans[:, j], axis=0).max() > 1e-6 or np.ptp(rot[:, j].reshape(len(rot), 9), axis=0).max() > 1e-9
        )

    # fold static roots into their single moving child
    dropped = []
    while True:
        r = int(np.nonzero(parents == -1)[0][0])
        kids = np.nonzero(parents == r)[0]
        if moving(r) or len(kids) != 1 or not has_pos[kids[0]]:
            break
        c = int(kids[0])
        trans[:, c] = trans[:, r] + np.einsum("tij,tj->ti", rot[:, r], trans[:, c])
        rot[:, c] = rot[:, r] @ rot[:, c]
        dropped.append(names[r])
        sel = [i for i in range(len(names)) if i != r]
        new_index = {old: new for new, old in enumerate(sel)}
        parents = np.array([-1 if i == c else new_index[int(parents[i])] for i in sel])
        names = [names[i] for i in sel]
        trans, rot, has_pos = trans[:, sel], rot[:, sel], has_pos[sel]
    if dropped:
        meta["dropped_joints"] = dropped
    order = _order(parents)
    root = order[0]
    P_file = _fk(parents, order, trans, rot)
    if scale is None:
        extent = float(np.ptp(P_file[0], axis=0).max())
        scale = 0.01 if extent > 10.0 else 1.0
    scale = float(scale)
    meta["scale"] = scale

    # fold choreo's link joints (zero offset, one child, named <child>_link)
    links = [
        j
        for j in range(len(names))
        if parents[j] >= 0
        and names[j].endswith(LINK_SUFFIX)
        and np.allclose(trans[:, j], 0.0, atol=1e-9)
        and len(np.nonzero(parents == j)[0]) == 1
        and names[int(np.nonzero(parents == j)[0][0])] + LINK_SUFFIX == names[j]
    ]
    stretchy = [j for j in range(len(names)) if j != root and np.ptp(trans[:, j], axis=0).max() > 1e-5]
    rate = fps if fps is not None else _round_fps(1.0 / frame_time)
    if links or stretchy:
        P = P_file * scale
        if links:
            sel = [j for j in range(len(names)) if j not in links]
            new_index = {old: new for new, old in enumerate(sel)}

            def up(j: int) -> int:
                p = int(parents[j])
                while p in links:
                    p = int(parents[p])
                return p

            parents = np.array([-1 if up(j) < 0 else new_index[up(j)] for j in sel])
            names = [names[j] for j in sel]
            P = P[:, sel]
        else:
            meta["note"] = (
                f"bones change length over time ({', '.join(names[j] for j in stretchy[:3])}...): positions only"
            )
        match = _match_builtin(names, parents)
        if match:
            sk, perm = match
            return Motion(sk, rate, positions=P[:, perm], meta=meta)
        return Motion(recognise_skeleton(path.stem, names, parents), rate, positions=P, meta=meta)

    offsets = trans[0] * scale
    offsets[root] = 0.0  # the root's offset is never used: its channels give its position
    quats = matrix_to_quat(torch.from_numpy(rot)).numpy()
    root_pos = trans[:, root] * scale
    match = _match_builtin(names, parents)
    if match:
        sk, perm = match
        skeleton = sk.with_offsets(offsets[perm])
        quats = quats[:, perm]
    else:
        skeleton = recognise_skeleton(path.stem, names, parents, offsets)
    return Motion(skeleton, rate, rotations=quats, root=root_pos, meta=meta)


def _round_fps(fps: float) -> float:
    r = round(fps)
    return float(r) if r > 0 and abs(fps - r) <= 1e-4 * fps else fps


# --- writing ------------------------------------------------------------------------------------------


def split_branches(skeleton: Skeleton, positions: np.ndarray) -> tuple[Skeleton, np.ndarray, np.ndarray]:
    """Give every child of a multi-child joint its own zero-length ``<child>_link`` joint.

    Returns the expanded skeleton (no offsets), its positions (T, J', 3) (links sit on their parent) and
    ``source`` (J',): the original joint each new joint's position comes from.
    """
    parents = skeleton.parents
    names = list(skeleton.joint_names)
    new_names: list[str] = []
    new_parents: list[int] = []
    source: list[int] = []
    index: dict[int, int] = {}
    for j in _order(parents):
        p = int(parents[j])
        if p >= 0 and len(skeleton.children(p)) > 1:
            link_name = names[j] + LINK_SUFFIX
            while link_name in names or link_name in new_names:
                link_name += "_"
            new_names.append(link_name)
            new_parents.append(index[p])
            source.append(p)
            parent_new = len(new_names) - 1
        else:
            parent_new = -1 if p < 0 else index[p]
        index[j] = len(new_names)
        new_names.append(names[j])
        new_parents.append(parent_new)
        source.append(j)
    src = np.array(source)
    sk = Skeleton(name=skeleton.name, joint_names=tuple(new_names), parents=np.array(new_parents))
    return sk, np.asarray(positions)[:, src], src


def _rest_template(skeleton: Skeleton) -> np.ndarray | None:
    if skeleton.offsets is not None:
        return skeleton.offsets
    from choreo.motion.formats.dwm import DWM23, DWM23_REST

    if skeleton.same_structure(DWM23):
        return DWM23_REST
    return None


def _fmt(values: np.ndarray) -> str:
    return " ".join(f"{v:.6f}" for v in values)


def write_bvh(motion: Motion, path: str | os.PathLike) -> None:
    """Write ``motion`` as BVH (centimetres, y-up, ZXY Euler degrees); see the module docstring."""
    import torch

    from choreo.motion.kinematics import inverse_kinematics
    from choreo.motion.rotations import matrix_to_euler, quat_to_matrix

    sk = motion.skeleton
    if sk.dim != 3:
        raise ChoreoError(f"BVH needs a 3D motion; skeleton {sk.name!r} is {sk.dim}D", path)
    if motion.rotations is not None and sk.offsets is not None:
        out_sk, quats, root = sk, np.asarray(motion.rotations, np.float64), np.asarray(motion.root, np.float64)
        offsets = sk.offsets
    else:
        template = _rest_template(sk)
        out_sk, P, src = split_branches(sk, motion.joint_positions())
        rest = None
        if template is not None:
            # a link takes no length; its child keeps the original bone's rest vector
            is_link = np.array([n not in sk.joint_names for n in out_sk.joint_names])
            rest = np.where(is_link[:, None], 0.0, np.asarray(template)[src])
        quats, root, offsets = inverse_kinematics(P, out_sk, rest=rest)

    names = out_sk.joint_names
    parents = out_sk.parents
    children = [out_sk.children(j) for j in range(out_sk.n_joints)]
    rot = quat_to_matrix(torch.from_numpy(np.asarray(quats, np.float64)))
    euler = np.degrees(np.unwrap(matrix_to_euler(rot, WRITE_ORDER).numpy(), axis=0))  # (T, J, 3)

    def end_site_of(j: int) -> bool:
        """Leaf j is written as its parent's End Site."""
        p = int(parents[j])
        return p >= 0 and not children[j] and names[j] == names[p] + END_SUFFIX and len(children[p]) == 1

    lines = ["HIERARCHY"]
    columns: list[np.ndarray] = []

    def emit(j: int, depth: int) -> None:
        ind = "  " * depth
        if parents[j] < 0:
            lines.append(f"ROOT {names[j]}")
            lines.append("{")
            lines.append(f"  OFFSET {_fmt(offsets[j] * CM_PER_M)}")
            lines.append("  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation")
            columns.append(root * CM_PER_M)
        else:
            lines.append(f"{ind}JOINT {names[j]}")
            lines.append(f"{ind}{{")
            lines.append(f"{ind}  OFFSET {_fmt(offsets[j] * CM_PER_M)}")
            lines.append(f"{ind}  CHANNELS 3 Zrotation Xrotation Yrotation")
        columns.append(euler[:, j])
        kids = children[j]
        if not kids:
            lines.extend(
                [f"{ind}  End Site", f"{ind}  {{", f"{ind}    OFFSET 0.000000 0.000000 0.000000", f"{ind}  }}"]
            )
        elif len(kids) == 1 and end_site_of(kids[0]):
            e = kids[0]
            lines.extend(
                [f"{ind}  End Site", f"{ind}  {{", f"{ind}    OFFSET {_fmt(offsets[e] * CM_PER_M)}", f"{ind}  }}"]
            )
        else:
            for c in kids:
                emit(c, depth + 1)
        lines.append(f"{ind}}}")

    for n in names:
        if any(ch.isspace() for ch in n) or n in ("{", "}"):
            raise ChoreoError(f"joint name {n!r} cannot be written to BVH (whitespace or braces)", path)
    emit(int(out_sk.root), 0)
    data = np.concatenate(columns, axis=1)
    lines.append("MOTION")
    lines.append(f"Frames: {len(data)}")
    lines.append(f"Frame Time: {1.0 / motion.fps:.10g}")
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")
        for row in data:
            fh.write(_fmt(row) + "\n")
