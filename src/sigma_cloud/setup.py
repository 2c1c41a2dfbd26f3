from setuptools import find_packages, setup

package_name = "sigma_cloud"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={package_name: ["migrations/*.sql", "console/static/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="SigmaPrompt Engineering",
    maintainer_email="engineering@sigmaprompt.dev",
    description="Cloud fleet tier: signed telemetry ingest, fleet REST API, RLS, retention (no ROS).",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "sigma-cloud = sigma_cloud.cli:main",
        ],
    },
)
