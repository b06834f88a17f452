"""The motion layer: skeletons, rotations, kinematics, the Motion object, and file formats."""

from choreo.motion.motion import Motion
from choreo.motion.skeleton import BODY25, SMPL24, Skeleton

__all__ = ["Motion", "Skeleton", "SMPL24", "BODY25"]
