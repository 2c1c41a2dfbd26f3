"""Other robots' routes from two sources (``peer_routes: auto``): the signed mesh's relay is held, and a robot the
mesh says nothing of is taken from the ROS graph.

The failure this guards against (clean-clone CI of 799ab40, the main command): the demo kills the swarm leader's
processes (swarm_node and fleet_tasks_node, which relays its robot's route onto the mesh). The robot's core went on
with its task; the other robots read routes from the mesh only, so the robot vanished from their view — and one of
them, sent to the same place by the new leader, drove to 0.83 m of it (separation 1.5 m). The robot still published
on the shared ROS graph all along.
"""

from __future__ import annotations

import threading
import time

from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Path
from stack import CORE_CONFIG

from sigma_core.core.perception import Perception
from sigma_ros_common import qos

ROUTE_A = [(0.0, 0.0), (1.0, 0.0)]
ROUTE_B = [(5.0, 5.0), (6.0, 5.0)]


def test_the_mesh_route_is_held_while_the_mesh_speaks_of_the_robot():
    p = Perception()
    assert p.update_peer("r1", ROUTE_A, 10.0, "mesh", fallback_after=2.0)
    assert p.update_peer("r1", ROUTE_B, 10.1, "graph", fallback_after=2.0)   # accepted input, not taken
    assert p.peers["r1"].route == tuple(ROUTE_A) and p.peer_source["r1"] == "mesh"
    assert p.update_peer("r1", ROUTE_B, 12.0, "graph", fallback_after=2.0)   # mesh heard 2.0 s ago: still held
    assert p.peers["r1"].route == tuple(ROUTE_A)


def test_a_robot_the_mesh_went_silent_on_is_taken_from_the_graph_and_back_when_the_mesh_speaks_again():
    p = Perception()
    p.update_peer("r1", ROUTE_A, 10.0, "mesh", fallback_after=2.0)
    p.update_peer("r1", ROUTE_B, 12.01, "graph", fallback_after=2.0)
    assert p.peers["r1"].route == tuple(ROUTE_B) and p.peers["r1"].received == 12.01
    assert p.peer_source["r1"] == "graph"
    p.update_peer("r1", ROUTE_A, 12.5, "mesh", fallback_after=2.0)
    assert p.peers["r1"].route == tuple(ROUTE_A) and p.peer_source["r1"] == "mesh"


def test_the_fallback_is_per_robot_and_a_robot_only_on_the_graph_is_seen_at_once():
    p = Perception()
    p.update_peer("r1", ROUTE_A, 10.0, "mesh", fallback_after=2.0)
    p.update_peer("r3", ROUTE_B, 10.0, "graph", fallback_after=2.0)        # never on the mesh
    assert set(p.peers) == {"r1", "r3"} and p.peer_source == {"r1": "mesh", "r3": "graph"}


def test_overridden_says_whether_a_route_would_be_taken_before_it_is_decoded():
    p = Perception()
    assert not p.overridden("r1", "graph", 10.0, 2.0)                     # nothing from the mesh yet
    p.update_peer("r1", ROUTE_A, 10.0, "mesh", fallback_after=2.0)
    assert p.overridden("r1", "graph", 11.0, 2.0) and not p.overridden("r1", "mesh", 11.0, 2.0)
    assert not p.overridden("r1", "graph", 12.5, 2.0)                     # the mesh's word aged


def test_a_bad_route_is_rejected_from_either_source_and_keeps_the_last_good_one():
    p = Perception()
    p.update_peer("r1", ROUTE_A, 10.0, "mesh", fallback_after=2.0)
    assert not p.update_peer("r1", [(float("nan"), 0.0)], 13.0, "graph", fallback_after=2.0)
    assert not p.update_peer("r1", [], 13.0, "mesh", fallback_after=2.0)
    assert p.peers["r1"].route == tuple(ROUTE_A) and p.rejected


def _path(points) -> Path:
    m = Path()
    m.header.frame_id = "map"
    for x, y in points:
        q = PoseStamped()
        q.pose.position.x, q.pose.position.y = x, y
        m.poses.append(q)
    return m


def test_core_node_follows_a_robot_from_the_graph_while_the_mesh_relay_is_silent_on_it(launch, ros_probe):
    """core_node of r2 (``peer_routes: auto``) with r1's route relayed on the mesh topic and published on the graph:
    the mesh's is held; when the relay stops speaking of r1 (its relay died) r1 is followed from the graph; when the
    relay speaks again, from the mesh again."""
    mesh = ros_probe.publisher(Path, "/r2/traffic/peers/r1/route", qos.SENSOR)
    graph = ros_probe.publisher(Path, "/r1/traffic/route", qos.SENSOR)
    core = launch("sigma_core", "core_node", namespace="/r2", params_files=[CORE_CONFIG],
                  params={"peer_routes": "auto"})
    core.wait_for_output("core ready", timeout=60.0)
    relaying = threading.Event()
    relaying.set()
    stop = threading.Event()

    def feed() -> None:
        while not stop.is_set():
            graph.publish(_path(ROUTE_B))
            if relaying.is_set():
                mesh.publish(_path(ROUTE_A))
            time.sleep(0.2)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        core.wait_for_output("following robot r1's route (mesh)", timeout=30.0)
        core.wait_for_output("following robot r1's route (graph)", timeout=30.0)
        assert "routes from the swarm mesh" in core.output()
        time.sleep(3.0)                          # both feeds on: the mesh's route is held throughout
        assert "r1's route from the ROS graph" not in core.output()
        relaying.clear()                         # r1's relay died; the graph still carries r1's route
        t0 = time.monotonic()
        core.wait_for_output("robot r1's route from the ROS graph: the mesh has said nothing of it", timeout=10.0)
        assert time.monotonic() - t0 >= 1.5      # not before the mesh's word has aged (peer_max_age 2 s)
        relaying.set()
        core.wait_for_output("robot r1's route from the swarm mesh again", timeout=10.0)
    finally:
        stop.set()
        feeder.join(timeout=5.0)
