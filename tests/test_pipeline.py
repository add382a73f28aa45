"""The streaming pipeline on a micro random bundle: frames and timestamps equal `plan`, streaming,
determinism, bounded context, both interpolation rates, windows without gaps, resizing.

    python -m pytest tests/test_pipeline.py -q
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from drivesim.errors import DrivesimError
from drivesim.models.configs import get_config
from drivesim.pipeline import GenerateOptions, VideoPipeline
from drivesim.pipeline.context import RunContext
from drivesim.pipeline.rollout import KeyframeRollout, choose_keyframe_stride
from drivesim.pipeline.windows import blended_windows
from drivesim.scenario.engine import ScenarioEngine

from pipeline_fixtures import micro_bundle, scenario

pytestmark = pytest.mark.precision  # arithmetic-dependent: CI runs these again in fp32 (README)

FAST = dict(progress=False, steps=2)


def _run(scn, **options):
    pipeline = VideoPipeline(micro_bundle(), GenerateOptions(**{**FAST, **options}))
    return pipeline, list(pipeline.frames(scn))


def test_frames_timestamps_and_labels_equal_plan():
    scn = scenario(duration_s=2.3)  # 23 frames: the last keyframe segment runs past the end
    pipeline, frames = _run(scn)
    plan = list(ScenarioEngine(scn).frames())
    assert [f.index for f in frames] == list(range(23)) == [fc.index for fc in plan]
    assert [f.timestamp_s for f in frames] == [fc.timestamp_s for fc in plan]
    assert [f.labels.to_json() for f in frames] == [fc.to_json() for fc in plan]
    assert all(f.image.shape == (64, 128, 3) and f.image.dtype == np.uint8 for f in frames)
    assert pipeline.run.stats.keyframe_clips == 3  # 7 keyframes (0..24): 4, then 2 new per clip (S = 2)
    assert pipeline.run.stats.frames_yielded == 23
    assert frames[0].image.std() > 0


def test_first_frame_is_yielded_before_the_last_clip_is_sampled():
    scn = scenario(duration_s=3.5)  # 10 keyframes: clips of 4, 2, 2, 2 new keyframes
    pipeline = VideoPipeline(micro_bundle(), GenerateOptions(**FAST, super_resolution=False))
    stream = pipeline.frames(scn)
    first = next(stream)
    assert first.index == 0
    clips_at_first, calls_at_first = pipeline.run.stats.keyframe_clips, pipeline.run.stats.denoiser_calls
    rest = list(stream)
    assert len(rest) == 34
    assert clips_at_first < pipeline.run.stats.keyframe_clips == 4
    assert calls_at_first < pipeline.run.stats.denoiser_calls / 2


def test_same_seed_same_frames_other_seed_other_frames():
    scn = scenario(duration_s=1.2)
    _, a = _run(scn)
    _, b = _run(scn)
    _, c = _run(scn, seed=99)
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0].image, c[0].image)


def test_image_only_mode_differs_and_skips_interpolation():
    scn = scenario(duration_s=1.0)
    video_pipeline, video = _run(scn, super_resolution=False)
    image_pipeline, image = _run(scn, super_resolution=False, image_only=True)
    assert len(image) == len(video) == 10
    assert image_pipeline.run.stats.interpolation_clips == 0 < video_pipeline.run.stats.interpolation_clips
    assert image_pipeline.run.stats.max_cached_latents == 0
    assert not np.array_equal(image[5].image, video[5].image)


def test_rollout_context_stays_bounded_over_a_long_video():
    scn = scenario(duration_s=60.0)
    run = RunContext(micro_bundle(), GenerateOptions(**FAST), ScenarioEngine(scn))
    rollout = KeyframeRollout(run, stride=4)
    held, indices = [], []
    for index, latent in rollout.keyframes(40):
        indices.append(index)
        held.append(len(rollout.context))
        assert latent.shape == (4, 4, 8)
    assert indices == [4 * k for k in range(40)]
    assert run.stats.keyframe_clips == 19  # 4 + 18 x 2 new keyframes
    assert max(held) == run.stats.max_cached_latents == 2
    assert held[-20:] == [2] * 20  # constant once the rollout is under way


class _RateSpy(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model, self.rates = model, []

    def forward(self, x, t, cond, image_only=False):
        self.rates += cond.rate.tolist()  # one per clip of the batch (segments are batched)
        assert all(m == [1.0, 0.0, 0.0, 0.0, 1.0] for m in cond.context_mask.tolist())  # both ends given
        return self.model(x, t, cond, image_only=image_only)


def test_two_interpolation_passes_use_both_rates_and_keep_the_timeline():
    scn = scenario(duration_s=1.0, fps=40.0)  # 40 fps / 16 = 2.5 fps keyframes: x16 in two passes
    spy = _RateSpy(micro_bundle().interpolator)
    bundle = dataclasses.replace(micro_bundle(), interpolator=spy)
    pipeline = VideoPipeline(bundle, GenerateOptions(**FAST, super_resolution=False))
    frames = list(pipeline.frames(scn))
    assert [f.index for f in frames] == list(range(40))
    assert [f.timestamp_s for f in frames] == [round(i / 40, 6) for i in range(40)]
    steps = 2
    assert spy.rates.count(0) == 3 * steps  # keyframes 0|16|32|48 -> 3 segments
    assert spy.rates.count(1) == 10 * steps  # 0..40 every 4 frames -> 10 segments (no work past frame 39's)


def test_resize_to_camera_size_without_super_resolution():
    _, frames = _run(scenario(duration_s=0.5, width=96, height=40), super_resolution=False)
    assert len(frames) == 5 and frames[0].image.shape == (40, 96, 3)


def test_keyframe_stride_follows_the_bundle_rate():
    tiny, paper = get_config("tiny"), get_config("paper")
    assert choose_keyframe_stride(tiny, 10.0) == 4
    assert choose_keyframe_stride(tiny, 40.0) == 16
    assert choose_keyframe_stride(tiny, 2.5) == 1
    assert choose_keyframe_stride(paper, 30.0) == 16
    assert choose_keyframe_stride(paper, 10.0) == 4
    assert choose_keyframe_stride(tiny, 10.0, image_only=True) == 1


@pytest.mark.parametrize("length", [1, 3, 4, 5, 6, 9, 10, 13])
def test_blended_windows_cover_every_item_once_and_cross_fade(length):
    items = [(i, torch.tensor([float(i)])) for i in range(length)]
    windows = []

    def process(window):  # each window adds its own number: overlaps show the blend
        windows.append([i for i, _ in window])
        return torch.stack([x for _, x in window]) + 100.0 * len(windows)

    out = list(blended_windows(items, process, window=4, overlap=2))
    assert [i for i, _ in out] == list(range(length))
    assert all(len(w) <= 4 for w in windows)
    if length > 4:
        # frame 2 is in windows 1 and 2: 2/3 of window 1 + 1/3 of window 2; frame 3 the other way round
        assert out[2][1].item() == pytest.approx(2 + 100 * (2 / 3) + 200 * (1 / 3))
        assert out[3][1].item() == pytest.approx(3 + 100 * (1 / 3) + 200 * (2 / 3))
    assert out[0][1].item() == 100.0


def test_bad_options_are_clear_errors():
    with pytest.raises(DrivesimError, match="sampler"):
        GenerateOptions(sampler="euler")
    with pytest.raises(DrivesimError, match="steps"):
        GenerateOptions(steps=0)
    if not torch.cuda.is_available():
        with pytest.raises(DrivesimError, match="CUDA"):
            VideoPipeline(micro_bundle(), GenerateOptions(device="cuda"))


def test_bundle_config_sets_the_super_resolution_default():
    bundle = micro_bundle()
    off = dataclasses.replace(bundle, config=dataclasses.replace(bundle.config, super_resolution=False))
    opts = GenerateOptions(progress=False)
    assert VideoPipeline(bundle, opts).options.super_resolution is True
    assert VideoPipeline(off, opts).options.super_resolution is False
    forced = GenerateOptions(progress=False, super_resolution=True)  # --sr
    assert VideoPipeline(off, forced).options.super_resolution is True
    pipeline = VideoPipeline(off, GenerateOptions(progress=False, steps=1))
    frames = list(pipeline.frames(scenario(duration_s=0.3)))
    assert len(frames) == 3 and frames[0].image.shape == (64, 128, 3)
    assert pipeline.run.stats.upsample_chunks == 0  # the upsampler never ran


def test_residual_upsampler_that_predicts_no_detail_gives_the_bicubic_frames():
    # The tiny preset's upsampler models the detail over a bicubic resize: a model that adds
    # nothing must give (close to) the plain resize, a random one must not.
    scn = scenario(duration_s=0.5)  # camera 64x128 = 4 x the micro 16x32 frames: no final resize
    assert micro_bundle().config.upsampler.residual_scale > 0
    silent = copy.deepcopy(micro_bundle().upsampler)
    nn.init.zeros_(silent.conv_out.weight)
    nn.init.zeros_(silent.conv_out.bias)
    _, plain = _run(scn, super_resolution=False)
    pipeline = VideoPipeline(dataclasses.replace(micro_bundle(), upsampler=silent),
                             GenerateOptions(**FAST, super_resolution=True))
    zeroed = list(pipeline.frames(scn))
    _, random = _run(scn, super_resolution=True)
    assert pipeline.run.stats.upsample_chunks > 0
    gap = [np.abs(a.image.astype(float) - b.image.astype(float)).mean() for a, b in zip(plain, zeroed, strict=True)]
    off = [np.abs(a.image.astype(float) - b.image.astype(float)).mean() for a, b in zip(plain, random, strict=True)]
    assert max(gap) < 2.0  # torch vs OpenCV bicubic only
    assert min(off) > 5 * max(gap)


def test_the_upsampler_and_the_keyframe_model_see_the_boxes_at_their_own_resolution():
    scn = scenario(duration_s=0.5)
    bundle = micro_bundle()
    assert bundle.config.upsampler.num_layout_channels == 6 and bundle.config.unet.layout_levels
    seen: dict[str, list] = {"unet": [], "upsampler": []}

    def spy(name: str):
        model = getattr(bundle, name)

        class Spy(type(model)):
            def forward(self, x, t, cond, image_only=False):
                seen[name].append(cond)
                return super().forward(x, t, cond, image_only=image_only)
        clone = copy.copy(model)
        clone.__class__ = Spy
        return clone

    spied = dataclasses.replace(bundle, unet=spy("unet"), upsampler=spy("upsampler"))
    pipeline = VideoPipeline(spied, GenerateOptions(**FAST, super_resolution=True))
    frames = list(pipeline.frames(scn))
    h, w = bundle.config.output_size
    ups = seen["upsampler"][0]
    assert ups.layout.shape[-3:] == (6, h, w) and not ups.layout_null.any()
    box = frames[0].labels.boxes[0]  # the lead car, in camera pixels = output pixels here (64x128)
    x0, y0, x1, y1 = (round(v) for v in box.bbox_xyxy)
    assert ups.layout[0, 0, 0, (y0 + y1) // 2, (x0 + x1) // 2] == 1.0  # vehicle channel inside its box
    assert ups.layout[0, 0, 0, 1, 1] == 0.0
    lh, lw = bundle.config.layout_size
    assert seen["unet"][0].layout.shape[-3:] == (6, lh, lw) and (lh, lw) == bundle.config.frame_size


def test_bundle_config_sets_the_guidance_default_and_the_flag_overrides_it():
    scn = scenario(duration_s=0.5)
    base = micro_bundle()
    guided = dataclasses.replace(base, config=dataclasses.replace(
        base.config, diffusion=dataclasses.replace(base.config.diffusion, guidance_scale=3.0)))
    default = VideoPipeline(guided, GenerateOptions(**FAST, super_resolution=False))
    forced = VideoPipeline(guided, GenerateOptions(**FAST, super_resolution=False, guidance=1.0))
    _, plain = _run(scn, super_resolution=False)
    with_default, with_flag = list(default.frames(scn)), list(forced.frames(scn))
    assert default.run.guidance == 3.0 and forced.run.guidance == 1.0
    assert all(np.array_equal(a.image, b.image) for a, b in zip(plain, with_flag, strict=True))
    assert not np.array_equal(plain[0].image, with_default[0].image)
    with pytest.raises(DrivesimError, match="guidance_scale must be >= 0"):
        dataclasses.replace(base.config.diffusion, guidance_scale=-1.0)


# --- arithmetic ------------------------------------------------------------------------------------

def test_compute_dtype_follows_the_precision_option_and_the_cpu(monkeypatch):
    from drivesim.pipeline import options

    monkeypatch.delenv("DRIVESIM_PRECISION", raising=False)
    assert options.compute_dtype("cpu", "fp32") == torch.float32
    assert options.compute_dtype("cpu", "bf16") == torch.bfloat16
    monkeypatch.setattr(options, "cpu_has_native_bf16", lambda: False)  # emulated bf16 is slower: stay fp32
    assert options.compute_dtype("cpu", "auto") == torch.float32
    monkeypatch.setattr(options, "cpu_has_native_bf16", lambda: True)
    assert options.compute_dtype("cpu", "auto") == torch.bfloat16
    with pytest.raises(DrivesimError, match="--precision"):
        GenerateOptions(precision="fp16")


def test_the_precision_switch_pins_auto_and_names_a_bad_value(monkeypatch):
    """DRIVESIM_PRECISION (CI's fp32 pass) decides what "auto" means; an explicit option still wins."""
    from drivesim.pipeline import options

    monkeypatch.setattr(options, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setenv("DRIVESIM_PRECISION", "fp32")
    assert options.compute_dtype("cpu", "auto") == torch.float32
    assert options.compute_dtype("cpu", "bf16") == torch.bfloat16
    monkeypatch.setattr(options, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setenv("DRIVESIM_PRECISION", "BF16")
    assert options.compute_dtype("cpu", "auto") == torch.bfloat16
    monkeypatch.setenv("DRIVESIM_PRECISION", "fp16")
    with pytest.raises(DrivesimError, match="DRIVESIM_PRECISION must be one of auto, fp32, bf16, got 'fp16'"):
        options.compute_dtype("cpu", "auto")


def test_bf16_frames_stay_within_tolerance_of_fp32():
    scn = scenario(duration_s=1.0)
    _, exact = _run(scn, precision="fp32")
    _, fast = _run(scn, precision="bf16")
    a = np.stack([f.image for f in exact]).astype(np.float64)
    b = np.stack([f.image for f in fast]).astype(np.float64)
    diff = np.abs(a - b)
    assert diff.max() > 0  # the bf16 path really ran
    assert diff.mean() <= 1.0  # the stated tolerance: under one 8-bit level on average
    assert 10 * np.log10(255**2 / np.mean((a - b) ** 2)) >= 35.0  # PSNR in dB


def test_frame_conv_equals_the_conv3d_it_replaces():
    from drivesim.models.temporal import FrameConv

    torch.manual_seed(0)
    conv = nn.Conv3d(6, 4, (3, 1, 1), padding=(1, 0, 0))
    fast = FrameConv(6, 4, (3, 1, 1), padding=(1, 0, 0))
    fast.load_state_dict(conv.state_dict())  # same parameter names: bundles load unchanged
    x = torch.randn(2, 6, 5, 3, 7, requires_grad=True)
    out_fast, out_ref = fast(x), conv(x)
    assert torch.allclose(out_fast, out_ref, atol=1e-5)
    (g_fast,) = torch.autograd.grad(out_fast.square().sum(), x)
    (g_ref,) = torch.autograd.grad(out_ref.square().sum(), x)
    assert torch.allclose(g_fast, g_ref, atol=1e-4)


def test_frame_attention_block_equals_diffusers_block():
    from diffusers.models.attention import TemporalBasicTransformerBlock

    from drivesim.models.temporal import FrameAttentionBlock

    torch.manual_seed(0)
    ref = TemporalBasicTransformerBlock(16, 16, 2, 8)
    for p in ref.parameters():  # nothing zero-initialised: every branch contributes
        nn.init.normal_(p, std=0.1)
    fast = FrameAttentionBlock(16, 16, 2, 8)
    fast.load_state_dict(ref.state_dict())  # same parameter names: bundles load unchanged
    x = torch.randn(3 * 5, 7, 16, requires_grad=True)  # (b t) n c: 3 clips of 5 frames, 7 pixels
    out_fast, out_ref = fast(x, num_frames=5), ref(x, num_frames=5)
    assert out_ref.abs().mean() > 0.1
    assert torch.allclose(out_fast, out_ref, atol=1e-5)
    (g_fast,) = torch.autograd.grad(out_fast.square().sum(), x)
    (g_ref,) = torch.autograd.grad(out_ref.square().sum(), x)
    assert torch.allclose(g_fast, g_ref, atol=1e-4, rtol=1e-4)
    # frames really attend to each other: changing one frame changes the others' outputs
    y = x.detach().clone()
    y[1] += torch.randn(7, 16)  # frame 1 of clip 0 (not a constant: the layer norm would remove it)
    diff = (fast(y, num_frames=5) - out_fast).abs().amax(dim=(1, 2))
    assert diff[[0, 2, 3, 4]].min() > 1e-3 and diff[5:].max() == 0  # clip 0's other frames moved, other clips not


def test_batched_interpolation_samples_what_one_segment_at_a_time_samples():
    from drivesim.pipeline.context import RunContext
    from drivesim.pipeline.interpolate import interpolate
    from drivesim.scenario.engine import ScenarioEngine

    bundle = micro_bundle()
    run = RunContext(bundle, GenerateOptions(**FAST, precision="fp32"), ScenarioEngine(scenario(duration_s=2.0)))
    torch.manual_seed(0)
    keyframes = [(4 * k, torch.randn(bundle.config.autoencoder.latent_channels, *bundle.config.latent_size))
                 for k in range(6)]
    one = list(interpolate(run, keyframes, rate=0, batch=1))
    calls = run.stats.denoiser_calls
    batched = list(interpolate(run, keyframes, rate=0, batch=4))
    assert [i for i, _ in batched] == [i for i, _ in one] == list(range(21))
    assert run.stats.denoiser_calls - calls == 2 * (calls // 5)  # 5 segments: batches of 4 and 1, not 5
    for (_, a), (_, b) in zip(one, batched):
        assert torch.allclose(a, b, atol=1e-4)
    assert not torch.allclose(one[1][1], one[5][1])  # segments differ (own noise and ends)
