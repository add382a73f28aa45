"""Controllability: the renderer as a frame source, visibility and crops, recall / phantom on known
cases, the detector's training, disjoint seeds, and `drivesim eval --only controllability`.

    python -m pytest tests/test_controllability.py -x -q
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from pipeline_fixtures import SCENARIO_YAML, micro_bundle, scenario  # also sets torch to one thread

from drivesim.cli import main
from drivesim.errors import DrivesimError
from drivesim.eval.controllability import (PANACEA_SEED_OFFSET, REPEAT_SEED_STEP, detect_video, format_controllability,
                                           summarise, verdicts)
from drivesim.eval.crops import background_boxes, is_visible, square_crop
from drivesim.eval.detector import (DETECTOR_DATA_SEED, VALIDATION_DATA_SEED, DetectorPlan, crop_accuracy, render_crops,
                                    synth_scenarios, train_crop_classifier, trained_detector)
from drivesim.eval.scenarios import (CONTROLLABILITY, CONTROLLABILITY_TEST, HELD_OUT, controllability_scenarios,
                                     split_by_road)
from drivesim.eval.settings import FULL, QUICK, EvalSettings
from drivesim.scenario.labels import Box, FrameConditions

pytestmark = pytest.mark.precision  # arithmetic-dependent: CI runs these again in fp32 (README)

W, H = 512, 256


def _box(x0, y0, x1, y1, kind="car", occlusion=0.0, truncation=0.0, track_id="lead") -> Box:
    return Box(track_id=track_id, type=kind, bbox_xyxy=(x0, y0, x1, y1), truncation=truncation, occlusion=occlusion,
               location_m=(0.0, 1.5, 10.0), size_m=(4.5, 1.8, 1.5), rotation_y=-1.5708, distance_m=10.0)


def _frame(boxes, index=0) -> FrameConditions:
    return FrameConditions(index=index, timestamp_s=index / 10, time_of_day="day", crowdedness=0.0,
                           boxes=tuple(boxes), width=W, height=H)


# --- the renderer as a frame source --------------------------------------------------------------

def test_generate_source_render_writes_the_renderers_frames_and_the_plan_labels(tmp_path, capsys):
    from drivesim.render.frames import render_frame
    from drivesim.scenario.engine import ScenarioEngine
    from drivesim.scenario.loader import load_scenario

    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO_YAML.format(duration_s=0.5))
    out = tmp_path / "out"
    assert main(["generate", str(scenario), "-o", str(out), "--source", "render", "-q"]) == 0
    assert main(["plan", str(scenario), "-o", str(tmp_path / "plan.jsonl")]) == 0
    assert (out / "labels.jsonl").read_bytes() == (tmp_path / "plan.jsonl").read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"] == "render" and manifest["checkpoint"] is None and manifest["frames"] == 5
    assert (out / "video.mp4").stat().st_size > 0 and (out / "overlay.mp4").stat().st_size > 0
    engine = ScenarioEngine(load_scenario(scenario))
    for index in (0, 4):
        png = cv2.cvtColor(cv2.imread(str(out / "frames" / f"{index:06d}.png")), cv2.COLOR_BGR2RGB)
        expected = render_frame(engine, engine.frame(index).timestamp_s, 128, 64)
        np.testing.assert_array_equal(png, expected)
    # model-only options make no sense without a model: a clear error, nothing written
    capsys.readouterr()
    assert main(["generate", str(scenario), "-o", str(tmp_path / "x"), "--source", "render", "--steps", "4"]) == 1
    assert "--steps only apply to --source diffusion" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_export_source_render_writes_plan_labels(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO_YAML.format(duration_s=0.3))
    dataset = tmp_path / "ds"
    assert main(["export", str(scenario), "-o", str(dataset), "--source", "render", "--formats", "coco", "-q"]) == 0
    assert main(["plan", str(scenario), "-o", str(tmp_path / "plan.jsonl")]) == 0
    assert (dataset / "clips" / "test_drive.jsonl").read_bytes() == (tmp_path / "plan.jsonl").read_bytes()
    assert json.loads((dataset / "manifest.json").read_text())["source"] == "render"
    assert len(list((dataset / "images" / "test_drive").glob("*.png"))) == 3


# --- visibility, crops, background boxes ---------------------------------------------------------

def test_visibility_thresholds_and_background_boxes_avoid_every_label():
    assert is_visible(_box(100, 100, 140, 130), W)
    assert not is_visible(_box(100, 100, 140, 110), W)  # 10 px tall
    assert not is_visible(_box(100, 100, 104, 130), W)  # 4 px wide
    assert not is_visible(_box(100, 100, 140, 130, occlusion=0.5), W)
    assert not is_visible(_box(100, 100, 140, 130, truncation=0.7), W)
    assert is_visible(_box(25, 25, 35, 33), 128)  # thresholds scale with the camera width
    frame = _frame([_box(100, 120, 180, 180), _box(300, 100, 320, 160, "pedestrian", track_id="p"),
                    _box(400, 130, 405, 133, track_id="tiny")])
    boxes = background_boxes(frame, W, H, 40, np.random.default_rng(0))
    assert len(boxes) >= 30
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H
        for b in frame.boxes:
            bx0, by0, bx1, by1 = b.bbox_xyxy
            assert x1 <= bx0 - 2 or x0 >= bx1 + 2 or y1 <= by0 - 2 or y0 >= by1 + 2
    crop = square_crop(np.zeros((H, W, 3), np.uint8), (0, 0, 40, 10))  # leaves the image: edge-padded
    assert crop.shape == (32, 32, 3)


# --- recall and phantom rate on known cases ------------------------------------------------------

def _bright(crops: np.ndarray) -> np.ndarray:
    """Stand-in detector: a crop whose centre is bright holds a road user."""
    return (crops[:, 12:20, 12:20].mean(axis=(1, 2, 3)) > 128).astype(float)


def test_recall_is_one_where_the_box_shows_something_and_zero_on_an_empty_frame():
    labels = [_frame([_box(200, 100, 260, 150), _box(350, 120, 370, 170, "pedestrian", track_id="p")], i)
              for i in range(4)]
    empty = np.full((4, H, W, 3), 60, np.uint8)
    drawn = empty.copy()
    for fc in labels:
        for b in fc.boxes:
            x0, y0, x1, y1 = (int(v) for v in b.bbox_xyxy)
            drawn[fc.index, y0:y1, x0:x1] = 230
    shown = detect_video(_bright, drawn, labels, frame_step=2, seed=1)
    blank = detect_video(_bright, empty, labels, frame_step=2, seed=1)
    assert len(shown.found) == 4 and shown.recall == 1.0 and shown.phantom_rate == 0.0  # frames 0 and 2
    assert blank.recall == 0.0 and blank.phantom_rate == 0.0
    assert shown.types.count("pedestrian") == 2
    # A phantom: the same bright content everywhere is found on the background boxes too.
    flooded = detect_video(_bright, np.full((4, H, W, 3), 230, np.uint8), labels, seed=1)
    assert flooded.phantom_rate == 1.0

    result = summarise([("s day", "day", blank, shown), ("t night", "night", shown, shown)])
    runs = {r["group"]: r for r in result["rows"]["run"]}
    assert runs["s day"]["ratio"] == 0.0 and runs["t night"]["ratio"] == 1.0
    assert result["summary"]["mean_ratio"] == 0.5 and result["summary"]["worst_ratio"] == 0.0
    assert result["summary"]["worst_run"] == "s day"
    assert {r["group"] for r in result["rows"]["type"]} == {"car", "pedestrian"}
    assert [t["result"] for t in verdicts(result["summary"], None)] == ["FAIL", "FAIL", "pass"]
    assert all(t["result"].startswith("n/a") for t in verdicts(result["summary"], "untrained"))


def test_class_aware_recall_and_the_boxes_outside_the_visibility_rule():
    """A scorer that finds everything bright but calls it all a vehicle: the car counts as its own type,
    the pedestrian only as any type; occluded and small boxes get rows of their own, not the main recall."""
    labels = [_frame([_box(200, 100, 260, 150), _box(350, 120, 370, 170, "pedestrian", track_id="p"),
                      _box(100, 100, 140, 130, occlusion=0.6, track_id="hidden"),
                      _box(420, 100, 440, 108, track_id="small")], 0)]
    frames = np.full((1, H, W, 3), 60, np.uint8)
    for b in labels[0].boxes:
        x0, y0, x1, y1 = (int(v) for v in b.bbox_xyxy)
        frames[0, y0:y1, x0:x1] = 230

    def all_vehicles(crops):
        return _bright(crops), np.ones(len(crops), int)

    found = detect_video(all_vehicles, frames, labels, seed=1)
    assert found.types == ["car", "pedestrian"] and found.recall == 1.0
    assert found.right_type.tolist() == [True, False]
    assert found.hidden == ["occluded (> 0.3)", "small (< 14 px tall)"] and found.hidden_found.all()
    assert detect_video(_bright, frames, labels, seed=1).right_type is None  # a scorer without classes

    blank = detect_video(all_vehicles, np.full_like(frames, 60), labels, seed=1)
    result = summarise([("s day", "day", blank, found)])
    overall = result["rows"]["overall"][0]
    assert (overall["generated_right_type"], overall["rendered_right_type"]) == (0.0, 0.5)
    by_type = {r["group"]: r for r in result["rows"]["type"]}
    assert by_type["pedestrian"]["rendered"] == 1.0 and by_type["pedestrian"]["rendered_right_type"] == 0.0
    hidden = {r["group"]: r for r in result["rows"]["hidden"]}
    assert hidden["occluded (> 0.3)"]["rendered"] == 1.0 and hidden["occluded (> 0.3)"]["generated"] == 0.0
    table = format_controllability({**result, "targets": verdicts(result["summary"], None)})
    assert "found as its own type" in table and "| pedestrian | 1 |" in table
    assert "outside the visibility rule" in table and "| small (< 14 px tall) | 1 |" in table


# --- the detector --------------------------------------------------------------------------------

def test_detector_training_lowers_its_loss_and_beats_chance_on_tiny_rendered_data():
    crops, classes, seeds = render_crops(DETECTOR_DATA_SEED, clips=6, camera=(256, 128), instants=2)
    assert len(seeds) == 6 and (classes == 0).any() and (classes > 0).any()
    # the world mix's crops come from its own scenarios (bends, junctions, oncoming lanes)
    world = render_crops(DETECTOR_DATA_SEED, clips=2, camera=(256, 128), instants=1, mix="world")
    assert world[2] == [int(sc.seed) for sc in synth_scenarios(DETECTOR_DATA_SEED, 2, (256, 128), mix="world")]
    assert not set(world[2]) & set(seeds) and (world[1] > 0).any()
    net, losses = train_crop_classifier(crops, classes, steps=100, batch=32)
    assert np.mean(losses[-15:]) < 0.8 * np.mean(losses[:15])
    acc = crop_accuracy(net, crops, classes)
    # balanced road-user / background accuracy: chance is 0.5
    assert (acc["road_user_recall"] + 1 - acc["background_false_positive_rate"]) / 2 > 0.6
    with pytest.raises(DrivesimError, match="road-user and background crops"):
        train_crop_classifier(crops[classes == 0], classes[classes == 0], steps=2)


def test_detector_is_cached_by_fingerprint(tmp_path):
    plan = DetectorPlan(clips=2, steps=3, camera=(128, 64), instants=1, validation_clips=1)
    net, info = trained_detector(plan, tmp_path, lambda m: None)
    assert info["source"] == "trained" and (tmp_path / "detector.safetensors").is_file()
    again, info2 = trained_detector(plan, tmp_path, lambda m: None)
    assert info2["source"] == "cached" and info2["validation"] == info["validation"]
    # trained and validated on crops of both mixes of roads, validation reported per mix
    assert info["mixes"] == ["v1", "world"] and set(info["validation_by_mix"]) == {"v1", "world"}
    assert DetectorPlan(clips=2, steps=3, mixes=("v1",)).fingerprint() != DetectorPlan(clips=2, steps=3).fingerprint()
    for a, b in zip(net.state_dict().values(), again.state_dict().values()):
        assert (a == b).all()
    retrained, info3 = trained_detector(DetectorPlan(clips=2, steps=4, camera=(128, 64), instants=1,
                                                     validation_clips=1), tmp_path, lambda m: None)
    assert info3["source"] == "trained"
    # a --data folder that holds one of the detector's scenarios is refused, cached detector or not
    taken = int(synth_scenarios(DETECTOR_DATA_SEED, 1, (128, 64))[0].seed)
    with pytest.raises(DrivesimError, match="share seed"):
        trained_detector(plan, tmp_path, lambda m: None, excluded_seeds={taken})


def test_detector_and_eval_seeds_never_meet_the_default_training_seeds():
    # The shipped default: drivesim synth-data --clips 160 --frames 48 --size 256x512 --fps 10 --seed 0
    # (and the road-world fine-tune's: the same with --mix world)
    default = {int(s.seed) for mix in ("v1", "world") for s in synth_scenarios(0, 160, (512, 256), 4.8, 10.0, mix)}
    assert len(default) == 320
    clips = FULL["detector_clips"]  # the full run's (--quick uses the first 64 of them), of each mix
    plan = DetectorPlan(clips=clips, steps=1)
    assert set(plan.mixes) == {"v1", "world"}
    detector = {int(s.seed) for s in plan.scenarios(DETECTOR_DATA_SEED, clips)}
    validation = {int(s.seed) for s in plan.scenarios(VALIDATION_DATA_SEED, clips // 4)}
    evaluated = {int(d["seed"]) for d in (*CONTROLLABILITY, *HELD_OUT)}
    test_split = {int(d["seed"]) + k * REPEAT_SEED_STEP for d in CONTROLLABILITY_TEST for k in range(10)}
    repeats = {s + k * REPEAT_SEED_STEP for s in evaluated for k in range(1, 10)}
    panacea = {s + PANACEA_SEED_OFFSET for s in evaluated | test_split | repeats}
    assert len(detector) == 2 * clips and len(validation) == 2 * (clips // 4)
    for name, seeds in (("detector", detector), ("validation", validation), ("eval", evaluated),
                        ("test split", test_split), ("repeats", repeats), ("panacea", panacea)):
        assert not seeds & default, name
    assert not detector & validation
    assert not (detector | validation) & (evaluated | test_split | repeats | panacea)
    assert not test_split & (evaluated | repeats | panacea)  # the test split shares no seed with validation
    assert not {d["name"] for d in CONTROLLABILITY_TEST} & {d["name"] for d in CONTROLLABILITY}
    # the scenario seeds do not depend on the clip length: the same draws as the default's 48-frame clips
    assert {int(s.seed) for s in synth_scenarios(0, 3, (512, 256), 1.0, 10.0, "world")} <= default


def test_controllability_scenarios_cover_every_case_day_and_night():
    straight = split_by_road(CONTROLLABILITY)[0]
    scenarios = controllability_scenarios(len(straight), duration_s=2.0)
    assert 6 <= len(scenarios) <= 8 and all(s.environment.time_of_day == "day" for s in scenarios)
    quick = {a.type for s in scenarios[:4] for a in s.agents}
    assert quick >= {"car", "truck", "bus", "pedestrian", "cyclist", "motorcycle"}
    with pytest.raises(DrivesimError, match="controllability"):
        controllability_scenarios(len(straight) + 1)
    with pytest.raises(DrivesimError, match="--only"):
        EvalSettings(only="everything").resolved()


# --- the CLI section -----------------------------------------------------------------------------

@pytest.mark.parametrize("session_steps", [None, 3])
def test_cli_only_controllability_runs_that_section_and_writes_the_table(tmp_path, monkeypatch, capsys, session_steps):
    from drivesim.data.synth import SynthConfig, synth_data
    from drivesim.models.bundle import save_bundle

    save_bundle(micro_bundle(), tmp_path / "bundle")
    synth_data(SynthConfig(output=str(tmp_path / "data"), clips=1, frames=4, height=64, width=128), progress=False)
    # --quick, shrunk further so the micro bundle's run takes seconds
    for key, value in dict(control_scenarios=1, control_duration_s=0.4, control_frame_step=2, detector_clips=2,
                           detector_steps=4, panacea_steps=3, control_world_scenarios=0, segmenter_clips=1,
                           segmenter_steps=2).items():
        monkeypatch.setitem(QUICK, key, value)
    out = tmp_path / "report"
    session = ["--session-steps", str(session_steps)] if session_steps else []
    code = main(["eval", str(tmp_path / "bundle"), "--data", str(tmp_path / "data"), "-o", str(out),
                 "--only", "controllability", "--quick", "-q", *session])
    printed = capsys.readouterr().out
    assert code == 0
    assert ("closed-loop session, 3 frame(s) per step" in printed) == bool(session_steps)
    assert "recall of visible road users" in printed and "phantom rate" in printed and "Panacea" in printed
    assert "night/day mean luminance" not in printed  # the main section did not run
    text = (out / "report.md").read_text()
    assert "## Controllability" in text and "## Main table" not in text
    data = json.loads((out / "report.json").read_text())
    control = data["controllability"]
    assert data["main"] == [] and data["meta"]["sections"] == ["controllability"]
    assert [r["group"] for r in control["rows"]["run"]] == ["ctl_close_cut_in day", "ctl_close_cut_in night"]
    assert control["rows"]["overall"][0]["visible"] > 0
    assert all(t["result"].startswith("n/a") for t in control["targets"])  # no stages.json: no verdict
    assert set(control["panacea"]) >= {"generated", "rendered", "recall_ratio"}
    assert (out / "detector.safetensors").is_file()
    assert control["settings"]["session_steps"] == session_steps


def test_the_test_split_with_repeats_reports_its_spread(tmp_path, monkeypatch):
    from drivesim.data.synth import SynthConfig, synth_data
    from drivesim.models.bundle import save_bundle

    save_bundle(micro_bundle(), tmp_path / "bundle")
    synth_data(SynthConfig(output=str(tmp_path / "data"), clips=1, frames=4, height=64, width=128), progress=False)
    for key, value in dict(control_scenarios=1, control_duration_s=0.6, control_frame_step=2, detector_clips=2,
                           detector_steps=4, panacea_steps=3, control_world_scenarios=0, segmenter_clips=1,
                           segmenter_steps=2).items():
        monkeypatch.setitem(QUICK, key, value)
    out = tmp_path / "report"
    assert main(["eval", str(tmp_path / "bundle"), "--data", str(tmp_path / "data"), "-o", str(out),
                 "--only", "controllability", "--quick", "-q", "--split", "test", "--repeats", "2"]) == 0
    control = json.loads((out / "report.json").read_text())["controllability"]
    assert control["settings"]["split"] == "test" and control["settings"]["repeats"] == 2
    assert [r["group"] for r in control["rows"]["run"]] == [
        "test_merge_from_right day", "test_merge_from_right night",
        "test_merge_from_right_r1 day", "test_merge_from_right_r1 night"]
    spread = control["spread"]["mean_ratio"]
    assert len(spread["per_repeat"]) == 2 and spread["std"] >= 0.0
    text = (out / "report.md").read_text()
    assert "the test split (no choice was made on it), 2 seeds each" in text and "Run-to-run spread" in text
    with pytest.raises(SystemExit):
        main(["eval", str(tmp_path / "bundle"), "--data", str(tmp_path / "data"), "--split", "train"])


def test_generate_video_through_a_session_sends_the_scenario_step_by_step():
    from drivesim.eval.scenarios import generate_video
    from drivesim.pipeline import GenerateOptions
    from drivesim.scenario.engine import ScenarioEngine

    scn = scenario(duration_s=1.0)
    options = GenerateOptions(steps=1, progress=False)
    offline = generate_video(micro_bundle(), scn, options)
    closed = generate_video(micro_bundle(), scn, options, session_steps=1)
    plan = list(ScenarioEngine(scn).frames())
    assert closed.frames.shape == offline.frames.shape == (len(plan), *offline.frames.shape[1:])
    assert [fc.index for fc in closed.labels] == [fc.index for fc in plan]
    assert [len(fc.boxes) for fc in closed.labels] == [len(fc.boxes) for fc in plan]
    # 1-frame steps resample provisional keyframes: more keyframe clips than the offline rollout
    assert closed.keyframe_clips > offline.keyframe_clips
