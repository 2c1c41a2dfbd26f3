from pathlib import Path

from setuptools import find_packages, setup

# The bridge's configuration lives at the repository root (config/sigma_bridge, config/foxglove).
ROOT = Path("..") / ".."


def _files(folder: str, pattern: str) -> list[str]:
    return sorted(str(p) for p in (ROOT / folder).glob(pattern))


package_name = "sigma_bridge"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/config/sigma_bridge", _files("config/sigma_bridge", "*.yaml")),
        ("share/" + package_name + "/config/foxglove", _files("config/foxglove", "*.json")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="SigmaPrompt Engineering",
    maintainer_email="engineering@sigmaprompt.dev",
    description="Robot-cloud bridge: store-and-forward uplink, decision downlink, Foxglove live view, black box.",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "bridge_node = sigma_bridge.node:main",
        ],
    },
)
