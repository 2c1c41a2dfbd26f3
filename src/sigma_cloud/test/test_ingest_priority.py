"""The ingest's priority lane (issue 15, docs/device-protocol.md "Priority lane"): a small batch signed for
INGEST_PRIORITY_PATH holding a safety event or alert-level telemetry is stored on the lane's own slot and connection
while every bulk slot is held; a routine batch claiming the lane is demoted to the bulk lane (it waits there like
any other, so it cannot jump the queue); sequences stay exactly-once across the lanes (one sequence space).

A real server with one bulk slot; the slot is held by a real client that sent its headers and withholds its body
(the slot is taken before the body is read), as in test_ingest_admission.py."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import psycopg

import sigma_protocol as protocol
from sigma_cloud.core.config import Settings
from sigma_cloud.core.embedded import free_port


def _seqs(cloud: Any, robot_id: str) -> list[int]:
    import psycopg

    with psycopg.connect(cloud.runtime.owner_url) as conn:
        return [r[0] for r in conn.execute("SELECT seq FROM telemetry WHERE robot_id = %s ORDER BY seq",
                                           (robot_id,)).fetchall()]


def _post(client: httpx.Client, robot: Any, events: list[dict], path: str = protocol.INGEST_PATH) -> httpx.Response:
    body = protocol.encode_batch(robot.robot_id, events)
    headers = protocol.sign_request(robot.seed, "POST", path, robot.robot_id, body, time.time())
    return client.post(path, content=body, headers={**headers, "Content-Type": "application/json"})


def _safety(robot: Any, now: float) -> list[dict]:
    event = {"seq": robot.next_seq, "ts": now - 0.1, "channel": "safety_event",
             "payload": {"sequence": 1, "previous_level": 0, "level": 2, "previous_authority": 0, "authority": 1,
                         "cause": "human within 0.4 m",
                         "raised": [{"code": 3, "rule": "human_proximity", "value": 0.4}],
                         "cleared": [], "recording": ""}}
    robot.next_seq += 1
    return [event]


def _alert(robot: Any, now: float, n: int = 5) -> list[dict]:
    """Battery events far from the robot's learned statistics (48 V): scored far above the alert threshold."""
    out = [{"seq": robot.next_seq + i, "ts": now - 0.2 + 0.01 * i, "channel": "battery",
            "payload": {"voltage": 20.0, "current": 3.2, "percentage": 0.8}} for i in range(n)]
    robot.next_seq += n
    return out


def test_priority_lane_admits_alerts_while_bulk_is_full_demotes_routine_and_keeps_sequences(cloud: Any) -> None:
    from conftest import ServerThread

    from sigma_cloud.app.main import create_app

    settings = Settings(**{**cloud.settings.model_dump(), "ingest_concurrency": 1, "ingest_queue_wait_s": 0.5})
    holder = cloud.robot("prio-holder", site_id="site-priority")
    probe = cloud.robot("prio-probe", site_id="site-priority")  # a bulk batch to see that the bulk slot is held
    safety = cloud.robot("prio-safety", site_id="site-priority")
    alert = cloud.robot("prio-alert", site_id="site-priority")
    routine = cloud.robot("prio-routine", site_id="site-priority")
    app = create_app(settings, cloud.runtime, run_maintenance=False)
    port = free_port()
    with ServerThread(app, port), httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        now = time.time()
        assert _post(client, safety, safety.events(5, now)).status_code == 200  # seqs 1-5 in the bulk lane
        warm = _post(client, alert, alert.events(40, now))  # the alert robot's statistics are learned (48 V)
        assert warm.status_code == 200 and warm.headers[protocol.HEADER_LANE] == "bulk", warm.text
        # The only bulk slot is held by a real batch whose store waits on the database: the holder's high-water mark
        # row is locked here (a slow database; a client withholding its body holds no slot since round 20).
        assert _post(client, holder, holder.events(2, time.time())).status_code == 200  # its mark row exists
        blocker = psycopg.connect(cloud.runtime.owner_url)
        held: dict[str, httpx.Response] = {}

        def send_held() -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as other:
                held["answer"] = _post(other, holder, holder.events(5, time.time()))

        sender = threading.Thread(target=send_held)
        try:
            blocker.execute("SELECT 1 FROM robot_ingest_state WHERE robot_id = %s FOR UPDATE", (holder.robot_id,))
            sender.start()
            deadline = time.monotonic() + 30
            while True:  # until a bulk batch is refused: the held batch holds the bulk slot
                refused = _post(client, probe, probe.events(2, time.time()))
                if refused.status_code == 503 or time.monotonic() > deadline:
                    break
                assert refused.status_code == 200, refused.text
            assert refused.status_code == 503, refused.text

            # A safety event and alert-level telemetry go through the priority lane while bulk is full.
            fast = _post(client, safety, _safety(safety, time.time()), protocol.INGEST_PRIORITY_PATH)
            assert fast.status_code == 200, fast.text
            assert fast.headers[protocol.HEADER_LANE] == "priority"
            assert fast.json()["accepted"] == 1 and fast.json()["acked_through"] == 6
            hot = _post(client, alert, _alert(alert, time.time()), protocol.INGEST_PRIORITY_PATH)
            assert hot.status_code == 200 and hot.headers[protocol.HEADER_LANE] == "priority", hot.text
            assert hot.json()["accepted"] == 5

            # Routine data claiming the lane is demoted: it waits for the (held) bulk slot like any bulk batch.
            demoted_before = app.state.ingest.priority_demoted
            jumped = _post(client, routine, routine.events(3, time.time()), protocol.INGEST_PRIORITY_PATH)
            assert jumped.status_code == 503 and jumped.json()["type"].endswith("overloaded"), jumped.text
            assert app.state.ingest.priority_demoted == demoted_before + 1
            assert _seqs(cloud, routine.robot_id) == []  # nothing of it stored
        finally:
            blocker.rollback()  # the held batch completes
            blocker.close()
            sender.join(timeout=30)
        assert held["answer"].status_code == 200 and held["answer"].json()["accepted"] == 5, held["answer"].text

        # With the bulk slot free the demoted batch is stored -- in the bulk lane (the answer says so).
        routine.next_seq = 1
        again = _post(client, routine, routine.events(3, time.time()), protocol.INGEST_PRIORITY_PATH)
        assert again.status_code == 200 and again.headers[protocol.HEADER_LANE] == "bulk", again.text
        assert again.json()["accepted"] == 3
        # A large batch claiming the lane is demoted before it is read (its declared size).
        big = _post(client, routine, routine.events(settings.ingest_priority_max_events + 1, time.time()),
                    protocol.INGEST_PRIORITY_PATH)
        assert big.status_code == 200 and big.headers[protocol.HEADER_LANE] == "bulk", big.text

        # Exactly-once across the lanes (one sequence space): bulk 1-5, priority 6, bulk 7-11; the priority batch
        # sent again (a lost ack, re-signed) is a duplicate; nothing is lost or stored twice.
        later = _post(client, safety, safety.events(5, time.time()))
        assert later.status_code == 200 and later.json()["accepted"] == 5 and later.json()["acked_through"] == 11
        safety.next_seq = 6
        resent = _post(client, safety, _safety(safety, time.time()), protocol.INGEST_PRIORITY_PATH)
        assert resent.status_code == 200, resent.text
        assert resent.json()["accepted"] == 0 and resent.json()["duplicates"] == 1
        assert _seqs(cloud, safety.robot_id) == list(range(1, 12))
        assert _seqs(cloud, alert.robot_id) == list(range(1, 46))


