"""The SigmaPrompt humanoid's description: the URDF installed under ``share/sigma_description/urdf/``, its pure
reader (``sigma_description.urdf``) and forward kinematics (``sigma_description.kinematics``)."""

from __future__ import annotations

from pathlib import Path

PACKAGE = "sigma_description"
HUMANOID_URDF = "urdf/sigma_humanoid.urdf"


def humanoid_urdf() -> Path:
    """Installed path of the humanoid URDF, found through the ament index (ConfigError naming what is missing)."""
    from sigma_ros_common.share import share_file

    return share_file(PACKAGE, *HUMANOID_URDF.split("/"))
