"""Run resolved :class:`NodeSpec` s as real processes, the way ``ros2 launch`` does.

One process per node with the right ``--ros-args``; output prefixed by the node's name; SIGINT to every node on
Ctrl-C, then SIGTERM and SIGKILL after timeouts; respawn as declared; a non-zero exit when a node that must run dies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from sigma_launch.loader import NodeSpec


def node_command(spec: NodeSpec, executable: str, param_dir: Path) -> list[str]:
    """The command line ``ros2 launch`` would run for ``spec`` (inline parameters go to a generated YAML file)."""
    cmd = [executable, *spec.args, "--ros-args"]
    if spec.name:
        cmd += ["-r", f"__node:={spec.name}"]
    if spec.namespace and spec.namespace != "/":
        cmd += ["-r", f"__ns:={spec.namespace}"]
    for i, entry in enumerate(spec.params):
        if isinstance(entry, str):
            cmd += ["--params-file", entry]
        else:
            file = param_dir / f"{spec.label.strip('/').replace('/', '__')}_{i}.yaml"
            file.write_text(yaml.safe_dump({"/**": {"ros__parameters": _nest(entry)}}))
            cmd += ["--params-file", str(file)]
    for src, dst in spec.remaps:
        cmd += ["-r", f"{src}:={dst}"]
    cmd += spec.ros_args
    return cmd


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        cur = out
        *parents, leaf = key.split(".")
        for p in parents:
            cur = cur.setdefault(p, {})
        cur[leaf] = value
    return out


@dataclass
class _Proc:
    spec: NodeSpec
    cmd: list[str]
    popen: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    respawn_at: float | None = None
    exit_codes: list[int] = field(default_factory=list)
    log: IO[bytes] | None = None


class Supervisor:
    """Starts, watches, respawns and stops the processes of one launch."""

    def __init__(
        self,
        specs: list[NodeSpec],
        *,
        resolve_executable: Callable[[str, str], str],
        env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
        out: IO[str] | None = None,
        sigterm_timeout: float = 5.0,
        sigkill_timeout: float = 5.0,
    ) -> None:
        self._env = dict(os.environ if env is None else env)
        self._env.setdefault("PYTHONUNBUFFERED", "1")
        self._out = out or sys.stdout
        self._out_lock = threading.Lock()
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="sigma-launch-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        param_dir = self.log_dir / "params"
        param_dir.mkdir(exist_ok=True)
        self.sigterm_timeout, self.sigkill_timeout = sigterm_timeout, sigkill_timeout
        self._procs = [_Proc(s, node_command(s, resolve_executable(s.package, s.executable), param_dir)) for s in specs]
        self._stop = threading.Event()
        self._failed: list[str] = []

    # -- lifecycle -----------------------------------------------------------------------------------
    def request_stop(self, *_: object) -> None:
        """Ask :meth:`run` to shut everything down (signal-handler safe)."""
        self._stop.set()

    def run(self, *, until: Callable[[], bool] | None = None) -> int:
        """Start every node and supervise until Ctrl-C, ``until()`` is true, or all nodes have ended."""
        for p in self._procs:
            self._start(p)
        while not self._stop.is_set():
            if until is not None and until():
                break
            if self._poll():
                break
            self._stop.wait(0.05)
        self.shutdown()
        return 1 if self._failed else 0

    def _poll(self) -> bool:
        """Handle exits and respawns; return True when the launch is over."""
        now = time.monotonic()
        running = 0
        for p in self._procs:
            if p.popen is not None and p.popen.poll() is not None:
                code = p.popen.returncode
                p.exit_codes.append(code)
                p.popen = None
                self._say(p.spec.label, f"process exited with code {code}")
                if p.spec.shutdown_on_exit:
                    self._failed.append(f"{p.spec.label} exited ({code}) and is marked on_exit: shutdown")
                    return True
                if p.spec.respawn:
                    p.respawn_at = now + p.spec.respawn_delay
                elif code != 0:
                    self._failed.append(f"{p.spec.label} died with exit code {code}")
            if p.respawn_at is not None and now >= p.respawn_at:
                p.respawn_at = None
                p.restarts += 1
                self._say(p.spec.label, f"respawning (restart {p.restarts})")
                self._start(p)
            running += p.popen is not None or p.respawn_at is not None
        return running == 0

    def _start(self, p: _Proc) -> None:
        log_path = self.log_dir / f"{p.spec.label.strip('/').replace('/', '__')}.log"
        p.log = open(log_path, "ab")  # noqa: SIM115 - closed when the reader thread ends
        p.popen = subprocess.Popen(  # noqa: S603 - argument list, no shell
            p.cmd,
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._say(p.spec.label, f"started (pid {p.popen.pid})")
        threading.Thread(target=self._pump, args=(p, p.popen, p.log), daemon=True).start()

    def _pump(self, p: _Proc, popen: subprocess.Popen[bytes], log: IO[bytes]) -> None:
        assert popen.stdout is not None
        for raw in iter(popen.stdout.readline, b""):
            log.write(raw)
            log.flush()
            if p.spec.output in ("screen", "both"):
                self._say(p.spec.label, raw.decode(errors="replace").rstrip("\n"))
        log.close()

    def _say(self, label: str, text: str) -> None:
        with self._out_lock:
            self._out.write(f"[{label}] {text}\n")
            self._out.flush()

    def shutdown(self) -> None:
        """SIGINT to every running node; SIGTERM after ``sigterm_timeout``; SIGKILL after ``sigkill_timeout``."""
        for sig, wait in (
            (signal.SIGINT, self.sigterm_timeout),
            (signal.SIGTERM, self.sigkill_timeout),
            (signal.SIGKILL, 5.0),
        ):
            live = [p for p in self._procs if p.popen is not None and p.popen.poll() is None]
            if not live:
                break
            if sig != signal.SIGINT:
                self._say("sigma launch", f"{len(live)} node(s) still running: sending {signal.Signals(sig).name}")
            for p in live:
                if p.popen is not None:
                    _killpg(p.popen, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and any(p.popen is not None and p.popen.poll() is None
                                                       for p in live):
                time.sleep(0.02)
        for p in self._procs:
            p.respawn_at = None
            if p.popen is not None:
                code = p.popen.wait()
                p.exit_codes.append(code)
                _killpg(p.popen, signal.SIGKILL)  # anything the node forked into its group
                p.popen = None

    @property
    def failures(self) -> list[str]:
        return list(self._failed)

    def pids(self) -> list[int]:
        return [p.popen.pid for p in self._procs if p.popen is not None]

    def restarts(self, label: str) -> int:
        return sum(p.restarts for p in self._procs if p.spec.label == label)


def _killpg(popen: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, sig)
