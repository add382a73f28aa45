"""`drivesim bench --mfu`: the GPU path's figures — output frames/s per stage, peak GPU memory, counted
FLOPs and model FLOP utilisation (MFU), and training steps/s of the image and video stages.

Generation runs the real pipeline (`VideoPipeline`, bf16 autocast on CUDA, `--compile` for
torch.compile) on the benchmark drive at the config's output size and frame rate (the `paper`
config: 512x1024 at 30 fps), after an untimed warm-up run that gives every network every input
shape the timed run will give it (so a compiled run compiles nothing while timed). The timed run
is about one keyframe clip long by default (236 frames for `paper`). Every network forward is recorded
by input shape; torch's FLOP counter counts one forward of each shape (drivesim/bench/flops.py), so a
stage's FLOPs are the counted FLOPs of exactly the forwards it ran. MFU = those FLOPs / the stage's
seconds / the device's peak (a table by device name, or --peak-tflops). Training: training.py.
The JSON is rewritten after every finished measurement, so a run stopped by a time limit keeps
what it measured.

    drivesim bench --mfu --device cuda --random-config paper --steps 8 --sr-steps 4 --json out/gpu.json
    drivesim bench --mfu generate --device cuda --random-config paper --steps 8 --sr-steps 4 --compile
    drivesim bench --mfu --device cpu --random-config tiny --frames 9 --steps 2 --sr-steps 1 --train-steps 3
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from drivesim.errors import DrivesimError
from drivesim.bench.flops import NETWORKS, STAGE_NETWORK, NetworkCalls, flops_per_output_frame, forward_flops, peak_tflops
from drivesim.models.configs import BundleConfig

if TYPE_CHECKING:
    from drivesim.models.bundle import Bundle
    from drivesim.scenario.format import Scenario

__all__ = ["DeviceBenchOptions", "PARTS", "bench_generation", "default_frames", "device_scenario",
           "run_device_bench", "warmup_frames"]

PARTS = ("all", "generate", "train")
STUDENT_OF = {"unet": "keyframe", "interpolator": "interpolator", "upsampler": "upsampler"}  # network -> its student
REFERENCE_STEPS = 50  # the paper's DDIM steps for every model: the per-frame cost the issue quotes


@dataclass
class DeviceBenchOptions:
    """One `drivesim bench --mfu` run; None = the bundle's default."""

    device: str = "cuda"
    random_config: str | None = None  # time a randomly initialised bundle of this config
    checkpoint: str | None = None  # or a trained bundle
    part: str = "all"  # generate | train | all
    frames: int | None = None  # output frames of the timed run; None = about one keyframe clip (default_frames)
    steps: int | None = None
    sr_steps: int | None = None
    sampler: str | None = None
    compile: bool = False  # torch.compile the four networks
    train_steps: int = 200  # per training stage
    train_seconds: float = 60.0  # per training stage: stop earlier than train_steps after this long
    peak_tflops: float | None = None  # override the device table
    threads: int | None = None
    student: bool = False  # generation with the bundle's few-step students (GenerateOptions.student)

    def __post_init__(self) -> None:
        if self.part not in PARTS:
            raise DrivesimError(f"--mfu must be one of {', '.join(PARTS)}, got {self.part!r}")
        if self.frames is not None and self.frames < 1:
            raise DrivesimError(f"--frames must be >= 1, got {self.frames}")
        if self.train_steps < 1 or not self.train_seconds > 0:
            raise DrivesimError("--train-steps must be >= 1 and --train-seconds > 0")
        if self.peak_tflops is not None and not (math.isfinite(self.peak_tflops) and self.peak_tflops > 0):
            raise DrivesimError(f"--peak-tflops must be a number > 0, got {self.peak_tflops}")


def _windows(config: BundleConfig) -> list[tuple[int, int]]:
    """(length, advance) of the decoder's windows and the upsampler's chunks (advance = length - overlap)."""
    from drivesim.pipeline.decode import DECODE_OVERLAP
    from drivesim.pipeline.upsample import UPSAMPLE_OVERLAP

    return [(w, w - min(o, w - 1)) for w, o in ((config.decoder_window, DECODE_OVERLAP),
                                                (config.upsampler_chunk_frames, UPSAMPLE_OVERLAP))]


