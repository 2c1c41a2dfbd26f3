"""Shared helpers for the bridge benchmarks: real processes in a private ROS domain, CPU accounting."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from sigma_description import humanoid_urdf
from sigma_testing.domain import claim_domain
from sigma_testing.fixtures import Launcher
from sigma_testing.process import cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src" / "sigma_bridge" / "test"))  # the end-to-end harness (Cloud, store_counters)

from cloud_harness import Cloud, sent, store_counters, wait_until  # noqa: E402

__all__ = ["ROOT", "Cloud", "Session", "cpu_seconds", "sent", "store_counters", "wait_until"]




class Session:
    """A ROS domain, a process launcher and a scratch directory, all released on exit."""

    def __enter__(self) -> Session:
        self.domain = claim_domain()
        self.tmp = Path(tempfile.mkdtemp(prefix="sigma-bridge-bench-"))
        self.launch = Launcher(self.domain, self.tmp)
        return self

    def bridge(self, cloud_url: str, **params: object):
        urdf = str(humanoid_urdf())
        base = {"cloud_url": cloud_url, "foxglove_enabled": False, "urdf_path": urdf,
                "key_file": str(self.tmp / "var" / "robot.key"), "store_path": str(self.tmp / "var" / "uplink.db"),
                "recordings_dir": str(self.tmp / "var" / "recordings"), "downlink_wait_s": 5.0}
        proc = self.launch("sigma_bridge", "bridge_node", namespace="/r1", params=base | params)
        proc.wait_for_output("sigma_bridge ready", timeout=60)
        return proc

    def __exit__(self, *exc: object) -> None:
        self.launch.stop_all()
        self.domain.release()
        shutil.rmtree(self.tmp, ignore_errors=True)
