"""Swarm support routes: the cloud-signed roster (verified with sigma_swarm's own verifier), its version rising with
membership changes, revocation by decommissioning, leader reports; all device-signed."""

from __future__ import annotations

import time

import orjson
from nacl.signing import SigningKey

import sigma_protocol as protocol
from sigma_swarm.roster import verify_roster


def _roster(cloud, robot, site):
    return cloud.device_get(robot, f"/v1/sites/{site}/roster")


def test_roster_is_signed_versioned_and_drops_a_decommissioned_robot(cloud) -> None:
    a, b = cloud.robot("sw-a", "swarm-1"), cloud.robot("sw-b", "swarm-1")
    key = cloud.http.get("/v1/sites/swarm-1/roster/key", headers=cloud.token()).json()["public_key"]
    first = verify_roster(_roster(cloud, a, "swarm-1").json(), protocol.load_verify_key(key), "swarm-1")
    assert first.members == {"sw-a", "sw-b"}
    assert protocol.b64encode(bytes(first.keys["sw-b"])) == b.public_key
    cloud.robot("sw-c", "swarm-1")
    second = verify_roster(_roster(cloud, b, "swarm-1").json(), protocol.load_verify_key(key), "swarm-1",
                           min_version=first.version + 1)
    assert second.members == {"sw-a", "sw-b", "sw-c"}
    r = cloud.http.post("/v1/robots/sw-c/decommission", headers=cloud.token())
    assert r.status_code == 200, r.text
    third = verify_roster(_roster(cloud, a, "swarm-1").json(), protocol.load_verify_key(key), "swarm-1",
                          min_version=second.version + 1)
    assert third.members == {"sw-a", "sw-b"}


def test_roster_only_for_active_robots_of_that_site_and_not_replayable(cloud) -> None:
    a = cloud.robot("sw-d", "swarm-2")
    cloud.robot("sw-e", "swarm-3")
    other = _roster(cloud, a, "swarm-3")
    assert other.status_code == 403 and other.headers["content-type"].startswith("application/problem+json")
    path = "/v1/sites/swarm-2/roster"
    signed = protocol.sign_request(a.seed, "GET", path, a.robot_id, b"", time.time())
    assert cloud.http.get(path, headers=signed).status_code == 200
    assert cloud.http.get(path, headers=signed).status_code == 409  # the same signed request again
    assert cloud.http.get(path).status_code == 401  # unsigned


def test_leader_reports_first_per_term_and_listed_robots_only(cloud) -> None:
    a, b = cloud.robot("sw-f", "swarm-4"), cloud.robot("sw-g", "swarm-4")
    path = "/v1/sites/swarm-4/swarm/leader"

    def report(robot, term, leader):
        return cloud.device_post(robot, path, orjson.dumps({"term": term, "leader": leader}))

    assert report(a, 3, "sw-g").json() == {"recorded": True}
    assert report(b, 3, "sw-g").json() == {"recorded": False}  # already known
    assert report(b, 4, "sw-f").json() == {"recorded": True}
    assert report(a, 5, "not-listed").json() == {"recorded": False}
    assert report(a, -1, "sw-g").status_code == 400
    assert cloud.device_post(a, path, b"{").status_code == 400
    leaders = cloud.http.get("/v1/sites/swarm-4/swarm/leaders", headers=cloud.token()).json()["items"]
    assert [(x["term"], x["leader"]) for x in leaders] == [(4, "sw-f"), (3, "sw-g")]


def test_roster_carries_the_mesh_key_sealed_to_each_robot_new_with_each_version(cloud) -> None:
    """Payload encryption on the mesh (docs/swarm.md, format in sigma_protocol.roster): every listed robot opens the
    same key of a version with its own key; the next version (a membership change) has another."""
    a, b = cloud.robot("sw-k1", "swarm-4"), cloud.robot("sw-k2", "swarm-4")
    cloud_key = protocol.load_verify_key(
        cloud.http.get("/v1/sites/swarm-4/roster/key", headers=cloud.token()).json()["public_key"])

    def opened(robot, min_version=0):
        return verify_roster(_roster(cloud, robot, "swarm-4").json(), cloud_key, "swarm-4", min_version,
                             own_id=robot.robot_id, own_key=SigningKey(protocol.b64decode(robot.seed)))

    first_a, first_b = opened(a), opened(b)
    assert first_a.mesh_key is not None and first_a.mesh_key == first_b.mesh_key
    cloud.robot("sw-k3", "swarm-4")
    second = opened(a, first_a.version + 1)
    assert second.mesh_key is not None and second.mesh_key != first_a.mesh_key
