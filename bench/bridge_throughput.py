"""Bridge throughput: events/s one bridge process sustains end to end (ROS topic -> durable store -> signed
HTTP batches -> cloud PostgreSQL), and the bridge's CPU per robot with the simulated humanoid's real topics.

Run: source scripts/env.sh && python bench/bridge_throughput.py
Phase 1 (per-robot load): sim_node (default rates) -> bridge (default config/sigma_bridge/bridge.yaml) -> cloud,
  CPU of the bridge process over PHASE_S seconds.
Phase 2 (saturation): an in-bench publisher offers OFFERED joint_states/s (every message uplinked, rate 0);
  events/s that reach the cloud database, measured from the database.
Headline (last line): sustained events/s and its ratio to one robot's uplink load at the default rates.
"""

from __future__ import annotations

import os
import threading
import time

from bridge_common import Cloud, Session, cpu_seconds, store_counters, wait_until
from sensor_msgs.msg import JointState

from sigma_bridge.keys import load_or_create_signing_key, public_key_b64
from sigma_ros_common import qos
from sigma_testing.probe import RosProbe

PHASE_S = float(os.environ.get("SIGMA_BENCH_PHASE_S", "15"))
OFFERED = float(os.environ.get("SIGMA_BENCH_OFFERED", "4000"))  # msg/s offered in phase 2 (above what one bridge takes)
JOINTS = [f"{side}_{j}" for side in ("left", "right") for j in
          ("hip_yaw", "hip_roll", "hip_pitch", "knee", "ankle_pitch", "ankle_roll", "shoulder_pitch",
           "shoulder_roll", "shoulder_yaw", "elbow")] + ["waist_yaw", "neck_yaw", "neck_pitch"]


def db_total(cloud: Cloud) -> int:
    return sum(n for n, _ in cloud.telemetry_counts("r1").values())


def uplink_path(cloud: Cloud, s: Session, n: int = 20000) -> float:
    """Events/s through the bridge's own store and uplink classes into the cloud (the backlog-drain path)."""
    import orjson

    from sigma_bridge import mapping
    from sigma_bridge.store import EventStore, NewEvent
    from sigma_bridge.uplink import UplinkClient

    key = load_or_create_signing_key(s.tmp / "var" / "robot.key")
    store = EventStore(s.tmp / "uplink-path.db", capacity=10**7, backlog_rate=1e9)
    payload = orjson.dumps(mapping.joint_states(
        JointState(name=JOINTS, position=[0.1] * 23, velocity=[0.0] * 23, effort=[1.0] * 23)))
    now = time.time()
    for _ in range(0, n, 1000):
        store.put_many([NewEvent("joint_states", now, payload) for _ in range(1000)], now)
    client = UplinkClient(cloud.url, "r1", key)
    t0 = time.monotonic()
    while len(store):
        batch = store.take_batch(time.time(), 2000)
        out = client.send_batch(batch, time.time())
        if out.kind != "acked":
            raise RuntimeError(f"uplink path: {out.detail}")
        store.ack_through(out.acked_through)
    elapsed = time.monotonic() - t0
    client.close()
    store.close()
    return n / elapsed


def main() -> None:
    with Session() as s:
        cloud = Cloud(s.launch, s.tmp / "cloud")
        try:
            cloud.start()
            cloud.register("r1", public_key_b64(load_or_create_signing_key(s.tmp / "var" / "robot.key")))
            db = s.tmp / "var" / "uplink.db"

            # Phase 1: one simulated robot at its real rates, bridge at its default downsampling.
            sim = s.launch("sigma_sim", "sim_node", params={"robots": ["r1"]})
            bridge = s.bridge(cloud.url)
            wait_until(lambda: db_total(cloud) > 0, 60, "first events in the cloud")
            c0, n0, t0 = cpu_seconds(bridge.pid), db_total(cloud), time.monotonic()
            time.sleep(PHASE_S)
            c1, n1, t1 = cpu_seconds(bridge.pid), db_total(cloud), time.monotonic()
            load = (n1 - n0) / (t1 - t0)
            cpu_robot = 100.0 * (c1 - c0) / (t1 - t0)
            print(f"per-robot load: {load:.0f} events/s uplinked, bridge CPU {cpu_robot:.1f}% of one core")
            sim.stop()
            bridge.stop()

            # Phase 2: saturate with every joint_states message uplinked.
            bridge = s.bridge(cloud.url, **{"rates.joint_states": 0.0, "handoff_capacity": 200000})
            probe = RosProbe(s.domain, "bench_flood")
            pub = probe.publisher(JointState, "/r1/joint_states", qos.SENSOR)
            probe.wait_for_subscribers(pub)
            stop = threading.Event()
            published = [0]

            def flood() -> None:
                msg = JointState(name=JOINTS, position=[0.1] * 23, velocity=[0.0] * 23, effort=[1.0] * 23)
                start = time.monotonic()
                while not stop.is_set():
                    msg.header.stamp.sec = int(time.time())
                    pub.publish(msg)
                    published[0] += 1
                    ahead = published[0] / OFFERED - (time.monotonic() - start)
                    if ahead > 0.005:  # paced, so the publisher does not eat the bridge's core
                        time.sleep(ahead)

            th = threading.Thread(target=flood, daemon=True)
            th.start()
            wait_until(lambda: db_total(cloud) > n1 + 1000, 60, "flood reaching the cloud")
            c0, n0, t0 = cpu_seconds(bridge.pid), db_total(cloud), time.monotonic()
            p0 = published[0]
            time.sleep(PHASE_S)
            c1, n1b, t1 = cpu_seconds(bridge.pid), db_total(cloud), time.monotonic()
            p1 = published[0]
            stop.set()
            th.join()
            rate = (n1b - n0) / (t1 - t0)
            cpu_sat = 100.0 * (c1 - c0) / (t1 - t0)
            st = store_counters(db)
            print(f"saturation: published {(p1 - p0) / (t1 - t0):.0f} msg/s, durable in cloud {rate:.0f} events/s, "
                  f"bridge CPU {cpu_sat:.0f}%, dropped {sum(st.get('dropped', {}).values())}, "
                  f"store backlog {st['pending']['all']}")
            probe.close()
            bridge.stop()
            uplink = uplink_path(cloud, s)
            print(f"uplink path (store -> signed batches -> cloud, no ROS intake): {uplink:.0f} events/s durable")
            print(f"machine: {os.cpu_count()} cores (shared); cloud + PostgreSQL + publisher on the same host")
            print(f"bridge sustains {rate:.0f} events/s end to end from ROS (intake-bound) = "
                  f"{rate / max(load, 1e-9):.1f}x one robot's uplink load "
                  f"({load:.0f} events/s at {cpu_robot:.1f}% CPU); "
                  f"uplink path {uplink:.0f} events/s")
        finally:
            cloud.close()


if __name__ == "__main__":
    main()
