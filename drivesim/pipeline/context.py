"""What the stages of one generation run share: the bundle, resolved options, seeded noise,
per-frame conditions, timings, counters and the cancel check.

    python -c "from drivesim.pipeline.context import RunStats; print(RunStats())"
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, ContextManager, Protocol

import torch
from torch import Tensor

from drivesim.conditions.box_maps import NUM_LAYOUT_CHANNELS
from drivesim.conditions.encode import build_conditions
from drivesim.conditions.tensors import UNetConditions
from drivesim.errors import DrivesimError
from drivesim.models.configs import STUDENT_MODELS, StudentConfig
from drivesim.pipeline.options import GenerateOptions, StageTimings, clip_generator, compute_dtype
from drivesim.sampling.samplers import Denoiser, sample, sample_lcm
from drivesim.scenario.camera import PinholeCamera
from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.labels import FrameConditions

__all__ = ["Cancelled", "ConditionSource", "EngineConditions", "RunContext", "RunStats", "resolve_students"]


def resolve_students(bundle: Any, options: GenerateOptions) -> tuple[dict[str, StudentConfig], dict[str, str]]:
    """With `options.student`: the bundle's students (model -> config) and, for each model without one, why its
    teacher samples instead (the run falls back per model, and says so in the manifest). A bundle with no student
    at all is an error: --student would change nothing."""
    if not options.student:
        return {}, {}
    listed = bundle.config.students.present()
    students = {name: listed[name] for name in STUDENT_MODELS if name in listed and name in bundle.students}
    notes = {name: bundle.student_notes.get(name, f"the bundle has no {name} student")
             for name in STUDENT_MODELS if name not in students}
    if not students:
        where = f" {bundle.path}" if getattr(bundle, "path", None) else ""
        raise DrivesimError(f"--student: bundle{where} has no few-step student ({'; '.join(notes.values())}); "
                            "distil one with `drivesim train distill keyframe --bundle BUNDLE --data DIR` "
                            "(docs/training.md), or drop --student")
    return students, notes


class Cancelled(Exception):
    """Raised inside a run when its `cancelled()` flag turned true; `VideoPipeline.frames` ends cleanly on it."""


class ConditionSource(Protocol):
    """Where a run's per-frame conditions come from: a scenario engine, or a closed-loop session."""

    seed: int  # the seed of the world (background traffic); the run's noise seed defaults to it
    camera: PinholeCamera

    def conditions(self, index: int) -> FrameConditions:
        """The conditions of output frame `index` (any index >= 0: stages look a few frames past the end)."""
        ...


class EngineConditions:
    """A scenario engine as a ConditionSource. Past the scenario's end (the last keyframe clip
    overshoots) the engine extrapolates its timeline to t = index / fps. Bounded cache."""

    CACHE = 256  # frames; the stages look back at most a few dozen frames

    def __init__(self, engine: ScenarioEngine):
        self.engine = engine
        self.seed = engine.seed
        self.camera = engine.camera
        self._cache: OrderedDict[int, FrameConditions] = OrderedDict()

    def conditions(self, index: int) -> FrameConditions:
        if index in self._cache:
            return self._cache[index]
        if index < self.engine.num_frames:
            fc = self.engine.frame(index)
        else:
            fc = self.engine.conditions_at(self.engine.scenario.timestamp(index), index)
        self._cache[index] = fc
        if len(self._cache) > self.CACHE:
            self._cache.popitem(last=False)
        return fc


@dataclass
class RunStats:
    """Counters of one run: what was computed so far, and how much state is held."""

    keyframe_clips: int = 0
    interpolation_clips: int = 0
    decode_windows: int = 0
    upsample_chunks: int = 0
    denoiser_calls: int = 0  # network forwards (a batched guidance pass counts once)
    cached_latents: int = 0  # context latents the keyframe rollout holds right now
    max_cached_latents: int = 0  # most it ever held (flat memory: <= 2, whatever the duration)
    frames_yielded: int = 0


