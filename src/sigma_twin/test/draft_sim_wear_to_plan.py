"""DRAFT, not in the suite (the file name keeps pytest from collecting it; run it by naming the file): round 6 made it
one robot with the twin's time constants compressed; it passed in no run yet (docs/twin.md, "Not done", round 6).

Across real processes, a wear fault injected in the MuJoCo simulator reaches the site's maintenance plan:
sim_node (MuJoCo, unpaced) → twin_node → bridge_node → cloud (embedded PostgreSQL) → ``GET /v1/sites/{id}/maintenance``.

The robot works: the test is its task program and moves both elbows between two poses every 3 s of *simulated* time
(driver/joint_command, keyed to /clock), so the joints move and their drives carry load. A bearing-friction growth
(6/h) is injected into the left elbow through the simulator's fault service; the right elbow, same motion, is the
healthy control. The twin sees only the robot's published topics; it never reads the fault. Its time constants are
the defaults compressed C = 60 times (memories, epochs, windows, horizons divided by C, growth priors per hour
multiplied by C and C^2): the robot's hours of wear become minutes, and so do the twin's.

Checked: the site's plan lists a window for the left elbow (friction), ending the site's lead time before the
predicted limit; the report it derives from (report_seq) has no window for the right elbow; and in simulated time
the twin's first window closes before the injected friction truly reaches the twin's limit, with the twin's median
failure time within 35 % of the true time to that limit (the judge's truth: the simulator's documented Coulomb
friction of 2 % of the effort limit per unit level; the twin never reads it).

Times: the twin forecasts in the robot's own (simulated) hours; the cloud places them after the report's arrival
(docs/twin.md, "Cloud"), so the plan's hours are simulated hours counted from now."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState

from sigma_interfaces.msg import TwinHealth
from sigma_ros_common import qos
from sigma_sim_interfaces.srv import InjectFault

sys.path.append(str(Path(__file__).resolve().parents[2] / "sigma_bridge" / "test"))
from cloud_harness import cloud_in_tempdir
from twin_robot import launch_twin_and_bridge

ROBOT, SITE = "r1", "site-sim-wear"
JOINT, CONTROL = "left_elbow", "right_elbow"
ELBOWS = (JOINT, CONTROL)
POSES = (-1.5, -0.3)  # rad, inside the elbow's [-2.5, 0] range
SPEED = 0.8  # rad/s: a stroke takes 1.5 s of simulated time
HALF_PERIOD = 3.0  # s of simulated time per pose
WEAR_RATE = 6.0  # friction_growth [1/h of simulated time]
FRICTION_PER_LEVEL = 0.02 * 40.0  # N*m: sigma_sim's bearing wear, 2 % of the elbow's 40 N*m effort limit per level
LIMIT = 1.0  # N*m: the twin's friction limit for this small drive (an operating limit, not a fault parameter)
LEAD_H, DURATION_H = 0.01, 0.01  # the site's policy [h]
WALL_BUDGET_S = 900.0
C = 60.0  # time compression of the twin's defaults
SIM = {"robots": [ROBOT], "realtime": False, "seed": 7, "rates.joint_states": 20.0, "rates.imu": 10.0,
       "rates.odom": 10.0, "rates.actuator_health": 5.0, "rates.battery_state": 1.0, "rates.humans": 1.0}
TWIN = {"joints": list(ELBOWS), "publish_rate": 1.0, "forecast_period": 1.0, "limits.friction_limit": LIMIT,
        "estimator.friction_memory": 3600.0 / C, "prognosis.epoch": 10.0, "prognosis.min_history": 2.0 / C,
        "prognosis.trend_window": 10.0 / C, "prognosis.growth_window": 36.0 / C, "prognosis.risk_horizon": 8.0 / C,
        "prognosis.lead_time": 2.0 / C, "prognosis.horizon": 200.0 / C, "prognosis.slope_prior": 0.2 * C,
        "prognosis.curvature_prior": 0.004 * C * C}


@pytest.fixture
def cloud(launch):
    with cloud_in_tempdir(launch, "sigma-sim-wear-e2e-") as c:
        yield c


def _components(cloud, report: dict | None = None) -> dict:
    """The elbows of the robot's latest report in the cloud (or of ``report``), by name."""
    if report is None:
        report = httpx.get(f"{cloud.url}/v1/robots/{ROBOT}/health", headers=cloud.headers()).json().get("latest")
    return {c["name"]: c for c in (report or {}).get("components", []) if c["name"] in ELBOWS}


def _progress(cloud, sim_s: float) -> None:
    """What the cloud holds of both elbows (shown when the test fails)."""
    for name, c in _components(cloud).items():
        fric = next((s["value"] for s in c["states"] if s["name"] == "coulomb_friction"), None)
        print(f"{sim_s:7.0f} s {name}: friction {fric} ready {c['forecast_ready']} risk {c['risk']:.2f} "
              f"rul {c['rul_h']} window {c['window']} mode {c['dominant_mode']}", flush=True)


