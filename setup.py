"""Packaging beyond pyproject.toml: the wheel carries the default checkpoint bundle.

`checkpoints/default` stays the bundle's home in the repository; here it is mapped into the
package as `drivesim/default_checkpoint`, where `drivesim.models.checkpoint.resolve_checkpoint` finds it
in an installed wheel (pyproject.toml cannot map a folder outside the package into it).

    pip wheel . --no-deps -w /tmp/whl && unzip -l /tmp/whl/drivesim-*.whl | grep default_checkpoint
"""

from setuptools import find_packages, setup

BUNDLE_PACKAGE = "drivesim.default_checkpoint"

setup(
    packages=[*find_packages(include=["drivesim*"]), BUNDLE_PACKAGE],
    package_dir={BUNDLE_PACKAGE: "checkpoints/default"},
    # the bundle's files only: never a training run's .train/ state lying beside them
    package_data={BUNDLE_PACKAGE: ["config.yaml", "*.safetensors", "stages.json", "README.md"]},
)
