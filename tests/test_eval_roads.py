"""The eval on the world's roads: the renderer's road masks line up with its painted lines, the lane-line
segmenter learns, the road-adherence scorer, controllability rows by road type, and both splits' world
scenarios (every road type, every road-user type, tags that follow the rule, seeds of their own).

    python -m pytest tests/test_eval_roads.py -x -q
"""

from __future__ import annotations

import json
import re
import math

import cv2
import numpy as np
import pytest

from pipeline_fixtures import micro_bundle  # also sets torch to one thread

from drivesim.cli import main
from drivesim.eval.controllability import Detections, by_road_type
from drivesim.eval.detector import DETECTOR_DATA_SEED, DetectorPlan, synth_scenarios
from drivesim.eval.lane_segmenter import (SEGMENTER_DATA_SEED, SEGMENTER_MIX, SEGMENTER_VALIDATION_SEED, TARGETS,
                                          SegmenterConfig, box_ignore_mask, load_segmenter, predict, render_frames,
                                          save_segmenter, train_segmenter)
from drivesim.eval.road_adherence import LineCounts, RoadRun, line_counts, road_summary, score_frames
from drivesim.eval.scenarios import (CONTROLLABILITY, CONTROLLABILITY_TEST, HELD_OUT, ROAD_TYPES, SPLITS,
                                     controllability_scenarios, road_types, split_by_road)
from drivesim.eval.settings import FULL, QUICK
from drivesim.pipeline.generate import RenderPipeline
from drivesim.scenario.engine import ScenarioEngine

ROAD_USERS = {"car", "truck", "bus", "motorcycle", "cyclist", "pedestrian"}


# --- the renderer's masks ------------------------------------------------------------------------

@pytest.mark.parametrize("world", [0, 1])  # version 1's straight road (scenery.py), a bend with oncoming lanes
def test_road_masks_lie_on_the_rendered_lines(world):
    scenario = controllability_scenarios(1 - world, 1.0, split="validation", world=world)[0]
    plain = list(RenderPipeline().frames(scenario))
    frame = list(RenderPipeline(masks=True).frames(scenario))[5]
    assert np.array_equal(frame.image, plain[5].image) and plain[5].masks is None  # masks change no pixel
    masks = frame.masks
    assert set(masks) == {"lane_lines", "road_edges", "drivable"}
    assert all(m.shape == frame.image.shape[:2] and m.dtype == bool for m in masks.values())
    gray = cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY).astype(float)
    hidden = box_ignore_mask(frame.labels, *frame.image.shape[:2])
    lines = masks["lane_lines"] | masks["road_edges"]
    asphalt = np.median(gray[masks["drivable"] & ~lines & ~hidden])
    paint = (gray > asphalt + 50) & masks["drivable"] & ~hidden  # the painted marks on the road

    def share_near(mask):
        near = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5) <= 3
        return (paint & near).sum() / paint.sum()

    assert paint.sum() > 200
    assert share_near(lines) > 0.95  # every painted mark is where the masks say a line is
    assert share_near(np.roll(lines, 12, axis=1)) < 0.6  # ... and the check can fail: a shifted mask
    assert gray[masks["lane_lines"] & ~hidden].mean() > asphalt + 10  # lane-line pixels are bright (dashes)
    assert 0.2 < masks["drivable"].mean() < 0.6 and not masks["drivable"][:100].any()  # below the horizon


# --- the segmenter and the scorer ----------------------------------------------------------------

def test_the_segmenter_learns_in_a_few_steps_and_round_trips(tmp_path):
    frames, targets, ignore, seeds = render_frames(SEGMENTER_DATA_SEED, 2, camera=(128, 64), instants=2)
    assert frames.shape == (4, 64, 128, 3) and targets.shape == (4, len(TARGETS), 64, 128)
    assert targets[:, 0].any() and ignore.dtype == bool and len(seeds) == 2
    config = SegmenterConfig(channels=(8, 8, 16), fuse=(8, 8))
    net, losses = train_segmenter(frames, targets, ignore, steps=40, config=config, batch=4, crop=(64, 128))
    assert np.mean(losses[-5:]) < 0.85 * np.mean(losses[:5])
    probs = predict(net, frames[:2])
    assert probs.shape == (2, len(TARGETS), 64, 128) and 0.0 <= probs.min() <= probs.max() <= 1.0
    save_segmenter(net, tmp_path / "seg.safetensors")
    assert np.allclose(predict(load_segmenter(tmp_path / "seg.safetensors"), frames[:2]), probs, atol=1e-6)


