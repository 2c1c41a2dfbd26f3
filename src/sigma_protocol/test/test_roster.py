"""The swarm mesh's cloud-signed site roster (sigma_protocol.roster): one format for the cloud and the robots."""

from __future__ import annotations

import orjson
import pytest
from nacl.signing import SigningKey

from sigma_protocol import (
    RosterError,
    b64decode,
    b64encode,
    derive_mesh_key,
    open_mesh_key,
    sign_roster,
    verify_roster,
)

CLOUD = SigningKey.generate()
KEYS = {i: SigningKey.generate() for i in ("r1", "r2", "r3", "outsider")}


def pairs(ids=("r1", "r2", "r3")):
    return [(i, b64encode(bytes(KEYS[i].verify_key))) for i in ids]


def doc(version=1, ids=("r1", "r2", "r3"), site="s1", cloud=CLOUD, mesh=True):
    mesh_key = derive_mesh_key(cloud, site, version) if mesh else None
    return sign_roster(cloud, site, version, pairs(ids), issued_at=1.0, mesh_key=mesh_key)


def test_round_trip_lists_every_robot_with_its_key():
    roster = verify_roster(doc(), CLOUD.verify_key, "s1")
    assert roster.site == "s1" and roster.version == 1 and roster.members == {"r1", "r2", "r3"}
    assert bytes(roster.keys["r2"]) == bytes(KEYS["r2"].verify_key)
    assert roster.mesh_key is None  # nothing opened without this robot's own key


def test_wrong_cloud_key_other_site_rollback_and_tampering_are_refused():
    with pytest.raises(RosterError, match="does not verify"):
        verify_roster(doc(cloud=SigningKey.generate()), CLOUD.verify_key, "s1")
    with pytest.raises(RosterError, match="site"):
        verify_roster(doc(site="s2"), CLOUD.verify_key, "s1")
    with pytest.raises(RosterError, match="older"):
        verify_roster(doc(version=3), CLOUD.verify_key, "s1", min_version=4)
    good = doc()
    body = orjson.loads(b64decode(good["roster"]))
    body["robots"].append({"robot_id": "outsider", "public_key": b64encode(bytes(KEYS["outsider"].verify_key))})
    with pytest.raises(RosterError, match="does not verify"):
        verify_roster({"roster": b64encode(orjson.dumps(body)), "signature": good["signature"]}, CLOUD.verify_key,
                      "s1")
    for bad in (None, [], {"roster": 1, "signature": ""}, {"roster": "%%", "signature": "%%"}):
        with pytest.raises(RosterError):
            verify_roster(bad, CLOUD.verify_key, "s1")


def test_mesh_key_opens_for_each_listed_robot_only():
    document = doc()
    expected = derive_mesh_key(CLOUD, "s1", 1)
    for robot_id in ("r1", "r2", "r3"):
        assert verify_roster(document, CLOUD.verify_key, "s1", own_id=robot_id,
                             own_key=KEYS[robot_id]).mesh_key == expected
    # A robot not in the roster can read the (signed, not secret) document, but no entry opens with its key.
    body = orjson.loads(b64decode(document["roster"]))
    for entry in body["robots"]:
        with pytest.raises(ValueError, match="does not open"):
            open_mesh_key(entry["mesh_key"], KEYS["outsider"])
    assert verify_roster(document, CLOUD.verify_key, "s1", own_id="outsider", own_key=KEYS["outsider"]).mesh_key \
        is None
    # A robot whose key is not the one listed for its id (a stolen id) is refused with a reason.
    with pytest.raises(RosterError, match="another public key"):
        verify_roster(document, CLOUD.verify_key, "s1", own_id="r1", own_key=KEYS["r2"])


def test_mesh_key_is_stable_per_version_and_changes_with_every_version_and_site():
    assert derive_mesh_key(CLOUD, "s1", 1) == derive_mesh_key(CLOUD, "s1", 1)
    keys = {derive_mesh_key(CLOUD, s, v) for s in ("s1", "s2") for v in (1, 2, 3)}
    assert len(keys) == 6 and all(len(k) == 32 for k in keys)
    assert derive_mesh_key(SigningKey.generate(), "s1", 1) != derive_mesh_key(CLOUD, "s1", 1)
    # The sealed copies differ per fetch (sealed boxes are randomised), the key inside does not.
    assert doc()["roster"] != doc()["roster"]


def test_roster_without_mesh_keys_still_verifies():
    roster = verify_roster(doc(mesh=False), CLOUD.verify_key, "s1", own_id="r1", own_key=KEYS["r1"])
    assert roster.mesh_key is None and roster.members == {"r1", "r2", "r3"}
