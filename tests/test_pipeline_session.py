"""Closed-loop sessions and prompt cancellation on the micro random bundle: frames per step,
determinism, continuity across steps, provisional keyframes, bounded state, cancel within one
sampler step, and one OpenSession round trip through gRPC with the diffusion backend.

    python -m pytest tests/test_pipeline_session.py -q
"""

from __future__ import annotations

import copy
import dataclasses
import re
from functools import lru_cache

import drivesim.serve  # noqa: F401,I001 - first: sets gRPC's fork option before grpc loads
import numpy as np
import pytest
import torch
from torch import nn

from drivesim.errors import DrivesimError
from drivesim.pipeline import GenerateOptions, VideoPipeline
from drivesim.pipeline.windows import windows_after
from drivesim.scenario.engine import ScenarioEngine

from pipeline_fixtures import HEADER, micro_bundle, scenario

pytestmark = pytest.mark.precision  # arithmetic-dependent: CI runs these again in fp32 (README)

FAST = dict(progress=False, steps=2)


@lru_cache(maxsize=None)
def temporal_bundle():
    """The micro bundle with its zero-initialised branches (temporal layers, context pyramid, rate
    embedding) made random: a fresh bundle renders every frame on its own, this one mixes frames."""
    bundle = copy.deepcopy(micro_bundle())
    noise = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for model in bundle.models.values():
            for p in model.parameters():
                if p.ndim > 1 and not p.any():
                    p.copy_(0.05 * torch.randn(p.shape, generator=noise))
    return bundle


def _session(seed: int = 1, bundle=None, **options):
    scn = scenario(duration_s=4.0)
    pipeline = VideoPipeline(bundle or micro_bundle(), GenerateOptions(**{**FAST, **options}))
    return pipeline.session(scn, seed=seed), list(ScenarioEngine(scn).frames())


def _steps(session, plan, sizes):
    out, start = [], 0
    for n in sizes:
        out.append(session.step(plan[start:start + n]))
        start += n
    return out


# --- sessions ------------------------------------------------------------------------------------

def test_steps_return_their_frames_at_camera_size_and_repeat_for_a_seed():
    sizes = [1, 3, 2]
    a, plan = _session(seed=1)
    got = _steps(a, plan, sizes)
    assert [len(frames) for frames in got] == sizes
    assert all(f.shape == (64, 128, 3) and f.dtype == np.uint8 for frames in got for f in frames)
    assert a.next_index == 6 and a.stats.frames_yielded == 6
    again = _steps(_session(seed=1)[0], plan, sizes)
    other = _steps(_session(seed=2)[0], plan, sizes)
    flat = [f for frames in got for f in frames]
    assert all(np.array_equal(x, y) for x, y in zip(flat, [f for fr in again for f in fr], strict=True))
    assert not np.array_equal(flat[4], other[2][0])
    assert a.step([]) == []


def test_a_step_continues_the_video_of_the_steps_before_it():
    # Two sessions whose first steps differ (day vs night) and whose second steps are identical:
    # if a step started afresh, its frames would be equal (noise is seeded per frame index).
    a, plan = _session(bundle=temporal_bundle())
    b, _ = _session(bundle=temporal_bundle())
    a.step(plan[:3])
    b.step([dataclasses.replace(fc, time_of_day="night") for fc in plan[:3]])
    assert 1 <= len(a.rollout.context) <= 2 and len(a.decode_history) == len(a.upsample_history) == 1
    second_a, second_b = a.step(plan[3:6]), b.step(plan[3:6])
    assert all(not np.array_equal(x, y) for x, y in zip(second_a, second_b))
    # ... and a fresh session given the second step's conditions is another video again
    fresh = _session(bundle=temporal_bundle())[0].step(plan[3:6])
    assert not np.array_equal(fresh[0], second_a[0])


PLAIN = dict(session_clip_keyframes=None, session_fast_provisional=False)  # full clips, as offline


def test_provisional_keyframe_is_resampled_from_the_real_conditions_with_the_same_noise():
    a, plan = _session(super_resolution=False, **PLAIN)
    a.step(plan[:2])  # frame 1 needs keyframe 4: provisional, from frame 1's conditions held
    provisional = a.provisional
    assert provisional[0] == 4 and a.committed == 1
    # conditions that are exactly the held guess: the real keyframe is the provisional one, bit for bit
    guess = [a.source.conditions(i) for i in range(2, 5)]
    a.step(guess)
    assert a.committed == 2 and a.last_keyframe[0] == 4 and a.provisional is None
    assert torch.equal(a.last_keyframe[1], provisional[1])
    # the scenario's own conditions (the lead car changes lane): resampled, so it differs
    b, _ = _session(super_resolution=False, **PLAIN)
    b.step(plan[:2])
    b.step(plan[2:5])
    assert not torch.equal(b.last_keyframe[1], provisional[1])


