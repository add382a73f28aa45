"""Packaging beyond pyproject.toml: the wheel carries the default checkpoint bundle and the example roads.

`checkpoints/default` stays the bundle's home in the repository; here it is mapped into the
package as `drivesim/default_checkpoint`, where `drivesim.models.checkpoint.resolve_checkpoint` finds it
in an installed wheel (pyproject.toml cannot map a folder outside the package into it). Its few-step
students (`students/`) travel with it. `scenarios/roads` (the OpenDRIVE examples; the `world` training mix
and the eval's junction scenarios drive on `crossing.xodr`) becomes `drivesim/example_roads`, where
`drivesim.data.random_scenarios.example_road` finds it.

    pip wheel . --no-deps -w /tmp/whl && unzip -l /tmp/whl/drivesim-*.whl | grep -e default_checkpoint -e example_roads
"""

from setuptools import find_packages, setup

BUNDLE_PACKAGE = "drivesim.default_checkpoint"
ROADS_PACKAGE = "drivesim.example_roads"

setup(
    packages=[*find_packages(include=["drivesim*"]), BUNDLE_PACKAGE, ROADS_PACKAGE],
    package_dir={BUNDLE_PACKAGE: "checkpoints/default", ROADS_PACKAGE: "scenarios/roads"},
    # the bundle's files only: never a training run's .train/ state lying beside them
    package_data={BUNDLE_PACKAGE: ["config.yaml", "*.safetensors", "students/*.safetensors", "stages.json", "README.md"],
                  ROADS_PACKAGE: ["*.xodr"]},
)
