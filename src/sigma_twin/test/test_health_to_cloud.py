"""Across processes: a degradation injected in the simulator's wear model shows up in twin_node's twin/health, goes
through the real bridge into the real cloud (embedded PostgreSQL), and the robot gets a window in its site's
maintenance plan, ending the site's lead time before the twin's predicted limit; a healthy robot of the same site,
with its own twin and bridge and the same duty, gets none.

The simulator is sigma_sim.wear (the unpaced reduced-order model the prognostics bench uses) with a bearing-friction
growth of 0.75 per hour, fast-forwarded: this test publishes its samples as a driver would (joint_states,
actuator_health, battery_state), with stamps advancing 1 s per sample (a robot's battery_state rate; round 27: 4 s
before, which aliased the joint's 7.3 s swing in the per-epoch friction points), so 75 minutes of wear pass in under
a minute (the healthy robot's samples are published alongside, same stamps). twin_node runs on message time with
shortened estimator memories and trend epochs (parameters below); it never sees the simulator's truth, only the
published measurements."""

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
from twin_robot import WEAR_RUN_PARAMS, launch_twin_and_bridge

ROBOT, HEALTHY, SITE, JOINT = "rt1", "rt2", "site-twin", "knee"
LEAD_H = 0.25
END_SLACK_S = 60.0  # a report this close to the last sample's stamp counts as the end of the run
TWIN_PARAMS = {"joints": [JOINT], "publish_rate": 2.0, "forecast_period": 0.5, **WEAR_RUN_PARAMS}


@pytest.fixture
def cloud(launch):
    with cloud_in_tempdir(launch, "sigma-twin-e2e-") as c:
        yield c


def _robot(launch, ros_probe, cloud, tmp_path, robot_id: str):
    """twin_node + bridge_node of one robot (its own key and store), and publishers of its driver topics."""
    twin, bridge = launch_twin_and_bridge(launch, cloud, tmp_path / robot_id, robot_id, SITE, TWIN_PARAMS)
    pubs = {"joints": ros_probe.publisher(JointState, f"/{robot_id}/joint_states", qos.SENSOR),
            "act": ros_probe.publisher(ActuatorHealth, f"/{robot_id}/actuator_health", qos.RELIABLE_10),
            "bat": ros_probe.publisher(BatteryState, f"/{robot_id}/battery_state", qos.RELIABLE_10)}
    return twin, bridge, pubs


def _publish(pubs: dict, m, sec: int) -> None:
    """One wear-model sample, as a driver publishes it."""
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


