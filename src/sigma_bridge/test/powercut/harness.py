"""Drive the power-cut workload: build the VFS shim, cut power at seeded points, check what survived.

Used by test_store_powercut.py (a seeded slice) and bench/bridge_powercut.py (many cut points).
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROUNDS = 120


def build_library(out_dir: Path) -> Path:
    """Compile powercut_vfs.c against the system libsqlite3 (the one Python's sqlite3 module uses)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("no C compiler (cc/gcc) to build the power-cut VFS")
    library = out_dir / "powercut.so"
    subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-o", str(library), str(HERE / "powercut_vfs.c"),
                    "-lsqlite3"], check=True, capture_output=True, text=True)
    return library


def scratch_dir() -> Path:
    """A scratch directory on tmpfs when there is one (fsync is then cheap; the VFS decides what is 'synced')."""
    shm = Path("/dev/shm")
    return Path(tempfile.mkdtemp(prefix="sigma-powercut-", dir=shm if shm.is_dir() else None))


@dataclass
class CutResult:
    cut_at: int
    mode: int
    cut: bool  # False when the workload finished before the cut point
    acknowledged: int  # events enqueued and not acknowledged by the cloud: all must be in the store
    lost: list[int] = field(default_factory=list)
    resurrected: list[int] = field(default_factory=list)  # acked (removed) events back in the store
    integrity: str = "ok"
    created: bool = False  # the store's schema survived (a cut before the first sync leaves an empty file)


def run_once(library: Path, workdir: Path, synchronous: str, cut_at: int, seed: int, mode: int,
             rounds: int = ROUNDS) -> tuple[CutResult, int]:
    """One workload run cut at op `cut_at` (0: never); returns the result and the ops counted (if it finished)."""
    db = workdir / f"store-{synchronous}-{seed}-{cut_at}.db"
    child = subprocess.run([sys.executable, str(HERE / "workload.py"), str(library), str(db), synchronous,
                            str(cut_at), str(seed), str(mode), str(rounds)], capture_output=True, text=True,
                           timeout=120)
    if child.returncode not in (0, 99):
        raise RuntimeError(f"workload failed ({child.returncode}): {child.stderr[-2000:]}")
    enqueued: set[int] = set()
    acked: set[int] = set()
    ops = 0
    for line in child.stdout.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "ENQ":
            first, last = map(int, rest.split())
            enqueued.update(range(first, last))
        elif kind == "ACK":
            acked.update(int(x) for x in rest.split(","))
        elif kind == "OPS":
            ops = int(rest)
    result = CutResult(cut_at, mode, child.returncode == 99, len(enqueued - acked))
    if db.exists():
        conn = sqlite3.connect(str(db))  # the plain unix VFS: what a restarted bridge finds after power returns
        try:
            result.integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
            has_schema = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone() is not None
            result.created = has_schema
            present = {int(p.split(b",")[0].split(b":")[1]) for (p,) in conn.execute("SELECT payload FROM events")} \
                if has_schema else set()
        except sqlite3.DatabaseError as exc:
            result.integrity, present = f"unreadable: {exc}", set()
        finally:
            conn.close()
    else:
        present = set()
    result.lost = sorted((enqueued - acked) - present)
    result.resurrected = sorted(acked & present)
    for path in workdir.glob(db.name + "*"):
        path.unlink()
    return result, ops


def sweep(library: Path, workdir: Path, synchronous: str, cuts: int, seed: int = 0) -> list[CutResult]:
    """`cuts` seeded cut points spread over one workload (both cut modes); each run is independent."""
    _, total = run_once(library, workdir, synchronous, 0, seed, 0)
    if total == 0:
        raise RuntimeError("calibration run counted no file operations")
    rng = random.Random(seed)
    results = []
    for i in range(cuts):
        result, _ = run_once(library, workdir, synchronous, rng.randint(1, total), seed, i % 2)
        results.append(result)
    return results
