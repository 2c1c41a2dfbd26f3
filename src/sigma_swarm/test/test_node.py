"""swarm_node as real ROS processes: swarm/state (latched) agrees on one leader, a fenced leader command from the
leader reaches the followers on swarm/commands, one for a stale term is refused, diagnostics carry the counters."""

from __future__ import annotations

from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray

from sigma_interfaces.msg import SwarmCommand, SwarmState
from sigma_protocol import b64encode
from sigma_ros_common.qos import LATCHED, reliable
from sigma_swarm.cluster import LocalCluster
from sigma_testing import claim_domain

CONFIG = Path(__file__).resolve().parents[1] / "config" / "swarm.yaml"


def test_three_nodes_publish_state_and_carry_fenced_commands(launch, ros_probe, tmp_path):
    mesh = claim_domain()  # the swarm's own DDS domain, separate from the test's ROS domain
    try:
        site = LocalCluster(3, tmp_path, mesh.domain_id, site="warehouse")
        for robot_id in site.ids:
            launch("sigma_swarm", "swarm_node", name="swarm", namespace=robot_id, params_files=[CONFIG], params={
                "swarm_domain_id": mesh.domain_id, "localhost_only": True,
                "key_file": str(tmp_path / "{robot_id}.key"), "roster_file": str(site.roster_path),
                "cloud_roster_key": b64encode(bytes(site.cloud_key.verify_key)),
                "state_file": str(tmp_path / "{robot_id}.state.json")})
        states = {i: ros_probe.subscribe(SwarmState, f"/{i}/swarm/state", LATCHED) for i in site.ids}
        commands = {i: ros_probe.subscribe(SwarmCommand, f"/{i}/swarm/commands", reliable(50)) for i in site.ids}
        diagnostics = ros_probe.subscribe(DiagnosticArray, "/r1/diagnostics", reliable(10))

        def agreed():
            latest = [states[i].latest() for i in site.ids]
            if any(s is None for s in latest):
                return None
            views = {(s.leader, s.term) for s in latest}
            return next(iter(views)) if len(views) == 1 and latest[0].leader else None

        states["r1"].wait_for(lambda _: agreed() is not None, timeout=60)
        leader, term = agreed()
        # Liveness comes from every frame a member hears; membership heartbeats (1 s) are read at the next wake-up,
        # so the leader may name the last member a little after the election: wait for it, do not race it.
        states[leader].wait_for(lambda msgs: bool(msgs) and sorted(msgs[-1].members) == site.ids, timeout=30)
        leader_state = states[leader].latest()
        assert leader_state.role == SwarmState.ROLE_LEADER and leader_state.lease_valid
        assert sorted(leader_state.members) == site.ids and leader_state.roster_version == 1

        publisher = ros_probe.publisher(SwarmCommand, f"/{leader}/swarm/leader_command", reliable(10))
        followers = [i for i in site.ids if i != leader]
        for attempt in range(40):  # the publisher needs discovery before its first message arrives
            publisher.publish(SwarmCommand(term=term - 1, kind="stale", payload=list(b"old")))
            publisher.publish(SwarmCommand(term=term, kind="task_assignment", payload=list(f"a{attempt}".encode())))
            if commands[followers[0]].wait_for(lambda msgs: len(msgs) > 0, timeout=0.5):
                break
        for i in followers:
            got = commands[i].wait_for(lambda msgs: len(msgs) > 0, timeout=10)
            assert all(c.kind == "task_assignment" and c.term == term and c.sender == leader for c in got)
        assert not commands[leader].latest()  # the leader does not deliver its own command to itself
        diag = diagnostics.wait_for(lambda msgs: any(s.values for m in msgs for s in m.status), timeout=10)[-1]
        keys = {kv.key for kv in diag.status[0].values}
        assert {"accepted", "drop_rate_per_s"} <= keys
    finally:
        mesh.release()
