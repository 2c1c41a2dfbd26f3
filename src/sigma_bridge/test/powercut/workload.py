"""The bridge store's write pattern, run in a child process on the `powercut` VFS until power is cut.

argv: library db_path synchronous cut_at seed mode rounds. Prints, flushed, after each call returns:
`ENQ first last` (events first..last-1 durably enqueued: put_many returned) and `ACK id,id,...` (ack_through
returned: those events left the store). stdout is a pipe, outside the file system, so these lines survive the cut.
Exits 99 at the cut (from inside the VFS), or 0 after `rounds` rounds printing `OPS n`.
"""

from __future__ import annotations

import ctypes
import random
import sys


def main() -> int:
    library, db_path, synchronous, cut_at, seed, mode, rounds = sys.argv[1:8]
    lib = ctypes.CDLL(library, mode=ctypes.RTLD_GLOBAL)
    lib.powercut_ops.restype = ctypes.c_longlong
    if lib.powercut_register(ctypes.c_longlong(int(cut_at)), ctypes.c_uint(int(seed)), int(mode)) != 0:
        raise SystemExit("powercut VFS registration failed")
    from sigma_bridge.store import PRIORITY_ROUTINE, PRIORITY_SAFETY, EventStore, NewEvent

    rng = random.Random(int(seed))
    store = EventStore(db_path, capacity=1_000_000, synchronous=synchronous, backlog_rate=1e6)
    next_id, now = 0, 1_000.0
    for _ in range(int(rounds)):
        now += 0.01
        n = rng.randint(1, 12)
        events = [NewEvent("safety_event" if rng.random() < 0.1 else "joint_states", now,
                           b'{"id": %d, "pad": "%s"}' % (next_id + k, b"x" * rng.randint(0, 300)),
                           PRIORITY_SAFETY if rng.random() < 0.1 else PRIORITY_ROUTINE) for k in range(n)]
        store.put_many(events, now)
        print(f"ENQ {next_id} {next_id + n}", flush=True)
        next_id += n
        if rng.random() < 0.4:
            batch = store.take_batch(now, rng.randint(1, 40))
            if batch and rng.random() < 0.8:
                store.ack_through(batch[-1].wire_seq)
                ids = [int(e.payload.split(b",")[0].split(b":")[1]) for e in batch]
                print("ACK " + ",".join(map(str, ids)), flush=True)
    print(f"OPS {lib.powercut_ops()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
