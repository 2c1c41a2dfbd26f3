from setuptools import find_packages, setup

package_name = "sigma_twin"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/config", ["config/twin.yaml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="SigmaPrompt Engineering",
    maintainer_email="engineering@sigmaprompt.dev",
    description="Digital twin and predictive maintenance: online health estimation, RUL forecasts, spoof checks.",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={"console_scripts": ["twin_node = sigma_twin.entry_points:twin_node"]},
)