def test_injected_wear_reaches_the_site_maintenance_plan(launch, ros_probe, cloud, tmp_path):
    from sigma_sim.degradation import Degradation
    from sigma_sim.wear import WearConfig, WearSimulator

    cloud.start()
    worn_twin, worn_bridge, worn_pubs = _robot(launch, ros_probe, cloud, tmp_path, ROBOT)
    ok_twin, ok_bridge, ok_pubs = _robot(launch, ros_probe, cloud, tmp_path, HEALTHY)
    r = httpx.put(f"{cloud.url}/v1/sites/{SITE}/maintenance/policy", headers=cloud.headers(), json={
        "lead_time_h": LEAD_H, "duration_h": 0.5, "max_out": 1, "off_peak_start_hour": 22, "off_peak_end_hour": 6})
    assert r.status_code == 200, r.text
    for bridge in (worn_bridge, ok_bridge):
        bridge.wait_for_output("sigma_bridge ready", timeout=60)
    health = ros_probe.subscribe(TwinHealth, f"/{ROBOT}/twin/health", qos.LATCHED)
    for pub in (*worn_pubs.values(), *ok_pubs.values()):
        ros_probe.wait_for_subscribers(pub, timeout=30.0)

    worn = WearSimulator([Degradation("friction_growth", onset=0.0, rate=0.75)], seed=3, cfg=WearConfig(dt=1.0))
    healthy = WearSimulator([None], seed=4, cfg=WearConfig(dt=1.0))
    for _ in range(int(1.25 * 3600 / 1.0)):
        m_worn, m_ok = worn.step(), healthy.step()
        last_sec = 1000 + int(m_worn.t)
        _publish(worn_pubs, m_worn, last_sec)
        _publish(ok_pubs, m_ok, 1000 + int(m_ok.t))
        time.sleep(0.01)  # a driver's pace, not a burst that overruns the readers' queues
    flagged = health.wait_for(lambda ms: any(m.actuators and m.actuators[0].window_end.sec > 0 for m in ms),
                              timeout=60.0)
    knee = next(m.actuators[0] for m in flagged if m.actuators and m.actuators[0].window_end.sec > 0)
    assert knee.dominant_mode == "friction" and knee.risk >= 0.2
    # a window can open within the first percent of friction growth, while the twin is still catching up on the
    # samples: the cloud's report is judged once the twin has reached the end of the run (its stamps are data time)
    health.wait_for(lambda ms: any(m.header.stamp.sec >= last_sec - END_SLACK_S for m in ms), timeout=60.0)
    caught_up = time.time()

    def cloud_health(robot_id: str, windowed: bool):
        """The robot's knee in the cloud's latest report, once that report was sent after the twin caught up."""
        body = httpx.get(f"{cloud.url}/v1/robots/{robot_id}/health", headers=cloud.headers()).json()
        latest = body.get("latest")
        if not latest or latest["ts"] < caught_up + 1.0:  # report ts: wall time, the twin publishes at 2 Hz
            return None
        comp = next((c for c in latest["components"] if c["name"] == JOINT), None)
        if not comp or not comp["forecast_ready"] or bool(comp["window"]) != windowed:
            return None
        return comp

    comp = wait_until(lambda: cloud_health(ROBOT, True), 60, "the worn robot's health with a window in the cloud",
                      period=0.5)
    # the truth's friction health at the end is 0.69; offline, the same run reads 0.76-0.79 (test_friction_health.py)
    assert comp["dominant_mode"] == "friction" and comp["health"] < 0.9 and comp["forecast_ready"], comp
    assert any(s["name"] == "coulomb_friction" and s["value"] > 1.5 for s in comp["states"])
    # the healthy robot reports ready forecasts through its own bridge, with no window
    ok_comp = wait_until(lambda: cloud_health(HEALTHY, False), 60, "the healthy robot's ready health in the cloud",
                         period=0.5)
    assert ok_comp["risk"] < 0.2 and all(s["value"] < 2.5 for s in ok_comp["states"] if s["name"] == "coulomb_friction")

    plan = httpx.get(f"{cloud.url}/v1/sites/{SITE}/maintenance", headers=cloud.headers()).json()
    assert plan["robots_reporting"] == 2
    (window,) = [w for w in plan["windows"] if w["robot_id"] == ROBOT]
    assert window["component"] == JOINT and window["mode"] == "friction"
    # the deadline is the twin's predicted limit (its window's close: the RUL's 5 % quantile after the report), the
    # window ends the site's lead time before it and does not start in the past. The plan names the report it was
    # derived from (report_seq, report_ts): the test compares it with THAT report, since newer ones keep arriving
    # meanwhile (after the last sample they all carry its stamp, each with fresh Monte Carlo draws).
    reports = httpx.get(f"{cloud.url}/v1/robots/{ROBOT}/health", headers=cloud.headers(), params={
        "since": window["report_ts"] - 0.5, "until": window["report_ts"] + 0.5, "limit": 500}).json()["history"]
    (latest,) = [h for h in reports if h["seq"] == window["report_seq"]]
    assert latest["ts"] == pytest.approx(window["report_ts"], abs=1e-6)
    knee_now = next(c for c in latest["components"] if c["name"] == JOINT)
    assert window["deadline"] == pytest.approx(knee_now["window"]["closes_at"], abs=1e-3)
    assert knee_now["rul_h"]["q05"] is not None
    assert window["deadline"] == pytest.approx(latest["ts"] + knee_now["rul_h"]["q05"] * 3600.0, abs=1.0)
    assert window["end"] <= window["deadline"] - LEAD_H * 3600 + 1e-3
    assert window["start"] >= plan["generated_at"] - 1.0 and window["end"] - window["start"] == pytest.approx(1800)
    # the healthy robot alongside: neither a window nor an infeasible entry
    assert all(w["robot_id"] != HEALTHY for w in plan["windows"])
    assert all(u["robot_id"] != HEALTHY for u in plan["infeasible"])
    assert worn_twin.alive and worn_bridge.alive and ok_twin.alive and ok_bridge.alive
