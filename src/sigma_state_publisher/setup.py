from pathlib import Path

from setuptools import find_packages, setup

package_name = "sigma_state_publisher"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/config", sorted(str(p) for p in Path("config").glob("*.yaml"))),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="SigmaPrompt Engineering",
    maintainer_email="engineering@sigmaprompt.dev",
    description="What robot_state_publisher publishes: robot_description, /tf_static, /tf (joints and odom).",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "state_publisher = sigma_state_publisher.entry_points:state_publisher",
        ],
    },
)
