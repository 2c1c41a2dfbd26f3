"""scripts/setup.sh fails loudly, naming the step, when a prerequisite is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(os.environ.get("SIGMA_ROOT", Path(__file__).resolve().parents[3]))
SETUP = ROOT / "scripts" / "setup.sh"


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/bin/bash", str(SETUP)], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def bare_bin(tmp_path: Path) -> Path:
    """A PATH with a supported Python and the few coreutils the prerequisite checks use — and no compiler."""
    b = tmp_path / "bin"
    b.mkdir()
    base_python = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    (b / "python3.11").symlink_to(base_python)
    for tool in ("dirname", "cat", "sha256sum", "cut"):
        (b / tool).symlink_to(shutil.which(tool))
    return b


def test_setup_script_exists():
    assert SETUP.is_file(), SETUP


def test_unsupported_python_is_named(tmp_path):
    fake = tmp_path / "python3.9"
    fake.write_text("#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'Python 3.9.18'; exit 0; fi\nexit 1\n")
    fake.chmod(0o755)
    r = _run(dict(os.environ, SIGMA_PYTHON=str(fake)))
    assert r.returncode != 0
    assert 'FAILED at step "prerequisites"' in r.stderr and "Python 3.9.18 is unsupported" in r.stderr


def test_missing_compiler_is_named(bare_bin):
    r = _run({"PATH": str(bare_bin), "HOME": os.environ.get("HOME", "/tmp")})
    assert r.returncode != 0
    assert 'FAILED at step "prerequisites"' in r.stderr and "no C compiler" in r.stderr, r.stderr
