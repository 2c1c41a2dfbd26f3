"""The traffic relay's pure core: the route's wire form, when a robot re-sends its route (dead reckoning), and how a
receiver keeps peers' routes (newest only, stale ones dropped, moved along the route between messages)."""

from __future__ import annotations

import math

import pytest
from sigma_fleet_tasks.traffic_relay import (
    MAX_PAYLOAD,
    MAX_VERTICES,
    PeerRoutes,
    RelayParams,
    RouteError,
    RouteMessage,
    RouteSender,
    advance,
    decode,
    encode,
    path_points,
    simplify,
)

L_PATH = [(float(x) * 0.25, 0.0) for x in range(41)] + [(10.0, float(y) * 0.25) for y in range(1, 21)]  # 10 m, 5 m


def test_wire_form_round_trips_and_fits_the_mesh_payload():
    msg = RouteMessage(1_796_000_000.25, (0.5, -0.25), ((1.0, 2.0), (3.5, 2.0), (3.5, 9.0)))
    back = decode(encode(msg))
    assert back.stamp == msg.stamp and back.velocity == msg.velocity and back.points == msg.points
    long = RouteMessage(0.0, (0.0, 0.0), tuple((float(k), float(k % 2)) for k in range(500)))
    payload = encode(long)
    assert len(payload) <= MAX_PAYLOAD
    cut = decode(payload)
    assert cut.truncated and len(cut.points) == MAX_VERTICES and cut.points[0] == (0.0, 0.0)


@pytest.mark.parametrize("payload, words", [
    (b"\x01\x00", "shorter than"),
    (encode(RouteMessage(0.0, (0.0, 0.0), ((1.0, 1.0),)))[:-4], "vertices but carries"),
    (b"\x02" + encode(RouteMessage(0.0, (0.0, 0.0), ((1.0, 1.0),)))[1:], "version 2"),
    (encode(RouteMessage(math.nan, (0.0, 0.0), ((1.0, 1.0),))), "non-finite"),
])
def test_malformed_payloads_are_refused_naming_the_problem(payload, words):
    with pytest.raises(RouteError, match=words):
        decode(payload)


@pytest.mark.parametrize("frame", ["map", "", "a_longer_frame_name"])
def test_raw_path_reader_agrees_with_rclpy(frame):
    from geometry_msgs.msg import PoseStamped
    from nav_msgs.msg import Path
    from rclpy.serialization import serialize_message

    path = Path()
    path.header.frame_id = frame
    for k, (x, y) in enumerate(L_PATH):
        q = PoseStamped()
        q.header.frame_id = frame[: k % 5]  # frame ids of every length: every alignment case
        q.header.stamp.sec = k
        q.pose.position.x, q.pose.position.y, q.pose.position.z = x + 0.125, y - 3.5, 1.0
        q.pose.orientation.w = 1.0
        path.poses.append(q)
    raw = serialize_message(path)
    assert path_points(raw) == [(x + 0.125, y - 3.5) for x, y in L_PATH]
    assert path_points(serialize_message(Path())) == []
    with pytest.raises(RouteError, match="truncated"):
        path_points(raw[: len(raw) // 2])


def test_simplify_keeps_the_corner_of_a_grid_path():
    assert simplify(L_PATH, 0.05) == ((0.0, 0.0), (10.0, 0.0), (10.0, 5.0))


def test_advance_moves_along_the_route_round_corners():
    route = ((0.0, 0.0), (10.0, 0.0), (10.0, 5.0))
    assert advance(route, 4.0) == ((4.0, 0.0), (10.0, 0.0), (10.0, 5.0))
    assert advance(route, 12.0) == ((10.0, 2.0), (10.0, 5.0))
    assert advance(route, 99.0) == ((10.0, 5.0),)


def drive(sender: RouteSender, speed: float, seconds: float, start: float = 0.0, rate: float = 5.0,
          stop_at: float = math.inf) -> list[float]:
    """Feed the sender sigma_core's route at ``rate`` while the robot drives the L path; times of what it sent."""
    sent = []
    for k in range(int(seconds * rate) + 1):
        t = start + k / rate
        here = advance(simplify(L_PATH, 0.01), speed * min(t - start, stop_at))
        if sender.update(list(here), t) is not None:
            sent.append(t)
    return sent


def test_a_robot_on_its_route_sends_on_keepalive_and_turns_only_and_again_when_it_stops():
    sender = RouteSender(RelayParams(keepalive_s=1.0, position_tolerance_m=0.15))
    sent = drive(sender, speed=1.0, seconds=8.0)
    # 40 route messages in; the first, then about one a second (keep-alive), none for the straight driving between
    assert sent[0] == 0.0 and 6 <= len(sent) <= 12, sent
    stopped = RouteSender(RelayParams(keepalive_s=5.0, position_tolerance_m=0.15))
    sent = drive(stopped, speed=1.0, seconds=4.0, stop_at=2.0)
    # it stops at t = 2 s: the peers' prediction runs on, so it re-sends within 0.15 m / 1 m/s (+ one route period)
    assert any(2.0 < t <= 2.0 + 0.15 + 0.45 for t in sent), sent


def test_a_replan_is_sent_at_once():
    sender = RouteSender(RelayParams(keepalive_s=10.0))
    assert sender.update([(0.0, 0.0), (10.0, 0.0)], 0.0) is not None
    assert sender.update([(0.0, 0.0), (10.0, 0.0)], 0.2) is None
    assert sender.update([(0.0, 0.0), (0.0, 3.0), (10.0, 3.0), (10.0, 0.0)], 0.4) is not None  # a detour


def test_peers_keep_the_newest_route_move_it_along_and_forget_stale_ones():
    peers = PeerRoutes("r2", RelayParams(max_age_s=2.5, max_extrapolation_s=1.5))
    route = ((0.0, 0.0), (10.0, 0.0))
    assert peers.on_message("r1", encode(RouteMessage(100.0, (1.0, 0.0), route)), now=100.1)
    assert not peers.on_message("r1", encode(RouteMessage(99.0, (1.0, 0.0), ((5.0, 5.0),))), now=100.2)  # older
    assert not peers.on_message("r2", encode(RouteMessage(100.0, (0.0, 0.0), route)), now=100.2)  # its own
    assert not peers.on_message("r3", encode(RouteMessage(90.0, (0.0, 0.0), route)), now=100.2)  # stale
    assert peers.rejected == {"older": 1, "stale": 1}
    now = peers.current(100.5)
    assert list(now) == ["r1"] and math.isclose(now["r1"][0][0], 0.5) and now["r1"][-1] == (10.0, 0.0)
    assert math.isclose(peers.current(109.0 - 6.6)["r1"][0][0], 1.5)  # extrapolation bounded to 1.5 s
    assert peers.current(102.6) == {}  # silent for longer than max_age_s: gone
    with pytest.raises(RouteError):
        peers.on_message("r1", b"garbage", now=103.0)
    assert peers.rejected["malformed"] == 1
