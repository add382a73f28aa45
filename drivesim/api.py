"""The Python API in the style of diffusers: load a bundle once, call it on scenarios.

    from drivesim import DriveSimPipeline
    pipe = DriveSimPipeline.from_pretrained(device="cpu")  # None: $DRIVESIM_CHECKPOINT, else the default bundle
    out = pipe("name: demo\\nduration_s: 1\\ncamera: {width: 256, height: 128}\\n", steps=4)
    print(len(out.frames), out.frames[0].shape, len(out.labels[0].boxes))

A thin layer over `drivesim.pipeline.VideoPipeline` (the one streaming iterator every sink uses):
`pipe(scenario)` collects its frames, `pipe.stream(scenario)` hands them out as they are made,
`pipe.session(header)` is its closed loop (`drivesim.pipeline.PipelineSession`). A scenario is a
`Scenario`, a file path (YAML or OpenSCENARIO .xosc), or YAML text (`drivesim.sources.read_scenario`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drivesim.models.checkpoint import resolve_checkpoint
from drivesim.errors import DrivesimError
from drivesim.pipeline.generate import GeneratedFrame, VideoPipeline, load_checkpoint
from drivesim.pipeline.options import GenerateOptions
from drivesim.pipeline.session import PipelineSession
from drivesim.scenario.format import Scenario
from drivesim.scenario.labels import FrameConditions
from drivesim.sources import ScenarioSource, read_scenario

__all__ = ["DriveSimPipeline", "DriveSimPipelineOutput", "as_scenario"]

FrameCallback = Callable[["DriveSimPipeline", int, GeneratedFrame], None]


@dataclass
class DriveSimPipelineOutput:
    """What `pipe(scenario)` returns: frames and their ground-truth labels, index for index."""

    frames: list[np.ndarray]  # (height, width, 3) uint8 RGB at the scenario camera's size
    labels: list[FrameConditions]  # boxes with track ids and 3D state, environment, road (labels.jsonl lines)
    fps: float


as_scenario = read_scenario  # the name this module has exported; every entry point's rule is read_scenario's


class DriveSimPipeline:
    """A checkpoint bundle on a device, ready to turn scenarios into labelled frames.

    `from_pretrained(path)` loads it; keyword arguments of the calls (seed, steps, sampler, guidance,
    context_guidance, image_only, super_resolution, sr_steps) override the bundle's defaults for
    that call only, like diffusers pipelines' call arguments.
    """

    def __init__(self, pipeline: VideoPipeline, path: Path | None = None):
        self.pipeline = pipeline
        self.path = path

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, device: str = "cpu",
                        **options: Any) -> "DriveSimPipeline":
        """Load a bundle folder; None -> $DRIVESIM_CHECKPOINT, else the shipped default bundle.
        `options`: GenerateOptions fields used for every call (e.g. steps=4, compile=True)."""
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise DrivesimError(f"from_pretrained: path must be a bundle folder (str or Path) or None for the "
                                f"default bundle, got {path!r} ({type(path).__name__})")
        if path is not None and not os.fspath(path).strip():
            raise DrivesimError("from_pretrained: path is empty; pass None (or nothing) for the default bundle, "
                                "or a bundle folder")
        if not isinstance(device, str):
            raise DrivesimError(f"from_pretrained: device must be 'cpu' or 'cuda', got {device!r}")
        path = resolve_checkpoint(path)
        options = _options(GenerateOptions(device=device), options)
        bundle = load_checkpoint(path, device)
        return cls(VideoPipeline(bundle, _fits(options, bundle.config)), path)

    @property
    def config(self):
        """The bundle's BundleConfig (sizes, frame rates, sampler defaults)."""
        return self.pipeline.bundle.config

    def set_progress_bar_config(self, **kwargs: Any) -> None:
        """Like diffusers': `disable=True` turns the per-stage progress bars off (they are on by default)."""
        unknown = sorted(set(kwargs) - {"disable"})
        if unknown:
            raise DrivesimError(f"set_progress_bar_config: unknown setting(s) {unknown}; drivesim's bars take "
                                "only disable=True/False")
        if "disable" in kwargs and not isinstance(kwargs["disable"], bool):
            raise DrivesimError(f"set_progress_bar_config: disable must be True or False, got {kwargs['disable']!r}")
        if "disable" in kwargs:
            self.pipeline.options = dataclasses.replace(self.pipeline.options, progress=not kwargs["disable"])

    def stream(self, scenario: ScenarioSource, **overrides: Any) -> Iterator[GeneratedFrame]:
        """Every frame of the scenario as soon as it is made: GeneratedFrame(index, timestamp_s, image, labels)."""
        return self._with(overrides).frames(read_scenario(scenario))

    def __call__(self, scenario: ScenarioSource, callback: FrameCallback | None = None,
                 return_dict: bool = True, **overrides: Any) -> DriveSimPipelineOutput | tuple:
        """All frames and labels of the scenario. `callback(pipe, index, frame)` runs after each frame
        (progress, early looks, writing as you go). return_dict=False: (frames, labels)."""
        if callback is not None and not callable(callback):
            raise DrivesimError(f"callback must be a function (pipe, index, frame) or None, got {callback!r} "
                                f"({type(callback).__name__})")
        scenario = read_scenario(scenario)
        frames, labels = [], []
        for frame in self.stream(scenario, **overrides):
            frames.append(frame.image)
            labels.append(frame.labels)
            if callback is not None:
                callback(self, frame.index, frame)
        if not return_dict:
            return frames, labels
        return DriveSimPipelineOutput(frames=frames, labels=labels, fps=scenario.fps)

    def session(self, header: ScenarioSource, seed: int | None = None,
                **overrides: Any) -> PipelineSession:
        """A closed loop: `session.step([FrameConditions, ...])` -> those frames, continuing one video.
        The header (a scenario; its agents are ignored) gives the camera, fps and default seed."""
        # the session's seed is checked, and used, as the seed option (a session's seed is the options' one
        # where not given)
        return self._with({**overrides, "seed": seed} if seed is not None else overrides).session(read_scenario(header))

    def _with(self, overrides: dict[str, Any]) -> VideoPipeline:
        """The pipeline itself, or one sharing its (already prepared) bundle with the call's options."""
        if not overrides:
            return self.pipeline
        bundle = self.pipeline.bundle
        return VideoPipeline(bundle, _fits(_options(self.pipeline.options, overrides), bundle.config))


def _options(base: GenerateOptions, changes: dict[str, Any]) -> GenerateOptions:
    known = {f.name for f in dataclasses.fields(GenerateOptions)} - {"device"}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise DrivesimError(f"unknown option(s) {unknown}; options are {', '.join(sorted(known))}")
    return dataclasses.replace(base, **changes)


def _fits(options: GenerateOptions, config) -> GenerateOptions:
    """The options, if their steps fit the bundle's noise schedules (more steps than noise levels fail half-way
    through sampling, or turn the frames black)."""
    levels, sr_levels = config.diffusion.num_train_timesteps, config.upsampler_diffusion.num_train_timesteps
    for name, value, most in (("steps", options.steps, levels),
                              ("interpolation_steps", options.interpolation_steps or options.steps, levels),
                              ("sr_steps", options.sr_steps or options.steps, sr_levels)):  # None: --steps' count
        if value is not None and value > most:
            raise DrivesimError(f"{name} must be at most {most} (this bundle's noise levels), got {value}")
    return options
