"""``sigma`` command line: ``sigma launch [PKG] FILE [name:=value ...]`` runs a ROS 2 YAML launch file."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from ament_index_python.packages import PackageNotFoundError, get_package_prefix, get_package_share_directory

from sigma_launch.loader import LaunchFileError, Loader
from sigma_launch.runner import Supervisor, node_command


def find_pkg_share(package: str) -> str:
    try:
        return get_package_share_directory(package)
    except PackageNotFoundError as exc:
        raise LookupError(f"{package} is not in AMENT_PREFIX_PATH (built and sourced?)") from exc


def resolve_executable(package: str, executable: str) -> str:
    """``lib/<package>/<executable>`` under the package's prefix, as ``ros2 run`` finds it."""
    try:
        prefix = get_package_prefix(package)
    except PackageNotFoundError:
        raise FileNotFoundError(f"package {package!r} not found (is the workspace built and sourced?)") from None
    path = Path(prefix) / "lib" / package / executable
    if not path.is_file():
        raise FileNotFoundError(f"executable {executable!r} not found in package {package!r} ({path})")
    return str(path)


def _parse_launch_args(words: list[str]) -> tuple[Path, dict[str, str]]:
    positional = [w for w in words if ":=" not in w]
    arguments = dict(w.split(":=", 1) for w in words if ":=" in w)
    if len(positional) == 1:
        return Path(positional[0]), arguments
    if len(positional) == 2:
        return Path(find_pkg_share(positional[0])) / "launch" / positional[1], arguments
    raise SystemExit("usage: sigma launch [PACKAGE] FILE [name:=value ...]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sigma", description="SigmaPrompt tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    launch = sub.add_parser("launch", help="run a ROS 2 YAML launch file (ros2 launch semantics)")
    launch.add_argument("words", nargs="+", help="[PACKAGE] FILE [name:=value ...]")
    launch.add_argument("--show-args", "-s", action="store_true", help="list the file's arguments and exit")
    launch.add_argument(
        "--print", "-p", action="store_true", dest="print_only", help="print the command line of every node and exit"
    )
    launch.add_argument("--log-dir", type=Path, help="where node logs and generated parameter files go")
    launch.add_argument("--sigterm-timeout", type=float, default=5.0, help="seconds after SIGINT before SIGTERM")
    ns = parser.parse_args(argv)

    path, arguments = _parse_launch_args(ns.words)
    loader = Loader(find_pkg_share)
    try:
        if ns.show_args:
            for arg in loader.declared_arguments(path):
                default = "(required)" if arg.default is None else f"(default: {arg.default!r})"
                print(f"    '{arg.name}':\n        {arg.description}\n        {default}")
            return 0
        specs = loader.load(path, arguments)
    except LaunchFileError as exc:
        print(f"sigma launch: error: {exc}", file=sys.stderr)
        return 2
    try:
        supervisor = Supervisor(
            specs, resolve_executable=resolve_executable, log_dir=ns.log_dir, sigterm_timeout=ns.sigterm_timeout
        )
    except FileNotFoundError as exc:
        print(f"sigma launch: error: {exc}", file=sys.stderr)
        return 2
    if ns.print_only:
        for spec in specs:
            print(
                " ".join(
                    node_command(spec, resolve_executable(spec.package, spec.executable), supervisor.log_dir / "params")
                )
            )
        return 0
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    print(f"[sigma launch] {len(specs)} node(s) from {path}; logs in {supervisor.log_dir}", flush=True)
    code = supervisor.run()
    for failure in supervisor.failures:
        print(f"[sigma launch] {failure}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
