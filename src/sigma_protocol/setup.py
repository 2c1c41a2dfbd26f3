from setuptools import find_packages, setup

package_name = "sigma_protocol"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={package_name: ["py.typed", "*.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="SigmaPrompt Engineering",
    maintainer_email="engineering@sigmaprompt.dev",
    description="SigmaPrompt device protocol v1: models, canonical encoding, Ed25519 signing, channels, retry rules.",
    license="Apache-2.0",
    tests_require=["pytest"],
)
