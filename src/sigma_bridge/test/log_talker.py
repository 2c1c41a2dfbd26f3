"""A real rclpy node that logs through rcl (so its records go to /rosout like every node's), for the log tests.

    python log_talker.py NAME NAMESPACE COUNT RATE GO_FILE [ERROR_EVERY]

Logs "hello" at 10 Hz until GO_FILE exists (the test creates it once it has seen a hello arrive: the node's
rosout writer is matched), then COUNT records "NAME i" at RATE per second: every ERROR_EVERY-th (default 10) is an
ERROR, every 7th a WARN, the rest INFO; prints "done in <seconds> s" and keeps spinning until stopped.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node


def main() -> None:
    name, namespace, count, rate, go_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    error_every = int(sys.argv[6]) if len(sys.argv) > 6 else 10
    rclpy.init()
    node = Node(name, namespace=namespace)
    log = node.get_logger()
    while not Path(go_file).exists():
        log.info("hello")
        time.sleep(0.1)
    start = time.monotonic()
    for i in range(count):
        text = f"{name} {i}"
        if i % error_every == 0:
            log.error(text)
        elif i % 7 == 0:
            log.warning(text)
        else:
            log.info(text)
        delay = start + (i + 1) / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print(f"done in {time.monotonic() - start:.3f} s", flush=True)
    with contextlib.suppress(KeyboardInterrupt, ExternalShutdownException):
        rclpy.spin(node)


if __name__ == "__main__":
    main()
