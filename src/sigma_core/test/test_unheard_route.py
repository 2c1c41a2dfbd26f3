"""A robot whose route no other robot takes any more slows down (``reasoning.unheard_after`` / ``unheard_speed``).

Where every robot has its own ROS graph, the others learn where a robot goes only from its mesh relay
(sigma_fleet_tasks' ``traffic_link`` subscribes the robot's ``traffic/route`` and sends it on the signed mesh). When
that relay dies (the demo kills the leader's fleet_tasks_node) the robot becomes invisible to the others' traffic
rules; it cannot make them see it, but it can stop driving as if they did: once some node took its route and none
has for ``unheard_after``, its plan speed is limited, with the reason in ``tasks/status``, until one does again. A
robot that never had a listener (alone, no relay) is not slowed.
"""

from __future__ import annotations

import math

from nav_msgs.msg import Path
from stack import CORE_RELAXED, NS, Stack

from sigma_core.core.perception import Perception
from sigma_core.core.reasoning import ReasoningParams, constrain
from sigma_interfaces.msg import Task, TaskStatus
from sigma_ros_common import qos

EDGE = 1
MARK = "no other robot has taken this robot's route"


def test_a_robot_that_was_never_heard_is_not_slowed():
    p = Perception()
    p.update_route_listeners(0, 5.0)
    p.update_route_listeners(0, 100.0)
    assert p.snapshot(100.0).route_unheard == 0.0


def test_unheard_time_counts_from_the_last_listener_and_ends_when_one_is_back():
    p = Perception()
    p.update_route_listeners(1, 10.0)
    assert p.snapshot(11.0).route_unheard == 0.0
    p.update_route_listeners(0, 12.0)                      # the last listener left (matched event) at 12
    assert p.snapshot(20.0).route_unheard == 8.0
    p.update_route_listeners(0, 15.0)                      # a poll that still sees none changes nothing
    assert p.snapshot(20.0).route_unheard == 8.0
    p.update_route_listeners(2, 21.0)
    assert p.snapshot(22.0).route_unheard == 0.0


def test_the_plan_speed_is_limited_after_unheard_after_and_says_why():
    params = ReasoningParams()
    p = Perception()
    p.update_route_listeners(1, 0.0)
    p.update_route_listeners(0, 1.0)
    early = constrain(params, p.snapshot(1.0 + params.unheard_after - 0.5), max_speed=1.0)
    assert early.speed_limit == 1.0 and not any(MARK in r for r in early.reasons)
    late = constrain(params, p.snapshot(1.0 + params.unheard_after + 0.5), max_speed=1.0)
    assert late.speed_limit == params.unheard_speed
    assert any(MARK in r for r in late.reasons)


def _speed(o) -> float:
    return math.hypot(o.twist.twist.linear.x, o.twist.twist.linear.y)


def _route_listeners(ros_probe) -> list[str]:
    """The nodes that subscribe r1's route, as the graph shows them to the probe."""
    return sorted(i.node_name for i in ros_probe.node.get_subscriptions_info_by_topic(f"{NS}/traffic/route"))


def test_core_node_slows_when_the_relay_stops_taking_its_route_and_resumes_when_it_is_back(launch, ros_probe,
                                                                                           tmp_path):
    """MuJoCo sim + safety_node + core_node of r1; the test's node stands for the mesh relay (it subscribes
    ``/r1/traffic/route``). Driving to a far dock at cruise speed, the relay goes away: the task's status says why
    and the robot slows to ``unheard_speed``; the relay subscribes again: the derate ends."""
    st = Stack(launch, ros_probe, tmp_path, **{**CORE_RELAXED, "reasoning.unheard_after": 2.0})
    routes: list[Path] = []
    relay = ros_probe.node.create_subscription(Path, f"{NS}/traffic/route", routes.append, qos.SENSOR)
    st.wait_commander(EDGE)
    st.send(Task(task_id="far", issuer="test", kind=Task.KIND_GO_TO, place="dock_3"))
    st.odom.wait_for(lambda ms: ms and _speed(ms[-1]) > 0.45, timeout=120)           # cruising, heard by the relay
    assert routes and not any(MARK in m.reason for m in list(st.tasks.messages))
    # the relay is the only node taking the route (no process of another test left in this domain)
    assert _route_listeners(ros_probe) == [ros_probe.node.get_name()]
    ros_probe.destroy(relay)                                                 # the relay died
    try:
        st.tasks.wait_for(lambda ms: any(m.task_id == "far" and MARK in m.reason for m in ms), timeout=30)
    except TimeoutError as e:
        raise AssertionError(f"no derate; nodes taking {NS}/traffic/route now: {_route_listeners(ros_probe)}") from e
    st.odom.clear()
    slow = st.odom.wait_for(lambda ms: len(ms) >= 40, timeout=30)            # ~1 s of odometry at 50 Hz, derated
    assert max(_speed(o) for o in slow[-20:]) < 0.3 + 0.08, [round(_speed(o), 2) for o in slow[-20:]]
    st.tasks.clear()
    ros_probe.node.create_subscription(Path, f"{NS}/traffic/route", routes.append, qos.SENSOR)  # relay back
    st.tasks.wait_for(lambda ms: any(m.task_id == "far" and m.state == TaskStatus.STATE_ACTIVE
                                     and MARK not in m.reason for m in ms), timeout=30)
    st.odom.wait_for(lambda ms: ms and _speed(ms[-1]) > 0.45, timeout=60)           # cruising again
