"""Two tests running in parallel with the isolation helper do not hear each other — and without it they do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sigma_testing.domain import claim_domain

CASE = Path(__file__).with_name("isolation_case.py")


def _run_pair(tmp_path: Path, extra_env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    procs = []
    for token in ("alpha", "bravo"):
        env = dict(os.environ, CASE_TOKEN=token, CASE_BARRIER=str(tmp_path), **extra_env)
        env.pop("ROS_DOMAIN_ID", None)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(CASE)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(p.args, p.returncode, out))
    return results


def test_parallel_tests_do_not_hear_each_other(tmp_path):
    results = _run_pair(tmp_path, {})
    for r in results:
        assert r.returncode == 0, r.stdout


def test_same_domain_control_does_hear_each_other(tmp_path):
    """The control: forcing both into one domain makes the same cases fail, so the check above can fail."""
    with claim_domain() as shared:
        results = _run_pair(tmp_path, {"SIGMA_TEST_FORCE_DOMAIN": str(shared.domain_id)})
    assert all(r.returncode != 0 for r in results), [r.stdout for r in results]
    assert all("heard foreign tokens" in r.stdout for r in results)


def test_claimed_domains_are_unique_while_held():
    held = [claim_domain() for _ in range(5)]
    try:
        ids = [d.domain_id for d in held]
        assert len(set(ids)) == len(ids)
        assert all(1 <= i <= 100 for i in ids)
    finally:
        for d in held:
            d.release()
