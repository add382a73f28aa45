"""Samplers and guidance wrappers: exactness with an oracle denoiser, the guidance formula,
batched guidance == two passes, and errors.

    python -m pytest tests/test_sampling.py -q
"""

from __future__ import annotations

import copy

import pytest
import torch

from drivesim.conditions.encode import build_conditions, null_conditions, without_context
from drivesim.conditions.tensors import UNetConditions
from drivesim.diffusion.schedule import DiffusionConfig, make_scheduler
from drivesim.errors import DrivesimError
from drivesim.sampling import sample, sample_ddim, sample_dpmpp
from drivesim.sampling.guidance import context_guidance, guided_output, label_guidance
from drivesim.scenario.labels import FrameConditions

from pipeline_fixtures import micro_bundle


def _oracle(x0: torch.Tensor, diffusion: DiffusionConfig):
    """A perfect denoiser for the single data point x0: the exact eps (or v, or x0) of x_t."""
    acp = make_scheduler("ddim", diffusion).alphas_cumprod.double()

    def model(x, t, cond):
        a = acp[t.long()].sqrt().view(-1, 1, 1, 1, 1)
        s = (1 - acp[t.long()]).sqrt().view(-1, 1, 1, 1, 1)
        eps = (x.double() - a * x0.double()) / s
        out = {"epsilon": eps, "sample": x0.double().expand_as(eps)}.get(diffusion.prediction_type,
                                                                           a * eps - s * x0.double())
        return out.float()

    return model


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
@pytest.mark.parametrize("sampler", ["ddim", "dpmpp"])
def test_perfect_denoiser_recovers_x0(prediction_type, sampler):
    diffusion = DiffusionConfig(prediction_type=prediction_type)
    x0 = torch.randn(2, 3, 4, 6, 8, generator=torch.Generator().manual_seed(0))
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))
    seen = []
    out = sample(sampler, _oracle(x0, diffusion), noise, None, diffusion, steps=5, callback=seen.append)
    assert torch.allclose(out, x0, atol=1e-4), (out - x0).abs().max()
    assert [s["i"] for s in seen] == list(range(5))
    assert seen[0]["t"] > seen[-1]["t"]  # from noisy to clean


def test_wrong_denoiser_does_not_recover_x0():
    diffusion = DiffusionConfig(prediction_type="epsilon")
    x0 = torch.randn(1, 2, 4, 6, 8)
    out = sample_ddim(lambda x, t, c: torch.zeros_like(x), torch.randn_like(x0), None, diffusion, steps=5)
    assert not torch.allclose(out, x0, atol=1e-2)


def test_ddim_is_deterministic_and_eta_uses_the_generator():
    diffusion = DiffusionConfig(prediction_type="epsilon")
    model = lambda x, t, c: 0.1 * x  # noqa: E731
    noise = torch.randn(1, 2, 4, 6, 8, generator=torch.Generator().manual_seed(0))
    a = sample_ddim(model, noise, None, diffusion, 4)
    assert torch.equal(a, sample_ddim(model, noise, None, diffusion, 4))
    b1 = sample_ddim(model, noise, None, diffusion, 4, eta=1.0, generator=torch.Generator().manual_seed(5))
    b2 = sample_ddim(model, noise, None, diffusion, 4, eta=1.0, generator=torch.Generator().manual_seed(5))
    b3 = sample_ddim(model, noise, None, diffusion, 4, eta=1.0, generator=torch.Generator().manual_seed(6))
    assert torch.equal(b1, b2) and not torch.equal(b1, b3) and not torch.equal(a, b1)
    assert sample_dpmpp(model, noise, None, diffusion, 3).shape == noise.shape


def test_bad_sampler_and_steps_are_clear_errors():
    with pytest.raises(DrivesimError, match="ddim"):
        sample("euler", lambda x, t, c: x, torch.zeros(1, 1, 1, 1, 1), None, DiffusionConfig(), 2)
    with pytest.raises(DrivesimError, match="steps"):
        sample("ddim", lambda x, t, c: x, torch.zeros(1, 1, 1, 1, 1), None, DiffusionConfig(), 0)


# --- guidance -------------------------------------------------------------------------------

def _conditions(frames: int = 3, size=(4, 8)) -> UNetConditions:
    clip = [FrameConditions(i, i / 10, "night", 0.5) for i in range(frames)]
    return build_conditions([clip], size)


def _fake_model(calls: list):
    """Output depends on the label nulls and the context mask, so cond and uncond differ."""
    def model(x, t, cond):
        calls.append(x.shape[0])
        label = (~cond.crowd_null).float()[:, :, None, None, None]
        ctx = cond.context_mask[:, :, None, None, None] if cond.context_mask is not None else 0
        return x + 2.0 * label + 5.0 * ctx
    return model


