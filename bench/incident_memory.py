"""Incident memory at scale: N stored 64-value signatures in pgvector, nearest-neighbour lookups as a site manager
(RLS per site, HNSW with iterative scan) — lookup p50/p99 and recall@10 against exact search of the same rows.

Signatures are generated like the real ones look (sigma_cloud.cognition.signature): non-negative, unit length,
clustered around a few hundred incident "kinds" with per-incident noise; half belong to another site, which RLS
hides from the querying manager. Exact search (the baseline, measured in the same run) is the same query with index
scans disabled, i.e. a full scan of the caller's rows. Queries are fresh noisy samples of the kinds.

    source scripts/env.sh && python bench/incident_memory.py [--rows 1000000] [--queries 200] [--index hnsw|ivfflat]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import psycopg

from sigma_cloud.core.bootstrap import prepare
from sigma_cloud.core.config import Settings
from sigma_cloud.core.embedded import EmbeddedPostgres

DIM = 64
SITES = ("bench-a", "bench-b")


def vectors(rng: np.random.Generator, centers: np.ndarray, n: int, noise: float) -> np.ndarray:
    kinds = rng.integers(0, len(centers), n)
    v = np.abs(centers[kinds] + rng.normal(0.0, noise, (n, DIM)))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def text(v: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.5f}" for x in v) + "]"


def load(conn: psycopg.Connection, rng: np.random.Generator, centers: np.ndarray, rows: int, noise: float) -> float:
    """COPY into an unlogged staging table (COPY is refused under RLS), then one INSERT ... SELECT."""
    start = time.perf_counter()
    conn.execute("CREATE UNLOGGED TABLE IF NOT EXISTS bench_stage (site text, robot text, signature vector(64))")
    chunk = 100_000
    for offset in range(0, rows, chunk):
        n = min(chunk, rows - offset)
        block = vectors(rng, centers, n, noise)
        with conn.cursor().copy("COPY bench_stage (site, robot, signature) FROM STDIN") as copy:
            for i in range(n):
                site = SITES[(offset + i) % 2]
                copy.write_row((site, f"{site}-r{(offset + i) % 50:02d}", text(block[i])))
        print(f"  staged {offset + n:,} rows", flush=True)
    conn.execute("INSERT INTO incidents (incident_id, robot_id, site_id, kind, at, summary, signature) "
                 "SELECT gen_random_uuid(), robot, site, 'anomaly', now(), 'bench', signature FROM bench_stage")
    conn.execute("DROP TABLE bench_stage")
    return time.perf_counter() - start


def query(conn: psycopg.Connection, v: np.ndarray, exact: bool, k: int = 10) -> tuple[list[uuid.UUID], float]:
    """One lookup as a site manager of SITES[0] (role + identity per transaction, as the API does)."""
    start = time.perf_counter()
    with conn.transaction():
        conn.execute("SELECT set_config('role', 'sigma_site_manager', true), set_config('sigma.sites', %s, true)",
                     (SITES[0],))
        if exact:
            conn.execute("SET LOCAL enable_indexscan = off")
        else:
            conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            conn.execute("SET LOCAL ivfflat.iterative_scan = relaxed_order")
        rows = conn.execute("SELECT incident_id FROM (SELECT incident_id, signature <=> %(v)s::vector AS d "
                            "FROM incidents ORDER BY signature <=> %(v)s::vector LIMIT %(k)s) n ORDER BY d",
                            {"v": text(v), "k": k}).fetchall()
    return [r[0] for r in rows], time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))] * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--kinds", type=int, default=300, help="incident kinds (cluster centres)")
    parser.add_argument("--noise", type=float, default=0.08)
    parser.add_argument("--index", choices=("hnsw", "ivfflat"), default="hnsw")
    parser.add_argument("--ef-search", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    centers = np.abs(rng.normal(0.0, 1.0, (args.kinds, DIM))) * (rng.random((args.kinds, DIM)) < 0.4)
    tmp = Path(tempfile.mkdtemp(prefix="sigma-incidents-"))
    pg = EmbeddedPostgres(tmp / "pg", settings={"shared_buffers": "1GB", "maintenance_work_mem": "2GB",
                                                "max_parallel_maintenance_workers": "1", "fsync": "on"})
    try:
        pg.start()
        runtime = prepare(Settings(environment="development", data_dir=tmp), pg)
        with psycopg.connect(runtime.owner_url, autocommit=True) as conn:
            for site in SITES:
                conn.execute("INSERT INTO sites (site_id, name) VALUES (%s, %s)", (site, site))
                for r in range(50):
                    conn.execute("INSERT INTO robots (robot_id, site_id, public_key) VALUES (%s, %s, 'bench')",
                                 (f"{site}-r{r:02d}", site))
            conn.execute("DROP INDEX incidents_signature")  # built once after the load (as a restore would)
            loaded = load(conn, rng, centers, args.rows, args.noise)
            print(f"loaded {args.rows:,} signatures in {loaded:.0f} s", flush=True)
            start = time.perf_counter()
            if args.index == "hnsw":
                conn.execute("CREATE INDEX incidents_signature ON incidents USING hnsw (signature vector_cosine_ops) "
                             "WITH (m = 16, ef_construction = 64)")
            else:
                lists = max(10, int(args.rows ** 0.5))
                conn.execute(f"CREATE INDEX incidents_signature ON incidents USING ivfflat "
                             f"(signature vector_cosine_ops) WITH (lists = {lists})")
            built = time.perf_counter() - start
            print(f"{args.index} index built in {built:.0f} s", flush=True)
            conn.execute("ANALYZE incidents")
        api = psycopg.connect(runtime.api_url, autocommit=True)
        api.execute(f"SET hnsw.ef_search = {args.ef_search}")
        api.execute("SET ivfflat.probes = 20")
        queries = vectors(rng, centers, args.queries, args.noise)
        for v in queries[:10]:  # warm the cache
            query(api, v, exact=False)
        ann_times, exact_times, recalls = [], [], []
        for v in queries:
            ann, t_ann = query(api, v, exact=False)
            truth, t_exact = query(api, v, exact=True)
            ann_times.append(t_ann)
            exact_times.append(t_exact)
            recalls.append(len(set(ann) & set(truth)) / max(1, len(truth)))
        with api.transaction():
            api.execute("SELECT set_config('role', 'sigma_site_manager', true), "
                        "set_config('sigma.sites', %s, true)", (SITES[0],))
            plan = api.execute("EXPLAIN SELECT incident_id FROM incidents ORDER BY signature <=> %s::vector "
                               "LIMIT 10", (text(queries[0]),)).fetchall()
        api.close()
        uses_index = any("incidents_signature" in row[0] for row in plan)
    finally:
        pg.stop("fast")
        shutil.rmtree(tmp, ignore_errors=True)
    recall = float(np.mean(recalls))
    print(f"rows={args.rows:,} (half in another site, hidden by RLS) queries={args.queries} index={args.index} "
          f"ef_search={args.ef_search} index used={uses_index}")
    print(f"exact search (baseline, same rows): p50 {pct(exact_times, 0.5):.1f} ms p99 {pct(exact_times, 0.99):.1f} ms")
    print(f"incident_memory: {args.index} lookup p50 {pct(ann_times, 0.5):.1f} ms p99 {pct(ann_times, 0.99):.1f} ms, "
          f"recall@10 {recall:.3f} vs exact (exact p99 {pct(exact_times, 0.99):.0f} ms, "
          f"{pct(exact_times, 0.5) / pct(ann_times, 0.5):.0f}x slower at p50) over {args.rows:,} signatures")


if __name__ == "__main__":
    sys.exit(main())
