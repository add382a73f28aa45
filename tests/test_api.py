"""The diffusers-style Python API (drivesim/api.py) on a micro random bundle: the same frames as the
pipeline underneath, every scenario form, streaming, callbacks, progress settings and sessions.

    python -m pytest tests/test_api.py -q
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from drivesim import DriveSimPipeline
from drivesim.api import DriveSimPipelineOutput
from drivesim.errors import DrivesimError
from drivesim.models.bundle import save_bundle
from drivesim.pipeline import GeneratedFrame, VideoPipeline
from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.loader import parse_scenario

from pipeline_fixtures import HEADER, SCENARIO_YAML, micro_bundle

pytestmark = pytest.mark.precision  # arithmetic-dependent: CI runs these again in fp32 (README)

TEXT = SCENARIO_YAML.format(duration_s=0.6)  # 6 frames


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("api") / "bundle"
    save_bundle(micro_bundle(), path, dtype=torch.float32)
    return path


@pytest.fixture(scope="module")
def pipe(bundle_dir) -> DriveSimPipeline:
    pipe = DriveSimPipeline.from_pretrained(bundle_dir, device="cpu", steps=1)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_call_returns_the_pipelines_frames_and_the_plans_labels(pipe, bundle_dir, tmp_path):
    out = pipe(TEXT)
    assert isinstance(out, DriveSimPipelineOutput) and out.fps == 10.0
    scenario = parse_scenario(TEXT)
    direct = [f.image for f in VideoPipeline(pipe.pipeline.bundle, pipe.pipeline.options).frames(scenario)]
    assert len(out.frames) == 6 and all(np.array_equal(a, b) for a, b in zip(out.frames, direct))
    assert out.frames[0].shape == (64, 128, 3) and out.frames[0].dtype == np.uint8
    assert [fc.to_json() for fc in out.labels] == [fc.to_json() for fc in ScenarioEngine(scenario).frames()]
    file = tmp_path / "drive.yaml"
    file.write_text(TEXT)
    for form in (scenario, file, str(file)):  # a Scenario, a path, a path string: the same clip
        assert all(np.array_equal(a, b) for a, b in zip(pipe(form).frames, out.frames))
    frames, labels = pipe(TEXT, return_dict=False)
    assert len(frames) == len(labels) == 6


def test_call_overrides_apply_to_that_call_only(pipe):
    base = pipe(TEXT).frames
    other_seed = pipe(TEXT, seed=99).frames
    assert not np.array_equal(base[0], other_seed[0])
    assert all(np.array_equal(a, b) for a, b in zip(pipe(TEXT).frames, base))
    with pytest.raises(DrivesimError, match="unknown option.*'stepz'"):
        pipe(TEXT, stepz=3)


def test_stream_and_per_frame_callback(pipe):
    stream = pipe.stream(TEXT)
    first = next(stream)
    assert isinstance(first, GeneratedFrame) and first.index == 0
    assert len(list(stream)) == 5
    seen = []
    pipe(TEXT, callback=lambda p, index, frame: seen.append((p is pipe, index, frame.labels.index)))
    assert seen == [(True, i, i) for i in range(6)]


def test_progress_bar_config(bundle_dir):
    pipe = DriveSimPipeline.from_pretrained(bundle_dir)
    assert pipe.pipeline.options.progress is True
    pipe.set_progress_bar_config(disable=True)
    assert pipe.pipeline.options.progress is False
    with pytest.raises(DrivesimError, match="unknown setting"):
        pipe.set_progress_bar_config(leave=False, colour="red")


def test_session_continues_one_video_like_the_pipeline_session(pipe):
    header = parse_scenario(HEADER)
    plan = list(ScenarioEngine(header).frames())[:5]
    session = pipe.session(HEADER, seed=1)
    frames = session.step(plan[:2]) + session.step(plan[2:5])
    reference = VideoPipeline(pipe.pipeline.bundle, pipe.pipeline.options).session(header, seed=1)
    expected = reference.step(plan[:2]) + reference.step(plan[2:5])
    assert len(frames) == 5 and all(np.array_equal(a, b) for a, b in zip(frames, expected))


def test_default_bundle_in_three_lines(monkeypatch):
    monkeypatch.delenv("DRIVESIM_CHECKPOINT", raising=False)
    pipe = DriveSimPipeline.from_pretrained(device="cpu")
    out = pipe("name: demo\nduration_s: 0.3\ncamera: {width: 128, height: 64}\n", steps=1, super_resolution=False)
    assert pipe.path.name == "default" and pipe.config.name == "tiny_world" and pipe.config.draws_road_network
    assert len(out.frames) == 3 and out.frames[0].shape == (64, 128, 3)


def test_bad_inputs_are_clear_errors(pipe, bundle_dir, tmp_path):
    with pytest.raises(DrivesimError, match="Scenario, a YAML file path or YAML text"):
        pipe(42)
    with pytest.raises(DrivesimError, match="does not exist"):
        DriveSimPipeline.from_pretrained(tmp_path / "nope")
    with pytest.raises(DrivesimError, match="unknown option"):
        DriveSimPipeline.from_pretrained(bundle_dir, stepz=2)


@pytest.mark.parametrize("overrides,message", [
    (dict(steps="a"), "option steps must be a whole number, got 'a'"),
    (dict(guidance=float("nan")), "option guidance must be a finite number"),
    (dict(context_guidance=float("inf")), "option context_guidance must be a finite number"),
    (dict(seed=-1), "--seed must be in 0..2147483647"),
    (dict(seed=2**70), "--seed must be in 0..2147483647"),
    (dict(seed=1.5), "option seed must be a whole number"),
    (dict(image_only="yes"), "option image_only must be True or False"),
    (dict(steps=True), "option steps must be a whole number"),
])
def test_wrong_option_values_are_named_not_met_later(pipe, overrides, message):
    """Each once gave a raw TypeError or (guidance=nan) all-black frames without an error."""
    with pytest.raises(DrivesimError, match=re.escape(message)):
        pipe(TEXT, **overrides)


@pytest.mark.parametrize("path,message", [(123, "must be a bundle folder"), ("", "path is empty"),
                                          ("   ", "path is empty")])
def test_from_pretrained_refuses_what_is_not_a_folder(path, message):
    with pytest.raises(DrivesimError, match=message):
        DriveSimPipeline.from_pretrained(path)


@pytest.mark.parametrize("overrides,message", [  # found by tests/test_fuzz_doors.py
    # 2000 steps ran for minutes, then an IndexError past the schedule; 10^30 a ValueError from numpy
    (dict(steps=2000), "--steps must be at most 1000"),
    (dict(steps=10**30), "--steps must be at most 1000"),
    (dict(sr_steps=1001), "--sr-steps must be at most 1000"),  # all-black frames after two minutes
    (dict(guidance=1e30), "--guidance must be in 0..100"),  # all-black frames: the latents overflowed
    (dict(context_guidance=101.0), "--context-guidance must be in 0..100"),
    (dict(callback=5), "callback must be a function (pipe, index, frame) or None, got 5"),  # TypeError after frame 0
])
def test_arguments_that_failed_late_or_blackened_frames_are_refused_first(pipe, overrides, message):
    made = []
    with pytest.raises(DrivesimError, match=re.escape(message)):
        pipe(TEXT, **{"callback": lambda p, index, frame: made.append(index), **overrides})
    assert made == []


def test_steps_past_the_bundles_own_noise_levels_are_refused(pipe):
    import dataclasses

    bundle = pipe.pipeline.bundle
    short = dataclasses.replace(bundle.config, diffusion=dataclasses.replace(bundle.config.diffusion,
                                                                            num_train_timesteps=100))
    few = DriveSimPipeline(VideoPipeline(dataclasses.replace(bundle, config=short), pipe.pipeline.options))
    with pytest.raises(DrivesimError, match=r"steps must be at most 100 \(this bundle's noise levels\), got 200"):
        few(TEXT, steps=200)


@pytest.mark.parametrize("seed,message", [("x", "option seed must be a whole number"), ({}, "option seed must be"),
                                          (-1, "--seed must be in 0..2147483647"), (1.5, "option seed must be"),
                                          (float("nan"), "option seed must be")])
def test_a_sessions_seed_is_checked_like_the_option(pipe, seed, message):
    # "x" and nan were a ValueError, {} a TypeError; -1 and 1.5 were taken
    with pytest.raises(DrivesimError, match=re.escape(message)):
        pipe.session(HEADER, seed=seed)


def _box_step(change):
    """A session step of the plan's first frame with a box, `change(frame, box)` applied to it."""
    plan = list(ScenarioEngine(parse_scenario(TEXT)).frames())
    fc = next(dataclasses.replace(fc, index=0, timestamp_s=0.0) for fc in plan if fc.boxes)
    return dataclasses.replace(fc, **change(fc, fc.boxes[0]))


