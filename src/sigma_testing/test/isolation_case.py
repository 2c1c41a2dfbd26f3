"""One half of the parallel isolation test (run by test_isolation.py in two concurrent pytest processes).

Starts a talker with this process's own token in a private domain, meets the other process at a barrier so
both talk at the same time, then listens for a while and fails if any foreign token arrives.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from std_msgs.msg import String


def test_hears_only_its_own_talker(launch, ros_probe):
    token = os.environ["CASE_TOKEN"]
    barrier = Path(os.environ["CASE_BARRIER"])
    heard = ros_probe.subscribe(String, "chatter")
    launch("sigma_testing", "talker", params={"token": token, "rate": 50.0})
    heard.wait_for(lambda msgs: any(m.data == token for m in msgs), timeout=15.0)
    (barrier / f"{token}.ready").touch()
    deadline = time.monotonic() + 30.0
    while len(list(barrier.glob("*.ready"))) < 2:
        assert time.monotonic() < deadline, "the other test never became ready"
        time.sleep(0.05)
    heard.clear()
    # Listen for a fixed window while both talkers publish (a measurement window, not a readiness wait). The control
    # (both forced into one domain) stops as soon as it hears the other talker: discovery across the two processes
    # can take longer than the window on a loaded host (a clean-clone CI run's control once heard nothing in 3 s),
    # and hearing it is all the control has to show. The isolated pair listens the whole window.
    control = bool(os.environ.get("SIGMA_TEST_FORCE_DOMAIN"))
    window_end = time.monotonic() + 5.0
    heard.wait_for(lambda msgs: (len(msgs) >= 100 and time.monotonic() >= window_end)
                   or (control and any(m.data != token for m in msgs)), timeout=20.0)
    (barrier / f"{token}.done").touch()
    while len(list(barrier.glob("*.done"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    tokens = {m.data for m in heard.messages}
    assert tokens == {token}, f"heard foreign tokens: {sorted(tokens - {token})}"
