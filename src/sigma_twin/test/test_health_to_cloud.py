"""Across processes: a degradation injected in the simulator's wear model shows up in twin_node's twin/health, goes
through the real bridge into the real cloud (embedded PostgreSQL), and the robot gets a window in its site's
maintenance plan.

The simulator is sigma_sim.wear (the unpaced reduced-order model the prognostics bench uses) with a bearing-friction
growth of 0.75 per hour, fast-forwarded: this test publishes its samples as a driver would (joint_states,
actuator_health, battery_state), with stamps advancing 4 s per sample, so 75 minutes of wear pass in about half a
minute. twin_node runs on message time with shortened estimator memories and trend epochs (parameters below); it
never sees the simulator's truth, only the published measurements."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest
from sensor_msgs.msg import BatteryState, JointState

from sigma_interfaces.msg import ActuatorHealth, TwinHealth
from sigma_ros_common import qos

sys.path.append(str(Path(__file__).resolve().parents[2] / "sigma_bridge" / "test"))
from cloud_harness import cloud_in_tempdir, wait_until

ROBOT, SITE, JOINT = "rt1", "site-twin", "knee"
TWIN_PARAMS = {"joints": [JOINT], "publish_rate": 2.0, "forecast_period": 0.5, "estimator.thermal_memory": 1200.0,
               "estimator.friction_memory": 600.0, "prognosis.epoch": 120.0, "prognosis.min_history": 0.5,
               "prognosis.trend_window": 3.0}


@pytest.fixture
def cloud(launch):
    with cloud_in_tempdir(launch, "sigma-twin-e2e-") as c:
        yield c


def test_injected_wear_reaches_the_site_maintenance_plan(launch, ros_probe, cloud, tmp_path):
    from sigma_bridge.keys import load_or_create_signing_key, public_key_b64
    from sigma_description import humanoid_urdf
    from sigma_sim.degradation import Degradation
    from sigma_sim.wear import WearConfig, WearSimulator

    cloud.start()
    key = load_or_create_signing_key(tmp_path / "var" / "robot.key")
    cloud.register(ROBOT, public_key_b64(key), site=SITE)
    r = httpx.put(f"{cloud.url}/v1/sites/{SITE}/maintenance/policy", headers=cloud.headers(), json={
        "lead_time_h": 0.25, "duration_h": 0.5, "max_out": 1, "off_peak_start_hour": 22, "off_peak_end_hour": 6})
    assert r.status_code == 200, r.text

    twin = launch("sigma_twin", "twin_node", namespace=f"/{ROBOT}", params=TWIN_PARAMS)
    bridge = launch("sigma_bridge", "bridge_node", namespace=f"/{ROBOT}", name="sigma_bridge", params={
        "cloud_url": cloud.url, "foxglove_enabled": False, "urdf_path": str(humanoid_urdf()),
        "key_file": str(tmp_path / "var" / "robot.key"), "store_path": str(tmp_path / "var" / "uplink.db"),
        "recordings_dir": str(tmp_path / "var" / "recordings"), "downlink_wait_s": 2.0,
        "rates.twin_health": 1.0})
    bridge.wait_for_output("sigma_bridge ready", timeout=60)
    health = ros_probe.subscribe(TwinHealth, f"/{ROBOT}/twin/health", qos.LATCHED)
    pubs = {"joints": ros_probe.publisher(JointState, f"/{ROBOT}/joint_states", qos.SENSOR),
            "act": ros_probe.publisher(ActuatorHealth, f"/{ROBOT}/actuator_health", qos.RELIABLE_10),
            "bat": ros_probe.publisher(BatteryState, f"/{ROBOT}/battery_state", qos.RELIABLE_10)}
    for pub in pubs.values():
        ros_probe.wait_for_subscribers(pub, timeout=30.0)

    sim = WearSimulator([Degradation("friction_growth", onset=0.0, rate=0.75)], seed=3, cfg=WearConfig(dt=4.0))
    for _ in range(int(1.25 * 3600 / 4.0)):
        m = sim.step()
        sec = 1000 + int(m.t)
        j = JointState(name=[JOINT], position=[float(m.position[0])], velocity=[float(m.velocity[0])],
                       effort=[float(m.effort[0])])
        a = ActuatorHealth(name=[JOINT], winding_temperature=[float(m.t_winding[0])],
                           housing_temperature=[float(m.t_housing[0])], current=[float(m.current[0])],
                           supply_voltage=[float(m.voltage[0])])
        b = BatteryState(voltage=float(m.voltage[0]), current=-float(m.battery_current[0]), present=True)
        for msg in (j, a, b):
            msg.header.stamp.sec = sec
        pubs["joints"].publish(j)
        pubs["act"].publish(a)
        pubs["bat"].publish(b)
        time.sleep(0.01)  # a driver's pace, not a burst that overruns the readers' queues
    flagged = health.wait_for(lambda ms: any(m.actuators and m.actuators[0].window_end.sec > 0 for m in ms),
                              timeout=60.0)
    knee = next(m.actuators[0] for m in flagged if m.actuators and m.actuators[0].window_end.sec > 0)
    assert knee.dominant_mode == "friction" and knee.risk >= 0.2

    def cloud_health():
        body = httpx.get(f"{cloud.url}/v1/robots/{ROBOT}/health", headers=cloud.headers()).json()
        latest = body.get("latest")
        comp = latest and next((c for c in latest["components"] if c["name"] == JOINT), None)
        return comp if comp and comp["window"] else None

    comp = wait_until(cloud_health, 60, "the robot's health with a window in the cloud", period=0.5)
    assert comp["dominant_mode"] == "friction" and comp["health"] < 0.95 and comp["forecast_ready"]
    assert any(s["name"] == "coulomb_friction" and s["value"] > 1.5 for s in comp["states"])
    plan = httpx.get(f"{cloud.url}/v1/sites/{SITE}/maintenance", headers=cloud.headers()).json()
    (window,) = [w for w in plan["windows"] if w["robot_id"] == ROBOT]
    assert window["component"] == JOINT and window["mode"] == "friction"
    assert window["end"] <= window["deadline"] - 0.25 * 3600 + 1e-3
    assert twin.alive and bridge.alive
