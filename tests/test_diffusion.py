"""Diffusion basics: schedule consistency, eps/v targets, a DDIM step, the loss."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import yaml

from drivesim.diffusion import (
    DiffusionConfig, add_noise, alpha_sigma, alphas_cumprod, diffusion_loss, make_scheduler,
    make_training_scheduler, sample_timesteps, training_target,
)
from drivesim.errors import DrivesimError


@pytest.fixture
def video():
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(3, 4, 2, 5, 6, generator=g, dtype=torch.float64)
    noise = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    return x0, noise


def test_all_schedulers_share_the_same_vp_schedule():
    config = DiffusionConfig()
    acp = alphas_cumprod(make_training_scheduler(config))
    assert acp.shape == (1000,)
    assert torch.all(acp[1:] < acp[:-1]) and 0 < acp[-1] < acp[0] < 1
    for kind in ("ddim", "dpmpp"):
        torch.testing.assert_close(alphas_cumprod(make_scheduler(kind, config)), acp, rtol=0, atol=0)
    # prediction type override reaches the scheduler
    assert make_scheduler("ddim", config, "epsilon").config.prediction_type == "epsilon"
    assert make_scheduler("dpmpp", config).config.prediction_type == "v_prediction"


def test_bad_names_raise_clear_errors():
    with pytest.raises(DrivesimError, match="ddim"):
        make_scheduler("euler", DiffusionConfig())
    with pytest.raises(DrivesimError, match="prediction_type"):
        DiffusionConfig(prediction_type="x_start")
    with pytest.raises(DrivesimError, match="prediction_type"):
        training_target(torch.zeros(1), torch.zeros(1), torch.zeros(1, dtype=torch.long),
                        make_training_scheduler(DiffusionConfig()), "x0")


def test_config_yaml_round_trip():
    config = DiffusionConfig(prediction_type="epsilon", num_inference_steps=20)
    back = DiffusionConfig(**yaml.safe_load(yaml.safe_dump(dataclasses.asdict(config))))
    assert back == config


@pytest.mark.parametrize("per_frame", [False, True])
def test_v_target_matches_formula(video, per_frame):
    x0, noise = video
    sched = make_training_scheduler(DiffusionConfig())
    t = torch.tensor([0, 500, 999]) if not per_frame else torch.tensor([[0, 10, 500, 999]] * 3)
    v = training_target(x0, noise, t, sched, "v_prediction")
    acp = sched.alphas_cumprod.double()[t]
    shape = (*t.shape, *[1] * (x0.ndim - t.ndim))
    alpha, sigma = acp.sqrt().reshape(shape), (1 - acp).sqrt().reshape(shape)
    torch.testing.assert_close(v, alpha * noise - sigma * x0)
    torch.testing.assert_close(add_noise(x0, noise, t, sched), alpha * x0 + sigma * noise)
    assert training_target(x0, noise, t, sched, "epsilon") is noise


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_ddim_step_with_true_output_recovers_x0(prediction_type):
    g = torch.Generator().manual_seed(1)
    x0, noise = torch.randn(2, 4, 8, 8, generator=g), torch.randn(2, 4, 8, 8, generator=g)
    config = DiffusionConfig(prediction_type=prediction_type)
    train, ddim = make_training_scheduler(config), make_scheduler("ddim", config)
    ddim.set_timesteps(10)
    t, t_prev = int(ddim.timesteps[3]), int(ddim.timesteps[4])
    tt = torch.full((2,), t)
    x_t = add_noise(x0, noise, tt, train)
    out = ddim.step(training_target(x0, noise, tt, train, prediction_type), t, x_t, eta=0.0)
    torch.testing.assert_close(out.pred_original_sample, x0, rtol=1e-4, atol=1e-4)
    # deterministic DDIM lands exactly on the forward-noised sample of the same noise at t_prev
    torch.testing.assert_close(out.prev_sample, add_noise(x0, noise, torch.full((2,), t_prev), train),
                               rtol=1e-4, atol=1e-4)
    # the last step (to alpha = 1) returns x0 itself
    last = int(ddim.timesteps[-1])
    x_last = add_noise(x0, noise, torch.full((2,), last), train)
    target = training_target(x0, noise, torch.full((2,), last), train, prediction_type)
    torch.testing.assert_close(ddim.step(target, last, x_last).prev_sample, x0, rtol=1e-4, atol=1e-4)


def test_timestep_sampling_is_uniform_and_seeded():
    t = sample_timesteps(20000, 1000, generator=torch.Generator().manual_seed(0))
    assert t.dtype == torch.long and t.min() >= 0 and t.max() <= 999
    counts = torch.bincount(t // 100, minlength=10).float()
    assert counts.min() > 1800 and counts.max() < 2200  # 2000 expected per decile
    again = sample_timesteps(20000, 1000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(t, again)
    assert sample_timesteps((2, 8), 1000).shape == (2, 8)


def test_diffusion_loss_weights_and_mask():
    out = torch.zeros(2, 3, 1, 2, 2)
    target = torch.ones(2, 3, 1, 2, 2)
    target[1] = 3.0  # clip 1 has error 9, clip 0 error 1
    assert diffusion_loss(out, target).item() == pytest.approx(5.0)
    assert diffusion_loss(out, target, weights=torch.tensor([1.0, 0.0])).item() == pytest.approx(0.5)
    mask = torch.tensor([[1, 1, 1], [0, 0, 0]])
    assert diffusion_loss(out, target, mask=mask).item() == pytest.approx(1.0)
    per_frame = torch.tensor([[0.0, 0.0, 3.0], [1.0, 1.0, 1.0]])
    assert diffusion_loss(out, target, weights=per_frame, mask=torch.ones(2, 3)).item() == pytest.approx(
        (3 * 1 + 3 * 9) / 6)


def test_diffusion_loss_pixel_weights_move_the_loss_between_pixels():
    out = torch.zeros(1, 2, 1, 2, 2)
    target = torch.zeros(1, 2, 1, 2, 2)
    target[0, :, 0, 0, 0] = 2.0  # error 4 on one pixel of four, 0 elsewhere
    plain = diffusion_loss(out, target).item()
    assert diffusion_loss(out, target, pixel_weights=torch.full((1, 2, 1, 2, 2), 3.0)).item() == pytest.approx(plain)
    box = torch.ones(1, 2, 1, 2, 2)
    box[0, :, 0, 0, 0] = 3.0  # the erring pixel weighs 3 of (3 + 1 + 1 + 1)
    assert plain == pytest.approx(1.0)
    assert diffusion_loss(out, target, pixel_weights=box).item() == pytest.approx(4 * 3 / 6)
    box[0, :, 0, 0, 0], box[0, :, 0, 1, 1] = 1.0, 3.0  # now a correct pixel is the heavy one
    assert diffusion_loss(out, target, pixel_weights=box).item() == pytest.approx(4 / 6)


def test_alpha_sigma_is_variance_preserving():
    sched = make_training_scheduler(DiffusionConfig())
    x = torch.zeros(2, 8, 4, 3, 3)
    alpha, sigma = alpha_sigma(sched, torch.randint(0, 1000, (2, 8)), x)
    assert alpha.shape == (2, 8, 1, 1, 1)
    torch.testing.assert_close(alpha ** 2 + sigma ** 2, torch.ones_like(alpha))
