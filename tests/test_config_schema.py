"""Bundle config.yaml type checks (drivesim/models/config_schema.py): every wrong value named by its key.

    python -m pytest tests/test_config_schema.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from drivesim.errors import BundleError
from drivesim.models.bundle import read_bundle_config
from drivesim.models.config_schema import validate_config_dict
from drivesim.models.configs import CONFIGS, config_from_dict, config_to_dict

DEFAULT = Path(__file__).resolve().parent.parent / "checkpoints" / "default"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_presets_and_the_shipped_config_pass_unchanged(name):
    config = CONFIGS[name]()
    data = yaml.safe_load(yaml.safe_dump(config_to_dict(config)))
    assert config_from_dict(validate_config_dict(data)) == config
    shipped = yaml.safe_load((DEFAULT / "config.yaml").read_text())
    assert config_from_dict(validate_config_dict(shipped)) == read_bundle_config(DEFAULT)


def _config_with(tmp_path: Path, change) -> Path:
    folder = tmp_path / "bundle"
    folder.mkdir()
    data = yaml.safe_load((DEFAULT / "config.yaml").read_text())
    change(data)
    (folder / "config.yaml").write_text(yaml.safe_dump(data))
    return folder


@pytest.mark.parametrize("change, message", [
    # a string for an int was reported as "unet.in_channels 4 must equal autoencoder.latent_channels 4"
    (lambda d: d["autoencoder"].update(latent_channels="4"), "autoencoder.latent_channels: input should be a valid "
                                                             "integer, got '4' (str)"),
    (lambda d: d.update(super_resolution="yes"), "super_resolution: input should be a valid boolean, got 'yes'"),
    (lambda d: d["unet"].update(chanels=3), "unet.chanels: unknown key"),
    (lambda d: d.update(frame_size=[64]), "frame_size: too few items"),
    (lambda d: d.pop("upsampler"), "upsampler: required key is missing"),
    (lambda d: d.update(diffusion=None), "diffusion must be a mapping"),
])
def test_wrong_types_are_named_by_key(tmp_path, change, message):
    folder = _config_with(tmp_path, change)
    with pytest.raises(BundleError) as err:
        read_bundle_config(folder)
    assert message in str(err.value) and str(folder / "config.yaml") in str(err.value)
    assert "must equal" not in str(err.value)  # no contradiction between two keys instead
