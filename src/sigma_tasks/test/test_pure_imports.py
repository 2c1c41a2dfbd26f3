"""The cloud imports only sigma_tasks.model and sigma_tasks.states, and its image installs sigma_tasks without
numpy/scipy (deploy/Dockerfile): those two modules must import with neither present."""

import subprocess
import sys
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def test_model_and_states_need_no_numpy_or_scipy():
    code = ("import sys; sys.modules['numpy'] = None; sys.modules['scipy'] = None\n"
            "import sigma_tasks.model, sigma_tasks.states\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(PACKAGE_ROOT)}, check=False)
    assert out.stdout.strip() == "ok", out.stderr
