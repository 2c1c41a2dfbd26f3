"""Bridge <-> cloud for the swarm mesh, real processes: the bridge fetches the cloud-signed roster, three swarm_nodes
form their mesh from it, the bridge reports the elected leader, the cloud lists it; decommissioning a robot makes
the next roster (fetched by the bridge) leave it out."""

from __future__ import annotations

import httpx
import orjson
import pytest
from cloud_harness import cloud_in_tempdir, wait_until
from nacl.signing import SigningKey

import sigma_protocol as protocol
from sigma_description import humanoid_urdf
from sigma_interfaces.msg import SwarmState
from sigma_ros_common.qos import LATCHED
from sigma_testing import claim_domain


@pytest.fixture
def cloud(launch):
    with cloud_in_tempdir(launch, "sigma-bridge-swarm-") as c:
        yield c


def test_roster_through_bridge_mesh_forms_and_cloud_learns_the_leader(launch, ros_probe, cloud, tmp_path):
    cloud.start()
    ids = ["r1", "r2", "r3"]
    for robot_id in ids:
        key = SigningKey.generate()
        (tmp_path / f"{robot_id}.key").write_text(protocol.b64encode(bytes(key)))
        (tmp_path / f"{robot_id}.key").chmod(0o600)
        cloud.register(robot_id, protocol.b64encode(bytes(key.verify_key)), site="yard")
    roster_key = httpx.get(f"{cloud.url}/v1/sites/yard/roster/key", headers=cloud.headers()).json()["public_key"]
    roster_file = tmp_path / "roster.json"
    proc = launch("sigma_bridge", "bridge_node", namespace="/r1", name="sigma_bridge", params={
        "cloud_url": cloud.url, "foxglove_enabled": False, "urdf_path": str(humanoid_urdf()),
        "key_file": str(tmp_path / "r1.key"), "store_path": str(tmp_path / "uplink.db"),
        "recordings_dir": str(tmp_path / "recordings"), "downlink_wait_s": 2.0,
        "swarm.site": "yard", "swarm.roster_file": str(roster_file), "swarm.roster_refresh_s": 1.0})
    proc.wait_for_output("sigma_bridge ready", timeout=30)
    wait_until(roster_file.exists, 30, "the roster written by the bridge")
    mesh = claim_domain()
    try:
        for robot_id in ids:
            launch("sigma_swarm", "swarm_node", name="swarm", namespace=robot_id, params={
                "site": "yard", "swarm_domain_id": mesh.domain_id, "localhost_only": True,
                "key_file": str(tmp_path / f"{robot_id}.key"), "roster_file": str(roster_file),
                "cloud_roster_key": roster_key, "state_file": str(tmp_path / f"{robot_id}.state.json"),
                "roster_poll_s": 0.5})
        state = ros_probe.subscribe(SwarmState, "/r1/swarm/state", LATCHED)
        got = state.wait_for(lambda msgs: any(m.leader and len(m.members) == 3 for m in msgs), timeout=60)
        first = next(m for m in got if m.leader)

        def cloud_leaders():
            r = httpx.get(f"{cloud.url}/v1/sites/yard/swarm/leaders", headers=cloud.headers())
            return r.json()["items"] if r.status_code == 200 else []

        leaders = wait_until(cloud_leaders, 30, "the leader reported to the cloud")
        assert any(x["leader"] in ids and x["reported_by"] == "r1" for x in leaders)
        assert (first.term, first.leader) in {(x["term"], x["leader"]) for x in leaders} or first.term < max(
            x["term"] for x in leaders)

        # Revocation: decommission r3; the bridge's next fetch writes a roster without it; the mesh follows.
        r = httpx.post(f"{cloud.url}/v1/robots/r3/decommission", headers=cloud.headers())
        assert r.status_code == 200, r.text

        def listed() -> set[str]:
            roster = orjson.loads(protocol.b64decode(orjson.loads(roster_file.read_bytes())["roster"]))
            return {entry["robot_id"] for entry in roster["robots"]}

        wait_until(lambda: listed() == {"r1", "r2"}, 30, "a roster without r3")
        state.wait_for(lambda msgs: any(m.roster_version >= 2 and "r3" not in m.members for m in msgs), timeout=30)
    finally:
        mesh.release()


def test_live_view_swarm_state_matches_its_schema():
    from jsonschema import Draft202012Validator

    from sigma_bridge import view_schemas
    from sigma_bridge.swarm_link import view_values

    msg = SwarmState(role=SwarmState.ROLE_LEADER, term=7, leader="r2", lease_valid=True, members=["r1", "r2"],
                     suspected=["r3"], roster_version=4, frames_dropped=2)
    Draft202012Validator.check_schema(view_schemas.SWARM_STATE)
    validator = Draft202012Validator(view_schemas.SWARM_STATE)
    assert not list(validator.iter_errors(view_values(msg)))
    assert view_values(msg)["role"] == "leader"
    assert list(validator.iter_errors({**view_values(msg), "term": -1}))  # the schema can fail
