"""The ONE streaming iterator: scenario in, (frame, labels) out, one frame at a time.

    keyframes (prediction model, bounded context) -> interpolation x4 (x16)
      -> temporal decoder (overlapping windows) -> video upsampler x4 (overlapping chunks)
      -> resize to the camera's size -> GeneratedFrame(index, timestamp_s, image, labels)

Frames come out as soon as they are decoded; memory does not grow with the video's length.
Every sink (the OUT folder, dataset exporters, the gRPC stream) iterates `VideoPipeline.frames`
or `frame_source`; `frames(..., cancelled=flag)` stops within one sampler step once `flag()` is
true. Closed-loop simulation (frames step by step, conditions chosen as the video runs):
`VideoPipeline.session` (pipeline/session.py).

    from drivesim.pipeline import VideoPipeline, GenerateOptions, load_checkpoint
    from drivesim.scenario.loader import load_scenario
    pipeline = VideoPipeline(load_checkpoint("checkpoints/default"), GenerateOptions(steps=8))
    for f in pipeline.frames(load_scenario("scenarios/night_merge.yaml")):
        print(f.index, f.timestamp_s, f.image.shape, len(f.labels.boxes))
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from drivesim.errors import BundleError, DrivesimError
from drivesim.models.configs import BundleConfig
from drivesim.pipeline.context import Cancelled, RunContext
from drivesim.pipeline.decode import decode
from drivesim.pipeline.interpolate import interpolate
from drivesim.pipeline.options import GenerateOptions
from drivesim.pipeline.rollout import KeyframeRollout
from drivesim.pipeline.upsample import resize_frame, to_uint8, upsample
from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.format import Scenario
from drivesim.scenario.labels import FrameConditions

if TYPE_CHECKING:
    from drivesim.pipeline.session import PipelineSession

__all__ = ["GeneratedFrame", "VideoPipeline", "frame_source", "load_checkpoint", "choose_keyframe_stride"]


@dataclass(frozen=True)
class GeneratedFrame:
    index: int
    timestamp_s: float  # index / fps, exactly as in `drivesim plan`
    image: np.ndarray  # (height, width, 3) uint8 RGB at the scenario camera's size
    labels: FrameConditions  # the engine's ground truth for this frame (labels.jsonl line)


def choose_keyframe_stride(config: BundleConfig, fps: float, image_only: bool = False) -> int:
    """Output frames per keyframe: factor ** p with p in {0, 1, 2} (0, 1 or 2 interpolation passes),
    whose keyframe rate fps / stride is closest, as a ratio, to the rate the bundle's keyframe
    model was trained at. Tiny bundle at 10 fps: 4 (2.5 fps keyframes); paper bundle at 30 fps: 16."""
    factor = config.interpolation_factor
    if image_only or factor <= 1:
        return 1
    candidates = [factor ** p for p in range(3)]
    return min(candidates, key=lambda s: (round(abs(math.log(fps / s / config.keyframe_fps)), 9),
                                          s != config.keyframe_stride))


def _through(items: Iterable[tuple[int, torch.Tensor]], last: int) -> Iterator[tuple[int, torch.Tensor]]:
    """Items up to and including the first whose index reaches `last` (the upstream is not pulled further)."""
    for item in items:
        yield item
        if item[0] >= last:
            return


def _ticking(items: Iterable, bar) -> Iterator:
    for item in items:
        bar.update(1)
        yield item


class VideoPipeline:
    """A bundle on a device, ready to turn scenarios into frames; `run` holds the last run's stats."""

    def __init__(self, bundle, options: GenerateOptions | None = None):
        self.options = options or GenerateOptions()
        if self.options.super_resolution is None:  # the bundle's default
            self.options = dataclasses.replace(self.options, super_resolution=bool(bundle.config.super_resolution))
        device = _check_device(self.options.device)
        self.bundle = _prepare(bundle, device, self.options.compile)
        self.run: RunContext | None = None

    def frames(self, scenario: Scenario, engine: ScenarioEngine | None = None,
               cancelled: Callable[[], bool] | None = None) -> Iterator[GeneratedFrame]:
        """Every output frame of the scenario, in order, each yielded as soon as it is ready.
        Once `cancelled()` is true the iterator ends (no further frame) before the next network forward."""
        opts, cfg = self.options, self.bundle.config
        engine = engine or ScenarioEngine(scenario, seed=opts.seed)
        run = self.run = RunContext(self.bundle, opts, engine, cancelled)
        count = engine.num_frames
        stride = choose_keyframe_stride(cfg, engine.fps, opts.image_only)
        passes = round(math.log(stride, cfg.interpolation_factor)) if stride > 1 else 0
        num_keyframes = math.ceil((count - 1) / stride) + 1
        stages = [("keyframes", num_keyframes), ("interpolate", count if passes else 0), ("decode", count),
                  ("upsample", count if opts.super_resolution else 0)]
        bars = {name: run.progress(name, total, i) for i, (name, total) in enumerate(stages) if total}
        try:
            # 1. keyframes every `stride` output frames, up to the first at or past the last frame
            latents = _ticking(KeyframeRollout(run, stride).keyframes(num_keyframes), bars["keyframes"])
            # 2. interpolation passes: rate 0 (T -> 4T) first, then rate 1 (4T -> 16T)
            for rate in range(passes):
                latents = interpolate(run, _through(latents, count - 1), rate, cfg.interpolation_factor)
            latents = (item for item in latents if item[0] < count)  # the overshoot of the last segment
            if passes:
                latents = _ticking(latents, bars["interpolate"])
            # 3. temporal decoder, 4. video upsampler (both on overlapping windows)
            frames = _ticking(decode(run, latents), bars["decode"])
            if opts.super_resolution:
                frames = _ticking(upsample(run, frames), bars["upsample"])
            # 5. camera size, uint8
            cam = engine.scenario.camera
            for index, frame in frames:
                run.check_cancelled()  # a frame finished after the flag is not handed out
                with run.timings("resize"):
                    image = resize_frame(to_uint8(frame), cam.width, cam.height)
                run.stats.frames_yielded += 1
                yield GeneratedFrame(index, engine.scenario.timestamp(index), image, run.frame_conditions(index))
        except Cancelled:
            return
        finally:
            for bar in bars.values():
                bar.close()

    def session(self, header: Scenario, seed: int | None = None) -> "PipelineSession":
        """A closed-loop session on this pipeline: `step(conditions)` -> that step's frames (pipeline/session.py).
        The header gives the camera and fps; seed None -> the options' seed, else the header's."""
        from drivesim.pipeline.session import PipelineSession

        return PipelineSession(self, header, seed)


