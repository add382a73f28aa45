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


@pytest.mark.parametrize("change, message", [  # found by tests/test_fuzz_doors.py; each once loaded or crashed
    # building 10^6 layers (on the meta device, to check the config) took hours
    (lambda d: d["unet"].update(layers_per_block=10**6), "unet.layers_per_block: must be in 1..16, got 1000000"),
    # 10^9 noise levels: an 8 GB schedule when sampling starts
    (lambda d: d["diffusion"].update(num_train_timesteps=10**9), "diffusion.num_train_timesteps: must be in 2..100000"),
    # a raw ValueError (math domain error) from the stride check
    (lambda d: d.update(keyframe_stride=-3), "keyframe_stride: must be in 1..1024, got -3"),
    # a RuntimeError when upsampling to 0x0 pixels
    (lambda d: d["upsampler"].update(scale_factor=0), "upsampler.scale_factor: must be in 1..64, got 0"),
    # ValueError (need 0 <= overlap < window) when decoding
    (lambda d: d.update(decoder_window=-2), "decoder_window: must be in 1..1024, got -2"),
    (lambda d: d["autoencoder"].update(block_channels=[32] * 20),
     "autoencoder.block_channels: at most 16 items, got 20"),
    # an IndexError past the upsampler's schedule when it noises its input
    (lambda d: d["upsampler"].update(inference_noise_level=1000),
     "upsampler.inference_noise_level: must be below upsampler_diffusion.num_train_timesteps (1000), got 1000"),
    # an IndexError past the schedule when sampling
    (lambda d: d["diffusion"].update(num_inference_steps=2000),
     "diffusion.num_inference_steps: at most num_train_timesteps (1000), got 2000"),
    # all-black frames: alpha_bar is 0 in float32 at the last step, DPM-Solver's log(alpha / sigma) -inf
    (lambda d: d["upsampler_diffusion"].update(beta_schedule="linear", beta_start=0.0001, beta_end=0.2),
     "upsampler_diffusion: its betas (linear from 0.0001 to 0.2 over 1000 steps) leave alpha_bar 0"),
    (lambda d: d["diffusion"].update(beta_start=1.00255), "diffusion.beta_start: must be in 1e-09..0.999"),
    (lambda d: d["diffusion"].update(beta_start=0.5, beta_end=0.1), "beta_start 0.5 is more than beta_end 0.1"),
    (lambda d: d["diffusion"].update(beta_schedule="cosine"), "diffusion.beta_schedule: one of linear, scaled_linear"),
    (lambda d: d["autoencoder"].update(scaling_factor=1e-300), "autoencoder.scaling_factor: must be in 0.0001..10000"),
])
def test_numbers_that_hang_crash_or_blacken_a_bundle_are_named_by_key(tmp_path, change, message):
    folder = _config_with(tmp_path, change)
    with pytest.raises(BundleError) as err:
        read_bundle_config(folder)
    assert message in str(err.value) and str(folder / "config.yaml") in str(err.value)