class RunContext:
    """Shared state of one run (one `frames()` call or one closed-loop session)."""

    def __init__(self, bundle: Any, options: GenerateOptions, source: ScenarioEngine | ConditionSource,
                 cancelled: Callable[[], bool] | None = None):
        cfg = bundle.config
        self.bundle = bundle
        self.options = options
        self.source = EngineConditions(source) if isinstance(source, ScenarioEngine) else source
        self.seed = self.source.seed if options.seed is None else int(options.seed)
        # None -> the bundle's own defaults (DiffusionConfig.sampler / num_inference_steps of each model);
        # an explicit --steps / --sampler applies to the upsampler too unless --sr-steps says otherwise.
        self.steps = options.steps or cfg.diffusion.num_inference_steps
        self.sampler = options.sampler or cfg.diffusion.sampler
        self.guidance = cfg.diffusion.guidance_scale if options.guidance is None else options.guidance
        # the interpolator: its own steps where asked or where the bundle names them (a segment has both ends
        # given, an easier task than a keyframe clip), else the keyframe model's
        self.interpolation_steps = options.interpolation_steps or cfg.diffusion.interpolation_steps or self.steps
        self.sr_steps = options.sr_steps or options.steps or cfg.upsampler_diffusion.num_inference_steps
        self.sr_sampler = options.sampler or cfg.upsampler_diffusion.sampler
        self.device = torch.device(options.device)
        self.compute_dtype = compute_dtype(self.device, options.precision)  # float32 = no autocast
        self.timings = StageTimings(options.device)
        self.stats = RunStats()
        self.cancelled = cancelled
        # --student: the students sampled with (model -> its config), and why the others' teachers sample
        self.students, self.student_notes = resolve_students(bundle, options)

    # --- students --------------------------------------------------------------------------

    def student_record(self) -> dict[str, Any] | None:
        """What the manifest says of --student: per model its student (steps, guidance folded in), or why the
        teacher sampled; None without --student."""
        if not self.options.student:
            return None
        record: dict[str, Any] = {name: {"steps": s.steps, "guidance_folded": s.guidance_scale, "sampler": "lcm",
                                         "solver_steps": s.solver_steps,
                                         **({} if s.temporal_attention_levels is None else  # a slimmer student
                                            {"temporal_attention_levels": list(s.temporal_attention_levels)})}
                                  for name, s in self.students.items()}
        return record | {name: f"teacher: {note}" for name, note in self.student_notes.items()}

    def draw(self, student: StudentConfig | None, model: Denoiser, noise: Tensor, cond: UNetConditions,
             diffusion: Any, sampler: str, steps: int, fresh: Callable[[int], Tensor]) -> Tensor:
        """One sampling: the teacher's `sampler` at `steps`, or a student's LCM steps, whose step i adds the
        noise `fresh(i)` (seeded as the stage seeds its starting noise, so a clip is reproducible on its own)."""
        if student is None:
            return sample(sampler, model, noise, cond, diffusion, steps)
        return sample_lcm(model, noise, cond, diffusion, steps, solver_steps=student.solver_steps,
                          timestep_scaling=student.timestep_scaling, noise_sampler=fresh)

    # --- conditions ------------------------------------------------------------------------

    def frame_conditions(self, index: int) -> FrameConditions:
        """The conditions of output frame `index`, from the run's source."""
        return self.source.conditions(index)

    def unet_conditions(self, indices: list[int], size: tuple[int, int], channels: int | None = None) -> UNetConditions:
        """Conditions of one clip (batch 1) whose frames are the output frames `indices`; maps at `size` with
        `channels` layout channels (None: the keyframe model's; the road channels come from each frame's
        road state, which carries the scenario's network)."""
        frames = [[self.frame_conditions(i) for i in indices]]
        channels = channels or self.bundle.config.unet.num_layout_channels or NUM_LAYOUT_CHANNELS
        return build_conditions(frames, size, device=self.device, camera=self.source.camera, channels=channels)

    # --- cancellation ----------------------------------------------------------------------

    def check_cancelled(self) -> None:
        """Raise Cancelled once the run's flag is set; called before every network forward."""
        if self.cancelled is not None and self.cancelled():
            raise Cancelled

    # --- noise and models ------------------------------------------------------------------

    def noise(self, shape: tuple[int, ...], stage: str, index: int) -> Tensor:
        """Gaussian noise for clip `index` of `stage`, drawn on the CPU (same values on every device)."""
        return torch.randn(shape, generator=clip_generator(self.seed, stage, index)).to(self.device)

    def counted(self, model: Denoiser) -> Denoiser:
        """The same denoiser, counting its forwards in `stats.denoiser_calls` and checking the cancel
        flag before each one: a cancelled run stops within one sampler step."""
        def call(x: Tensor, t: Tensor, cond: UNetConditions) -> Tensor:
            self.check_cancelled()
            self.stats.denoiser_calls += 1
            return model(x, t, cond)
        return call

    @contextmanager
    def compute(self, stage: str) -> Iterator[None]:
        """Network work of one stage: timed, no autograd, autocast as `options.precision` says.
        Entered and left around each call, never across a `yield` (that would leak the modes
        into the consumer's code)."""
        with self.timings(stage), torch.inference_mode(), self._autocast():
            yield

    def _autocast(self) -> ContextManager:
        dtype = self.compute_dtype
        return nullcontext() if dtype == torch.float32 else torch.autocast(self.device.type, dtype=dtype)

    def progress(self, desc: str, total: int | None, position: int):
        """A tqdm bar for one stage (a no-op bar when progress is off)."""
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit="frame", position=position, leave=True,
                    disable=not self.options.progress, dynamic_ncols=True)