def test_friction_wear_injected_in_mujoco_reaches_the_site_maintenance_plan(launch, ros_probe, cloud, tmp_path):
    cloud.start()
    sim = launch("sigma_sim", "sim_node", params=SIM)
    twin, bridge = launch_twin_and_bridge(launch, cloud, tmp_path / ROBOT, ROBOT, SITE, TWIN)
    r = httpx.put(f"{cloud.url}/v1/sites/{SITE}/maintenance/policy", headers=cloud.headers(), json={
        "lead_time_h": LEAD_H, "duration_h": DURATION_H, "max_out": 1, "off_peak_start_hour": 22,
        "off_peak_end_hour": 6})
    assert r.status_code == 200, r.text
    sim.wait_for_output("sigma_sim ready", timeout=90.0)
    bridge.wait_for_output("sigma_bridge ready", timeout=90.0)
    command = ros_probe.publisher(JointState, f"/{ROBOT}/driver/joint_command", qos.RELIABLE_10)
    ros_probe.wait_for_subscribers(command, timeout=30.0)
    health = ros_probe.subscribe(TwinHealth, f"/{ROBOT}/twin/health", qos.LATCHED)
    clock = ros_probe.subscribe(Clock, "/clock", qos.CLOCK)
    clock.wait_for(lambda ms: len(ms) > 0, timeout=30.0)

    res = ros_probe.call(InjectFault, f"/{ROBOT}/sim/inject_fault", InjectFault.Request(
        kind="friction_growth", target=JOINT, magnitude=WEAR_RATE, duration=0.0), timeout=30.0)
    assert res.accepted, res.message
    c0 = clock.latest().clock
    t_inject = c0.sec + c0.nanosec * 1e-9
    t_fail = t_inject + 3600.0 * LIMIT / (FRICTION_PER_LEVEL * WEAR_RATE)  # truth: the friction at the limit

    phase, deadline, plan, window, next_poll = -1, time.monotonic() + WALL_BUDGET_S, None, None, 0.0
    while time.monotonic() < deadline and window is None:
        now = clock.latest().clock
        t = now.sec + now.nanosec * 1e-9
        if int(t / HALF_PERIOD) != phase:  # the work cycle, in simulated time
            phase = int(t / HALF_PERIOD)
            command.publish(JointState(name=list(ELBOWS), position=[POSES[phase % 2]] * 2, velocity=[SPEED] * 2))
        if time.monotonic() >= next_poll:
            next_poll = time.monotonic() + 2.0
            plan = httpx.get(f"{cloud.url}/v1/sites/{SITE}/maintenance", headers=cloud.headers()).json()
            window = next((w for w in plan["windows"] if w["robot_id"] == ROBOT), None)
            if window is None:
                _progress(cloud, t - t_inject)
        time.sleep(0.02)
    sim_s = clock.latest().clock.sec - t_inject
    print(f"after {sim_s} s of simulated wear: plan {plan}", flush=True)
    assert window is not None, f"no window for {ROBOT} in the plan after {sim_s} s of simulated wear: {plan}"
    assert window["component"] == JOINT and window["mode"] == "friction", window
    # the window ends the site's lead time before the twin's predicted limit and lasts the policy's duration
    assert window["end"] <= window["deadline"] - LEAD_H * 3600 + 1e-3, window
    assert window["end"] - window["start"] == pytest.approx(DURATION_H * 3600)
    assert window["start"] >= plan["generated_at"] - 1.0
    # the report the plan derives from: the worn elbow flagged for friction, the control elbow not
    reports = httpx.get(f"{cloud.url}/v1/robots/{ROBOT}/health", headers=cloud.headers(), params={
        "since": window["report_ts"] - 0.5, "until": window["report_ts"] + 0.5, "limit": 500}).json()["history"]
    (report,) = [h for h in reports if h["seq"] == window["report_seq"]]
    elbows = _components(cloud, report)
    assert elbows[JOINT]["dominant_mode"] == "friction" and elbows[JOINT]["window"], elbows[JOINT]
    assert not elbows[CONTROL]["window"] and elbows[CONTROL]["risk"] < 0.2, elbows[CONTROL]
    # in simulated time (the twin's own stamps): its first window for the worn elbow closes before the injected
    # friction truly reaches the limit, and its median failure time is within 35 % of the true time to the limit
    first = next(m for m in health.messages if m.actuators and m.actuators[0].window_end.sec > 0)
    stamp = first.header.stamp.sec + first.header.stamp.nanosec * 1e-9
    closes = first.actuators[0].window_end.sec + first.actuators[0].window_end.nanosec * 1e-9
    median = stamp + 3600.0 * first.actuators[0].rul_q50
    print(f"twin's first window at {stamp - t_inject:.0f} s: closes {closes - t_inject:.0f} s, median limit "
          f"{median - t_inject:.0f} s; true limit {t_fail - t_inject:.0f} s (all after the injection)", flush=True)
    assert first.actuators[0].name == JOINT and stamp < closes <= t_fail
    assert abs(median - t_fail) <= 0.35 * (t_fail - t_inject)
    assert not first.actuators[1].window_end.sec  # the control elbow: no window
    assert sim.alive and twin.alive and bridge.alive
