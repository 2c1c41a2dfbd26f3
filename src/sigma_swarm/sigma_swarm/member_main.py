"""``swarm_member``: one swarm member as a plain process (no ROS graph), over Cyclone DDS.

Prints one ``SWARM {json}`` line per change of role, term, leader, live members or roster version (with wall time),
and ``COMMAND {json}`` per accepted fenced leader command. With ``--test-hooks`` it reads lines on stdin:
``block ID...`` (drop frames from these senders: a partition), ``heal``, ``counters`` (prints ``COUNTERS {json}``),
``command KIND PAYLOAD`` (broadcast a leader command if leading). Used by the multi-process tests and the bench.
"""

from __future__ import annotations

import argparse
import json
import queue
import signal
import sys
import threading
import time
from pathlib import Path

import yaml

from sigma_swarm.core import LeaderCommand, SwarmStatus, build_params
from sigma_swarm.runtime import RuntimeConfig, SwarmRuntime, load_signing_key


def _print(tag: str, data: dict) -> None:
    sys.stdout.write(f"{tag} {json.dumps(data, separators=(',', ':'))}\n")
    sys.stdout.flush()


def _status_json(status: SwarmStatus) -> dict:
    return {"t": time.time(), "id": status.robot_id, "role": status.role.value, "term": status.term,
            "leader": status.leader, "members": list(status.members), "roster_version": status.roster_version}


def _stdin_lines(out: queue.Queue[str]) -> None:
    for line in sys.stdin:
        out.put(line.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", required=True)
    parser.add_argument("--robot-id", required=True)
    parser.add_argument("--key-file", type=Path, required=True, help="base64 Ed25519 seed (the bridge's robot.key)")
    parser.add_argument("--roster", type=Path, required=True, help="signed roster document (JSON)")
    parser.add_argument("--cloud-key", required=True, help="base64 Ed25519 public key the cloud signs rosters with")
    parser.add_argument("--domain", type=int, required=True, help="Cyclone DDS domain id of the site's mesh")
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--params", type=Path, help="YAML with election parameters (config/swarm.yaml)")
    parser.add_argument("--localhost-only", action="store_true")
    parser.add_argument("--roster-poll", type=float, default=1.0)
    parser.add_argument("--test-hooks", action="store_true")
    parser.add_argument("--signed-broadcasts", action="store_true",
                        help="sign heartbeats instead of tagging them per peer (a site with members older than "
                             "round 20)")
    parser.add_argument("--standby", action="store_true",
                        help="bench hook: load the code, print STANDBY, then wait for a line 'go ROBOT_ID' on stdin "
                             "before reading the key, state and roster ('{robot_id}' in --robot-id, --key-file and "
                             "--state-file is replaced by it): a restart without the interpreter's start-up time")
    args = parser.parse_args(argv)
    if args.standby:
        _print("STANDBY", {})
        words = sys.stdin.readline().split()
        if len(words) != 2 or words[0] != "go":
            return 0  # the bench did not need this standby
        robot_id = words[1]
        args.robot_id = args.robot_id.replace("{robot_id}", robot_id)
        args.key_file = Path(str(args.key_file).replace("{robot_id}", robot_id))
        args.state_file = Path(str(args.state_file).replace("{robot_id}", robot_id))

    values = {}
    if args.params:
        document = yaml.safe_load(args.params.read_text()) or {}
        values = document.get("/**", {}).get("ros__parameters", document).get("election", {})
    config = RuntimeConfig(args.site, args.robot_id, args.domain, args.roster, args.cloud_key, args.state_file,
                           build_params(values), args.localhost_only, args.roster_poll,
                           broadcast_tags=not args.signed_broadcasts)

    def on_command(cmd: LeaderCommand) -> None:
        _print("COMMAND", {"t": time.time(), "sender": cmd.sender, "term": cmd.term, "seq": cmd.seq,
                           "kind": cmd.kind, "payload": cmd.payload.decode(errors="replace")})

    runtime = SwarmRuntime(config, load_signing_key(args.key_file),
                           on_status=lambda s: _print("SWARM", _status_json(s)), on_command=on_command)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    hooks: queue.Queue[str] = queue.Queue()
    if args.test_hooks:
        threading.Thread(target=_stdin_lines, args=(hooks,), daemon=True).start()
    _print("READY", {"id": args.robot_id, "boot": runtime.store.boot})
    try:
        while not stop.is_set():
            runtime.step(0.2)
            while not hooks.empty():
                words = hooks.get().split()
                if not words:
                    continue
                if words[0] == "block":
                    runtime.transport.block(words[1:])
                elif words[0] == "heal":
                    runtime.transport.block(())
                elif words[0] == "counters":
                    _print("COUNTERS", runtime.counters())
                elif words[0] == "command" and len(words) == 3:
                    sent = runtime.leader_command(words[1], words[2].encode())
                    _print("COMMAND_SENT" if sent else "NOT_LEADER", {"term": sent.term if sent else -1})
    finally:
        runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