def test_label_guidance_formula_and_one_batched_forward():
    cond = _conditions()
    x = torch.randn(1, 3, 4, 4, 8)
    calls = []
    out = label_guidance(_fake_model(calls), 3.0)(x, torch.tensor([10]), cond)
    assert calls == [2]  # one forward, cond and uncond concatenated along the batch
    # f(u) = x, f(c) = x + 2: x + 3 * 2
    assert torch.allclose(out, x + 6.0)
    assert label_guidance(_fake_model([]), 1.0)(x, torch.tensor([10]), cond).equal(x + 2.0)  # scale 1 = plain model


def test_guidance_hands_the_model_one_cond_object_per_clip():
    seen = []

    def model(x, t, cond):
        seen.append(cond)
        return x

    guided = label_guidance(context_guidance(model, 2.0), 3.0)
    cond, x = _conditions(), torch.randn(1, 3, 4, 4, 8)
    cond = cond.replace(context=torch.randn(1, 3, 4, 4, 8), context_mask=torch.tensor([[1.0, 0.0, 0.0]]))
    for step in (10, 5):  # two sampler steps of one clip
        guided(x, torch.tensor([step]), cond)
    assert len(seen) == 2 and seen[0] is seen[1]  # the same batched cond: the model reuses its per-clip inputs
    guided(x, torch.tensor([10]), copy.copy(cond))  # another clip's cond object
    assert seen[2] is not seen[0] and seen[2].batch_size == 4  # (uncond, cond) x (no context, context)


def test_context_guidance_formula_and_pass_through_without_context():
    cond = _conditions()
    x = torch.randn(1, 3, 4, 4, 8)
    context = torch.randn(1, 3, 4, 4, 8)
    with_ctx = cond.replace(context=context, context_mask=torch.tensor([[1.0, 0.0, 0.0]]))
    calls = []
    out = context_guidance(_fake_model(calls), 2.0)(x, torch.tensor([10]), with_ctx)
    expected = x + 2.0 + 2.0 * 5.0 * with_ctx.context_mask[:, :, None, None, None]  # f(z) + 2 (f(z; c) - f(z))
    assert calls == [2] and torch.allclose(out, expected)
    calls.clear()
    no_ctx = with_ctx.replace(context_mask=torch.zeros(1, 3))
    assert torch.allclose(context_guidance(_fake_model(calls), 2.0)(x, torch.tensor([10]), no_ctx), x + 2.0)
    assert calls == [1]  # S = 0: guidance would be a no-op, so only one pass


def test_guidances_stack():
    cond = _conditions().replace(context=torch.zeros(1, 3, 4, 4, 8), context_mask=torch.tensor([[1.0, 1.0, 0.0]]))
    x = torch.zeros(1, 3, 4, 4, 8)
    calls = []
    out = label_guidance(context_guidance(_fake_model(calls), 2.0), 3.0)(x, torch.tensor([1]), cond)
    assert calls == [4]  # 2 (labels) x 2 (context) in one forward
    m = cond.context_mask[:, :, None, None, None]
    # inner: g(c) = 2 + 10 m, g(u) = 0 + 10 m; outer: g(u) + 3 (g(c) - g(u)) = 10 m + 6
    assert torch.allclose(out, (10.0 * m + 6.0).expand_as(out))


def test_batched_guidance_equals_two_passes_on_the_real_unet():
    bundle = micro_bundle()
    unet = copy.deepcopy(bundle.unet).eval()
    h, w = bundle.config.latent_size
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # fresh models zero-init their context and temporal outputs: wake them up
        for p in unet.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    cond = _conditions(4, bundle.config.layout_size).replace(context=torch.randn(1, 4, 4, h, w, generator=gen),
                                          context_mask=torch.tensor([[1.0, 1.0, 0.0, 0.0]]))
    x = torch.randn(1, 4, 4, h, w, generator=gen)
    t = torch.tensor([700])
    model = lambda x, t, c: unet(x, t, c)  # noqa: E731
    with torch.inference_mode():
        assert not torch.allclose(model(x, t, cond), model(x, t, null_conditions(cond)), atol=1e-4)
        assert not torch.allclose(model(x, t, cond), model(x, t, without_context(cond)), atol=1e-4)
        for guidance in (label_guidance, context_guidance):
            batched = guidance(model, 2.5, batched=True)(x, t, cond)
            two = guidance(model, 2.5, batched=False)(x, t, cond)
            assert torch.allclose(batched, two, atol=1e-5), (batched - two).abs().max()
        by_hand = guided_output(model, x, t, null_conditions(cond), cond, 2.5, batched=False)
        assert torch.allclose(label_guidance(model, 2.5)(x, t, cond), by_hand, atol=1e-5)