def default_frames(config: BundleConfig) -> int:
    """About one keyframe clip of output frames (keyframe_stride * (clip_frames - 1) + 1 at most), cut to a
    count that fills every decoder window and upsampler chunk: one input shape per network, so a compiled
    run compiles each network once (236 frames for the paper config, 26 for tiny)."""
    clip = config.keyframe_stride * (config.clip_frames - 1) + 1
    full = [n for n in range(clip, 0, -1) if all(n >= w and (n - w) % step == 0 for w, step in _windows(config))]
    return full[0] if full else clip


def warmup_frames(config: BundleConfig, frames: int) -> int:
    """Fewest frames whose run gives the decoder and the upsampler the same window lengths as a run of
    `frames` (the keyframe and interpolation clips have one length whatever the duration)."""
    windows = _windows(config)
    longest = max(w for w, _ in windows)
    if frames <= longest:
        return frames
    return longest + (frames - longest) % math.lcm(*(step for _, step in windows))


def device_scenario(config: BundleConfig, frames: int) -> Scenario:
    """The benchmark drive (drivesim.bench.speed) at the config's output size and frame rate, `frames` long."""
    from drivesim.bench.speed import bench_scenario
    from drivesim.scenario.format import Scenario

    data = bench_scenario(frames / config.output_fps).model_dump()
    height, width = config.output_size
    data["fps"] = config.output_fps
    data["camera"].update(width=width, height=height)
    return Scenario.model_validate(data)


def _device_info(device: str, override: float | None) -> dict[str, Any]:
    from drivesim.pipeline.options import compute_dtype

    cuda = device.startswith("cuda")
    name = torch.cuda.get_device_name(torch.device(device)) if cuda else platform.processor() or "cpu"
    peak, source = peak_tflops(name, override) if cuda or override else (None, "no peak for a CPU")
    return {"type": "cuda" if cuda else "cpu", "name": name, "peak_tflops": peak, "peak_source": source,
            "compute_dtype": str(compute_dtype(device)).removeprefix("torch."),  # what the networks run in
            "torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
            "threads": torch.get_num_threads()}


def _load_bundle(options: DeviceBenchOptions) -> Bundle:
    """The bundle on the device: random weights made there (fast for the paper config's 1.8 B parameters), or loaded."""
    from drivesim.pipeline.generate import check_device, load_checkpoint

    check_device(options.device)  # a clear error before anything is built
    if options.random_config:
        from drivesim.models.bundle import build_bundle
        from drivesim.models.configs import get_config

        with torch.device(options.device):
            return build_bundle(get_config(options.random_config), seed=0)
    from drivesim.models.checkpoint import resolve_checkpoint

    return load_checkpoint(resolve_checkpoint(options.checkpoint), options.device)


def _per_second(amount: float, seconds: float) -> float | None:
    return amount / seconds if seconds > 0 else None


def bench_generation(bundle: Bundle, options: DeviceBenchOptions, peak: float | None, log=print,
                     partial=lambda figures: None) -> dict[str, Any]:
    """Warm-up run, then the timed run: per-stage seconds, frames/s, counted FLOPs and MFU; peak memory."""
    from drivesim.pipeline import GenerateOptions, VideoPipeline
    from drivesim.pipeline.context import resolve_students

    config, cuda = bundle.config, options.device.startswith("cuda")
    frames = options.frames or default_frames(config)
    warm = warmup_frames(config, frames)
    pipeline = VideoPipeline(bundle, GenerateOptions(device=options.device, steps=options.steps,
                                                     sr_steps=options.sr_steps, sampler=options.sampler,
                                                     compile=options.compile, super_resolution=True,
                                                     progress=False, student=options.student))
    # every network's forwards recorded, a student's where it samples in its teacher's place
    used = resolve_students(pipeline.bundle, pipeline.options)[0]
    students = {network: name for network, name in STUDENT_OF.items() if name in used}
    calls = {name: NetworkCalls(pipeline.bundle.students[students[name]] if name in students
                                else getattr(pipeline.bundle, name)) for name in NETWORKS}
    pipeline.bundle = dataclasses.replace(
        pipeline.bundle, **{n: c for n, c in calls.items() if n not in students},
        students={**pipeline.bundle.students, **{students[n]: calls[n] for n in students}})
    figures: dict[str, Any] = {"compile": options.compile, "frames": frames, "warmup_frames": warm,
                               "output_size": list(config.output_size), "output_fps": config.output_fps,
                               "complete": False}
    # 1. warm-up (kernels picked, memory pooled, every shape compiled), then its shapes' FLOPs counted
    log(f"  warm-up: {warm} frames{' (compiling)' if options.compile else ''} ...")
    start = time.perf_counter()
    sum(1 for _ in pipeline.frames(device_scenario(config, warm)))
    figures["warmup_s"] = time.perf_counter() - start
    for c in calls.values():
        c.count_new_shapes()
        c.reset()
    partial(figures)
    # 2. the timed run
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    log(f"  timed: {frames} frames at {config.output_size[1]}x{config.output_size[0]} ...")
    start = time.perf_counter()
    count = sum(1 for _ in pipeline.frames(device_scenario(config, frames)))
    seconds = time.perf_counter() - start
    run = pipeline.run
    figures.update(steps=run.steps, sr_steps=run.sr_steps, sampler=run.sampler, guidance=run.guidance,
                   students=run.student_record(),
                   seconds=seconds, fps=count / seconds,
                   peak_gpu_mb=torch.cuda.max_memory_allocated() / 2**20 if cuda else None)
    # 3. FLOPs of the forwards each stage ran
    stages, total = {}, 0
    for stage, network in STAGE_NETWORK.items():
        flops, spent = calls[network].flops(), run.timings.seconds.get(stage, 0.0)
        total += flops
        achieved = _per_second(flops / 1e12, spent)
        stages[stage] = {"seconds": spent, "fps": _per_second(count, spent),
                         "forwards": sum(calls[network].calls.values()), "tflop": flops / 1e12,
                         "tflops": achieved, "mfu": achieved / peak if peak and achieved is not None else None}
    figures["stages"] = stages
    figures["tflop"] = total / 1e12
    figures["tflops"] = total / 1e12 / seconds
    figures["mfu"] = figures["tflops"] / peak if peak else None
    figures["forward_tflop"] = {name: {"x".join(map(str, shape)): f / 1e12 for (shape, _), f in c.per_forward.items()}
                                for name, c in calls.items()}
    figures["complete"] = True
    log(f"  {count} frames in {seconds:.1f} s: {count / seconds:.2f} frames/s, {figures['tflops']:.1f} TFLOP/s")
    return figures


