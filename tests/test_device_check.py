"""The GPU path (`drivesim bench --mfu`, scripts/device_check.sh) on the CPU: the dry run writes every
figure, FLOPs are counted the same way on the meta device and in a real run, the paper config costs
what the issue says per output frame, and the paper config's pipeline structure runs end to end.

    OMP_NUM_THREADS=1 python -m pytest tests/test_device_check.py -x -q
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from drivesim.bench.device import DeviceBenchOptions, bench_generation, default_frames, warmup_frames
from drivesim.bench.device_report import format_device_report, merge_reports
from drivesim.cli import main
from drivesim.bench.flops import NetworkCalls, count_flops, flops_per_output_frame, forward_flops, peak_tflops
from drivesim.models.configs import get_config
from drivesim.pipeline.windows import blended_windows

import pipeline_fixtures  # noqa: F401  (one torch thread)

pytestmark = pytest.mark.precision  # arithmetic-dependent: CI runs these again in fp32 (README)

REPO = Path(__file__).resolve().parents[1]
STAGES = ("keyframes", "interpolate", "decode", "upsample")


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("device_check")
    env = {**os.environ, "DRY_RUN": "1", "OUT": str(out), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(["bash", str(REPO / "scripts" / "device_check.sh")], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def test_dry_run_writes_every_figure(dry_run):
    result = json.loads((dry_run / "device_check.json").read_text())
    assert result["config"] == "tiny" and result["device"]["type"] == "cpu"
    assert result["device"]["peak_tflops"] is None  # no peak for a CPU: MFU is not made up
    g = result["generate"]
    assert g["complete"] and g["frames"] == 3 and g["compile"] is False
    assert g["output_size"] == [256, 512] and g["steps"] == 1 and g["sr_steps"] == 1
    assert g["fps"] > 0 and g["seconds"] > 0 and g["tflop"] > 0 and g["mfu"] is None and g["peak_gpu_mb"] is None
    for stage in STAGES:
        s = g["stages"][stage]
        assert s["fps"] > 0 and s["forwards"] >= 1 and s["tflop"] > 0 and s["tflops"] > 0, stage
        assert s["mfu"] is None
    assert math.isclose(g["tflop"], sum(s["tflop"] for s in g["stages"].values()))
    assert result["generate_compiled"] is None  # the dry run does not compile
    e = result["estimate"]
    assert e["tflop_per_frame_total"] > 0 and e["fps_at_peak"] is None
    assert e["tflop_per_frame_reference"] > e["tflop_per_frame_total"]  # 50 steps cost more than 1
    for stage in ("image", "video"):
        t = result["train"][stage]
        assert t["steps"] == 1 and t["steps_per_s"] > 0 and t["tflop_per_step"] > 0 and t["mfu"] is None
        assert t["trainable_params"] > 0 and math.isfinite(t["loss"])
    assert (result["train"]["image"]["trains"], result["train"]["video"]["trains"]) == ("spatial", "temporal")
    report = (dry_run / "device_check.md").read_text()
    assert "| eager | upsample |" in report and "| compiled | not measured |" in report
    assert "| video | temporal" in report
    assert (dry_run / "device_check.log").stat().st_size > 0


def test_the_runs_forwards_cost_what_the_meta_count_says(dry_run):
    """The keyframe and interpolation clips of the dry run have the pipeline's full sizes: torch's
    counter gives the same FLOPs for a real CPU forward (attention included) as on the meta device."""
    g = json.loads((dry_run / "generate_eager.json").read_text())
    meta = g["estimate"]["forward_tflop"]
    config = get_config("tiny")
    (h, w), c = config.latent_size, config.autoencoder.latent_channels
    assert g["generate"]["forward_tflop"]["unet"][f"1x{config.clip_frames}x{c}x{h}x{w}"] == meta["unet"]
    assert g["generate"]["forward_tflop"]["interpolator"][f"1x{config.interpolation_factor + 1}x{c}x{h}x{w}"] \
        == meta["interpolator"]


def test_merge_says_which_parts_are_missing(dry_run, tmp_path):
    (tmp_path / "train.json").write_text((dry_run / "train.json").read_text())
    merged, report = merge_reports(tmp_path)
    assert merged["generate"] is None and merged["train"]["video"]["steps"] == 1
    assert "| eager | not measured |" in report and "| video |" in report
    stopped = json.loads((dry_run / "generate_eager.json").read_text())
    stopped["generate"] = {"compile": True, "warmup_s": 95.0, "complete": False}  # killed while timed
    (tmp_path / "generate_compiled.json").write_text(json.dumps(stopped))
    assert "| compiled | stopped after a 95 s warm-up |" in merge_reports(tmp_path)[1]
    assert merge_reports(tmp_path / "missing")[1].startswith("no part of the device check finished")


def test_paper_costs_what_the_issue_says_per_output_frame():
    """About 90 TFLOP per 512x1024 frame at 50 DDIM steps for every model (the upsampler ~88 %), about 8
    with 8 latent and 4 upsampler steps; counted here, not assumed."""
    config = get_config("paper")
    forward = forward_flops(config)
    full = flops_per_output_frame(config, forward, 50, 50)
    assert 85e12 < sum(full.values()) < 95e12
    assert 0.86 < full["upsample"] / sum(full.values()) < 0.90
    fast = flops_per_output_frame(config, forward, 8, 4)
    assert 7.5e12 < sum(fast.values()) < 9.5e12
    guided = flops_per_output_frame(config, forward, 8, 4, guidance=2.0)  # label guidance doubles the latent models
    assert guided["keyframes"] == 2 * fast["keyframes"] and guided["upsample"] == fast["upsample"]


def test_cpu_attention_is_counted():
    q = torch.randn(2, 4, 8, 16)
    assert count_flops(torch.nn.functional.scaled_dot_product_attention, q, q, q) == 2 * 2 * 2 * 4 * 8 * 8 * 16


def test_peak_table_and_override():
    assert peak_tflops("NVIDIA H100 80GB HBM3")[0] == 989.0
    assert peak_tflops("NVIDIA H100 PCIe")[0] == 756.0
    assert peak_tflops("NVIDIA H200")[0] == 989.0
    assert peak_tflops("NVIDIA A100-SXM4-80GB")[0] == 312.0
    assert peak_tflops("NVIDIA GH200 480GB")[1] == "datasheet dense bf16, GH200"
    value, why = peak_tflops("Some Future GPU")
    assert value is None and "--peak-tflops" in why
    assert peak_tflops("Some Future GPU", 500.0) == (500.0, "--peak-tflops")


def _window_lengths(config, frames: int) -> set[int]:
    lengths = set()
    for window in (config.decoder_window, config.upsampler_chunk_frames):
        def process(items, lengths=lengths):
            lengths.add(len(items))
            return torch.zeros(len(items))
        list(blended_windows(((i, i) for i in range(frames)), process, window, 2))
    return lengths


@pytest.mark.parametrize("name", ["tiny", "paper"])
def test_the_warm_up_gives_every_window_length_of_the_timed_run(name):
    config = get_config(name)
    for frames in (1, 3, 8, 9, 13, 14, 20, 101, 241, default_frames(config)):
        warm = warmup_frames(config, frames)
        assert warm <= frames and _window_lengths(config, warm) == _window_lengths(config, frames), frames
    assert _window_lengths(config, default_frames(config)) == {config.decoder_window}  # full windows only
    assert default_frames(config) <= config.keyframe_stride * (config.clip_frames - 1) + 1


def _small_paper():
    """The paper config's structure (30 fps, x16 interpolation in two passes, 16-frame clips, factor-8
    autoencoder, upsampler without layout maps) at narrow channels and 32x64 keyframes (128x256 out)."""
    paper = get_config("paper")
    unet = dataclasses.replace(paper.unet, block_out_channels=(32, 64, 64), layers_per_block=1)
    return dataclasses.replace(
        paper, name="paper-small", frame_size=(32, 64), unet=unet,
        interpolator=dataclasses.replace(unet, use_rate=True),
        autoencoder=dataclasses.replace(paper.autoencoder, block_channels=(32, 32, 64, 64), layers_per_block=1),
        upsampler=dataclasses.replace(paper.upsampler, block_out_channels=(32, 32, 64), layers_per_block=1))


def test_paper_structure_generates_end_to_end_at_a_small_size():
    from drivesim.models.bundle import build_bundle

    config = _small_paper()
    bundle = build_bundle(config, seed=0)
    g = bench_generation(bundle, DeviceBenchOptions(device="cpu", frames=17, steps=1, sr_steps=1), peak=None,
                         log=lambda *a: None)
    assert g["complete"] and g["frames"] == 17 and g["output_size"] == [128, 256] and g["output_fps"] == 30.0
    forwards = {stage: s["forwards"] for stage, s in g["stages"].items()}
    # one keyframe clip (keyframes 0 and 16), then 1 + 4 interpolation windows (rates 0 and 1; each pass's
    # segments in one batched forward), decoder windows and upsampler chunks of 8 frames advancing by 6
    # over 17 frames: 3 each; one step each
    assert forwards == {"keyframes": 1, "interpolate": 2, "decode": 3, "upsample": 3}
    assert "4x5x4x4x8" in g["forward_tflop"]["interpolator"]  # the 4 rate-1 segments, one forward
    assert set(g["forward_tflop"]["upsampler"]) == {"1x8x3x128x256", "1x5x3x128x256"}


def test_network_calls_pass_attributes_through_and_count_each_shape_once():
    module = torch.nn.Linear(4, 2)
    calls = NetworkCalls(module)
    for rows in (3, 3, 5):
        calls(torch.zeros(rows, 4))
    assert calls.weight is module.weight
    assert calls.flops() == 2 * (3 + 3 + 5) * 4 * 2
    calls.reset()
    calls(torch.zeros(5, 4))
    assert calls.flops() == 2 * 5 * 4 * 2 and len(calls.per_forward) == 2


@pytest.mark.parametrize("argv, message", [
    (["--device", "cuda"], "--device cuda was asked for"),
    (["--frames", "0"], "--frames must be >= 1, got 0"),
    (["--peak-tflops", "-3"], "--peak-tflops must be a number > 0"),
    (["--train-seconds", "0"], "--train-steps must be >= 1 and --train-seconds > 0"),
])
def test_bad_device_bench_options_are_one_clear_line(capsys, argv, message):
    if argv[:2] == ["--device", "cuda"] and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert main(["bench", "--mfu", "--random-config", "tiny", "--device", "cpu", *argv]) == 1
    err = capsys.readouterr().err
    assert f"error: {message}" in err and "Traceback" not in err


def test_report_of_a_gpu_result_shows_mfu():
    result = {"device": {"name": "NVIDIA H100 80GB HBM3", "type": "cuda", "torch": "2.11", "python": "3.12.3",
                         "peak_tflops": 989.0, "peak_source": "datasheet dense bf16, H100 SXM"}, "bundle": "random paper",
              "generate": {"compile": False, "complete": True, "frames": 236, "warmup_frames": 8,
                           "output_size": [512, 1024], "output_fps": 30.0, "sampler": "ddim", "steps": 8,
                           "sr_steps": 4, "guidance": 1.0, "fps": 20.0, "seconds": 11.8, "tflops": 170.0,
                           "mfu": 0.172, "peak_gpu_mb": 14000.0, "warmup_s": 3.0,
                           "stages": {s: {"fps": 100.0, "seconds": 2.0, "forwards": 10, "tflops": 300.0,
                                          "mfu": 0.303} for s in STAGES}}}
    report = format_device_report(result)
    assert "| eager | **total** | **20.00** | 11.80 | | 170 | **17.2%** |" in report
    assert "| eager | upsample | 100.00 | 2.00 | 10 | 300 | 30.3% |" in report
    assert "512 frames" not in report and "236 frames at 1024x512, 30 fps" in report
