"""VideoUpsampler: patch and full-frame shapes, the 1/4-resolution stem, conditioning, noise augmentation.

    python -m pytest tests/test_upsampler.py -x -q
"""

from __future__ import annotations

import dataclasses
import time

import pytest
import torch
import yaml

from drivesim.conditions.encode import upsampler_conditions
from drivesim.errors import DrivesimError
from drivesim.models.upsampler import (UpsamplerConfig, VideoUpsampler, default_alphas_cumprod, noise_augment,
                                       resize_low_res)
from drivesim.models.video_unet import VideoUNet

T = 4


def tiny() -> UpsamplerConfig:
    return UpsamplerConfig(block_out_channels=(32, 64), layers_per_block=1, num_heads=2)


def make(seed: int = 0) -> VideoUpsampler:
    torch.manual_seed(seed)
    return VideoUpsampler(tiny()).eval()


def cond_for(h: int, w: int, level: int = 50, seed: int = 0, b: int = 1):
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(b, T, 3, h // 4, w // 4, generator=g) * 2 - 1
    return upsampler_conditions(noise_augment(resize_low_res(low, 4), level, default_alphas_cumprod(), generator=g),
                                level)


@torch.no_grad()
def test_patch_and_full_frame_shapes_and_quarter_resolution_stem():
    model = make()
    assert isinstance(model, VideoUNet) and model.config == tiny() and model.unet_config.space_to_depth == 4
    seen = []
    hook = model.down_levels[0].resnets[0].register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape)))
    try:
        for h, w in ((32, 32), (64, 128)):
            out = model(torch.randn(1, T, 3, h, w), torch.tensor([10]), cond_for(h, w))
            assert out.shape == (1, T, 3, h, w)
            assert seen[-1][-2:] == (h // 4, w // 4)  # the UNet's first level works at 1/4 resolution
    finally:
        hook.remove()
    assert model.conv_in.in_channels == (3 + 3) * 16  # noisy sample + low-res, space-to-depth x4


@torch.no_grad()
def test_low_res_and_noise_level_condition_the_output():
    model = make()
    x = torch.randn(1, T, 3, 32, 32)
    t = torch.tensor([10])
    ref = model(x, t, cond_for(32, 32, level=50))
    other_level = cond_for(32, 32, level=50).replace(noise_level=torch.tensor([200]))
    other_video = cond_for(32, 32, level=50, seed=1)
    assert (model(x, t, other_level) - ref).abs().max() > 1e-4
    assert (model(x, t, other_video) - ref).abs().max() > 1e-4


def test_forward_backward_and_parameter_groups():
    model = make().train()
    groups = {"spatial": [p for _, p in model.spatial_parameters()],
              "temporal": [p for _, p in model.temporal_parameters()]}
    assert groups["spatial"] and groups["temporal"]
    for p in groups["spatial"]:  # what the temporal phase does: theta frozen
        p.requires_grad_(False)
    assert all(n.startswith("temporal.") for n, _ in model.temporal_parameters())
    start = time.perf_counter()
    out = model(torch.randn(2, T, 3, 32, 32), torch.tensor([10, 900]), cond_for(32, 32, b=2))
    out.pow(2).mean().backward()
    assert time.perf_counter() - start < 20.0
    assert all(p.grad is None for p in groups["spatial"])
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in groups["temporal"])


def test_noise_augment_follows_the_schedule():
    alphas = default_alphas_cumprod()
    x = torch.rand(2, T, 3, 16, 16) * 2 - 1
    g = torch.Generator().manual_seed(0)
    light = noise_augment(x, 0, alphas, generator=g)
    assert (light - x).abs().mean() < 0.02
    heavy = noise_augment(x, torch.tensor([999, 999]), alphas, generator=g)
    assert abs(heavy.std().item() - 1.0) < 0.1 and torch.corrcoef(torch.stack([heavy.flatten(), x.flatten()]))[0, 1] < 0.1
    per_clip = noise_augment(x, torch.tensor([0, 999]), alphas, generator=torch.Generator().manual_seed(1))
    assert (per_clip[0] - x[0]).abs().mean() < 0.02 and (per_clip[1] - x[1]).abs().mean() > 0.5
    again = noise_augment(x, torch.tensor([0, 999]), alphas, generator=torch.Generator().manual_seed(1))
    assert torch.equal(again, per_clip)
    assert resize_low_res(x, 4).shape == (2, T, 3, 64, 64)


