"""Closed-loop sessions: the simulator sends each step's frame conditions, the session returns exactly
those frames, continuing one video (`VideoPipeline.session`, behind gRPC `OpenSession`).

    python -c "
    import sys; sys.path.insert(0, 'tests'); from pipeline_fixtures import micro_bundle, scenario
    from drivesim.pipeline import GenerateOptions, VideoPipeline; from drivesim.scenario.engine import ScenarioEngine
    scn = scenario(duration_s=1.0); plan = list(ScenarioEngine(scn).frames())
    s = VideoPipeline(micro_bundle(), GenerateOptions(steps=2, progress=False)).session(scn, seed=1)
    print([len(s.step(plan[k:k + 3])) for k in range(0, 9, 3)], s.stats)"

The offline pipeline looks ahead freely (a keyframe clip covers 24 frames of the tiny bundle, the
decoder and upsampler windows 8 more); a closed loop cannot: the simulator decides frame i + 1
after it has seen frame i. A step therefore computes only what its own frames need:

1. Keyframes (every `stride` frames) whose conditions have arrived are sampled for real, each
   clip with the last <= 2 real keyframes as context, as in the offline rollout, but holding only
   `session_clip_keyframes` (2) new keyframes or the ones the step commits, not a full clip.
2. If the step ends between two keyframes, its last frames need the next keyframe, whose
   conditions do not exist yet: it is sampled *provisionally* from the step's last conditions,
   held (same boxes and environment; the road flows on at the ego's speed), by default from a
   clip of itself alone at half the steps (`session_fast_provisional`). When its own conditions
   arrive it is resampled with the same context and the same noise, so every keyframe image is
   conditioned on its true labels. This is the closed-loop latency trade-off: frames between
   keyframes are rendered towards a guess of the next keyframe at most stride - 1 frames ahead
   (0.3 s for the tiny bundle at 10 fps) instead of waiting for it.
3. The segments around the step's frames are interpolated (in-between frames conditioned on the
   conditions known when the segment is sampled, held ones past them); only the step's frames are
   kept. A segment is sampled once and reused by later steps while its ends are the same
   (`session_reuse_segments`).
4. Decoder and upsampler run on windows led by the last `session_window_context` (1) latents /
   frames of earlier steps (`windows_after`), so the new frames continue the ones already
   returned, which never change.

Cost: a step of one frame at 10 fps pays, per keyframe, one real and one provisional keyframe
clip and one interpolation segment, and a decoder window and upsampler chunk of 2 frames per
frame; steps of `stride` frames ending on keyframes pay none of the provisional work. State is
bounded whatever the session's length: <= 2 context latents, the last and the provisional
keyframe, the current segment, the window history and the conditions from the oldest context
keyframe on.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from torch import Tensor

from drivesim.errors import DrivesimError
from drivesim.pipeline.context import RunContext, RunStats
from drivesim.pipeline.decode import decoder_window_fn
from drivesim.pipeline.interpolate import interpolate_segments
from drivesim.pipeline.options import GenerateOptions
from drivesim.pipeline.rollout import KeyframeRollout, choose_keyframe_stride, interpolation_passes
from drivesim.pipeline.upsample import resize_frame, to_uint8, upsampler_chunk_fn
from drivesim.pipeline.windows import windows_after
from drivesim.scenario.camera import PinholeCamera
from drivesim.scenario.format import Scenario
from drivesim.scenario.labels import FrameConditions
from drivesim.scenario.world_state import check_conditions, frame_time_problem

__all__ = ["PipelineSession", "SessionConditions"]

Latent = tuple[int, Tensor]  # (output frame index, latent or frame)


class SessionConditions:
    """The ConditionSource of a session: the conditions received so far (from the oldest one still
    needed), and past the last one that one held, at later timestamps, with the road flowing on."""

    def __init__(self, seed: int, camera: PinholeCamera, fps: float):
        self.seed, self.camera, self.fps = seed, camera, fps
        self.known: dict[int, FrameConditions] = {}
        self.last = -1  # index of the newest conditions received

    def add(self, index: int, fc: FrameConditions) -> None:
        self.known[index] = fc
        self.last = max(self.last, index)

    def conditions(self, index: int) -> FrameConditions:
        if index in self.known:
            return self.known[index]
        if index <= self.last or self.last < 0:
            raise RuntimeError(f"the session no longer holds the conditions of frame {index}")
        base = self.known[self.last]
        dt = (index - self.last) / self.fps
        road = base.road
        if road is not None:
            road = dataclasses.replace(road, ego_travel_m=road.ego_travel_m + road.ego_speed_mps * dt)
        return dataclasses.replace(base, index=index, timestamp_s=base.timestamp_s + dt, road=road)

    def forget_before(self, index: int) -> None:
        for i in [i for i in self.known if i < index]:
            del self.known[i]


class PipelineSession:
    """One closed-loop video. `step(conditions)` returns one RGB uint8 frame (camera size) per condition.

    Frames are the session's 0, 1, 2, ... in the order sent, `1 / header.fps` apart (the models'
    timeline). Their timestamps must say so: frame k at the first frame's timestamp + k / fps, within
    `world_state.FRAME_TIME_TOLERANCE` of a frame interval (a DrivesimError names the frame, the gap and the
    fps otherwise), so a simulation's time is never silently squeezed or stretched. The same bundle,
    options, seed and steps give the same frames.
    """

    def __init__(self, bundle, options: GenerateOptions, header: Scenario, seed: int | None = None):
        # `bundle` and `options` as a VideoPipeline holds them (models on the device, the bundle's defaults
        # filled in): `VideoPipeline.session` is how a session is made.
        opts, cfg = options, bundle.config
        if seed is None:
            seed = header.seed if opts.seed is None else opts.seed
        self.header = header
        self.source = SessionConditions(int(seed), PinholeCamera.from_config(header.camera), header.fps)
        self.run = RunContext(bundle, dataclasses.replace(opts, seed=None), self.source)
        self.stride = choose_keyframe_stride(cfg, header.fps, opts.image_only)
        self.factor = cfg.interpolation_factor
        self.passes = interpolation_passes(self.stride, self.factor)
        self.rollout = KeyframeRollout(self.run, self.stride)
        self._decode = decoder_window_fn(self.run)
        self._upsample = upsampler_chunk_fn(self.run) if opts.super_resolution else None
        self.next_index = 0  # the session frame the next step starts at
        self.first_t: float | None = None  # timestamp of frame 0: the video's timeline starts there
        self.last_t: float | None = None
        self.committed = 0  # keyframes sampled from their real conditions (keyframe numbers 0 .. committed-1)
        self.last_keyframe: Latent | None = None  # the newest of them
        self.provisional: Latent | None = None  # keyframe `committed`, sampled from held conditions
        self.decode_history: list[Latent] = []  # the last latents decoded: left context of the next window
        self.upsample_history: list[Latent] = []  # the last decoded frames upsampled: the same for the upsampler
        # (pass, first, last frame) -> ((start, end latents), in-between latents) of this step's segments
        self._segments: dict[tuple[int, int, int], tuple[tuple[Tensor, Tensor], list[Latent]]] = {}

    @property
    def stats(self) -> RunStats:
        return self.run.stats

    def step(self, conditions: list[FrameConditions]) -> list[np.ndarray]:
        """The frames of these conditions, continuing the session's video."""
        if not conditions:
            return []
        for k, fc in enumerate(conditions):
            if not isinstance(fc, FrameConditions):
                raise DrivesimError(f"a session step takes FrameConditions, got {type(fc).__name__}")
            check_conditions(fc, f"session frame {self.next_index + k}")  # NaN, crowdedness 5, ...: named
        a, b = self.next_index, self.next_index + len(conditions) - 1
        self._check_times(conditions, a)
        for k, fc in enumerate(conditions):
            self.source.add(a + k, fc)
        # 1.-2. keyframes around the step: real ones up to b, a provisional one past it if needed
        keyframes = self._keyframes(b)
        # 3. interpolation passes over the segments that hold frames a..b
        latents = _bracket(keyframes, a, b)
        for rate in range(self.passes):
            latents = _bracket(self._interpolated(latents, rate), a, b)
        latents = [(i, z) for i, z in latents if a <= i <= b]
        # 4. decoder and upsampler windows led by the previous steps' last items
        cfg = self.run.bundle.config
        context = self.run.options.session_window_context
        decoded, self.decode_history = windows_after(
            self.decode_history, latents, self._decode, cfg.decoder_window, min(context, cfg.decoder_window - 1))
        frames = list(zip(range(a, b + 1), decoded))
        if self._upsample is not None:
            chunk = cfg.upsampler_chunk_frames
            upsampled, self.upsample_history = windows_after(
                self.upsample_history, frames, self._upsample, chunk, min(context, chunk - 1))
            frames = list(zip(range(a, b + 1), upsampled))
        # 5. camera size, uint8
        cam = self.header.camera
        with self.run.timings("resize"):
            images = [resize_frame(to_uint8(frame), cam.width, cam.height) for _, frame in frames]
        self.next_index = b + 1
        self.run.stats.frames_yielded += len(images)
        oldest = self.committed - max(len(self.rollout.context), 1)  # conditions the next clips look back at
        self.source.forget_before(oldest * self.stride)
        return images

    def _check_times(self, conditions: list[FrameConditions], a: int) -> None:
        """Every frame's timestamp at its place on the video's timeline (see the class docstring)."""
        first = conditions[0].timestamp_s if self.first_t is None else self.first_t
        previous = self.last_t
        for k, fc in enumerate(conditions):
            problem = frame_time_problem(fc.timestamp_s, a + k, first, self.header.fps, previous)
            if problem is not None:
                raise DrivesimError(f"session frame {a + k}: {problem[0]} -- {problem[1]}")
            previous = fc.timestamp_s
        self.first_t, self.last_t = first, previous

    def _interpolated(self, latents: list[Latent], rate: int) -> list[Latent]:
        """`latents` with the in-between latents of each consecutive pair (pass `rate`). With
        `session_reuse_segments`, a segment an earlier step sampled between the same two ends (the same
        tensors: a provisional end that was resampled is a new one) is reused, not sampled again."""
        pairs = list(zip(latents, latents[1:]))
        segments: dict[tuple[int, int, int], tuple[tuple[Tensor, Tensor], list[Latent]]] = {}
        if self.run.options.session_reuse_segments:
            for (i0, z0), (i1, z1) in pairs:
                held = self._segments.get((rate, i0, i1))
                if held is not None and held[0][0] is z0 and held[0][1] is z1:
                    segments[(rate, i0, i1)] = held
        todo = [pair for pair in pairs if (rate, pair[0][0], pair[1][0]) not in segments]
        for ((i0, z0), (i1, z1)), between in zip(todo, interpolate_segments(self.run, todo, rate, self.factor)):
            segments[(rate, i0, i1)] = ((z0, z1), between)
        if self.run.options.session_reuse_segments:  # hold this step's segments only
            self._segments = {k: v for k, v in self._segments.items() if k[0] != rate} | segments
        out = latents[:1]
        for (i0, _), end in pairs:
            out += segments[(rate, i0, end[0])][1] + [end]
        return out

    def _keyframes(self, last: int) -> list[Latent]:
        """The keyframes from the newest real one at or before the step's first frame up to the first one
        at or after `last`: real keyframes are committed, the one past `last` is provisional."""
        out = [self.last_keyframe] if self.last_keyframe is not None else []
        opts = self.run.options
        while self.committed * self.stride <= last:  # its conditions are here: sample it for real
            given = len(self.rollout.context)
            needed = last // self.stride - self.committed + 1  # keyframes this step commits
            clip = None if opts.session_clip_keyframes is None else max(needed, opts.session_clip_keyframes)
            indices, z = self.rollout.sample_clip(self.committed, clip)
            new = [j for j in range(given, len(indices)) if indices[j] <= last]
            out += [(indices[j], z[j].clone()) for j in new]
            # the last max_context keyframes sampled so far, as in the offline rollout
            self.rollout.remember(list(z[:new[-1] + 1]), self.rollout.max_context)
            self.committed += len(new)
            self.last_keyframe = out[-1]
            self.provisional = None
        if out[-1][0] < last:  # the step ends between keyframes: guess the next one from held conditions
            if self.provisional is None:
                given = len(self.rollout.context)
                fast = opts.session_fast_provisional
                indices, z = self.rollout.sample_clip(self.committed, 1 if fast else None,
                                                      max(1, self.rollout.steps // 2) if fast else None)
                self.provisional = (indices[given], z[given].clone())
            out.append(self.provisional)
        return out


def _bracket(latents: list[Latent], first: int, last: int) -> list[Latent]:
    """The consecutive run of `latents` from the last at or before `first` to the first at or after `last`."""
    lo = max(j for j, (i, _) in enumerate(latents) if i <= first)
    hi = min(j for j, (i, _) in enumerate(latents) if i >= last)
    return latents[lo:hi + 1]
