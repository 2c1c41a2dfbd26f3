from glob import glob

from setuptools import find_packages, setup

package_name = "sigma_swarm"


def _files(pattern: str) -> list[str]:
    """This package's own files; a pattern matching nothing is a packaging error, not an empty install."""
    found = sorted(glob(pattern))
    if not found:
        raise FileNotFoundError(f"{package_name}/setup.py: nothing matches {pattern}")
    return found

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/config", _files("config/*.yaml")),
    ],
    install_requires=["setuptools", "pyyaml", "pynacl", "orjson", "cyclonedds"],
    zip_safe=True,
    maintainer="SigmaPrompt Engineering",
    maintainer_email="engineering@sigmaprompt.dev",
    description="Swarm mesh: signed Cyclone DDS messages per site, leader election with leases and term fencing.",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "swarm_member = sigma_swarm.entry_points:swarm_member",
            "swarm_node = sigma_swarm.entry_points:swarm_node",
            "swarm_dst = sigma_swarm.dst.__main__:main",
        ],
    },
)
