from setuptools import find_packages, setup

package_name = "sigma_tasks"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools", "numpy", "scipy"],
    zip_safe=True,
    maintainer="SigmaPrompt Engineering",
    maintainer_email="engineering@sigmaprompt.dev",
    description="Fleet task model, state machine, cost model and optimal allocation (no ROS, no web framework).",
    license="Apache-2.0",
    tests_require=["pytest"],
)
