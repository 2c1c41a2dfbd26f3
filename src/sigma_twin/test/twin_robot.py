"""Test helper: one robot's twin_node and bridge_node, registered with a test cloud (cloud_harness.Cloud)."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def launch_twin_and_bridge(launch: Any, cloud: Any, var: Path, robot_id: str, site: str,
                           twin_params: dict) -> tuple[Any, Any]:
    """Register ``robot_id`` (its own key under ``var``) at ``site`` and start its twin_node and bridge_node."""
    from sigma_bridge.keys import load_or_create_signing_key, public_key_b64
    from sigma_description import humanoid_urdf

    key = load_or_create_signing_key(var / "robot.key")
    cloud.register(robot_id, public_key_b64(key), site=site)
    twin = launch("sigma_twin", "twin_node", namespace=f"/{robot_id}", params=twin_params)
    bridge = launch("sigma_bridge", "bridge_node", namespace=f"/{robot_id}", name="sigma_bridge", params={
        "cloud_url": cloud.url, "foxglove_enabled": False, "urdf_path": str(humanoid_urdf()),
        "key_file": str(var / "robot.key"), "store_path": str(var / "uplink.db"),
        "recordings_dir": str(var / "recordings"), "downlink_wait_s": 2.0, "rates.twin_health": 1.0})
    return twin, bridge