def test_steps_ending_on_keyframes_need_no_provisional_keyframe():
    a, plan = _session(super_resolution=False)
    _steps(a, plan, [1, 4, 4])  # ends at frames 0, 4, 8: every keyframe is sampled once, for real
    assert a.provisional is None and a.stats.keyframe_clips == 3


def test_state_stays_bounded_over_many_steps():
    a, plan = _session(super_resolution=False)
    held = []
    for k in range(24):
        assert len(a.step(plan[k:k + 1])) == 1
        held.append((len(a.rollout.context), len(a.source.known), len(a.decode_history)))
    assert a.stats.max_cached_latents == 2
    assert all(c == 2 and d == 1 for c, _, d in held[8:])  # d: session_window_context
    assert max(n for _, n, _ in held) <= 3 * a.stride  # conditions from the oldest context keyframe on
    # one keyframe clip for each real and each provisional keyframe: 6 + 6 (frames 0..23)
    assert a.stats.keyframe_clips == 12


def test_short_clips_sample_only_the_keyframes_a_step_commits():
    def clip_lengths(**options):
        a, plan = _session(super_resolution=False, **options)
        lengths = []
        noise = a.run.noise

        def recording(shape, stage, index):
            if stage == "keyframes":
                lengths.append(shape[1])
            return noise(shape, stage, index)

        a.run.noise = recording
        _steps(a, plan, [1, 1, 1, 1, 1, 8])
        return lengths, a.run.bundle.config.clip_frames

    short, clip = clip_lengths(session_clip_keyframes=1, session_fast_provisional=False)
    # keyframe 0 alone; the provisional keyframe 1 (frame 4) in a full clip and its real resample, each after
    # keyframe 0; frames 5..12 end on keyframe 3: keyframes 2 and 3 in one clip after two context keyframes,
    # nothing provisional. Each real clip holds the <= 2 context keyframes and just the new ones.
    assert short == [1, clip, 2, 4]
    full, _ = clip_lengths(**PLAIN)
    assert full == [clip] * len(full) and sum(full) > sum(short)
    # the defaults: real clips of at least 2 new keyframes, the provisional one from a clip of itself alone
    default, _ = clip_lengths()
    assert default == [2, 2, 3, 4]


def test_fast_provisional_keyframe_takes_half_the_steps():
    def calls(**options):
        a, plan = _session(super_resolution=False, steps=4, **options)
        a.step(plan[:1])  # keyframe 0: a real clip
        before = a.stats.denoiser_calls
        a.step(plan[1:2])  # frame 1 needs keyframe 1: provisional
        return a.stats.denoiser_calls - before, a.stats.interpolation_clips

    fast, plain = calls(), calls(session_fast_provisional=False)
    # one interpolation segment at 4 steps in both; the provisional clip at 2 steps instead of 4
    assert plain == (4 + 4, 1) and fast == (2 + 4, 1)


def test_reused_segments_sample_each_interpolation_segment_once():
    def run(**options):
        a, plan = _session(super_resolution=False, **options)
        frames = _steps(a, plan, [1] * 9)
        return a, [f for step in frames for f in step]

    reuse, frames = run(session_reuse_segments=True)
    plain, plain_frames = run(session_reuse_segments=False)
    # frames 1..3 and 5..7 lie in segments 0-4 and 4-8: each sampled once (with its end provisional),
    # not once per frame; the first frame of a segment is the same either way
    assert reuse.stats.interpolation_clips == 2 and plain.stats.interpolation_clips == 6
    assert np.array_equal(frames[1], plain_frames[1]) and np.array_equal(frames[5], plain_frames[5])
    assert len(reuse._segments) <= 1  # only the current step's segment is held
    # a segment whose end keyframe was resampled for real is sampled again: a step of frames 8..10
    # after a provisional keyframe 12 from frame 9's held conditions
    b, plan = _session(super_resolution=False, session_reuse_segments=True)
    _steps(b, plan, [9, 1])  # frame 9: segment 8-12 with a provisional end
    b.step(plan[10:13])  # frames 10..12: keyframe 12 real, segment 8-12 sampled again with it
    assert b.stats.interpolation_clips == 2 + 1 + 1


