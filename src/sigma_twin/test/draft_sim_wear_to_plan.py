"""DRAFT, not in the suite (the file name keeps pytest from collecting it; run it by naming the file): it has not
passed yet -- on the loaded host the twin's risk stayed below the window threshold within the runs' ~1,200 s of
simulated time (docs/twin.md, "Not done", round 5). What it is meant to show:

Across real processes, a wear fault injected in the MuJoCo simulator reaches the site's maintenance plan:
sim_node (MuJoCo, unpaced, two humanoids) → twin_node per robot → bridge_node per robot → cloud (embedded
PostgreSQL) → ``GET /v1/sites/{id}/maintenance``.

The robots work: the test is their task program and moves both elbows of both robots between two poses every few
seconds of *simulated* time (driver/joint_command, keyed to /clock), so the joints move and their drives carry load.
A bearing-friction growth is injected into r1's left elbow through the simulator's fault service (seeded
simulation, a wear rate scaled so that the limit is about half an hour of simulated time away: unpaced, that is a
few minutes). Each twin sees only its robot's published topics (joint_states, actuator_health, battery_state,
imu, odom); it never reads the fault. Its friction estimate of the worn elbow rises, its trend crosses the
configured friction limit within the risk horizon, and its report carries a maintenance window; the bridge uplinks
the report and the site's plan then lists a window for r1's left elbow, ending the site's lead time before the
twin's predicted limit, while r2 — same world, same work, no fault — reports ready forecasts and gets none.

Times: the twin forecasts in the robot's own (simulated) hours; the cloud places them after the report's arrival
(docs/twin.md, "Cloud"), so the plan's hours are simulated hours counted from now — what a test of wear at many
times real time can show."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState

from sigma_ros_common import qos
from sigma_sim_interfaces.srv import InjectFault

sys.path.append(str(Path(__file__).resolve().parents[2] / "sigma_bridge" / "test"))
from cloud_harness import cloud_in_tempdir, wait_until
from twin_robot import launch_twin_and_bridge

WORN, HEALTHY, SITE = "r1", "r2", "site-sim-wear"
JOINT = "left_elbow"
ELBOWS = ("left_elbow", "right_elbow")
POSES = (-1.5, -0.3)  # rad, inside the elbow's [-2.5, 0] range
SPEED = 0.8  # rad/s: a stroke takes 1.5 s of simulated time
HALF_PERIOD = 3.0  # s of simulated time per pose
WEAR_RATE = 6.0  # friction_growth [1/h of simulated time]: the elbow's Coulomb friction + 4.8 N*m per hour
LEAD_H, DURATION_H = 0.05, 0.05  # the site's policy [h]
WALL_BUDGET_S = 840.0  # generous: a quiet host needs a few minutes of wall time, a loaded one many more
SIM = {"robots": [WORN, HEALTHY], "realtime": False, "seed": 7, "rates.joint_states": 20.0, "rates.imu": 10.0,
       "rates.odom": 10.0, "rates.actuator_health": 5.0, "rates.battery_state": 1.0, "rates.humans": 1.0}
# Shortened memories, epochs and horizons for minutes of simulated wear; the limit is an operating limit of the
# small elbow drive (no fault parameter is passed to the twin).
TWIN = {"joints": list(ELBOWS), "publish_rate": 1.0, "forecast_period": 1.0,
        "estimator.friction_memory": 300.0, "limits.friction_limit": 1.0, "prognosis.epoch": 10.0,
        "prognosis.min_history": 0.1, "prognosis.trend_window": 1.0, "prognosis.growth_window": 1.0,
        "prognosis.risk_horizon": 3.0, "prognosis.lead_time": LEAD_H, "prognosis.horizon": 10.0}


@pytest.fixture
def cloud(launch):
    with cloud_in_tempdir(launch, "sigma-sim-wear-e2e-") as c:
        yield c


def _robot(launch, cloud, tmp_path, robot_id: str):
    """twin_node + bridge_node of one robot (its own key and store)."""
    return launch_twin_and_bridge(launch, cloud, tmp_path / robot_id, robot_id, SITE, TWIN)


def _component(cloud, robot_id: str) -> dict | None:
    latest = httpx.get(f"{cloud.url}/v1/robots/{robot_id}/health", headers=cloud.headers()).json().get("latest")
    return latest and next((c for c in latest["components"] if c["name"] == JOINT), None)


def _progress(cloud, sim_s: float) -> None:
    """One line per robot: what the cloud holds of the elbow (shown when the test fails)."""
    for rid in (WORN, HEALTHY):
        c = _component(cloud, rid)
        if c:
            fric = next((s["value"] for s in c["states"] if s["name"] == "coulomb_friction"), None)
            print(f"{sim_s:7.0f} s {rid}: friction {fric} ready {c['forecast_ready']} risk {c['risk']:.2f} "
                  f"rul {c['rul_h']} window {c['window']} mode {c['dominant_mode']}")


def test_friction_wear_injected_in_mujoco_reaches_the_site_maintenance_plan(launch, ros_probe, cloud, tmp_path):
    cloud.start()
    sim = launch("sigma_sim", "sim_node", params=SIM)
    procs = [sim, *_robot(launch, cloud, tmp_path, WORN), *_robot(launch, cloud, tmp_path, HEALTHY)]
    r = httpx.put(f"{cloud.url}/v1/sites/{SITE}/maintenance/policy", headers=cloud.headers(), json={
        "lead_time_h": LEAD_H, "duration_h": DURATION_H, "max_out": 1, "off_peak_start_hour": 22,
        "off_peak_end_hour": 6})
    assert r.status_code == 200, r.text
    sim.wait_for_output("sigma_sim ready", timeout=90.0)
    for bridge in procs[2::2]:
        bridge.wait_for_output("sigma_bridge ready", timeout=90.0)
    commands = {rid: ros_probe.publisher(JointState, f"/{rid}/driver/joint_command", qos.RELIABLE_10)
                for rid in (WORN, HEALTHY)}
    for pub in commands.values():
        ros_probe.wait_for_subscribers(pub, timeout=30.0)
    clock = ros_probe.subscribe(Clock, "/clock", qos.CLOCK)
    clock.wait_for(lambda ms: len(ms) > 0, timeout=30.0)

    res = ros_probe.call(InjectFault, f"/{WORN}/sim/inject_fault", InjectFault.Request(
        kind="friction_growth", target=JOINT, magnitude=WEAR_RATE, duration=0.0), timeout=30.0)
    assert res.accepted, res.message
    t_inject = clock.latest().clock.sec

    phase, deadline, plan, next_poll = -1, time.monotonic() + WALL_BUDGET_S, None, 0.0
    while time.monotonic() < deadline:
        now = clock.latest().clock
        t = now.sec + now.nanosec * 1e-9
        if int(t / HALF_PERIOD) != phase:  # the work cycle, in simulated time
            phase = int(t / HALF_PERIOD)
            cmd = JointState(name=list(ELBOWS), position=[POSES[phase % 2]] * 2, velocity=[SPEED] * 2)
            for pub in commands.values():
                pub.publish(cmd)
        if time.monotonic() >= next_poll:
            next_poll = time.monotonic() + 2.0
            plan = httpx.get(f"{cloud.url}/v1/sites/{SITE}/maintenance", headers=cloud.headers()).json()
            if any(w["robot_id"] == WORN for w in plan["windows"]):
                break
            _progress(cloud, t - t_inject)
        time.sleep(0.02)
    sim_s = clock.latest().clock.sec - t_inject
    worn, ok = _component(cloud, WORN), _component(cloud, HEALTHY)
    print(f"after {sim_s} s of simulated wear: plan {plan}\nworn {worn}\nhealthy {ok}")
    assert plan is not None
    windows = [w for w in plan["windows"] if w["robot_id"] == WORN]
    assert windows, f"no window for {WORN} in the plan after {sim_s} s of simulated wear: {plan}"
    (window,) = windows
    assert window["component"] == JOINT and window["mode"] == "friction", window
    # the window ends the site's lead time before the twin's predicted limit and lasts the policy's duration
    assert window["end"] <= window["deadline"] - LEAD_H * 3600 + 1e-3, window
    assert window["end"] - window["start"] == pytest.approx(DURATION_H * 3600)
    assert window["start"] >= plan["generated_at"] - 1.0
    assert worn is not None and worn["dominant_mode"] == "friction" and worn["window"]
    # the healthy robot alongside: ready forecasts, and neither a window nor an infeasible entry
    ok = wait_until(lambda: (c := _component(cloud, HEALTHY)) and c["forecast_ready"] and c, 60,
                    f"{HEALTHY}'s ready forecast in the cloud", period=1.0)
    plan = httpx.get(f"{cloud.url}/v1/sites/{SITE}/maintenance", headers=cloud.headers()).json()
    assert plan["robots_reporting"] == 2
    assert all(w["robot_id"] != HEALTHY for w in plan["windows"]), plan
    assert all(u["robot_id"] != HEALTHY for u in plan["infeasible"]), plan
    assert not ok["window"] and ok["risk"] < 0.2, ok
    assert all(p.alive for p in procs)