def test_the_scorer_gives_one_for_the_labels_and_less_for_shifted_or_blank_predictions():
    label = np.zeros((64, 128), bool)
    cv2.line(label.view(np.uint8), (10, 63), (60, 20), 1, 2)
    cv2.line(label.view(np.uint8), (120, 63), (70, 20), 1, 2)
    exact = line_counts(label, label)
    assert exact.recall == exact.precision == exact.f1 == 1.0 and exact.label == label.sum()
    assert line_counts(np.roll(label, 2, axis=1), label).f1 == 1.0  # within the 3 px tolerance
    shifted = line_counts(np.roll(label, 12, axis=1), label)
    assert shifted.f1 < 0.5
    blank = line_counts(np.zeros_like(label), label)
    assert blank.recall == 0.0 and blank.precision == 0.0 and blank.f1 == 0.0
    # pixels inside a box are left out of both sides
    ignore = np.zeros_like(label)
    ignore[:, :64] = True
    half = line_counts(np.zeros_like(label), label, ignore)
    assert half.label == label[:, 64:].sum()
    # counts add up over frames; F1 comes from the summed counts
    both = score_frames(np.stack([np.stack([label, label]), np.zeros((2, 64, 128))]).astype(np.float32),
                        np.stack([np.stack([label, label])] * 2), np.zeros((2, 64, 128), bool))
    assert both["lane_lines"].recall == pytest.approx(0.5) and both["lane_lines"].precision == 1.0
    assert LineCounts().f1 is None


def _road_run(name, tags, gen_f1_like: bool) -> RoadRun:
    good = LineCounts(100, 90, 100, 90)
    bad = LineCounts(100, 40, 100, 40)
    return RoadRun(name, tags, {t: (good if gen_f1_like else bad) for t in TARGETS}, {t: good for t in TARGETS})


def test_road_adherence_rows_by_road_type_and_the_target():
    runs = [_road_run("straight day", ("straight",), True), _road_run("bend day", ("curve", "oncoming"), False),
            _road_run("crossing day", ("junction",), True)]
    result = road_summary(runs, None)
    groups = {r["group"]: r for r in result["rows"]["road_type"]}
    assert list(groups) == ["straight", "curve", "junction", "oncoming"]
    assert [groups[t]["runs"] for t in groups] == [1, 1, 1, 1]
    assert groups["curve"]["lane_lines_ratio"] == pytest.approx(0.4 / 0.9)
    assert groups["straight"]["lane_lines_ratio"] == pytest.approx(1.0)
    (target,) = result["targets"]
    assert target["runs"] == 2 and target["value"] == pytest.approx((0.4 + 0.9) / 1.8) and target["result"] == "FAIL"
    assert road_summary(runs[:1], None)["targets"][0]["result"].startswith("n/a")
    assert road_summary(runs, "untrained")["targets"][0]["result"] == "n/a: untrained"


def _detections(found, background) -> Detections:
    return Detections(types=["car"] * len(found), bands=["<15 m"] * len(found), found=np.array(found, bool),
                      background_found=np.array(background, bool))