def test_session_window_context_sets_the_frames_each_window_repeats():
    def chunk_lengths(**options):
        a, plan = _session(**options)
        lengths = []
        noise = a.run.noise

        def recording(shape, stage, index):
            if stage == "sr":
                lengths.append(index)
            return noise(shape, stage, index)

        a.run.noise = recording
        _steps(a, plan, [1, 1, 1, 1])
        return lengths

    assert chunk_lengths(session_window_context=2) == [0, 0, 1, 0, 1, 2, 1, 2, 3]  # <= 2 earlier, then its own
    assert chunk_lengths() == [0, 0, 1, 1, 2, 2, 3]  # the default: 1 earlier frame
    with pytest.raises(DrivesimError, match="session_window_context"):
        GenerateOptions(session_window_context=-1)
    with pytest.raises(DrivesimError, match="session_clip_keyframes must be >= 1"):
        GenerateOptions(session_clip_keyframes=0)


def test_bad_step_input_is_a_clear_error():
    a, plan = _session()
    with pytest.raises(DrivesimError, match="FrameConditions"):
        a.step([plan[0].to_json()])


@pytest.mark.parametrize("change, words", [
    ({"crowdedness": float("nan")}, "session frame 0: environment.crowdedness must be a number in 0..1"),
    ({"crowdedness": 5.0}, "environment.crowdedness must be a number in 0..1, got 5.0"),
    ({"crowdedness": None}, "time_of_day and crowdedness must be given"),
    ({"time_of_day": "dusk"}, "time_of_day must be 'day' or 'night', got 'dusk'"),
    ({"timestamp_s": float("inf")}, "timestamp_s must be finite numbers"),
    ({"width": 0}, "width and height must be whole numbers > 0"),
    ("box", "boxes[0]: bbox_xyxy must be finite numbers"),
    ("road", "road.lane_width_m / ego_lateral_m / ego_speed_mps / ego_travel_m must be finite numbers"),
], ids=["nan_crowdedness", "crowdedness_5", "no_crowdedness", "time_of_day", "inf_timestamp", "width", "nan_box", "nan_road"])
def test_conditions_out_of_the_formats_ranges_are_refused_naming_the_field(change, words):
    """Before: NaN crowdedness gave a black frame, 5.0 a frame conditioned on a crowd the model never saw."""
    a, plan = _session()
    fc = next(fc for fc in plan if fc.boxes)
    if change == "box":
        change = {"boxes": (dataclasses.replace(fc.boxes[0], bbox_xyxy=(float("nan"), 0.0, 4.0, 4.0)),)}
    elif change == "road":
        change = {"road": dataclasses.replace(fc.road, ego_speed_mps=float("nan"))}
    bad = dataclasses.replace(fc, index=0, timestamp_s=0.0, **change) if "timestamp_s" not in change else \
        dataclasses.replace(fc, **change)
    with pytest.raises(DrivesimError, match=re.escape(words)):
        a.step([bad])
    assert len(a.step(plan[:1])) == 1  # the refused step changed nothing


def test_windows_after_keeps_only_new_outputs_led_by_history():
    seen = []

    def process(window):
        seen.append([i for i, _ in window])
        return torch.stack([x for _, x in window]) * 10

    items = [(i, torch.tensor([float(i)])) for i in range(3, 10)]
    out, history = windows_after([(1, torch.tensor([1.0])), (2, torch.tensor([2.0]))], items, process, 4, 2)
    assert [float(o) for o in out] == [10.0 * i for i in range(3, 10)]
    assert seen == [[1, 2, 3, 4], [3, 4, 5, 6], [5, 6, 7, 8], [7, 8, 9]]
    assert [i for i, _ in history] == [8, 9]
    with pytest.raises(ValueError):
        windows_after([], items, process, 2, 2)


# --- cancellation --------------------------------------------------------------------------------

class _Spy(nn.Module):
    """Counts forwards of one network into a shared log; sets the cancel flag after `after` forwards."""

    def __init__(self, model: nn.Module, name: str, log: dict):
        super().__init__()
        self.model, self.name, self.log = model, name, log

    def forward(self, *args, **kwargs):
        self.log["calls"].append(self.name)
        if self.log["cancel_at"] is not None and len(self.log["calls"]) >= self.log["cancel_at"]:
            self.log.setdefault("flag_at", len(self.log["calls"]))
        return self.model(*args, **kwargs)

    def __getattr__(self, name: str):  # the wrapped network's other methods (e.g. from_target)
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.model, name)


def _spied(cancel_at: int | None):
    log = {"calls": [], "cancel_at": cancel_at}
    base = micro_bundle()
    bundle = dataclasses.replace(base, **{n: _Spy(getattr(base, n), n, log)
                                          for n in ("unet", "interpolator", "upsampler")})
    return bundle, log, (lambda: "flag_at" in log)