@torch.no_grad()
def test_bad_inputs_and_config_round_trip():
    model = make()
    with pytest.raises(DrivesimError, match="divisible by 8"):
        model(torch.randn(1, T, 3, 36, 36), torch.tensor([10]), cond_for(36, 36))
    with pytest.raises(ValueError, match="low_res"):
        model(torch.randn(1, T, 3, 32, 32), torch.tensor([10]), cond_for(32, 32).replace(low_res=None))
    with pytest.raises(ValueError, match="noise_level"):
        model(torch.randn(1, T, 3, 32, 32), torch.tensor([10]), cond_for(32, 32).replace(noise_level=None))
    cfg = tiny()
    assert UpsamplerConfig(**yaml.safe_load(yaml.safe_dump(dataclasses.asdict(cfg)))) == cfg
    assert cfg.size_multiple == 8


def test_residual_target_round_trip():
    g = torch.Generator().manual_seed(0)
    high = torch.rand(2, T, 3, 16, 16, generator=g) * 2 - 1
    bicubic = (high + 0.1 * torch.randn(high.shape, generator=g)).clamp(-1, 1)
    plain = VideoUpsampler(tiny())
    assert torch.equal(plain.to_target(high, bicubic), high)  # residual_scale 0: frames themselves
    residual = VideoUpsampler(dataclasses.replace(tiny(), residual_scale=3.0))
    target = residual.to_target(high, bicubic)
    assert torch.allclose(target, (high - bicubic) * 3.0)
    assert torch.allclose(residual.from_target(target, bicubic), high, atol=1e-6)
    assert torch.equal(residual.from_target(torch.zeros_like(high), bicubic), bicubic)


@torch.no_grad()
def test_road_maps_are_blanked_inside_road_users_boxes_when_asked():
    """road_in_boxes=False: what the road maps say under a box cannot change the output (the renderer paints
    road users over the road); with True (the default, what older bundles read) it does."""
    torch.manual_seed(0)
    reading = VideoUpsampler(dataclasses.replace(tiny(), num_layout_channels=11)).eval()
    blanking = VideoUpsampler(dataclasses.replace(tiny(), num_layout_channels=11, road_in_boxes=False)).eval()
    blanking.load_state_dict(reading.state_dict())
    g = torch.Generator().manual_seed(3)
    layout = torch.zeros(1, T, 11, 32, 32)
    layout[:, :, 5:] = torch.rand(1, T, 6, 32, 32, generator=g)  # a road everywhere
    layout[:, :, 2, 8:16, 8:16] = 1.0  # a pedestrian's box
    other = layout.clone()
    other[:, :, 5:, 8:16, 8:16] = 1.0 - other[:, :, 5:, 8:16, 8:16]  # another road under the box only
    x, t = torch.randn(1, T, 3, 32, 32), torch.tensor([10])

    def run(model, maps):
        return model(x, t, cond_for(32, 32).replace(layout=maps, layout_null=torch.zeros(1, T, dtype=torch.bool)))

    assert torch.equal(run(blanking, layout), run(blanking, other))
    assert (run(reading, layout) - run(reading, other)).abs().max() > 1e-4
    outside = layout.clone()
    outside[:, :, 5:, 20:28, 20:28] = 0.0  # the road outside the box still counts
    assert (run(blanking, layout) - run(blanking, outside)).abs().max() > 1e-4
