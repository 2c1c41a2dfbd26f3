"""Cross-process DDS round trip of a sigma_interfaces message vs. std_msgs/String (the baseline), same run.

    source scripts/env.sh && python bench/ros_roundtrip.py [--samples 1000]

Starts sigma_testing's echo node as a separate process in a private domain, publishes a message, waits for the
echo, repeats. The last line is the headline figure.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from std_msgs.msg import String

from sigma_interfaces.msg import SafetyFault, SafetyStatus
from sigma_testing import claim_domain
from sigma_testing.fixtures import Launcher
from sigma_testing.probe import RosProbe


def _roundtrips(probe: RosProbe, cls: type, make, samples: int) -> list[float]:
    short = cls.__name__
    got = threading.Event()
    probe.node.create_subscription(cls, f"out/{short}", lambda _m: got.set(), 10)
    pub = probe.publisher(cls, f"in/{short}")
    probe.wait_for_subscribers(pub)
    probe.wait_for_publishers(f"out/{short}")
    msg = make()
    for _ in range(50):  # warm-up, also completes discovery on the return path
        got.clear()
        pub.publish(msg)
        got.wait(1.0)
    out = []
    for _ in range(samples):
        got.clear()
        t0 = time.perf_counter()
        pub.publish(msg)
        if not got.wait(2.0):
            raise RuntimeError(f"{short}: echo lost")
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def _status() -> SafetyStatus:
    faults = [SafetyFault(code=100 + i, rule="thermal", source=f"joint_{i}", cause="winding 91.2 degC > 90 degC")
              for i in range(3)]
    return SafetyStatus(level=1, authority=1, speed_scale=0.5, torque_scale=0.8, active_faults=faults)


def _pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=1000)
    ns = ap.parse_args()
    with claim_domain() as domain:
        launcher = Launcher(domain, Path(tempfile.mkdtemp(prefix="bench-")))
        probe = RosProbe(domain, "bench_probe")
        try:
            echo = launcher("sigma_testing", "echo_node",
                            params={"types": ["std_msgs/msg/String", "sigma_interfaces/msg/SafetyStatus"]})
            echo.wait_for_output("echoing")
            base = _roundtrips(probe, String, lambda: String(data="x" * 64), ns.samples)
            custom = _roundtrips(probe, SafetyStatus, _status, ns.samples)
        finally:
            probe.close()
            launcher.stop_all()
    for name, xs in (("std_msgs/String (baseline)", base), ("sigma_interfaces/SafetyStatus", custom)):
        print(f"{name:32s} p50 {_pct(xs, 50):6.3f} ms  p99 {_pct(xs, 99):6.3f} ms  (n={len(xs)})")
    print(f"ros_roundtrip: SafetyStatus cross-process round trip p50 {_pct(custom, 50):.3f} ms, "
          f"p99 {_pct(custom, 99):.3f} ms; {_pct(custom, 50) / _pct(base, 50):.2f}x the std_msgs/String baseline")


if __name__ == "__main__":
    main()
