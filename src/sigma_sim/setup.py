from pathlib import Path

from setuptools import find_packages, setup

package_name = "sigma_sim"
# The robot model, worlds and node configuration live at the repository root (shared with other packages);
# they are installed into this package's share directory so installed nodes find them.
ROOT = Path("..") / ".."


def _files(folder: str, pattern: str) -> list[str]:
    return sorted(str(p) for p in (ROOT / folder).glob(pattern))


setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/urdf", _files("urdf", "*.urdf")),
        ("share/" + package_name + "/worlds", _files("worlds", "*.*")),
        ("share/" + package_name + "/config/sigma_sim", _files("config/sigma_sim", "*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="SigmaPrompt Engineering",
    maintainer_email="engineering@sigmaprompt.dev",
    description="MuJoCo hardware stand-in for SigmaPrompt humanoids: URDF model, worlds, driver topics, faults.",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "sim_node = sigma_sim.node:main",
        ],
    },
)