def test_controllability_rows_by_road_type_count_each_run_for_each_of_its_types():
    perfect = _detections([1, 1, 1, 1], [0, 0])
    half = _detections([1, 0, 1, 0], [1, 0])
    pairs = [("a day", "day", perfect, perfect), ("a night", "night", half, perfect),
             ("bend day", "day", half, perfect), ("bend night", "night", perfect, perfect),
             ("crossing day", "day", perfect, perfect)]
    tags = [("straight",), ("straight",), ("curve", "oncoming"), ("curve", "oncoming"), ("junction",)]
    result = by_road_type(pairs, tags, None)
    rows = {r["group"]: r for r in result["rows"]}
    assert list(rows) == list(ROAD_TYPES)
    assert [rows[t]["runs"] for t in ROAD_TYPES] == [2, 2, 1, 2]
    assert rows["curve"]["visible"] == 8 and rows["curve"]["ratio"] == pytest.approx(0.75)
    assert rows["curve"]["worst_ratio"] == pytest.approx(0.5) and rows["curve"]["worst_run"] == "bend day"
    assert rows["curve"]["phantom_generated"] == pytest.approx(0.25)
    by_type = {}
    for t in result["targets"]:
        by_type.setdefault(t["road_type"], []).append(t["result"])
    assert by_type == {"curve": ["FAIL", "FAIL", "FAIL"], "junction": ["pass", "pass", "pass"],
                       "oncoming": ["FAIL", "FAIL", "FAIL"]}  # none for straight: its targets stay the old rows


# --- the scenarios -------------------------------------------------------------------------------

def _oncoming(scenario) -> bool:
    """A named road user (not on foot) drives towards the camera at some frame (rotation_y near +pi/2)."""
    return any(not b.track_id.startswith("bg_") and b.type != "pedestrian" and math.sin(b.rotation_y) > 0.7
               for frame in ScenarioEngine(scenario).frames() for b in frame.boxes)


@pytest.mark.parametrize("split", list(SPLITS))
def test_both_splits_hold_every_road_type_and_road_user_and_the_tags_follow_the_rule(split):
    straight, world = split_by_road(SPLITS[split])
    assert len(straight) == 8 and 5 <= len(world) <= FULL["control_world_scenarios"] == len(world)
    assert {t for d in world for t in road_types(d)} == set(ROAD_TYPES) - {"straight"}
    scenarios = controllability_scenarios(0, 2.0, split=split, world=len(world))
    assert {a.type for s in scenarios for a in s.agents} == ROAD_USERS  # every road user on the world's roads
    for data, scenario in zip(world, scenarios):
        tags, road = set(road_types(data)), data["road"]
        bends = any("arc" in piece or "clothoid" in piece for piece in road.get("segments", []))
        assert ("curve" in tags) == bends, data["name"]
        assert ("junction" in tags) == bool(road.get("opendrive")), data["name"]
        assert ("oncoming" in tags) == _oncoming(scenario), data["name"]
    radii = sorted(abs(p["arc"]["radius"]) for d in world for p in d["road"].get("segments", []) if "arc" in p)
    signs = {math.copysign(1, p["arc"]["radius"]) for d in world for p in d["road"].get("segments", []) if "arc" in p}
    assert radii[0] <= 60 and radii[-1] >= 200 and signs == {1.0, -1.0}  # tight and wide bends, both ways
    # --quick adds one world scenario, and it is of two road types
    assert QUICK["control_world_scenarios"] == 1 and len(road_types(world[0])) >= 2


