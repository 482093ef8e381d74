"""The package list, which pyproject.toml cannot say: persd, and the app's folder `ui/`
installed under a name persd owns, `persd_app` (a top-level `ui` would collide with any
other package of that name). Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

APP = {"persd_app": "ui"}
app_packages = ["persd_app" + name[len("ui"):] for name in find_packages(include=["ui", "ui.*"])]

setup(packages=find_packages(include=["persd", "persd.*"]) + app_packages, package_dir=APP)
