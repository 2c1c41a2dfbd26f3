"""Node executables as real processes: start, read their output, and always stop them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ament_index_python.packages import PackageNotFoundError, get_package_prefix


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its threads so far [s], from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def executable(package: str, name: str) -> str:
    """Path of a workspace executable ``lib/<package>/<name>`` (what ``ros2 run package name`` runs)."""
    try:
        prefix = get_package_prefix(package)
    except PackageNotFoundError as exc:
        raise FileNotFoundError(f"package {package!r} is not in AMENT_PREFIX_PATH (built and sourced?)") from exc
    path = Path(prefix) / "lib" / package / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: is {name!r} a console_script of {package!r}?")
    return str(path)


def ros_args(
    *,
    name: str | None = None,
    namespace: str | None = None,
    params: Mapping[str, object] | None = None,
    params_files: Sequence[str | os.PathLike[str]] = (),
    remaps: Mapping[str, str] | None = None,
    log_level: str | None = None,
) -> list[str]:
    """Build the ``--ros-args`` command-line tail ``ros2 run``/``ros2 launch`` would pass."""
    args = ["--ros-args"]
    if name:
        args += ["-r", f"__node:={name}"]
    if namespace:
        # rcl accepts only absolute namespaces in __ns; a relative one is taken from the root, as ros2 run does.
        args += ["-r", f"__ns:={namespace if namespace.startswith('/') else '/' + namespace}"]
    for f in params_files:
        args += ["--params-file", str(f)]
    for key, value in (params or {}).items():
        args += ["-p", f"{key}:={_param_literal(value)}"]
    for src, dst in (remaps or {}).items():
        args += ["-r", f"{src}:={dst}"]
    if log_level:
        args += ["--log-level", log_level]
    return args


def _param_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_param_literal(v) for v in value) + "]"
    if isinstance(value, str):
        return f"'{value}'"
    return str(value)


class NodeProcess:
    """One running executable in its own process group, with output captured to a log file."""

    def __init__(self, cmd: Sequence[str], *, env: Mapping[str, str], log_path: Path, label: str = "") -> None:
        self.cmd = list(cmd)
        self.label = label or Path(cmd[0]).name
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(  # noqa: S603 - arguments are a list, never a shell string
            self.cmd,
            env=dict(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def output(self) -> str:
        """Everything the process wrote so far (stdout and stderr)."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 10.0) -> None:
        """Block until ``text`` appears in the output; raise with the output if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if not self.alive:
                raise RuntimeError(
                    f"{self.label} exited ({self.returncode}) before printing {text!r}:\n{self.output()}"
                )
            time.sleep(0.02)
        raise TimeoutError(f"{self.label} did not print {text!r} within {timeout} s:\n{self.output()}")

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the whole process group."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = 5.0) -> int:
        """SIGINT (like Ctrl-C), then SIGTERM, then SIGKILL; return the exit code. Always reaps the process."""
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            if not self.alive:
                break
            self.signal(sig)
            try:
                self.popen.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        code = self.popen.wait()
        # Kill stragglers the node may have forked into its group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self._log.close()
        return code
