"""Fleet tasks across real processes: three robots, each with the real swarm_node (signed Cyclone DDS mesh on its own
domain) and fleet_tasks_node; the test plays the cloud (a `fleet_task` decision on the leader's
`cognition/decisions`, where the bridge relays it) and a STAND-IN executor per robot that answers `tasks/request`
on `tasks/status` per TASK_CONTRACT (ACCEPTED, ACTIVE, then SUCCEEDED or FAILED) - sigma_core's executor needs the
simulator and is not started here.

Shown: the task reaches exactly one robot; kill -9 of the leader mid-task -> a new leader adopts the task from the
robot's report (no second robot gets it, the robot's lease is renewed, no cancel); a robot reporting FAILED hands
its task to another robot.

No fixed sleeps: every step waits on what shows it happened (a snapshot on the mesh, a lease renewal, the leader's
log of its record), with deadlines generous enough for a host at load average 20-60. The one window the test must
wait out - a task's old lease running out with nobody re-assigning it - ends on the renewals seen, not on a clock."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from diagnostic_msgs.msg import KeyValue
from sigma_fleet_tasks.duty import RENEW, SNAPSHOT, decode

from sigma_interfaces.msg import CognitionDecision, SwarmCommand, SwarmState, Task, TaskStatus
from sigma_protocol import b64encode
from sigma_ros_common.qos import LATCHED, reliable
from sigma_swarm.cluster import LocalCluster
from sigma_testing import claim_domain

SWARM_CONFIG = Path(get_package_share_directory("sigma_swarm")) / "config" / "swarm.yaml"  # as installed
TASKS_CONFIG = Path(__file__).resolve().parents[1] / "config" / "fleet_tasks.yaml"
START = {"r1": "dock_1", "r2": "dock_2", "r3": "dock_3"}
LEASE_S = 10.0  # the default; the new leader must renew within it after the old one is killed
SKEW_S = 1.0
WAIT_S = 90.0  # deadline of each readiness wait (a loaded host; a passing run takes a fraction of it)


def decision(task_id: str, place: str) -> CognitionDecision:
    params = {"task_id": task_id, "kind": "go_to", "place": place, "priority": "3"}
    return CognitionDecision(decision_id=f"d-{task_id}", action="fleet_task", confidence=1.0,
                             parameters=[KeyValue(key=k, value=v) for k, v in params.items()])


def status(task_id: str, state: int, reason: str = "") -> TaskStatus:
    return TaskStatus(task_id=task_id, kind=Task.KIND_GO_TO, state=state, reason=reason, step="stand-in")


def test_allocation_over_the_mesh_survives_leader_kill_and_hands_over_failed_tasks(launch, ros_probe, tmp_path):
    mesh = claim_domain()  # the swarm's own DDS domain, separate from the test's ROS domain
    try:
        site = LocalCluster(3, tmp_path, mesh.domain_id, site="warehouse")
        procs: dict[str, list] = {}
        for rid in site.ids:
            procs[rid] = [
                launch("sigma_swarm", "swarm_node", name="swarm", namespace=rid, params_files=[SWARM_CONFIG],
                       params={"swarm_domain_id": mesh.domain_id, "localhost_only": True,
                               "key_file": str(tmp_path / "{robot_id}.key"), "roster_file": str(site.roster_path),
                               "cloud_roster_key": b64encode(bytes(site.cloud_key.verify_key)),
                               "state_file": str(tmp_path / "{robot_id}.state.json")}),
                launch("sigma_fleet_tasks", "fleet_tasks_node", name="fleet_tasks", namespace=rid,
                       params_files=[TASKS_CONFIG],
                       params={"start_place": START[rid], "lease_s": LEASE_S, "skew_s": SKEW_S, "tick_period_s": 0.5,
                               "report_period_s": 1.5}),
            ]
        states = {i: ros_probe.subscribe(SwarmState, f"/{i}/swarm/state", LATCHED) for i in site.ids}
        requests = {i: ros_probe.subscribe(Task, f"/{i}/tasks/request", reliable(10)) for i in site.ids}
        executor = {i: ros_probe.publisher(TaskStatus, f"/{i}/tasks/status", reliable(50)) for i in site.ids}
        decisions = {i: ros_probe.publisher(CognitionDecision, f"/{i}/cognition/decisions", reliable(10))
                     for i in site.ids}
        # what each fleet_tasks_node hands its swarm node: leader commands (assignments, renewals) and snapshots
        commands = {i: ros_probe.subscribe(SwarmCommand, f"/{i}/swarm/leader_command", reliable(100))
                    for i in site.ids}
        snapshots = {i: ros_probe.subscribe(SwarmCommand, f"/{i}/swarm/member_report", reliable(100))
                     for i in site.ids}
        for i in site.ids:
            ros_probe.wait_for_subscribers(executor[i], timeout=60)
            ros_probe.wait_for_subscribers(decisions[i], timeout=60)

        def agreed(among):
            latest = [states[i].latest() for i in among]
            if any(s is None for s in latest):
                return None
            views = {(s.leader, s.term) for s in latest}
            return next(iter(views)) if len(views) == 1 and latest[0].leader else None

        def payloads(collector, kind):
            return [decode(bytes(m.payload)) for m in collector.wait_for(lambda _: True, timeout=0) if m.kind == kind]

        def leases(sources, robot, task_id):
            """Every lease of `task_id` granted to `robot` (assignments and renewals) by the given leaders."""
            out = []
            for i in sources:
                for m in commands[i].wait_for(lambda _: True, timeout=0):
                    p = decode(bytes(m.payload))
                    if p.get("robot") != robot:
                        continue
                    if m.kind == RENEW and task_id in p.get("leases", {}):
                        out.append(float(p["leases"][task_id]))
                    elif m.kind != RENEW and p.get("task") == task_id:
                        out.append(float(p["lease"]))
            return out

        def snapshot_says(robot, cond):
            return any(cond(p) for p in payloads(snapshots[robot], SNAPSHOT))

        def logged(among, text):
            return any(text in procs[i][1].output() for i in among)

        def until(cond, among, what, timeout=WAIT_S):
            """Play the cloud while waiting for `cond`; fail naming `what` with the leaders' logs."""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                cloud(among)
                if cond():
                    return
                time.sleep(0.2)
            logs = "\n".join(f"--- fleet_tasks {i}\n{procs[i][1].output()[-3000:]}" for i in among)
            raise AssertionError(f"{what}: not within {timeout} s\n{logs}")

        def holders(task_id):
            return {i: [m for m in requests[i].wait_for(lambda _: True, timeout=0) if m.task_id == task_id]
                    for i in site.ids}

        open_tasks: dict[str, str] = {}  # the cloud's open tasks (task -> place)
        told: set[tuple[str, int]] = set()

        def cloud(among):
            """The cloud: a new task goes to the current leader; each new leader's claim is answered with every
            open task (POST /v1/devices/{robot}/leadership)."""
            now_leading = agreed(among)
            if now_leading is not None and now_leading not in told:
                told.add(now_leading)
                for task_id, place in open_tasks.items():
                    decisions[now_leading[0]].publish(decision(task_id, place))

        def wait_request(task_id, among, timeout, exclude=()):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                cloud(among)
                got = [i for i, msgs in holders(task_id).items()
                       if i not in exclude and any(m.kind != Task.KIND_CANCEL for m in msgs)]
                if got:
                    return got
                time.sleep(0.2)
            raise AssertionError(f"no robot got {task_id} within {timeout} s")

        states["r1"].wait_for(lambda _: agreed(site.ids) is not None, timeout=WAIT_S)
        leader, term = agreed(site.ids)
        target = next(i for i in site.ids if i != leader)  # the task is at this follower's dock

        # 1. a cloud task reaches exactly one robot: the one standing at the place
        open_tasks["t1"] = START[target]
        told.clear()  # the current leader gets it now
        assert wait_request("t1", site.ids, timeout=WAIT_S) == [target]
        executor[target].publish(status("t1", TaskStatus.STATE_ACCEPTED))
        executor[target].publish(status("t1", TaskStatus.STATE_ACTIVE))
        # the robot tells the mesh it runs t1, and the leader's record follows its report
        until(lambda: snapshot_says(target, lambda p: (p.get("holding") or [None])[0] == "t1"
                                    and p["holding"][2] == TaskStatus.STATE_ACTIVE), site.ids, "target runs t1")
        until(lambda: logged([leader], "task t1: assigned -> in_progress"), site.ids, "the leader heard it")
        assert f"assign t1 to {target}" in procs[leader][1].output()

        # 2. kill -9 the leader mid-task: a new leader adopts the task from the robot's report
        for proc in procs[leader]:
            proc.signal(signal.SIGKILL)
        survivors = [i for i in site.ids if i != leader]
        states[survivors[0]].wait_for(
            lambda _: (a := agreed(survivors)) is not None and a[0] != leader and a[1] > term, timeout=WAIT_S)
        in_office = time.time()
        # Wait out every lease the old leader granted and the new leader's hold-back (it re-assigns nothing it did
        # not hear of before leases an older leader could have granted ran out), until a new leader has renewed the
        # robot's lease of t1 beyond them: the window in which a wrong re-assignment or cancel would show. (A new
        # leader that is the robot itself renews its own lease inside its process: then the window alone.)
        old_end = max(leases([leader], target, "t1"))
        horizon = max(old_end, in_office + LEASE_S) + SKEW_S + 1.0

        def renewed_past_horizon():
            lead = agreed(survivors)
            return time.time() > horizon and lead is not None and (
                lead[0] == target or max(leases(survivors, target, "t1"), default=0.0) > horizon)

        until(renewed_past_horizon, survivors, "the new leader renews t1 past every older lease")
        assert "lease of t1 ran out" not in procs[target][1].output()
        got = holders("t1")
        assert [i for i, msgs in got.items() if msgs] == [target], got  # nobody else got it, before or after
        assert [m.kind for m in got[target]] == [Task.KIND_GO_TO]  # once, and never cancelled: lease renewed
        for i in survivors:  # adopted from the robot's report, never handed out again
            assert "assign t1" not in procs[i][1].output(), procs[i][1].output()
        executor[target].publish(status("t1", TaskStatus.STATE_SUCCEEDED))
        until(lambda: logged(survivors, "task t1: in_progress -> done")  # a leader that took office meanwhile
              or snapshot_says(target, lambda p: "t1" in p.get("done", [])), survivors, "t1 reported done")
        told.clear()
        cloud(survivors)  # a late re-send (t1 still open at the cloud) must not run it again: checked at the end,
        # after the leader has ticked through the whole of step 3
        del open_tasks["t1"]

        # 3. a robot that reports FAILED hands its task to the other robot
        open_tasks["t2"] = START[survivors[0]]
        told.clear()
        [first] = wait_request("t2", survivors, timeout=WAIT_S)
        executor[first].publish(status("t2", TaskStatus.STATE_ACCEPTED))
        executor[first].publish(status("t2", TaskStatus.STATE_FAILED, "left knee motor shut down (overheating)"))
        other = next(i for i in survivors if i != first)
        assert wait_request("t2", survivors, timeout=WAIT_S, exclude=[first]) == [other]
        until(lambda: any(f"assignment t2 (term {t}): accepted" in procs[other][1].output()
                          for t in range(term, term + 100)), survivors, f"{other}'s fence accepted t2")
        got2 = holders("t2")
        assert len(got2[other]) == 1 and len(got2[first]) == 1 and not got2[leader], got2
        assert len(holders("t1")[target]) == 1  # t1 still ran exactly once
    finally:
        mesh.release()
