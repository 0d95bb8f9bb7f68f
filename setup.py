"""Package layout for setuptools (metadata lives in pyproject.toml).

`agents/` and `assets/` sit at the repository's top level but are installed as
`imitenvs.agents` and `imitenvs.assets`, so the wheel adds exactly one top-level name,
`imitenvs`, to site-packages.
"""

from setuptools import find_packages, setup

MAPPED = {"imitenvs.agents": "agents", "imitenvs.assets": "assets"}


def _packages() -> tuple[list[str], dict[str, str]]:
    packages = find_packages(include=["imitenvs", "imitenvs.*"])
    package_dir = {"imitenvs": "imitenvs"}
    for name, folder in MAPPED.items():
        package_dir[name] = folder
        packages.append(name)
        packages += [f"{name}.{sub}" for sub in find_packages(where=folder)]
    return packages, package_dir


PACKAGES, PACKAGE_DIR = _packages()
setup(packages=PACKAGES, package_dir=PACKAGE_DIR)
