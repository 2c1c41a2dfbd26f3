from glob import glob

from setuptools import find_packages, setup

package_name = "sigma_core"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools", "pyyaml", "py_trees"],
    zip_safe=True,
    maintainer="SigmaPrompt Engineering",
    maintainer_email="engineering@sigmaprompt.dev",
    description="Onboard cognition: the Edge AI pipeline, behaviour-tree task execution and the Simplex arbiter.",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "core_node = sigma_core.entry_points:core_node",
        ],
    },
)
