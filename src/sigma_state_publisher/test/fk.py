"""Independent forward kinematics for the tests: yourdfpy (not the code under test) and tf composition."""

from __future__ import annotations

import numpy as np
import yourdfpy
from transforms3d.quaternions import quat2mat

from sigma_description import humanoid_urdf

URDF = humanoid_urdf()


def load() -> yourdfpy.URDF:
    return yourdfpy.URDF.load(str(URDF), load_meshes=False, build_scene_graph=True)


def matrix(translation, rotation_xyzw) -> np.ndarray:
    """4x4 homogeneous transform from a translation and an (x, y, z, w) quaternion."""
    x, y, z, w = rotation_xyzw
    m = np.eye(4)
    m[:3, :3] = quat2mat([w, x, y, z])
    m[:3, 3] = translation
    return m


def compose(edges: dict[str, tuple[str, np.ndarray]], root: str, frame: str) -> np.ndarray:
    """``root -> frame`` by walking the child -> (parent, transform) edges of a tf tree."""
    out = np.eye(4)
    while frame != root:
        if frame not in edges:
            raise KeyError(f"tf tree has no path from {frame!r} to {root!r}")
        parent, t = edges[frame]
        out = t @ out
        frame = parent
    return out
