"""pytest fixtures for tests that run ROS 2 nodes. Enable with ``pytest_plugins = ["sigma_testing.fixtures"]``.

- ``ros_domain``: a private domain id with localhost-only discovery, released after the test.
- ``ros_probe``: an in-test node in that domain (publish, collect, wait, call services).
- ``launch``: start a workspace executable as a real process in that domain; every process is stopped
  after the test, even when it fails, and a process that crashed is reported with its output.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from sigma_testing.domain import RosDomain, claim_domain
from sigma_testing.probe import RosProbe
from sigma_testing.process import NodeProcess, executable, ros_args


class Launcher:
    """Starts node processes for one test and tears them all down."""

    def __init__(self, domain: RosDomain, log_dir: Path) -> None:
        self.domain = domain
        self.log_dir = log_dir
        self.processes: list[NodeProcess] = []

    def __call__(
        self,
        package: str,
        exe: str,
        *,
        name: str | None = None,
        namespace: str | None = None,
        params: Mapping[str, object] | None = None,
        params_files: Sequence[str | Path] = (),
        remaps: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> NodeProcess:
        cmd = [
            executable(package, exe),
            *args,
            *ros_args(name=name, namespace=namespace, params=params, params_files=params_files, remaps=remaps),
        ]
        return self.command(cmd, label=name or exe, env=env)

    def command(self, cmd: Sequence[str], *, label: str, env: Mapping[str, str] | None = None) -> NodeProcess:
        """Start any command in the test's domain (for non-ROS processes such as the cloud server)."""
        full_env = self.domain.env
        full_env.update(env or {})
        log = self.log_dir / f"{len(self.processes):02d}-{label.replace('/', '_')}.log"
        proc = NodeProcess(cmd, env=full_env, log_path=log, label=label)
        self.processes.append(proc)
        return proc

    def stop_all(self) -> list[tuple[NodeProcess, int]]:
        return [(p, p.stop()) for p in reversed(self.processes)]


@pytest.fixture
def ros_domain() -> Iterator[RosDomain]:
    domain = claim_domain()
    try:
        yield domain
    finally:
        domain.release()


@pytest.fixture
def ros_probe(ros_domain: RosDomain) -> Iterator[RosProbe]:
    probe = RosProbe(ros_domain)
    try:
        yield probe
    finally:
        probe.close()


@pytest.fixture
def launch(ros_domain: RosDomain, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Launcher]:
    launcher = Launcher(ros_domain, tmp_path)
    try:
        yield launcher
    finally:
        results = launcher.stop_all()
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            for proc, code in results:
                print(f"----- {proc.label} (exit {code}) -----\n{proc.output()[-4000:]}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]  # pytest documents this per-item attribute
    return report