@pytest.mark.parametrize("cancel_at", [1, 5, 8, 12])  # keyframes, interpolation, upsampler, after 4 frames
def test_cancel_stops_frames_within_one_sampler_step(cancel_at):
    scn = scenario(duration_s=1.0)
    bundle, log, cancelled = _spied(cancel_at)
    pipeline = VideoPipeline(bundle, GenerateOptions(**FAST))
    frames = []
    for frame in pipeline.frames(scn, cancelled=cancelled):
        frames.append((frame, len(log["calls"])))
    assert log["flag_at"] == cancel_at
    assert len(log["calls"]) == cancel_at  # not one forward after the flag
    assert all(calls < cancel_at for _, calls in frames)  # and no frame handed out after it
    assert len(frames) < 10


def test_uncancelled_run_is_unchanged_and_cancel_between_frames_ends_the_stream():
    scn = scenario(duration_s=1.0)
    bundle, log, _ = _spied(None)
    full = list(VideoPipeline(bundle, GenerateOptions(**FAST)).frames(scn, cancelled=lambda: False))
    assert len(full) == 10
    flag = {"set": False}
    pipeline = VideoPipeline(bundle, GenerateOptions(**FAST))
    stream = pipeline.frames(scn, cancelled=lambda: flag["set"])
    first = next(stream)
    assert np.array_equal(first.image, full[0].image)
    flag["set"] = True
    calls = pipeline.run.stats.denoiser_calls
    assert list(stream) == []
    assert pipeline.run.stats.denoiser_calls == calls


def test_pipeline_generator_passes_the_cancel_flag():
    from drivesim.serve.generator import PipelineGenerator

    bundle, log, cancelled = _spied(3)
    generator = PipelineGenerator("unused")
    generator._pipeline = VideoPipeline(bundle, GenerateOptions(**FAST))  # loaded: skip the checkpoint
    assert list(generator.generate(scenario(duration_s=1.0), 3, cancelled)) == []
    assert len(log["calls"]) == 3


# --- gRPC ----------------------------------------------------------------------------------------



def test_open_session_with_the_diffusion_backend(tmp_path):
    from drivesim.serve.client import DrivesimClient
    from drivesim.models.bundle import load_bundle, save_bundle
    from drivesim.scenario.loader import parse_scenario
    from drivesim.serve.generator import PipelineGenerator
    from drivesim.serve.limits import Limits
    from drivesim.serve.server import DrivesimServer, ServeConfig
    from drivesim.scenario.world_state import ClosedLoop, Step, StepAgent

    save_bundle(micro_bundle(), tmp_path / "bundle")
    generator = PipelineGenerator(tmp_path / "bundle", options={"steps": 2})
    generator.load()
    server = DrivesimServer(generator, ServeConfig(port=0, limits=Limits(max_duration_s=30.0))).start()
    lead = {"id": "lead", "type": "car", "x_m": 0.0, "distance_m": 20.0, "speed_mps": 8.0}
    steps = [([lead], 1), ([dict(lead, distance_m=19.8)], 2)]
    try:
        with DrivesimClient(server.address) as client, client.session(HEADER, seed=5) as remote:
            got = [remote.step(agents, num_frames=n) for agents, n in steps]
            arithmetic = client.info()["arithmetic"]
    finally:
        server.stop(0)
    # GetInfo says how the pixels are made: the same seed gives the same frames only at the same precision
    from drivesim.pipeline.options import compute_dtype, cpu_has_native_bf16

    assert arithmetic["precision"] == {torch.float32: "fp32", torch.bfloat16: "bf16"}[compute_dtype("cpu")]
    assert arithmetic["cpu_native_bf16"] == str(cpu_has_native_bf16()) and arithmetic["cpu"]
    assert int(arithmetic["threads"]) >= 1
    assert [len(frames) for frames in got] == [1, 2]
    assert [f.index for frames in got for f in frames] == [0, 1, 2]
    # the same frames as a local session on the same bundle, seed and steps
    header = parse_scenario(HEADER)
    local = VideoPipeline(load_bundle(tmp_path / "bundle"), GenerateOptions(**FAST)).session(header, seed=5)
    loop = ClosedLoop(header)
    expected = [local.step(loop.plan(Step(agents=tuple(StepAgent(**a) for a in agents), num_frames=n)))
                for agents, n in steps]
    for remote_frames, local_frames in zip(got, expected, strict=True):
        for frame, image in zip(remote_frames, local_frames, strict=True):
            assert frame.image.shape == (64, 128, 3)
            assert np.array_equal(frame.image, image)


def test_serve_precision_reaches_the_backend_and_get_info(tmp_path):
    """`drivesim serve --precision fp32`: the diffusion backend computes in fp32 and says so."""
    from drivesim.models.bundle import save_bundle
    from drivesim.serve.generator import make_generator

    save_bundle(micro_bundle(), tmp_path / "bundle")
    generator = make_generator("diffusion", tmp_path / "bundle", "cpu", "fp32")
    assert generator.info["arithmetic"]["precision"] == "fp32"
    assert generator.load().options.precision == "fp32"
