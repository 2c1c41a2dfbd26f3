"""Power-cut sweep of the bridge's store: many seeded cut points per SQLite synchronous policy.

Runs the real sigma_bridge EventStore on the `powercut` VFS (src/sigma_bridge/test/powercut/): at each cut point the
writes not yet synced are discarded (even cuts) or a random subset of them persists (odd cuts); then the store is
reopened and every acknowledged (enqueued, not yet acked by the cloud) event must be there.

    python bench/bridge_powercut.py [--cuts 300] [--policies FULL,NORMAL,OFF]

Last line: cut points and lost acknowledged events under the default policy (FULL).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src" / "sigma_bridge" / "test"))

from powercut.harness import build_library, scratch_dir, sweep


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cuts", type=int, default=300)
    parser.add_argument("--policies", default="OFF,NORMAL,FULL")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    workdir = scratch_dir()
    summary = {}
    try:
        library = build_library(workdir)
        for policy in options.policies.split(","):
            start = time.monotonic()
            results = sweep(library, workdir, policy, options.cuts, options.seed)
            runs_losing = sum(1 for r in results if r.lost)
            lost = sum(len(r.lost) for r in results)
            corrupt = sum(1 for r in results if r.integrity != "ok")
            summary[policy] = (len(results), runs_losing, lost)
            print(f"synchronous={policy}: {len(results)} cut points ({sum(r.cut for r in results)} inside the "
                  f"workload), {runs_losing} lost acknowledged events ({lost} events in all), {corrupt} failed "
                  f"integrity_check, {sum(not r.created for r in results)} found no store schema, "
                  f"{sum(len(r.resurrected) for r in results)} acked events resurrected "
                  f"[{time.monotonic() - start:.0f} s]", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    cuts, losing, lost = summary.get("FULL", (0, 0, 0))
    print(f"power-cut sweep synchronous=FULL: {cuts} cut points, {losing} with loss, {lost} acknowledged events lost")
    return 0 if "FULL" not in summary or lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
