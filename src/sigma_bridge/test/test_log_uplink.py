"""The log uplink's answer handling, step by step (no threads, no ROS graph): acknowledged batches leave the buffer,
413 halves the batch, 400 drops the batch (counted), network errors keep everything, drop counters travel alone
when there is nothing else to send. The cloud here is a scripted sequence of HTTP answers (a stand-in named as
such); the real cloud is exercised in test_e2e_logs.py."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import orjson
from builtin_interfaces.msg import Time
from rcl_interfaces.msg import Log

from sigma_bridge.log_uplink import LogShipping, LogUplink


@dataclass
class Answer:
    status_code: int
    content: bytes = b""

    @property
    def text(self) -> str:
        return self.content.decode()


class ScriptedCloud:
    """Answers each request with the next scripted answer (an exception is raised); records the bodies sent."""

    def __init__(self, *answers: Answer | Exception) -> None:
        self.answers = list(answers)
        self.bodies: list[dict] = []

    def request(self, method: str, path: str, body: bytes, now: float) -> Answer:
        assert (method, path) == ("POST", "/v1/devices/r1/logs")
        data = orjson.loads(body)
        self.bodies.append(data)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if answer.status_code == 200 and not answer.content:
            seqs = [r["seq"] for r in data["records"]]
            answer.content = orjson.dumps({"robot_id": "r1", "stream": data["stream"], "accepted": len(seqs),
                                           "duplicates": 0, "acked_through": max(seqs, default=0)})
        return answer


def uplink(cloud: ScriptedCloud, **params: object) -> LogUplink:
    up = LogUplink(cloud, "r1", LogShipping(**{"node_rate": 0.0, "batch_max_records": 4, **params}), stream=9)
    up.stop_event.set()  # backoff waits return at once
    return up


def log(up: LogUplink, n: int, level: int = 20) -> None:
    for i in range(n):
        up.on_log(Log(stamp=Time(sec=1_800_000_000, nanosec=i), level=level, name="r1.node", msg=f"m{i}",
                      file="f.py", function="f", line=1))


def test_acked_batches_leave_the_buffer_in_order() -> None:
    cloud = ScriptedCloud(Answer(200), Answer(200))
    up = uplink(cloud)
    log(up, 6)
    assert up.step(0.0) is True  # a full batch: another may follow at once
    assert up.step(0.0) is False
    assert [[r["seq"] for r in b["records"]] for b in cloud.bodies] == [[1, 2, 3, 4], [5, 6]]
    assert len(up.buffer) == 0 and up.counts["shipped"] == 6 and up.connected
    assert up.step(0.0) is False and len(cloud.bodies) == 2  # nothing to send: no request


def test_a_network_error_keeps_everything_and_the_retry_sends_the_same_records() -> None:
    cloud = ScriptedCloud(httpx.ConnectError("refused"), Answer(503), Answer(200))
    up = uplink(cloud)
    log(up, 3)
    assert up.step(0.0) is False and up.step(0.0) is False
    assert not up.connected and len(up.buffer) == 3 and up.counts["failures"] == 2
    up.step(0.0)
    assert [b["records"] for b in cloud.bodies[:2]] == [cloud.bodies[2]["records"]] * 2 and len(up.buffer) == 0


def test_too_large_halves_the_batch_and_unreadable_is_dropped_and_counted() -> None:
    cloud = ScriptedCloud(Answer(413), Answer(200), Answer(400, b'{"detail": "bad"}'), Answer(200))
    up = uplink(cloud)
    log(up, 4)
    assert up.step(0.0) is True and up.max_records == 2
    up.step(0.0)
    assert [r["seq"] for r in cloud.bodies[1]["records"]] == [1, 2]
    up.step(0.0)  # 400: the cloud can never read it; dropped, counted
    assert len(up.buffer) == 0 and up.buffer.dropped["buffer"]["info"] == 2
    up.step(0.0)  # the counters go up on their own
    assert cloud.bodies[3] == {"robot_id": "r1", "stream": 9, "records": [], "dropped": {"buffer": {"info": 2}}}
    assert up.step(0.0) is False and len(cloud.bodies) == 4  # unchanged counters are not sent again


def test_below_min_severity_and_other_robots_are_not_buffered() -> None:
    up = uplink(ScriptedCloud(), min_severity="warn")
    log(up, 5, level=20)
    up.on_log(Log(stamp=Time(sec=1), level=40, name="r2.node", msg="not ours"))
    log(up, 2, level=40)
    assert len(up.buffer) == 2 and up.counts["received"] == 2