def test_world_scenario_and_segmenter_seeds_are_their_own():
    default = {int(s.seed) for mix in ("v1", "world") for s in synth_scenarios(0, 160, (512, 256), 4.8, 10.0, mix)}
    assert len(default) == 320
    clips = FULL["segmenter_clips"]
    segmenter = {int(s.seed) for s in synth_scenarios(SEGMENTER_DATA_SEED, clips, mix=SEGMENTER_MIX)}
    held = {int(s.seed) for s in synth_scenarios(SEGMENTER_VALIDATION_SEED, clips // 4, mix=SEGMENTER_MIX)}
    detector = {int(s.seed) for s in DetectorPlan(FULL["detector_clips"], 1).scenarios(DETECTOR_DATA_SEED,
                                                                                       FULL["detector_clips"])}
    evaluated = {int(d["seed"]) for d in (*CONTROLLABILITY, *CONTROLLABILITY_TEST, *HELD_OUT)}
    assert len(segmenter) == clips and len(held) == clips // 4
    assert not (segmenter | held) & (default | detector | evaluated) and not segmenter & held
    assert not evaluated & default
    assert len({d["name"] for d in (*CONTROLLABILITY, *CONTROLLABILITY_TEST)}) == len(CONTROLLABILITY) + len(
        CONTROLLABILITY_TEST)


# --- the section ---------------------------------------------------------------------------------

def test_eval_controllability_reports_road_types_and_road_adherence(tmp_path, monkeypatch, capsys):
    from drivesim.data.synth import SynthConfig, synth_data
    from drivesim.models.bundle import save_bundle

    save_bundle(micro_bundle(), tmp_path / "bundle")
    synth_data(SynthConfig(output=str(tmp_path / "data"), clips=1, frames=4, height=64, width=128), progress=False)
    for key, value in dict(control_scenarios=1, control_world_scenarios=1, control_duration_s=0.4,
                           control_frame_step=2, detector_clips=2, detector_steps=4, panacea_steps=3,
                           segmenter_clips=1, segmenter_steps=2).items():
        monkeypatch.setitem(QUICK, key, value)
    out = tmp_path / "report"
    assert main(["eval", str(tmp_path / "bundle"), "--data", str(tmp_path / "data"), "-o", str(out),
                 "--only", "controllability", "--quick", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "by road type" in printed and "road adherence" in printed
    control = json.loads((out / "report.json").read_text())["controllability"]
    assert control["settings"]["road_types"] == {"ctl_close_cut_in": ["straight"],
                                                 "ctl_left_bend_oncoming": ["curve", "oncoming"]}
    rows = {r["group"]: r for r in control["road_types"]["rows"]}
    assert {k: r["runs"] for k, r in rows.items()} == {"straight": 2, "curve": 2, "oncoming": 2}
    assert {t["road_type"] for t in control["road_types"]["targets"]} == {"curve", "oncoming"}
    assert all(t["result"].startswith("n/a") for t in control["road_types"]["targets"])  # random weights
    # the rows of before are the straight road's: two runs, as before the world had other roads
    assert control["rows"]["overall"][0]["visible"] == sum(
        r["visible"] for r in control["rows"]["run"] if r["group"].startswith("ctl_close_cut_in"))
    assert [r["group"] for r in control["rows"]["run"]] == [
        "ctl_close_cut_in day", "ctl_close_cut_in night", "ctl_left_bend_oncoming day", "ctl_left_bend_oncoming night"]
    road = control["road"]
    assert [r["group"] for r in road["rows"]["road_type"]] == ["straight", "curve", "oncoming"]
    assert road["rows"]["overall"][0]["rendered"]["lane_lines"]["label_pixels"] > 0
    assert road["targets"][0]["runs"] == 2 and road["segmenter"]["source"] == "trained"
    assert (out / road["samples"]).is_file() and (out / "lane_segmenter.safetensors").is_file()
    text = (out / "report.md").read_text()
    assert "lane-line segmenter" in text and "road_adherence.png" in text
    # the detector saw both mixes of roads, and its held-out recall is given for each
    assert control["detector"]["mixes"] == ["v1", "world"] and "scenarios of each of v1, world" in text
    assert re.search(r"road-user recall [0-9.]+ \(v1 [0-9.]+, world [0-9.]+\)", text)


def test_the_command_line_picks_how_many_world_scenarios(monkeypatch, tmp_path, capsys):
    import drivesim.eval.report as report
    from drivesim.errors import DrivesimError

    seen = []

    def fake_run_eval(bundle, data, out, settings):
        seen.append(settings.resolved().control_world_scenarios)
        raise DrivesimError("stop here")

    monkeypatch.setattr(report, "run_eval", fake_run_eval)
    for extra, expected in ((["--quick"], QUICK["control_world_scenarios"]), (["--quick", "--world-scenarios", "6"], 6),
                            ([], FULL["control_world_scenarios"]), (["--world-scenarios", "0"], 0)):
        assert main(["eval", str(tmp_path), "--data", str(tmp_path), *extra]) == 1
    assert seen == [1, 6, 6, 0]
    with pytest.raises(SystemExit):
        main(["eval", str(tmp_path), "--data", str(tmp_path), "--world-scenarios", "7"])
    assert "--world-scenarios: invalid choice: 7" in capsys.readouterr().err
