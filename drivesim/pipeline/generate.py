"""The ONE streaming iterator: scenario in, (frame, labels) out, one frame at a time.

    keyframes (prediction model, bounded context) -> interpolation x4 (x16)
      -> temporal decoder (overlapping windows) -> video upsampler x4 (overlapping chunks)
      -> resize to the camera's size -> GeneratedFrame(index, timestamp_s, image, labels)

Frames come out as soon as they are decoded; memory does not grow with the video's length.
Every sink (the OUT folder, dataset exporters, the gRPC stream) iterates `VideoPipeline.frames`
or `frame_source`; `RenderPipeline` puts the procedural renderer behind the same interface
(`--source render`, the non-neural baseline); `frames(..., cancelled=flag)` stops within one sampler step once `flag()` is
true. Closed-loop simulation (frames step by step, conditions chosen as the video runs):
`VideoPipeline.session` (pipeline/session.py).

    from drivesim.models.checkpoint import resolve_checkpoint
    from drivesim.pipeline import VideoPipeline, GenerateOptions, load_checkpoint
    from drivesim.scenario.loader import load_scenario
    pipeline = VideoPipeline(load_checkpoint(resolve_checkpoint()), GenerateOptions(steps=8))
    for f in pipeline.frames(load_scenario("scenarios/night_merge.yaml")):
        print(f.index, f.timestamp_s, f.image.shape, len(f.labels.boxes))
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from drivesim.conditions.road_maps import road_masks
from drivesim.errors import BundleError, DrivesimError
from drivesim.pipeline.context import Cancelled, RunContext, resolve_students
from drivesim.pipeline.decode import decode
from drivesim.pipeline.interpolate import interpolate
from drivesim.pipeline.options import GenerateOptions
from drivesim.pipeline.rollout import KeyframeRollout, choose_keyframe_stride, interpolation_passes
from drivesim.pipeline.session import PipelineSession
from drivesim.pipeline.upsample import resize_frame, to_uint8, upsample
from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.format import Scenario
from drivesim.scenario.labels import FrameConditions

__all__ = ["GeneratedFrame", "VideoPipeline", "RenderPipeline", "frame_source", "render_source", "pipeline_source",
           "load_checkpoint", "check_device"]


@dataclass(frozen=True)
class GeneratedFrame:
    index: int
    timestamp_s: float  # index / fps, exactly as in `drivesim plan`
    image: np.ndarray  # (height, width, 3) uint8 RGB at the scenario camera's size
    labels: FrameConditions  # the engine's ground truth for this frame (labels.jsonl line)
    # RenderPipeline(masks=True) only: per-pixel (height, width) bool masks of the road the frame shows,
    # conditions/road_maps.road_masks' "lane_lines", "road_edges", "drivable" (the eval's road adherence)
    masks: dict[str, np.ndarray] | None = None


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
        device = check_device(self.options.device)
        resolve_students(bundle, self.options)  # --student on a bundle without students: an error now
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
        passes = interpolation_passes(stride, cfg.interpolation_factor)
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

    def session(self, header: Scenario, seed: int | None = None) -> PipelineSession:
        """A closed-loop session on this pipeline: `step(conditions)` -> that step's frames (pipeline/session.py).
        The header gives the camera and fps; seed None -> the options' seed, else the header's."""
        return PipelineSession(self.bundle, self.options, header, seed)


def check_device(device: str) -> torch.device:
    """`device` as a torch.device, or a clear error when it names a CUDA device this PyTorch cannot see."""
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

    check_device(device)
    try:
        return load_bundle(path, device=device)
    except BundleError as err:
        raise BundleError(f"cannot use checkpoint {path}: {err}. Pass --checkpoint FOLDER with a trained bundle "
                          "(config.yaml + .safetensors parts; `drivesim info FOLDER` checks one), or train "
                          "one and save it there") from err


class RenderPipeline:
    """The procedural renderer (`drivesim/render/frames.py`, the training data's) behind VideoPipeline's
    streaming interface: the non-neural baseline, and the "real" footage of `drivesim eval`.

    Same frames(scenario, engine, cancelled) -> GeneratedFrame iterator, same labels (the engine's,
    as in `drivesim plan`), images drawn at the scenario camera's size. No model, no noise beyond the
    engine's seed, so the frames are deterministic.

        drivesim generate scenarios/night_merge.yaml -o out/night_merge_render --source render

    `masks=True`: each frame also carries per-pixel masks of its road (lane lines, road edges, drivable
    area) at the image's size, projected as the road channels of the layout maps are
    (`conditions/road_maps.road_masks`): the labels of the eval's lane-line segmenter.
    """

    def __init__(self, options: GenerateOptions | None = None, masks: bool = False):
        self.options = options or GenerateOptions()
        self.masks = masks
        self.run: RunContext | None = None  # no model stages to count; VideoPipeline has them here

    def frames(self, scenario: Scenario, engine: ScenarioEngine | None = None,
               cancelled: Callable[[], bool] | None = None) -> Iterator[GeneratedFrame]:
        engine = engine or ScenarioEngine(scenario, seed=self.options.seed)
        for conditions in engine.frames():
            if cancelled is not None and cancelled():
                return
            yield self.frame(engine, conditions)

    def frame(self, engine: ScenarioEngine, conditions: FrameConditions) -> GeneratedFrame:
        """One frame of `engine` (its `conditions`, e.g. `engine.frame(i)`), with its masks if asked for."""
        from drivesim.render.frames import render_frame

        cam = engine.scenario.camera
        image = render_frame(engine, conditions.timestamp_s, cam.width, cam.height)
        masks = (road_masks(conditions, engine.camera, (cam.height, cam.width), engine.world.network)
                 if self.masks else None)
        return GeneratedFrame(conditions.index, engine.scenario.timestamp(conditions.index), image, conditions, masks)


def pipeline_source(pipeline: "VideoPipeline | RenderPipeline"
                    ) -> Callable[[Scenario, int], Iterator[tuple[np.ndarray, FrameConditions]]]:
    """`source(scenario, seed)` yielding (RGB uint8 image at the camera's size, labels) per frame of any
    pipeline with VideoPipeline's `frames` interface: the entry point for sinks such as the exporter."""

    def source(scenario: Scenario, seed: int) -> Iterator[tuple[np.ndarray, FrameConditions]]:
        for frame in pipeline.frames(scenario, ScenarioEngine(scenario, seed=seed)):
            yield frame.image, frame.labels

    return source


def frame_source(checkpoint: str | Path, device: str | None = None, options: GenerateOptions | None = None
                 ) -> Callable[[Scenario, int], Iterator[tuple[np.ndarray, FrameConditions]]]:
    """Load the checkpoint once; return `source(scenario, seed)` yielding (RGB uint8 image at the camera's
    size, labels) per frame: the entry point for sinks such as the dataset exporter."""
    options = dataclasses.replace(options or GenerateOptions(progress=False), device=device or "cpu")
    return pipeline_source(VideoPipeline(load_checkpoint(checkpoint, options.device), options))


def render_source() -> Callable[[Scenario, int], Iterator[tuple[np.ndarray, FrameConditions]]]:
    """The procedural renderer as a frame source (`drivesim export --source render`)."""
    return pipeline_source(RenderPipeline(GenerateOptions(progress=False)))
