"""The demo's judgement of the swarm mesh: one leader every robot follows, with a valid lease (pure)."""

from __future__ import annotations

from sigma_bringup.mesh import ROLE_LEADER, Leadership, SwarmView, agreed_leader, describe

ROBOTS = ("r1", "r2", "r3")
ALL = ROBOTS


def _v(leader="r2", term=3, role=0, lease=False, members=ALL, roster=1):
    return SwarmView(role, term, leader, lease, tuple(members), roster, 100, 0)


def _site(lease=True):
    views = {r: _v() for r in ROBOTS}
    views["r2"] = _v(role=ROLE_LEADER, lease=lease)
    return views


def test_one_leader_with_a_lease_that_everyone_follows_is_agreed():
    assert agreed_leader(_site(), ROBOTS) == Leadership("r2", 3)


def test_no_agreement_when_a_robot_is_silent_follows_another_term_or_leader():
    views = _site()
    del views["r3"]
    assert agreed_leader(views, ROBOTS) is None
    views = _site()
    views["r1"] = _v(term=2)
    assert agreed_leader(views, ROBOTS) is None
    views = _site()
    views["r1"] = _v(leader="r1")
    assert agreed_leader(views, ROBOTS) is None
    views = {r: _v(leader="") for r in ROBOTS}  # a minority / no-leader view
    assert agreed_leader(views, ROBOTS) is None


def test_no_agreement_without_the_leaders_lease_a_cloud_roster_or_every_member():
    assert agreed_leader(_site(lease=False), ROBOTS) is None
    views = _site()
    views["r2"] = _v(role=0, lease=True)  # named by all but not leading itself
    assert agreed_leader(views, ROBOTS) is None
    views = {r: _v(roster=0) for r in ROBOTS}
    views["r2"] = _v(role=ROLE_LEADER, lease=True, roster=0)  # mesh off: no cloud-signed roster
    assert agreed_leader(views, ROBOTS) is None
    views = _site()
    views["r1"] = _v(members=("r1", "r2"))
    assert agreed_leader(views, ROBOTS) is None


def test_describe_names_every_robot():
    text = describe({"r1": _v()}, ROBOTS)
    assert "r1: term 3 leader r2" in text and "r2: no swarm/state" in text and "r3: no swarm/state" in text