def test_the_priority_claim_is_signed(cloud: Any) -> None:
    """The lane is named in the signed path: a batch signed for the bulk path but sent to the priority path (a
    relay upgrading it, say) does not verify."""
    robot = cloud.robot("prio-signed", site_id="site-priority")
    body = protocol.encode_batch(robot.robot_id, _safety(robot, time.time()))
    headers = protocol.sign_request(robot.seed, "POST", protocol.INGEST_PATH, robot.robot_id, body, time.time())
    r = cloud.http.post(protocol.INGEST_PRIORITY_PATH, content=body,
                        headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 401, r.text
    assert _seqs(cloud, robot.robot_id) == []


def test_the_bulk_lanes_pending_bound_never_refuses_an_alert(cloud: Any) -> None:
    """Round 20: beyond `ingest_max_pending` bulk batches being read or waiting, bulk is refused 503 before its body
    is read -- each lane has its own bound, so a safety event still goes through the priority lane."""
    from conftest import ServerThread, withhold_body

    from sigma_cloud.app.main import create_app

    settings = Settings(**{**cloud.settings.model_dump(), "ingest_max_pending": 1})
    slow_robot = cloud.robot("pend-slow", site_id="site-priority")
    bulk = cloud.robot("pend-bulk", site_id="site-priority")
    safety = cloud.robot("pend-safety", site_id="site-priority")
    port = free_port()
    with ServerThread(create_app(settings, cloud.runtime, run_maintenance=False), port), \
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        withheld = protocol.encode_batch(slow_robot.robot_id, slow_robot.events(5, time.time()))
        slow = withhold_body(port, slow_robot, withheld)  # one bulk batch pending (its body withheld)
        try:
            deadline = time.monotonic() + 30
            while True:
                refused = _post(client, bulk, bulk.events(2, time.time()))
                if refused.status_code == 503 or time.monotonic() > deadline:
                    break
                assert refused.status_code == 200, refused.text
            assert refused.status_code == 503 and refused.json()["type"].endswith("overloaded"), refused.text
            fast = _post(client, safety, _safety(safety, time.time()), protocol.INGEST_PRIORITY_PATH)
            assert fast.status_code == 200 and fast.headers[protocol.HEADER_LANE] == "priority", fast.text
            slow.sendall(withheld)
            assert slow.recv(65536).decode("latin-1").startswith("HTTP/1.1 200")
        finally:
            slow.close()
    assert _seqs(cloud, safety.robot_id) == [1]