@pytest.mark.parametrize("change,message", [
    (lambda fc, b: {"boxes": ("car",)}, "boxes[0] must be a Box (drivesim.scenario.labels.Box), got str"),
    (lambda fc, b: {"boxes": (None,)}, "boxes[0] must be a Box"),
    (lambda fc, b: {"boxes": b.to_json()}, "boxes must be a tuple or list of Box, got dict"),
    (lambda fc, b: {"boxes": None}, "boxes must be a tuple or list of Box, got NoneType"),
    (lambda fc, b: {"boxes": (dataclasses.replace(b, bbox_xyxy=(1.0, 2.0)),)}, "bbox_xyxy must be 4 numbers"),
    (lambda fc, b: {"boxes": (dataclasses.replace(b, size_m=None),)}, "size_m must be 3 numbers"),
    (lambda fc, b: {"boxes": (dataclasses.replace(b, size_m=(-1.0, 1.0, 1.0)),)}, "size_m must be three numbers in (0, 100] m"),
    (lambda fc, b: {"boxes": (dataclasses.replace(b, size_m=(1.0, 1.0, 500.0)),)}, "size_m must be three numbers in (0, 100] m"),
    (lambda fc, b: {"boxes": (dataclasses.replace(b, track_id=5),)}, "track_id must be non-empty text"),
    (lambda fc, b: {"boxes": (dataclasses.replace(b, world_pose=(1.0, 2.0, 3.0)),)},
     "world_pose must be {x, y, z, heading[, pitch]} (or a WorldPose)"),
    (lambda fc, b: {"boxes": (dataclasses.replace(b, location_m=(1e300, 0.0, 5.0)),)},
     "location_m must be finite numbers of magnitude <= 1e+06"),
    (lambda fc, b: {"ego_pose": (1.0, 2.0)}, "ego_pose must be {x, y, z, heading[, pitch]} (or a WorldPose)"),
    (lambda fc, b: {"road": "x"}, "road must be a RoadState or None, got str"),
    (lambda fc, b: {"road": dataclasses.replace(fc.road, lanes=10**9)}, "road.lanes must be a whole number in 1..8"),
    (lambda fc, b: {"road": dataclasses.replace(fc.road, lane_width_m=50.0)}, "road.lane_width_m must be in (1, 10] m"),
    (lambda fc, b: {"index": "a"}, "index must be a whole number"),
], ids=["str_box", "none_box", "dict_boxes", "none_boxes", "bbox_2", "size_none", "size_negative", "size_500", "track_id",
        "world_pose", "location_1e300", "ego_pose", "road_str", "lanes_1e9", "lane_width_50", "index"])
def test_a_sessions_frames_of_the_wrong_shape_are_refused_naming_the_field(pipe, change, message):
    # a non-box in boxes, None for boxes or a 2-number bbox were raw AttributeError / TypeError / ValueError;
    # road.lanes 1e9 filled gigabytes before an OpenCV error; a negative size or a tuple for a pose was taken
    session = pipe.session(HEADER, seed=1)
    with pytest.raises(DrivesimError, match=re.escape(message)):
        session.step([_box_step(change)])
    assert len(session.step([_box_step(lambda fc, b: {})])) == 1  # the refused step changed nothing


def test_progress_bar_config_takes_only_true_or_false(pipe):
    with pytest.raises(DrivesimError, match="disable must be True or False, got 'x'"):
        pipe.set_progress_bar_config(disable="x")
    assert pipe.pipeline.options.progress is False
