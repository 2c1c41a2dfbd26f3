"""Log shipping end to end with real processes (docs/logs.md): rclpy nodes logging through rcl -> /rosout ->
bridge_node -> sigma_cloud (its `serve` process, embedded PostgreSQL).

- Every record of the robot's nodes arrives exactly once, in order, with its severity, node, file/function/line;
  another robot's nodes on the same graph are not shipped.
- A dead cloud: the bridge's bounded buffer fills and drops INFO/WARN (counted, and the count reaches the cloud),
  never an ERROR; after the cloud is back every ERROR record is stored once, in order.
- A node logging in a loop is rate-limited at the robot and does not starve another node's records.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import httpx
import pytest
from cloud_harness import Cloud, cloud_in_tempdir, wait_until
from diagnostic_msgs.msg import DiagnosticArray

from sigma_bridge.keys import load_or_create_signing_key, public_key_b64
from sigma_description import humanoid_urdf
from sigma_ros_common import qos

TALKER = str(Path(__file__).with_name("log_talker.py"))


@pytest.fixture
def cloud(launch):
    with cloud_in_tempdir(launch, "sigma-bridge-logs-") as c:
        yield c


def start_bridge(launch, tmp_path: Path, cloud: Cloud, **logs: object):
    key = load_or_create_signing_key(tmp_path / "var" / "robot.key")
    cloud.register("r1", public_key_b64(key))
    params = {"cloud_url": cloud.url, "foxglove_enabled": False, "urdf_path": str(humanoid_urdf()),
              "key_file": str(tmp_path / "var" / "robot.key"), "store_path": str(tmp_path / "var" / "uplink.db"),
              "recordings_dir": str(tmp_path / "var" / "recordings"), "downlink_wait_s": 2.0,
              "model_check_period_s": 0.0, "logs.batch_period_s": 0.2, **{f"logs.{k}": v for k, v in logs.items()}}
    proc = launch("sigma_bridge", "bridge_node", namespace="/r1", params=params, name="sigma_bridge")
    proc.wait_for_output("sigma_bridge ready", timeout=30)
    return proc


def talker(launch, name: str, namespace: str, count: int, rate: float, go: Path, error_every: int = 10):
    return launch.command([sys.executable, TALKER, name, namespace, str(count), str(rate), str(go), str(error_every)],
                          label=f"talker-{name}")


def records(cloud: Cloud, node: str, prefix: str = "") -> list[tuple]:
    """(stream, seq, severity, message, file, function, line) of `node`, oldest first by stream and seq."""
    return cloud.query("SELECT stream, seq, severity, message, file, function, line FROM robot_logs "
                       "WHERE robot_id = 'r1' AND node = %s AND message LIKE %s ORDER BY stream, seq",
                       node, prefix + "%")


def expected_severity(i: int, error_every: int = 10) -> int:
    return 40 if i % error_every == 0 else 30 if i % 7 == 0 else 20


def go_when_heard(cloud: Cloud, nodes: list[str], go: Path) -> None:
    """Each talker logs hello until its hello is in the database (its rosout writer is matched), then goes."""
    for node in nodes:
        wait_until(lambda n=node: records(cloud, n, "hello"), 60, f"a hello of {node} in the cloud")
    go.touch()


def test_records_arrive_exactly_once_in_order_with_severity_and_node(launch, cloud, tmp_path):
    cloud.start()
    start_bridge(launch, tmp_path, cloud, node_rate=0.0)
    go = tmp_path / "go"
    talkers = [talker(launch, n, ns, 200, 200.0, go) for n, ns in (("la", "/r1"), ("lb", "/r1"), ("lx", "/r2"))]
    go_when_heard(cloud, ["r1.la", "r1.lb"], go)
    for t in talkers:
        t.wait_for_output("done", timeout=60)
    for node, name in (("r1.la", "la"), ("r1.lb", "lb")):
        got = wait_until(lambda n=node, m=name: len(rows := records(cloud, n, m + " ")) >= 200 and rows, 60,
                         f"200 records of {node}")
        assert [int(r[3].split()[1]) for r in got] == list(range(200)), "out of order, lost or duplicated"
        assert [r[2] for r in got] == [expected_severity(i) for i in range(200)]
        assert len({r[0] for r in got}) == 1 and len({r[1] for r in got}) == 200
        assert {(Path(r[4]).name, r[5]) for r in got} == {("log_talker.py", "main")} and all(r[6] > 0 for r in got)
    dups = cloud.query("SELECT stream, seq FROM robot_logs GROUP BY robot_id, stream, seq HAVING count(*) > 1")
    assert dups == []
    assert cloud.query("SELECT count(*) FROM robot_logs WHERE node LIKE 'r2.%%' OR robot_id <> 'r1'") == [(0,)]
    r = httpx.get(f"{cloud.url}/v1/robots/r1/logs", params={"node": "r1.la", "min_severity": "error",
                                                            "since": time.time() - 600},
                  headers=cloud.headers())
    assert r.status_code == 200, r.text
    assert [i["message"] for i in r.json()["items"]] == [f"la {i}" for i in range(0, 200, 10)]
    assert all(i["severity"] == "error" and i["node"] == "r1.la" for i in r.json()["items"])


def diag_value(diags, key: str) -> int:
    for arr in reversed(diags.messages):
        for status in arr.status:
            for kv in status.values:
                if kv.key == key:
                    return int(kv.value)
    return 0


def test_a_dead_cloud_loses_no_error_and_counts_what_it_dropped(launch, ros_probe, cloud, tmp_path):
    capacity, count = 300, 1500
    cloud.start()
    start_bridge(launch, tmp_path, cloud, node_rate=0.0, capacity=capacity)
    diags = ros_probe.subscribe(DiagnosticArray, "/r1/diagnostics", qos.RELIABLE_10)
    go = tmp_path / "go"
    t = talker(launch, "ld", "/r1", count, 300.0, go)
    wait_until(lambda: records(cloud, "r1.ld", "hello"), 60, "a hello of r1.ld in the cloud")
    cloud.stop()  # the cloud dies; the robot keeps logging
    go.touch()
    t.wait_for_output("done", timeout=60)
    wait_until(lambda: diag_value(diags, "logs.held") >= capacity and diag_value(diags, "logs.dropped.buffer.info"),
               60, "the bridge's log buffer full and dropping INFO")
    assert diag_value(diags, "logs.dropped.buffer.error") == 0
    cloud.start()
    errors = [i for i in range(count) if i % 10 == 0]
    got = wait_until(lambda: len(rows := [r for r in records(cloud, "r1.ld", "ld ") if r[2] == 40]) >= len(errors)
                     and rows, 90, "every ERROR record in the cloud after it came back")
    assert [int(r[3].split()[1]) for r in got] == errors  # each once, in order
    stored = records(cloud, "r1.ld", "ld ")
    indices = [int(r[3].split()[1]) for r in stored]
    assert indices == sorted(set(indices)), "a record stored twice or out of order"
    lost_info = sum(1 for i in range(count) if i % 10 and i % 7) - sum(1 for r in stored if r[2] == 20)
    assert lost_info > 0  # the buffer did overflow
    (dropped,) = wait_until(lambda: [r for r in cloud.query("SELECT dropped FROM robot_log_streams WHERE "
                                                            "robot_id = 'r1'") if r[0].get("buffer")], 30,
                            "the drop counters in the cloud")
    buffer = dropped[0]["buffer"]
    assert buffer.get("error", 0) == 0 and buffer.get("fatal", 0) == 0
    assert buffer.get("info", 0) >= lost_info  # every lost record counted (hellos and the bridge's own may add)


def test_a_node_logging_in_a_loop_is_rate_limited_and_does_not_starve_others(launch, cloud, tmp_path):
    cloud.start()
    start_bridge(launch, tmp_path, cloud, node_rate=20.0, node_burst=50.0, error_rate=10.0, error_burst=50.0)
    go = tmp_path / "go"
    spam = talker(launch, "spam", "/r1", 2000, 500.0, go, error_every=1_000_000)
    quiet = talker(launch, "quiet", "/r1", 40, 10.0, go, error_every=1)
    go_when_heard(cloud, ["r1.spam", "r1.quiet"], go)
    spam.wait_for_output("done", timeout=60)
    quiet.wait_for_output("done", timeout=60)
    got = wait_until(lambda: len(rows := records(cloud, "r1.quiet", "quiet ")) >= 40 and rows, 60,
                     "every record of the quiet node")
    assert [int(r[3].split()[1]) for r in got] == list(range(40))
    spent = float(re.search(r"done in ([0-9.]+) s", spam.output()).group(1))
    dropped = wait_until(lambda: [r[0]["rate"] for r in cloud.query("SELECT dropped FROM robot_log_streams WHERE "
                                                                     "robot_id = 'r1'") if r[0].get("rate")],
                         30, "the rate-limit drops counted in the cloud")[0]
    spam_stored = len(records(cloud, "r1.spam", "spam "))
    # at most the burst (50) + 20/s while it logged (+ 2 s for pacing), and every other record counted as dropped
    assert 50 <= spam_stored <= 50 + 20 * (spent + 2.0), (spam_stored, spent)
    # the rest was refused at the robot and counted (a loaded host's DDS may lose some of a 500/s burst before the
    # bridge reads them: rcl's /rosout writer keeps the last 1000)
    assert dropped.get("info", 0) + dropped.get("warn", 0) > 1000, dropped
    assert dropped.get("error", 0) == 0  # the quiet node's errors used their own allowance
