"""`sigma launch` against real nodes: namespaces, arguments, output prefixes, respawn, Ctrl-C, failure exit."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

from std_msgs.msg import String

from sigma_testing import executable

HERE = Path(__file__).parent / "launch"


def _sigma(launch, *words):
    return launch.command([executable("sigma_launch", "sigma"), "launch", *map(str, words)], label="sigma-launch")


def _pids(output: str) -> list[int]:
    return [int(p) for p in re.findall(r"started \(pid (\d+)\)", output)]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_nodes_come_up_namespaced_with_overrides_and_stop_on_ctrl_c(launch, ros_probe):
    r1 = ros_probe.subscribe(String, "/r1/chatter")
    r2 = ros_probe.subscribe(String, "/r2/chatter")
    proc = _sigma(launch, HERE / "pair.launch.yaml", "token:=howdy")
    r1.wait_for(lambda m: any(x.data == "howdy-r1" for x in m), timeout=20)
    r2.wait_for(lambda m: any(x.data == "howdy-r2" for x in m), timeout=20)
    out = proc.output()
    assert "[/r1/talker] " in out  # output: screen is prefixed by the node's name
    assert "talking 'howdy-r1'" in out
    assert "talking 'howdy-r2'" not in out  # output: log (the default) stays in the log file
    pids = _pids(out)
    assert len(pids) == 2

    proc.signal(signal.SIGINT)  # Ctrl-C
    proc.popen.wait(timeout=15)
    assert proc.returncode == 0, proc.output()
    deadline = time.monotonic() + 5
    while not all(_gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(p) for p in pids), "a node outlived sigma launch"


def test_respawn_restarts_a_node_that_exits(launch, ros_probe):
    r1 = ros_probe.subscribe(String, "/r1/chatter")
    proc = _sigma(launch, HERE / "pair.launch.yaml", "first_exit_after:=1.0")
    proc.wait_for_output("respawning (restart 2)", timeout=30)
    r1.clear()
    r1.wait_for_count(5, timeout=15)  # the respawned talker publishes again
    assert len(_pids(proc.output())) >= 4  # r2 once, r1 at least three times


def test_required_node_dying_stops_everything_with_non_zero_exit(launch):
    proc = _sigma(launch, HERE / "dies.launch.yaml")
    proc.popen.wait(timeout=30)
    assert proc.returncode == 1, proc.output()
    assert "doomed exited (3)" in proc.output()
    assert all(_gone(p) for p in _pids(proc.output()))


def test_missing_argument_and_bad_file_give_clear_errors(launch, tmp_path):
    bad = tmp_path / "bad.launch.yaml"
    bad.write_text("launch:\n- arg: {name: robot_id}\n- timer: {period: 1}\n")
    proc = _sigma(launch, bad)
    proc.popen.wait(timeout=15)
    assert proc.returncode == 2
    assert f"{bad}:2: argument 'robot_id' is required" in proc.output()
    proc = _sigma(launch, bad, "robot_id:=r1")
    proc.popen.wait(timeout=15)
    assert proc.returncode == 2 and f"{bad}:3: tag <timer> is not supported" in proc.output()


def test_show_args_lists_declared_arguments(launch):
    proc = _sigma(launch, "--show-args", HERE / "pair.launch.yaml")
    proc.popen.wait(timeout=15)
    assert proc.returncode == 0
    assert "'token':" in proc.output() and "what the talkers say" in proc.output() and "'hello'" in proc.output()
