"""What the cloud's log-store handler costs the thread that logs, and how fast its writer stores (docs/logs.md).

Embedded PostgreSQL (fsync on), migrations applied; no HTTP. A logger with the JSON stderr handler the cloud always
has (here writing to /dev/null) is the baseline; the same logger with the store handler added
(`sigma_cloud.core.service_log`, writer thread storing into `service_logs`) is measured in the same run, round by
round (rounds alternate so the host's load hits both alike). Each round logs `--records` access-like records (with a
robot id, a trace context and extra fields) below the queue's capacity, then waits until the writer has stored them.

Last line: emit cost per record with and without the store handler and the ratio; records/s stored; drops; load.

    python bench/service_log_emit.py [--records 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sigma_protocol as protocol
from sigma_cloud.core import service_log
from sigma_cloud.core.bootstrap import prepare
from sigma_cloud.core.config import Settings
from sigma_cloud.core.embedded import EmbeddedPostgres
from sigma_cloud.core.observability import JsonFormatter, request_trace_var, robot_id_var


def emit_round(log: logging.Logger, n: int) -> float:
    """Seconds per record for `n` access-like records logged under a request's robot and trace context."""
    trace = protocol.new_traceparent()
    tokens = robot_id_var.set("r1"), request_trace_var.set((trace.trace_id, trace.span_id))
    try:
        start = time.perf_counter()
        for i in range(n):
            log.info("request", extra={"method": "POST", "path": "/v1/ingest/batches", "status": 503,
                                       "duration_ms": 1.0 + i % 7})
        return (time.perf_counter() - start) / n
    finally:
        robot_id_var.reset(tokens[0])
        request_trace_var.reset(tokens[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=5000, help="records per round (below the queue's 10,000)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sigma-bench-slog-"))
    tmp.chmod(0o755)
    pg = EmbeddedPostgres(tmp / "pg", settings={"fsync": "on", "synchronous_commit": "on"})
    pg.start()
    devnull = open(os.devnull, "w")  # noqa: SIM115 - closed below
    try:
        runtime = prepare(Settings(environment="development", data_dir=tmp, maintenance_interval_s=3600), pg)
        log = logging.getLogger("sigma_cloud.bench")
        log.propagate = False
        log.setLevel(logging.INFO)
        json_out = logging.StreamHandler(devnull)
        json_out.setFormatter(JsonFormatter())
        log.addHandler(json_out)
        handler = service_log.StoreHandler("bench", instance="bench:1")
        ship = service_log.Shipper(handler)
        ship.start(runtime.api_url)
        base, store, rates = [], [], []
        for _ in range(args.rounds):
            base.append(emit_round(log, args.records))
            log.addHandler(handler)
            written = ship.written
            start = time.perf_counter()
            store.append(emit_round(log, args.records))
            log.removeHandler(handler)
            if not ship.flush(120):
                raise SystemExit("the writer did not empty the queue within 120 s")
            while ship.written - written < args.records and time.perf_counter() - start < 120:
                time.sleep(0.01)  # the last batch in flight
            rates.append(args.records / (time.perf_counter() - start))
        ship.stop()
        load = os.getloadavg()[0]
        b, s = statistics.median(base) * 1e6, statistics.median(store) * 1e6
        print(f"rounds: JSON only {[round(x * 1e6, 1) for x in base]} µs, with store "
              f"{[round(x * 1e6, 1) for x in store]} µs, stored/s {[round(r) for r in rates]}")
        print(f"service_log_emit: {s:.1f} µs/record with the store handler vs {b:.1f} µs JSON to /dev/null only "
              f"({s / b:.2f}x, median of {args.rounds} rounds of {args.records}); stored "
              f"{statistics.median(rates):.0f} records/s end to end (writer cap {ship.max_rate:.0f}/s), "
              f"dropped {handler.dropped_total}; load average {load:.1f}")
    finally:
        devnull.close()
        pg.stop("fast")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