def _estimate(config: BundleConfig, steps: int, sr_steps: int, guidance: float, peak: float | None) -> dict[str, Any]:
    """The steady-state cost of an output frame from one counted forward per network (meta device)."""
    forward = forward_flops(config)
    at_run = flops_per_output_frame(config, forward, steps, sr_steps, guidance)
    at_reference = flops_per_output_frame(config, forward, REFERENCE_STEPS, REFERENCE_STEPS, guidance)
    per_frame = sum(at_run.values()) / 1e12
    return {"forward_tflop": {k: v / 1e12 for k, v in forward.items()}, "steps": steps, "sr_steps": sr_steps,
            "tflop_per_frame": {k: v / 1e12 for k, v in at_run.items()}, "tflop_per_frame_total": per_frame,
            "reference_steps": REFERENCE_STEPS, "tflop_per_frame_reference": sum(at_reference.values()) / 1e12,
            "upsampler_share_reference": at_reference["upsample"] / sum(at_reference.values()),
            "fps_at_peak": peak / per_frame if peak else None}


def run_device_bench(options: DeviceBenchOptions, json_path: str | Path | None = None, log=print) -> dict[str, Any]:
    """Every measurement `options.part` asks for; the JSON (if asked) is rewritten after each one."""
    from drivesim.bench.training import TRAIN_STAGES, bench_training
    from drivesim.output.files import atomic_write_text

    if options.threads:
        torch.set_num_threads(options.threads)
    bundle = _load_bundle(options)
    device = _device_info(options.device, options.peak_tflops)
    peak = device["peak_tflops"]
    result: dict[str, Any] = {"device": device, "config": bundle.config.name,
                              "bundle": f"random {options.random_config}" if options.random_config
                              else str(options.checkpoint or "default"), "part": options.part}

    def save(**figures: Any) -> None:
        result.update(figures)
        if json_path:
            atomic_write_text(Path(json_path), json.dumps(result, indent=2) + "\n")

    log(f"bench --mfu: {result['bundle']} on {device['name']} ({device['peak_source']})")
    if options.part in ("all", "generate"):
        save(generate=None)
        save(generate=bench_generation(bundle, options, peak, log, partial=lambda f: save(generate=f)))
        g = result["generate"]
        save(estimate=_estimate(bundle.config, g["steps"], g["sr_steps"], g["guidance"], peak))
    if options.part in ("all", "train"):
        save(train={})
        for stage in TRAIN_STAGES:
            result["train"][stage] = bench_training(bundle, stage, options.device, options.train_steps,
                                                    options.train_seconds, peak, log)
            save()
    return result
