"""Incident recordings through the real service: a safety event naming its black-box file becomes an incident (the
worker's pass); the robot uploads the MCAP in signed chunks, resuming where the cloud is; people of the incident's
site download it and read it with the `mcap` reader; other sites, other robots and bad uploads are refused with a
reason."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time

import orjson
from mcap.reader import make_reader
from mcap.writer import CompressionType, Writer

import sigma_protocol as protocol
from sigma_cloud.cognition import rules, worker
from sigma_cloud.core.db import make_pool
from sigma_cloud.repositories import cognition as repo

SITE, OTHER = "rec-a", "rec-b"


def mcap_bytes(n: int) -> bytes:
    """A small MCAP file written with the mcap library (n JSON messages on /r/safety/events)."""
    buf = io.BytesIO()
    w = Writer(buf, compression=CompressionType.NONE)
    w.start(profile="", library="test")
    schema = w.register_schema(name="event", encoding="jsonschema", data=b'{"type": "object"}')
    channel = w.register_channel(topic="/r/safety/events", message_encoding="json", schema_id=schema)
    for i in range(n):
        w.add_message(channel_id=channel, log_time=1_000 + i, publish_time=1_000 + i, sequence=i,
                      data=orjson.dumps({"i": i, "pad": "x" * 200}))
    w.finish()
    return buf.getvalue()


def safety_event(seq: int, ts: float, recording: str) -> dict:
    return {"seq": seq, "ts": ts, "channel": "safety_event",
            "payload": {"sequence": seq, "previous_level": 0, "level": 3, "previous_authority": 0, "authority": 2,
                        "cause": "operator emergency stop", "cleared": [], "recording": recording,
                        "raised": [{"code": 9, "rule": "emergency_stop", "value": 1.0}]}}


async def _pass(cloud) -> list[rules.Proposal]:
    pool = make_pool(cloud.runtime.api_url, min_size=1, max_size=2)
    await pool.open(wait=True, timeout=30)
    try:
        async with worker.transaction(pool, worker.ACTOR) as conn:
            await repo.ensure_cursors(conn)
        return await worker.run_once(pool, rules.CognitionParams())
    finally:
        await pool.close()


def put(cloud, robot, name: str, data: bytes, offset: int, chunk: bytes, *, size: int | None = None,
        digest: str | None = None, signer=None):
    path = (f"/v1/devices/{robot.robot_id}/recordings/{name}?offset={offset}&size={size or len(data)}"
            f"&sha256={digest or hashlib.sha256(data).hexdigest()}")
    who = signer or robot
    headers = protocol.sign_request(who.seed, "PUT", path, who.robot_id, chunk, time.time())
    return cloud.http.put(path, content=chunk, headers={**headers, "Content-Type": "application/octet-stream"})


def test_incident_recording_upload_resume_and_download(cloud) -> None:
    robot = cloud.robot("rec-r1", SITE)
    other_robot = cloud.robot("rec-r2", OTHER)
    name = "rec-r1_safety_7_1700000000000000000.mcap"
    data = mcap_bytes(300)
    assert len(data) > 3 * 16_384
    now = time.time()
    assert cloud.post_batch(robot, robot.events(1, now - 2.0)).status_code == 200
    asyncio.run(_pass(cloud))  # the robot's cursor starts at its head
    event = safety_event(robot.next_seq, now - 1.0, f"/var/sigma_bridge/rec-r1/recordings/{name}")
    assert cloud.post_batch(robot, [event]).status_code == 200
    asyncio.run(_pass(cloud))
    admin = cloud.token()
    incidents = cloud.http.get("/v1/incidents", params={"robot_id": robot.robot_id}, headers=admin).json()["items"]
    (incident,) = [i for i in incidents if i["kind"] == "safety"]
    assert incident["has_recording"] is False
    url = f"/v1/incidents/{incident['incident_id']}/recording"
    pending = cloud.http.get(url, headers=admin)
    assert pending.status_code == 404 and pending.json()["type"].endswith("recording-pending")

    # bad uploads: refused with the reason, nothing stored
    assert put(cloud, robot, "../etc/passwd.mcap", data, 0, data[:100]).status_code in (400, 404)
    assert put(cloud, robot, "bad name.mcap", data, 0, data[:100]).status_code == 400
    forged = put(cloud, robot, name, data, 0, data[:100], signer=other_robot)
    assert forged.status_code == 403
    assert put(cloud, robot, name, data, 0, data[:100], size=1 << 40).status_code == 422  # over the size bound
    assert put(cloud, robot, name, data, 0, b"").status_code == 400

    # first chunk, then a "restarted" robot starting at 0 is told where to resume
    chunk = 16_384
    first = put(cloud, robot, name, data, 0, data[:chunk])
    assert first.status_code == 200 and first.json() == {"received": chunk, "size": len(data), "complete": False}
    again = put(cloud, robot, name, data, 0, data[:chunk])
    assert again.status_code == 409 and again.json()["received"] == chunk
    conflict = put(cloud, robot, name, data, chunk, data[chunk:2 * chunk], size=len(data) + 1)
    assert conflict.status_code == 409 and "never reused" in conflict.json()["detail"]
    offset = chunk
    while offset < len(data):
        r = put(cloud, robot, name, data, offset, data[offset:offset + chunk])
        assert r.status_code == 200, r.text
        offset = r.json()["received"]
    assert r.json()["complete"] is True
    assert put(cloud, robot, name, data, 0, data[:chunk]).json()["complete"] is True  # idempotent once complete

    # download: the fleet admin and the site's operator get the exact bytes; the mcap reader reads them
    got = cloud.http.get(url, headers=admin)
    assert got.status_code == 200 and got.headers["content-type"] == "application/octet-stream"
    assert got.content == data and got.headers["x-recording-sha256"] == hashlib.sha256(data).hexdigest()
    reader = make_reader(io.BytesIO(got.content))
    messages = [(ch.topic, orjson.loads(m.data)["i"]) for _, ch, m in reader.iter_messages()]
    assert messages == [("/r/safety/events", i) for i in range(300)]
    operator = cloud.http.get(url, headers=cloud.token("operator", (SITE,)))
    assert operator.status_code == 200 and operator.content == data
    assert cloud.http.get(url, headers=cloud.token("site_manager", (OTHER,))).status_code == 404  # RLS
    assert cloud.http.get(url).status_code == 401
    listed = cloud.http.get(f"/v1/incidents/{incident['incident_id']}", headers=admin).json()
    assert listed["has_recording"] is True


def test_a_corrupted_upload_restarts_and_a_non_mcap_is_refused(cloud) -> None:
    robot = cloud.robot("rec-r3", SITE)
    data = mcap_bytes(20)
    name = "rec-r3_safety_1_1.mcap"
    digest = hashlib.sha256(data).hexdigest()
    half = len(data) // 2
    assert put(cloud, robot, name, data, 0, data[:half]).status_code == 200
    bad = put(cloud, robot, name, data, half, b"\0" * (len(data) - half), digest=digest)
    assert bad.status_code == 422 and bad.json()["received"] == 0 and "SHA-256" in bad.json()["detail"]
    assert put(cloud, robot, name, data, 0, data).json()["complete"] is True  # sent again whole: accepted
    junk = b"not an mcap file at all"
    refused = put(cloud, robot, "rec-r3_safety_2_2.mcap", junk, 0, junk)
    assert refused.status_code == 422 and "not an MCAP" in refused.json()["detail"]
