"""Installed files through the ament index (``get_package_share_directory``), never by walking up out of the
install tree, the current directory or an environment variable. A missing file fails at start naming the path."""

from __future__ import annotations

from pathlib import Path

from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

from sigma_ros_common.params import ConfigError

PACKAGE_URI = "package://"


def package_share(package: str) -> Path:
    """``share/<package>`` of an installed package; ConfigError when the ament index does not list it."""
    try:
        return Path(get_package_share_directory(package))
    except PackageNotFoundError as exc:
        raise ConfigError(f"package {package!r} is not installed (not in the ament index of AMENT_PREFIX_PATH); "
                          "build it with colcon and source install/setup.bash") from exc


def share_file(package: str, *parts: str) -> Path:
    """An installed file ``share/<package>/<parts...>``; ConfigError naming the full path when it is missing."""
    path = package_share(package).joinpath(*parts)
    if not path.exists():
        raise ConfigError(f"{path} does not exist: package {package} does not install {'/'.join(parts)}")
    return path


def resolve_file(value: str, package: str, parameter: str, *, must_exist: bool = True) -> Path:
    """A file parameter: ``package://<pkg>/<path>`` (installed file of any package), an absolute path, or a path
    relative to ``share/<package>``. With ``must_exist`` it must exist.

    Relative paths are never looked up in the current directory (a node's behaviour must not depend on where
    it was started). ConfigError names the parameter and the path tried.
    """
    if not value:
        raise ConfigError(f"parameter {parameter}: empty path")
    if value.startswith(PACKAGE_URI):
        owner, _, rest = value[len(PACKAGE_URI):].partition("/")
        if not owner or not rest:
            raise ConfigError(f"parameter {parameter}: {value!r} is not package://<package>/<path>")
        path = package_share(owner) / rest
    else:
        path = Path(value)
        if not path.is_absolute():
            path = package_share(package) / path
    if must_exist and not path.exists():
        raise ConfigError(f"parameter {parameter}: {path} does not exist")
    return path
