"""Backlog drain after a cloud outage: the simulated robot keeps streaming through the bridge while the cloud
is down for OUTAGE_S (60 s by default); then the cloud comes back and the backlog drains at the bridge's bounded
backlog rate while live data keeps flowing.

Run: source scripts/env.sh && python bench/bridge_backlog.py
Headline (last line): backlog drain rate [events/s] and its ratio to the configured cap (backlog_rate).
"""

from __future__ import annotations

import os
import time

from bridge_common import Cloud, Session, sent, store_counters, wait_until

from sigma_bridge.keys import load_or_create_signing_key, public_key_b64

OUTAGE_S = float(os.environ.get("SIGMA_BENCH_OUTAGE_S", "60"))
BACKLOG_RATE = float(os.environ.get("SIGMA_BENCH_BACKLOG_RATE", "2000"))
RATES = {"rates.joint_states": 100.0, "rates.imu": 100.0, "rates.odom": 50.0, "rates.actuator_health": 0.0,
         "rates.battery": 0.0}


def main() -> None:
    with Session() as s:
        cloud = Cloud(s.launch, s.tmp / "cloud")
        try:
            cloud.start()
            cloud.register("r1", public_key_b64(load_or_create_signing_key(s.tmp / "var" / "robot.key")))
            db = s.tmp / "var" / "uplink.db"
            s.launch("sigma_sim", "sim_node", params={"robots": ["r1"]})
            s.bridge(cloud.url, backlog_rate=BACKLOG_RATE, **RATES)
            wait_until(lambda: sum(n for n, _ in cloud.telemetry_counts("r1").values()) > 100, 60, "streaming")
            cloud.stop()
            t_down = time.monotonic()
            time.sleep(OUTAGE_S)
            backlog = store_counters(db)["pending"]["all"]
            enq0 = sum(store_counters(db)["enqueued"].values())
            cloud.start()
            t_up = time.monotonic()
            print(f"outage {t_up - t_down:.0f} s: backlog {backlog} events")
            wait_until(lambda: store_counters(db)["pending"]["all"] < 300, 600, "backlog drained", period=0.05)
            t_done = time.monotonic()
            st = store_counters(db)
            live = sum(st["enqueued"].values()) - enq0
            drain_s = t_done - t_up
            rate = (backlog + live) / drain_s
            backlog_rate = backlog / drain_s
            exact = {ch: n for ch, n in sent(st).items()}
            print(f"drained in {drain_s:.1f} s; {live} live events arrived meanwhile ({live / drain_s:.0f}/s); "
                  f"total sent {rate:.0f} events/s")
            print(f"per channel sent so far: {exact}")
            print(f"backlog drain rate {backlog_rate:.0f} events/s = {backlog_rate / BACKLOG_RATE:.2f}x the configured "
                  f"cap {BACKLOG_RATE:.0f}/s (outage {OUTAGE_S:.0f} s, backlog {backlog})")
        finally:
            cloud.close()


if __name__ == "__main__":
    main()
