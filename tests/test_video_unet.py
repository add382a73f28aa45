"""VideoUNet: shapes, the image-only switch, parameter groups, conditioning paths.

    python -m pytest tests/test_video_unet.py -x -q
"""

from __future__ import annotations

import dataclasses
import time

import pytest
import torch
import yaml

from drivesim.conditions.encode import empty_conditions, null_conditions, without_context
from drivesim.conditions.tensors import UNetConditions
from drivesim.errors import DrivesimError
from drivesim.models.temporal import TemporalAttentionLayer, TemporalConvLayer
from drivesim.models.video_unet import VideoUNet, VideoUNetConfig

B, T, C, H, W, K = 2, 4, 4, 8, 16, 6


def tiny_config(**kw) -> VideoUNetConfig:
    base = dict(in_channels=C, out_channels=C, block_out_channels=(32, 64), layers_per_block=1,
                attention_levels=(1,), num_heads=2, num_layout_channels=K, use_context=True, use_rate=True)
    return VideoUNetConfig(**{**base, **kw})


def make_model(seed: int = 0, **kw) -> VideoUNet:
    torch.manual_seed(seed)
    return VideoUNet(tiny_config(**kw)).eval()


def perturb_temporal(model: VideoUNet, seed: int = 1, scale: float = 0.2) -> None:
    """Random temporal weights, so the zero-initialised branches are active."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in model.temporal_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale)


def conditions(seed: int = 0) -> UNetConditions:
    g = torch.Generator().manual_seed(seed)
    return UNetConditions(
        time_of_day=torch.tensor([[0] * T, [1] * T]),
        crowdedness=torch.rand(B, T, generator=g), crowd_null=torch.zeros(B, T, dtype=torch.bool),
        ego_speed=torch.rand(B, T, generator=g) * 30, speed_null=torch.zeros(B, T, dtype=torch.bool),
        layout=torch.rand(B, T, K, H, W, generator=g), layout_null=torch.zeros(B, T, dtype=torch.bool),
        context=torch.randn(B, T, C, H, W, generator=g), context_mask=torch.tensor([[1.0, 0, 0, 0], [1, 1, 0, 0]]),
        rate=torch.tensor([0, 1]),
    )


def inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, C, H, W, generator=g), torch.tensor([700, 20])


def differ(a: torch.Tensor, b: torch.Tensor) -> bool:
    return (a - b).abs().max().item() > 1e-4


@torch.no_grad()
def test_output_shape_and_timestep_forms():
    model = make_model(out_channels=8)
    x, t = inputs()
    out = model(x, t, conditions())
    assert out.shape == (B, T, 8, H, W)
    per_frame = model(x, t[:, None].expand(B, T), conditions())
    assert torch.allclose(out, per_frame, atol=1e-6)


@torch.no_grad()
def test_image_only_equals_model_without_temporal_layers():
    video_model = make_model(seed=0)
    perturb_temporal(video_model)
    image_model = make_model(seed=5, temporal_attention=False, temporal_conv=False, use_context=False, use_rate=False)
    assert not list(image_model.temporal_parameters())
    # Strict load: the temporal/context/rate options add no spatial keys, so the image model's weights fit exactly.
    spatial = {k: v for k, v in video_model.state_dict().items() if not video_model.is_temporal_parameter(k)}
    image_model.load_state_dict(spatial, strict=True)
    x, t = inputs()
    cond = conditions()
    image_out = image_model(x, t, cond)
    assert torch.allclose(video_model(x, t, cond, image_only=True), image_out, atol=1e-6)
    assert differ(video_model(x, t, cond), image_out)  # the temporal layers do act in video mode


@torch.no_grad()
def test_image_only_ignores_temporal_weights_context_and_rate():
    model = make_model()
    x, t = inputs()
    cond = conditions()
    before = model(x, t, cond, image_only=True)
    perturb_temporal(model, seed=3, scale=1.0)
    other = cond.replace(context=torch.randn_like(cond.context), context_mask=torch.ones(B, T), rate=torch.tensor([1, 0]))
    assert torch.equal(model(x, t, other, image_only=True), before)


@torch.no_grad()
def test_video_mode_mixes_frames_image_mode_does_not():
    model = make_model()
    perturb_temporal(model)
    x, t = inputs()
    cond = conditions()
    x2 = x.clone()
    x2[:, 0] += 1.0
    assert differ(model(x, t, cond)[:, 3], model(x2, t, cond)[:, 3])
    assert torch.equal(model(x, t, cond, image_only=True)[:, 3], model(x2, t, cond, image_only=True)[:, 3])


def test_a_temporal_only_step_changes_only_temporal():
    """What the video stages do: theta frozen (requires_grad off), phi optimised."""
    model = make_model().train()
    perturb_temporal(model, scale=0.05)
    spatial, temporal = list(model.spatial_parameters()), list(model.temporal_parameters())
    names = [n for n, _ in model.named_parameters()]
    assert len(spatial) + len(temporal) == len(names)
    assert all(model.is_temporal_parameter(n) == n.startswith("temporal.") for n in names)
    for _, p in spatial:
        p.requires_grad_(False)
    spatial_before = {n: p.detach().clone() for n, p in model.spatial_parameters()}
    temporal_before = {n: p.detach().clone() for n, p in model.temporal_parameters()}
    opt = torch.optim.AdamW([p for _, p in temporal], lr=1e-3, weight_decay=0.0)
    x, t = inputs()
    start = time.perf_counter()
    loss = (model(x, t, conditions()) - torch.randn(B, T, C, H, W)).pow(2).mean()
    loss.backward()
    opt.step()
    assert time.perf_counter() - start < 20.0
    for n, p in model.spatial_parameters():
        assert p.grad is None and torch.equal(p, spatial_before[n]), n
    moved = [n for n, p in model.temporal_parameters() if not torch.equal(p, temporal_before[n])]
    with_grad = [n for n, p in model.temporal_parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert set(with_grad) <= set(moved)
    assert len(moved) > 0.9 * len(temporal_before)


@torch.no_grad()
def test_null_conditions_change_output_and_null_values_are_ignored():
    model = make_model()
    x, t = inputs()
    cond = conditions()
    ref = model(x, t, cond)
    nulls = {
        "time_of_day": cond.replace(time_of_day=torch.full((B, T), 2)),
        "crowd": cond.replace(crowd_null=torch.ones(B, T, dtype=torch.bool)),
        "speed": cond.replace(speed_null=torch.ones(B, T, dtype=torch.bool)),
        "layout": cond.replace(layout_null=torch.ones(B, T, dtype=torch.bool)),
        "all": null_conditions(cond),
    }
    outs = {k: model(x, t, c) for k, c in nulls.items()}
    for k, out in outs.items():
        assert differ(out, ref), k
    # Where a condition is null its value must not matter.
    ignored = nulls["all"].replace(crowdedness=torch.rand(B, T), ego_speed=torch.rand(B, T) * 9,
                                   layout=torch.rand(B, T, K, H, W))
    assert torch.allclose(model(x, t, ignored), outs["all"], atol=1e-6)
    # Absent layout == all frames null.
    assert torch.allclose(model(x, t, nulls["layout"].replace(layout=None)), outs["layout"], atol=1e-6)


@torch.no_grad()
def test_context_and_rate_condition_the_temporal_path():
    model = make_model()
    x, t = inputs()
    cond = conditions()
    # Fresh temporal layers are zero-initialised: context and rate have no effect yet.
    assert torch.allclose(model(x, t, cond), model(x, t, cond.replace(rate=torch.tensor([1, 0]))), atol=1e-6)
    perturb_temporal(model)
    ref = model(x, t, cond)
    assert differ(ref, model(x, t, cond.replace(rate=torch.tensor([1, 0]))))
    new_context = cond.replace(context=torch.randn_like(cond.context))
    assert differ(ref, model(x, t, new_context))
    # A zero mask means no context information: the masked latents' values do not matter.
    no_ctx = without_context(cond)
    assert torch.allclose(model(x, t, no_ctx), model(x, t, without_context(new_context)), atol=1e-6)
    assert torch.allclose(model(x, t, no_ctx), model(x, t, cond.replace(context=None, context_mask=None)), atol=1e-6)
    assert differ(ref, model(x, t, no_ctx))


def test_attention_only_ablation_has_no_conv_layers():
    full = make_model()
    attn_only = make_model(temporal_conv=False)
    kinds = lambda m: {type(mod) for mod in m.modules()}  # noqa: E731
    assert TemporalConvLayer in kinds(full) and TemporalConvLayer not in kinds(attn_only)
    assert TemporalAttentionLayer in kinds(attn_only)
    with torch.no_grad():
        perturb_temporal(attn_only)
        x, t = inputs()
        assert attn_only(x, t, conditions()).shape == (B, T, C, H, W)


def test_config_yaml_round_trip_and_bad_configs():
    cfg = tiny_config()
    assert VideoUNetConfig(**yaml.safe_load(yaml.safe_dump(dataclasses.asdict(cfg)))) == cfg
    with pytest.raises(DrivesimError, match="multiple"):
        VideoUNet(tiny_config(block_out_channels=(48, 64)))
    with pytest.raises(DrivesimError, match="attention_levels"):
        VideoUNet(tiny_config(attention_levels=(2,)))
    with pytest.raises(DrivesimError, match=r"temporal_attention_levels=\(0, 2\): levels \[2\] do not exist"):
        VideoUNet(tiny_config(temporal_attention_levels=[0, 2]))
    slim = tiny_config(temporal_attention_levels=[1])  # YAML's list: a tuple after the round trip
    assert slim.temporal_attention_levels == (1,)
    assert VideoUNetConfig(**yaml.safe_load(yaml.safe_dump(dataclasses.asdict(slim)))) == slim
    attention = {n.split(".attention.")[0] for n, _ in VideoUNet(slim).named_parameters() if ".attention." in n}
    assert attention == {"temporal.down.1.0", "temporal.mid.0", "temporal.mid.1", "temporal.up.0.0", "temporal.up.0.1"}


@torch.no_grad()
def test_bad_inputs_are_clear_errors():
    model = make_model()
    x, t = inputs()
    with pytest.raises(DrivesimError, match="divisible by 2"):
        model(torch.randn(B, T, C, 9, 16), t, conditions())
    with pytest.raises(ValueError, match="cond.rate"):
        model(x, t, conditions().replace(rate=None))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(x, t, empty_conditions(B, T + 1))
    with pytest.raises(DrivesimError, match="max_frames=4"):
        make_model(max_frames=4)(torch.randn(1, 5, C, H, W), t[:1], empty_conditions(1, 5))
    with pytest.raises(ValueError, match="cond.layout"):
        model(x, t, conditions().replace(layout=torch.rand(B, T, K, 4, 8)))


# ---------------------------------------------------------------- layout at every resolution
def fine_layout(cond: UNetConditions, scale: int) -> UNetConditions:
    """The same maps at `scale` x the size (nearest): their max-pool is the coarse map again."""
    return cond.replace(layout=cond.layout.repeat_interleave(scale, -2).repeat_interleave(scale, -1))


@torch.no_grad()
def test_layout_levels_start_as_a_no_op_so_a_trained_model_can_grow_them():
    plain = make_model(seed=0)
    grown = make_model(seed=7, layout_scale=4, layout_levels=True)
    missing, unexpected = grown.load_state_dict(plain.state_dict(), strict=False)
    assert missing and all(k.startswith("layout_encoder.") for k in missing) and not unexpected
    x, t = inputs()
    cond = conditions()
    assert torch.allclose(grown(x, t, fine_layout(cond, 4)), plain(x, t, cond), atol=1e-6)
    assert not grown.is_temporal_parameter("layout_encoder.heads.0.weight")  # spatial: trained by the image stage


@torch.no_grad()
def test_layout_levels_see_detail_finer_than_a_latent_pixel():
    model = make_model(seed=0, layout_scale=4, layout_levels=True)
    g = torch.Generator().manual_seed(2)
    for p in model.layout_encoder.heads.parameters():
        p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    x, t = inputs()
    cond = conditions().replace(layout=torch.zeros(B, T, K, H * 4, W * 4))
    left, right = cond.layout.clone(), cond.layout.clone()
    left[..., 0, 8:12, 16:17] = 1.0  # a box one keyframe pixel wide at the left of latent pixel (2, 4)
    right[..., 0, 8:12, 19:20] = 1.0  # ... and at its right: the same latent pixel
    pool = torch.nn.functional.max_pool2d
    assert torch.equal(pool(left.flatten(0, 1), 4), pool(right.flatten(0, 1), 4))
    assert differ(model(x, t, cond.replace(layout=left)), model(x, t, cond.replace(layout=right)))
    with pytest.raises(ValueError, match="cond.layout must be"):
        model(x, t, conditions())  # maps at latent size where the model reads them at 4x


def test_layout_levels_need_layout_maps():
    with pytest.raises(DrivesimError, match="layout_levels needs layout maps"):
        VideoUNet(tiny_config(num_layout_channels=0, layout_levels=True))
    with pytest.raises(DrivesimError, match="layout_scale"):
        VideoUNet(tiny_config(layout_scale=0))


def test_per_clip_inputs_are_computed_once_per_cond_without_autograd():
    model = make_model(seed=0, layout_scale=4, layout_levels=True)
    perturb_temporal(model)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in model.layout_encoder.heads.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    x, t = inputs()
    cond = fine_layout(conditions(), 4)
    with torch.no_grad():
        first = model(x, t, cond)
        held = model._held_clip_inputs
        assert held is not None and held.cond is cond
        again = model(x + 0.5, t, cond)  # another sampler step of the same clip
        assert model._held_clip_inputs is held  # reused, not recomputed
        model._held_clip_inputs = None
        fresh = model(x + 0.5, t, cond)
        assert torch.allclose(again, fresh, atol=1e-6) and differ(first, again)
        # the same values in a new cond object (another clip): recomputed, and the new maps are read
        other = cond.replace(layout=torch.zeros_like(cond.layout))
        assert differ(model(x, t, other), first) and model._held_clip_inputs.cond is other
    # with autograd (training) nothing is held: the layout encoder gets its gradients
    model.train()
    model._held_clip_inputs = None
    out = model(x, t, cond)
    assert model._held_clip_inputs is None
    out.square().mean().backward()
    assert model.layout_encoder.heads[0].weight.grad.abs().sum() > 0


def test_conv_in_split_equals_the_whole_convolution():
    model = make_model(seed=0)
    x, _ = inputs()
    cond = conditions()
    with torch.no_grad():
        layout = model._layout(x, cond)
        fixed = model._fixed_input(x, cond, layout)
        whole = model.conv_in(torch.cat([model._space_to_depth(x), fixed], dim=1))
        split = model._conv_in(x, model._conv_in_fixed(fixed))
    assert torch.allclose(split, whole, atol=1e-5)