def _check_device(device: str) -> torch.device:
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DrivesimError(f"--device {device} was asked for, but this PyTorch ({torch.__version__}) sees no CUDA "
                            "GPU; use --device cpu, or install a CUDA build of PyTorch on a machine with a GPU")
    return torch.device(device)


def _prepare(bundle, device: torch.device, compile_models: bool):
    """Models on the device in eval mode, without autograd; torch.compile where asked.
    (No channels_last: the temporal layers' Conv3d weights are 5-D, which that format refuses.)"""
    for model in bundle.models.values():
        model.to(device).eval().requires_grad_(False)
    if not compile_models:
        return bundle
    try:
        return dataclasses.replace(bundle, **{name: torch.compile(getattr(bundle, name))
                                              for name in ("unet", "interpolator", "decoder", "upsampler")})
    except RuntimeError as err:  # e.g. no C++ compiler / triton for the backend
        raise DrivesimError(f"--compile failed ({err}); run without --compile") from err


def load_checkpoint(path: str | Path, device: str = "cpu"):
    """load_bundle with a message that says what to do when the checkpoint is missing or broken."""
    from drivesim.models.bundle import load_bundle

    _check_device(device)
    try:
        return load_bundle(path, device=device)
    except BundleError as err:
        raise BundleError(f"cannot use checkpoint {path}: {err}. Pass --checkpoint FOLDER with a trained bundle "
                          "(config.yaml + .safetensors parts; `drivesim info FOLDER` checks one), or train "
                          "one and save it there") from err


def frame_source(checkpoint: str | Path, device: str | None = None, options: GenerateOptions | None = None
                 ) -> Callable[[Scenario, int], Iterator[tuple[np.ndarray, FrameConditions]]]:
    """Load the checkpoint once; return `source(scenario, seed)` yielding (RGB uint8 image at the camera's
    size, labels) per frame: the entry point for sinks such as the dataset exporter."""
    options = dataclasses.replace(options or GenerateOptions(progress=False), device=device or "cpu")
    pipeline = VideoPipeline(load_checkpoint(checkpoint, options.device), options)

    def source(scenario: Scenario, seed: int) -> Iterator[tuple[np.ndarray, FrameConditions]]:
        for frame in pipeline.frames(scenario, ScenarioEngine(scenario, seed=seed)):
            yield frame.image, frame.labels

    return source
