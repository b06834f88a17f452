"""The motion layer: skeletons, rotations, kinematics, the Motion object, and file formats."""

from choreo.motion.formats.dwm import DWM23
from choreo.motion.motion import Motion
from choreo.motion.skeleton import BODY25, BUILTIN, SMPL24, Skeleton

BUILTIN.setdefault("dwm23", DWM23)

__all__ = ["Motion", "Skeleton", "SMPL24", "BODY25", "DWM23", "BUILTIN"]
