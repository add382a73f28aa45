"""Controllability: are the road users where their labels say? Measured as MagicDrive and Panacea do,
with the procedural renderer as the "real" footage.

1. A crop classifier trained on rendered frames of unseen seeds (detector.py) looks at every visible
   labelled road user (crops.is_visible) of generated clips of held-out scenarios, each run as day
   and as night, and at background boxes placed away from every label. Recall = share of visible
   road users found (P(background) < 0.5), by type, distance band, time of day and run; phantom
   rate = share of background boxes found as road users. The same numbers on the renderer's frames
   of the same scenarios (`--source render`) are the ceiling; ratio = generated / rendered.
   Class-aware: a road user found *as its type* is one whose most likely road-user class (vehicle,
   two-wheeler, pedestrian) is its own; right-type recall stands beside any-type recall. The boxes the
   visibility rule leaves out (occluded, truncated, small) -- which every export ships -- are scored
   too, in rows of their own with their ceilings.
2. The Panacea direction: one detector trained on the generated frames (boxes = the conditioning
   labels) and one on the rendered frames of the same runs (same crops, steps and seed), both tested
   on rendered frames of the same scenarios with other seeds (other background traffic and scenery).
3. By road type: the scenarios are tagged straight / curve / junction / oncoming (scenarios.py,
   ROAD_TYPES_RULE; a scenario can be several). The rows, targets, Panacea direction and spread of 1.
   and 2. are of the straight-road runs, as before the world had other roads; per road type the same
   recall, ratio, mean and worst run and phantom rate, with the three targets on every other type.
4. Road adherence (road_adherence.py): a lane-line segmenter (lane_segmenter.py) trained on rendered
   world frames marks lane lines and road edges in every run's generated and rendered frames, scored
   against the labels' road masks within a few pixels; generated / rendered F1 by road type.

    drivesim eval checkpoints/default --data data/synth --only controllability --quick
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drivesim.errors import DrivesimError
from drivesim.eval.crops import (CLASS_OF_TYPE, DISTANCE_BANDS, HIDDEN_GROUPS, background_boxes, distance_band,
                                 frame_crops, hidden_group, square_crop, visible_boxes)
from drivesim.eval.detector import (CropClassifier, crop_accuracy, detector_plan, road_user_scores, train_crop_classifier,
                                    trained_detector)
from drivesim.eval.pictures import TILE_WIDTH, strip, tile
from drivesim.output.files import write_png
from drivesim.eval.lane_segmenter import SegmenterPlan, trained_segmenter
from drivesim.eval.road_adherence import (TOLERANCE_PX, RoadRun, format_road_adherence, road_summary,
                                          validation_scores, write_road_samples)
from drivesim.eval.scenarios import (ROAD_TYPES, ROAD_TYPES_RULE, SPLITS, controllability_scenarios, generate_video,
                                     road_types)
from drivesim.eval.tables import format_number, markdown_table, verdict
from drivesim.scenario.labels import FrameConditions
from drivesim.scenario.variants import with_time_of_day

__all__ = ["TARGETS", "Detections", "detect_video", "render_video", "ControlRun", "summarise",
           "controllability_section", "format_controllability", "PANACEA_SEED_OFFSET"]

# Targets from the project's issue "Visible agents" (item 3).
TARGETS = {"mean_ratio": 0.85, "worst_ratio": 0.70, "phantom_rate": 0.05}
NEGATIVES_PER_FRAME = 6  # background boxes scored per evaluated frame
PANACEA_SEED_OFFSET = 500  # test frames of the Panacea direction: each scenario's seed + this
REPEAT_SEED_STEP = 97  # --repeats: repeat k runs each scenario with its seed + k * this (not a Panacea offset)
TYPES = ("car", "truck", "bus", "motorcycle", "cyclist", "pedestrian")
# crops (N, S, S, 3) uint8 -> P(road user) (N,), or (P(road user), most likely road-user class index (N,))
Scorer = Callable[[np.ndarray], "np.ndarray | tuple[np.ndarray, np.ndarray]"]


# --- one video -----------------------------------------------------------------------------------

@dataclass
class Detections:
    """What the detector found in one video: one entry per visible labelled road user per evaluated
    frame, and one per background box."""

    types: list[str] = field(default_factory=list)
    bands: list[str] = field(default_factory=list)
    found: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    background_found: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    right_type: np.ndarray | None = None  # found as its own class; None: the scorer names no class
    hidden: list[str] = field(default_factory=list)  # hidden_group of each labelled box left out
    hidden_found: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    @property
    def recall(self) -> float | None:
        return float(self.found.mean()) if len(self.found) else None

    @property
    def phantom_rate(self) -> float | None:
        return float(self.background_found.mean()) if len(self.background_found) else None


def detect_video(score: Scorer, frames: np.ndarray, labels: Sequence[FrameConditions], frame_step: int = 1,
                 negatives: int = NEGATIVES_PER_FRAME, seed: int = 0) -> Detections:
    """Score every visible road user of every `frame_step`-th frame at its labelled box, and `negatives`
    background boxes per frame. The background boxes depend only on the labels and `seed`, so two
    videos of the same scenario (generated, rendered) are scored at the same places."""
    if len(frames) != len(labels):
        raise DrivesimError(f"controllability: {len(frames)} frames but {len(labels)} label lines")
    rng = np.random.default_rng(seed)
    height, width = frames.shape[1:3]
    users, background, types, bands, hidden, hidden_crops = [], [], [], [], [], []
    for i in range(0, len(frames), max(1, frame_step)):
        for box in labels[i].boxes:
            group = hidden_group(box, width)
            if group is None:
                users.append(square_crop(frames[i], box.bbox_xyxy))
                types.append(box.type)
                bands.append(distance_band(box))
            else:
                hidden.append(group)
                hidden_crops.append(square_crop(frames[i], box.bbox_xyxy))
        background += [square_crop(frames[i], b) for b in background_boxes(labels[i], width, height, negatives, rng)]
    found, classes = _scored(score, users)
    right_type = None if classes is None else found & (classes == np.array([CLASS_OF_TYPE[t] for t in types], int))
    return Detections(types, bands, found, _scored(score, background)[0], right_type, hidden,
                      _scored(score, hidden_crops)[0])


def _scored(score: Scorer, crops: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    """(found, road-user class or None) of each crop."""
    if not crops:
        return np.zeros(0, bool), np.zeros(0, int)
    out = score(np.stack(crops))
    p, classes = out if isinstance(out, tuple) else (out, None)
    return np.asarray(p) >= 0.5, None if classes is None else np.asarray(classes, int)


def net_scorer(net: CropClassifier) -> Scorer:
    """P(road user) and the most likely road-user class (1 vehicle, 2 two-wheeler, 3 pedestrian) per crop."""
    def score(crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, probs = road_user_scores(net, crops, with_probs=True)
        return p, probs[:, 1:].argmax(axis=1) + 1  # among road users: found-as-which, background aside
    return score


def render_video(scenario) -> tuple[np.ndarray, list[FrameConditions]]:
    """The renderer's frames (the `--source render` stream) and labels of a scenario."""
    from drivesim.pipeline.generate import RenderPipeline

    frames, labels = [], []
    for frame in RenderPipeline().frames(scenario):
        frames.append(frame.image)
        labels.append(frame.labels)
    return np.stack(frames), labels


# --- many runs -----------------------------------------------------------------------------------

@dataclass
class ControlRun:
    """One scenario at one time of day: generated and rendered frames with their (shared) labels."""

    scenario: str
    time_of_day: str
    generated: np.ndarray
    rendered: np.ndarray
    labels: list[FrameConditions]
    seed: int  # of the background boxes
    seconds: float = 0.0  # generation wall time

    @property
    def name(self) -> str:
        return f"{self.scenario} {self.time_of_day}"


def _row(name: str, gen: Sequence[bool], ren: Sequence[bool], gen_type: np.ndarray | None = None,
         ren_type: np.ndarray | None = None) -> dict[str, Any]:
    n = len(gen)
    g = float(np.mean(gen)) if n else None
    r = float(np.mean(ren)) if n else None
    ratio = g / r if n and r else None
    row = {"group": name, "visible": n, "generated": g, "rendered": r, "ratio": ratio}
    if gen_type is not None and ren_type is not None:  # found as its own type (class-aware)
        row["generated_right_type"] = float(np.mean(gen_type)) if n else None
        row["rendered_right_type"] = float(np.mean(ren_type)) if n else None
    return row


def _joined(values: Sequence[np.ndarray | None]) -> np.ndarray | None:
    return None if any(v is None for v in values) else np.concatenate(values) if values else np.zeros(0, bool)


def summarise(pairs: Sequence[tuple[str, str, Detections, Detections]]) -> dict[str, Any]:
    """Rows of recall by type, distance band, time of day and run, the phantom rates and the targets.
    `pairs`: (run name, time of day, generated detections, rendered detections)."""
    gen = np.concatenate([g.found for _, _, g, _ in pairs]) if pairs else np.zeros(0, bool)
    ren = np.concatenate([r.found for _, _, _, r in pairs]) if pairs else np.zeros(0, bool)
    types = [t for _, _, g, _ in pairs for t in g.types]
    bands = [b for _, _, g, _ in pairs for b in g.bands]
    tods = [tod for _, tod, g, _ in pairs for _ in g.types]

    gen_type = _joined([g.right_type for _, _, g, _ in pairs])
    ren_type = _joined([r.right_type for _, _, _, r in pairs])
    typed = gen_type is not None and ren_type is not None

    def group(values: list[str], key: str) -> list[bool]:
        return [v == key for v in values]

    rows = {"overall": [_row("all visible road users", gen, ren, gen_type, ren_type)]}
    rows["type"] = [_row(t, gen[m], ren[m], gen_type[m] if typed else None, ren_type[m] if typed else None)
                    for t in TYPES if (m := np.array(group(types, t), bool)).any()]
    rows["distance"] = [_row(b, gen[m], ren[m]) for b, _, _ in DISTANCE_BANDS
                        if (m := np.array(group(bands, b), bool)).any()]
    rows["time_of_day"] = [_row(t, gen[m], ren[m]) for t in ("day", "night")
                           if (m := np.array(group(tods, t), bool)).any()]
    rows["run"] = [_row(name, g.found, r.found) for name, _, g, r in pairs]
    # the labelled boxes the visibility rule leaves out, which exports ship: what do the frames show there?
    hidden = [h for _, _, g, _ in pairs for h in g.hidden]
    gen_hidden = np.concatenate([g.hidden_found for _, _, g, _ in pairs]) if pairs else np.zeros(0, bool)
    ren_hidden = np.concatenate([r.hidden_found for _, _, _, r in pairs]) if pairs else np.zeros(0, bool)
    rows["hidden"] = [_row(h, gen_hidden[m], ren_hidden[m]) for h in HIDDEN_GROUPS
                      if (m := np.array(group(hidden, h), bool)).any()]
    gen_bg = np.concatenate([g.background_found for _, _, g, _ in pairs]) if pairs else np.zeros(0, bool)
    ren_bg = np.concatenate([r.background_found for _, _, _, r in pairs]) if pairs else np.zeros(0, bool)
    phantom = {"background_boxes": int(len(gen_bg)),
               "generated": float(gen_bg.mean()) if len(gen_bg) else None,
               "rendered": float(ren_bg.mean()) if len(ren_bg) else None}
    # Mean and worst over runs that have visible road users the detector finds in the rendered frames;
    # a run above its ceiling counts as 1 in the mean, so it cannot make up for a run below it.
    ratios = [min(r["ratio"], 1.0) for r in rows["run"] if r["ratio"] is not None]
    summary = {"mean_ratio": float(np.mean(ratios)) if ratios else None,
               "worst_ratio": float(np.min(ratios)) if ratios else None,
               "worst_run": min((r for r in rows["run"] if r["ratio"] is not None),
                                key=lambda r: r["ratio"])["group"] if ratios else None,
               "runs_with_ratio": len(ratios), "phantom_rate": phantom["generated"]}
    return {"rows": rows, "phantom": phantom, "summary": summary}


def verdicts(summary: dict[str, Any], untrained_note: str | None) -> list[dict[str, Any]]:
    """The three target rows: value, target, pass / FAIL (n/a with the reason for untrained bundles)."""
    checks = [("mean over runs of generated / rendered recall", summary["mean_ratio"], ">=", TARGETS["mean_ratio"]),
              ("worst run's generated / rendered recall", summary["worst_ratio"], ">=", TARGETS["worst_ratio"]),
              ("phantom rate, generated", summary["phantom_rate"], "<=", TARGETS["phantom_rate"])]
    out = []
    for metric, value, op, target in checks:
        if value is None:
            result = "n/a: no visible road user found in the rendered frames"
        else:
            result = verdict(value >= target if op == ">=" else value <= target, untrained_note)
        out.append({"metric": metric, "value": value, "target": f"{op} {target:g}", "result": result})
    return out


# --- the Panacea direction -----------------------------------------------------------------------

def panacea(runs: Sequence[ControlRun], test_scenarios: Sequence[Any], steps: int, frame_step: int,
            seed: int = 0) -> dict[str, Any]:
    """Train one detector on the generated frames of `runs` and one on their rendered frames (the same
    boxes and background boxes, steps and seed); test both on the rendered `test_scenarios`."""
    train: dict[str, tuple[list, list]] = {"generated": ([], []), "rendered": ([], [])}
    for k, run in enumerate(runs):
        for i in range(0, len(run.labels), max(1, frame_step)):
            for kind in train:
                frames = run.generated if kind == "generated" else run.rendered
                rng = np.random.default_rng([seed, k, i])  # the same boxes for both kinds
                c, y = frame_crops(frames[i], run.labels[i], NEGATIVES_PER_FRAME, rng, jitter=0.0)
                train[kind][0].append(c)
                train[kind][1].append(y)
    test_crops, test_classes = [], []
    for k, scenario in enumerate(test_scenarios):
        frames, labels = render_video(scenario)
        rng = np.random.default_rng([seed, 10_000 + k])
        for i in range(0, len(labels), max(1, frame_step)):
            c, y = frame_crops(frames[i], labels[i], NEGATIVES_PER_FRAME, rng)
            test_crops.append(c)
            test_classes.append(y)
    test_x, test_y = np.concatenate(test_crops), np.concatenate(test_classes)
    out: dict[str, Any] = {"steps": steps, "test_scenarios": [s.name for s in test_scenarios],
                           "test_seeds": [int(s.seed) for s in test_scenarios],
                           "test_road_users": int((test_y > 0).sum()), "test_background": int((test_y == 0).sum())}
    for kind, (crops, classes) in train.items():
        x, y = np.concatenate(crops), np.concatenate(classes)
        net, losses = train_crop_classifier(x, y, steps, seed)
        out[kind] = {**crop_accuracy(net, test_x, test_y), "training_crops": int(len(x)),
                     "training_road_users": int((y > 0).sum()), "final_loss": round(float(np.mean(losses[-20:])), 4)}
    g, r = out["generated"]["road_user_recall"], out["rendered"]["road_user_recall"]
    out["recall_ratio"] = g / r if r else None
    return out


# --- the section ---------------------------------------------------------------------------------

def controllability_section(bundle, options, settings, out_dir: Path, log: Callable[[str], None],
                            excluded_seeds: set[int], untrained_note: str | None) -> dict[str, Any]:
    """Run the whole section for `bundle` with GenerateOptions `options`; `settings` is the resolved
    EvalSettings (control_*, detector_* and segmenter_* fields). Returns the report.json entry. The rows and
    targets of before, the Panacea direction and the repeats' spread are of the straight-road runs (so they
    stay comparable); every run is in the per-run rows, the road-type rows and the road adherence."""
    s = settings
    start = time.perf_counter()
    width, height = s.control_camera
    written = controllability_scenarios(s.control_scenarios, s.control_duration_s, width, height, s.fps, s.split,
                                        world=s.control_world_scenarios)
    tags_of = {d["name"]: road_types(d) for d in SPLITS[s.split]}
    # repeat k: the same scenarios with other seeds (other background traffic and scenery)
    scenarios = [(sc if k == 0 else _reseeded(sc, k * REPEAT_SEED_STEP, f"_r{k}"), tags_of[sc.name])
                 for k in range(s.repeats) for sc in written]
    excluded = set(excluded_seeds) | {int(sc.seed) + offset for sc, _ in scenarios
                                      for offset in (0, PANACEA_SEED_OFFSET)}
    net, detector = trained_detector(detector_plan(s, (width, height)), out_dir, log, excluded)
    score = net_scorer(net)
    segmenter_plan = SegmenterPlan(clips=s.segmenter_clips, steps=s.segmenter_steps, camera=(width, height),
                                   seed=s.seed, validation_clips=max(1, s.segmenter_clips // 4))
    segmenter, segmenter_info = trained_segmenter(segmenter_plan, out_dir, log, validation_scores, excluded)

    runs: list[ControlRun] = []
    pairs, run_tags, road_runs = [], [], []
    for k, (scenario, tags) in enumerate(scenarios):
        for tod in ("day", "night"):
            variant = with_time_of_day(scenario, tod)
            video = generate_video(bundle, variant, options, s.session_steps)
            rendered, labels, masks = render_video_masks(variant)
            run = ControlRun(scenario.name, tod, video.frames, rendered, labels, seed=s.seed + 2 * k + (tod == "night"),
                             seconds=video.seconds)
            gen = detect_video(score, run.generated, labels, s.control_frame_step, seed=run.seed)
            ren = detect_video(score, run.rendered, labels, s.control_frame_step, seed=run.seed)
            road_runs.append(RoadRun.scored(segmenter, run.name, tags, run.generated, rendered, labels, masks,
                                            s.control_frame_step))
            runs.append(run)
            pairs.append((run.name, tod, gen, ren))
            run_tags.append(tags)
            lines = {kind: getattr(road_runs[-1], kind)["lane_lines"].f1 for kind in ("generated", "rendered")}
            log(f"controllability {len(runs)}/{2 * len(scenarios)} {run.name} ({'+'.join(tags)}): {len(gen.found)} "
                f"visible road users, recall generated {format_number(gen.recall)} rendered {format_number(ren.recall)}; "
                f"lane-line F1 generated {format_number(lines['generated'])} rendered {format_number(lines['rendered'])} "
                f"(generated in {video.seconds:.1f} s)")
    straight = [i for i, tags in enumerate(run_tags) if tags == ("straight",)]
    result = summarise([pairs[i] for i in straight])
    result["targets"] = verdicts(result["summary"], untrained_note)
    result["rows"]["run"] = summarise(pairs)["rows"]["run"]  # every run, of every road type
    result["road_types"] = by_road_type(pairs, run_tags, untrained_note)
    per_repeat_runs = 2 * len(written)
    if s.repeats > 1:  # the spread of each number over the repeats: how much one run can move it
        per_repeat = [summarise([pairs[i] for i in straight if k * per_repeat_runs <= i < (k + 1) * per_repeat_runs]
                                )["summary"] for k in range(s.repeats)]
        result["spread"] = {key: {"per_repeat": [r[key] for r in per_repeat],
                                  "std": float(np.std([r[key] for r in per_repeat if r[key] is not None]))}
                            for key in ("mean_ratio", "worst_ratio", "phantom_rate")}
    result["samples"] = write_samples(out_dir, runs)
    road = road_summary(road_runs, untrained_note)
    pictured = [r for r in road_runs[:2] if r.road_types == ("straight",)]  # the first straight scenario's runs
    pictured += [r for r in road_runs if r.road_types != ("straight",)]  # and every other road's
    road.update(segmenter=segmenter_info, tolerance_px=TOLERANCE_PX, frame_step=s.control_frame_step,
                samples=write_road_samples(out_dir, pictured))
    result["road"] = road

    log(f"controllability: Panacea direction (straight roads), two detectors of {s.panacea_steps} steps")
    flat = [sc for sc in written if tags_of[sc.name] == ("straight",)]
    test = [with_time_of_day(_reseeded(sc, PANACEA_SEED_OFFSET), tod) for sc in flat for tod in ("day", "night")]
    result["panacea"] = {**panacea([runs[i] for i in straight], test, s.panacea_steps, s.control_frame_step, s.seed),
                         "test_seed_offset": PANACEA_SEED_OFFSET}
    result["detector"] = detector
    result["settings"] = {"split": s.split, "repeats": s.repeats,
                          "scenarios": [sc.name for sc, _ in scenarios],
                          "road_types": {sc.name: list(tags) for sc, tags in scenarios},
                          "road_types_rule": ROAD_TYPES_RULE, "duration_s": s.control_duration_s,
                          "camera": [width, height], "fps": s.fps, "frame_step": s.control_frame_step,
                          "negatives_per_frame": NEGATIVES_PER_FRAME, "steps": options.steps,
                          "sr_steps": options.sr_steps, "interpolation_steps": options.interpolation_steps,
                          "session_steps": s.session_steps,
                          "seconds": round(time.perf_counter() - start, 1)}
    return result


def render_video_masks(scenario) -> tuple[np.ndarray, list[FrameConditions], list[dict[str, np.ndarray]]]:
    """render_video's frames and labels, and the road masks of each frame (RenderPipeline(masks=True))."""
    from drivesim.pipeline.generate import RenderPipeline

    frames, labels, masks = [], [], []
    for frame in RenderPipeline(masks=True).frames(scenario):
        frames.append(frame.image)
        labels.append(frame.labels)
        masks.append(frame.masks)
    return np.stack(frames), labels, masks


def by_road_type(pairs: Sequence[tuple[str, str, Detections, Detections]], run_tags: Sequence[tuple[str, ...]],
                 untrained_note: str | None) -> dict[str, Any]:
    """Per road type (ROAD_TYPES; a run counts for each of its scenario's types): the visible road users'
    recall, generated | rendered | ratio, the mean and worst run's ratio, the phantom rates; and the three
    targets on each non-straight type."""
    rows, targets = [], []
    for tag in ROAD_TYPES:
        chosen = [p for p, tags in zip(pairs, run_tags) if tag in tags]
        if not chosen:
            continue
        part = summarise(chosen)
        overall, sm, ph = part["rows"]["overall"][0], part["summary"], part["phantom"]
        rows.append({"group": tag, "runs": len(chosen), "visible": overall["visible"], "generated": overall["generated"],
                     "rendered": overall["rendered"], "ratio": overall["ratio"], "mean_ratio": sm["mean_ratio"],
                     "worst_ratio": sm["worst_ratio"], "worst_run": sm["worst_run"],
                     "phantom_generated": ph["generated"], "phantom_rendered": ph["rendered"]})
        if tag != "straight":
            targets += [{**t, "metric": f"{tag}: {t['metric']}", "road_type": tag}
                        for t in verdicts(sm, untrained_note)]
    return {"rows": rows, "targets": targets}


def write_samples(out_dir: Path, runs: Sequence[ControlRun]) -> str:
    """samples/controllability.png: per run, two frames generated then the same two rendered, with the
    visible road users' boxes drawn; returns its path relative to out_dir."""
    from drivesim.draw.overlay import draw_boxes

    rows = []
    for run in runs:
        picks = [len(run.labels) // 3, (2 * len(run.labels)) // 3]
        scale = TILE_WIDTH / run.generated.shape[2]  # boxes drawn on the tile: thin lines at any size
        tiles = [draw_boxes(tile(frames[i]), visible_boxes(run.labels[i], frames.shape[2]), scale=(scale, scale),
                            captions=False) for frames in (run.generated, run.rendered) for i in picks]
        rows.append((f"{run.name}: generated | rendered", tiles))
    write_png(Path(out_dir) / "samples" / "controllability.png", strip(rows))
    return "samples/controllability.png"


def _reseeded(scenario, offset: int, suffix: str = ""):
    data = scenario.model_dump(mode="json")
    data["seed"] = int(scenario.seed) + offset
    data["name"] = scenario.name + suffix
    return type(scenario).model_validate(data)


# --- markdown ------------------------------------------------------------------------------------

def format_controllability(result: dict[str, Any]) -> str:
    """The table of report.md and of the command's output: recall rows, phantom rate, targets, Panacea."""
    body = []
    for section, rows in result["rows"].items():
        if section == "hidden":
            continue
        for r in rows:
            label = r["group"] if section in ("overall", "run") else f"{section.replace('_', ' ')}: {r['group']}"
            ratio = "—" if r["ratio"] is None else f"{r['ratio']:.2f}"
            body.append([label, r["visible"], format_number(r["generated"]), format_number(r["rendered"]), ratio])
    ph = result["phantom"]
    body.append([f"phantom rate ({ph['background_boxes']} background boxes)", "", format_number(ph["generated"]),
                 format_number(ph["rendered"]), ""])
    lines = [markdown_table(["recall of visible road users (straight roads; the runs: every road)", "visible",
                             "generated", "rendered", "ratio"], body), ""]
    typed = [r for r in result["rows"]["overall"] + result["rows"]["type"] if "generated_right_type" in r]
    if typed:
        lines += [markdown_table(["found as its own type (vehicle / two-wheeler / pedestrian)", "visible",
                                  "generated: any type", "generated: right type", "rendered: any type",
                                  "rendered: right type"],
                                 [[r["group"], r["visible"], format_number(r["generated"]),
                                   format_number(r["generated_right_type"]), format_number(r["rendered"]),
                                   format_number(r["rendered_right_type"])] for r in typed]), ""]
    if result["rows"].get("hidden"):
        lines += [markdown_table(["labelled boxes outside the visibility rule (exports ship them)", "boxes",
                                  "generated", "rendered (ceiling)", "ratio"],
                                 [[r["group"], r["visible"], format_number(r["generated"]),
                                   format_number(r["rendered"]), "—" if r["ratio"] is None else f"{r['ratio']:.2f}"]
                                  for r in result["rows"]["hidden"]]), ""]
    settings = result.get("settings", {})
    session = settings.get("session_steps")
    if session:
        lines[:0] = [f"Generated through a closed-loop session, {session} frame(s) per step.", ""]
    if settings.get("split"):
        lines[:0] = [f"Scenarios: the {settings['split']} split"
                     + (" (no choice was made on it)" if settings["split"] == "test" else
                        " (the model's settings were chosen on it: report the test split)")
                     + (f", {settings['repeats']} seeds each" if settings.get("repeats", 1) > 1 else "") + ".", ""]
    if result.get("spread"):
        sp = result["spread"]
        lines.append("Run-to-run spread over the repeats (std): " + ", ".join(
            f"{key.replace('_', ' ')} {sp[key]['std']:.3f} ({', '.join(format_number(v) for v in sp[key]['per_repeat'])})"
            for key in ("mean_ratio", "worst_ratio", "phantom_rate")) + ".")
        lines.append("")
    lines.append(markdown_table(["target", "value", "target", "result"],
                                [[t["metric"], format_number(t["value"]), t["target"], t["result"]]
                                 for t in result["targets"]]))
    kinds = result.get("road_types")
    if kinds and kinds["rows"]:
        lines += ["", markdown_table(
            ["by road type (a run counts for each of its types)", "runs", "visible", "generated", "rendered", "ratio",
             "mean ratio", "worst run", "phantom generated / rendered"],
            [[r["group"], r["runs"], r["visible"], format_number(r["generated"]), format_number(r["rendered"]),
              format_number(r["ratio"], 2), format_number(r["mean_ratio"]),
              f"{format_number(r['worst_ratio'])} ({r['worst_run'] or '—'})",
              f"{format_number(r['phantom_generated'])} / {format_number(r['phantom_rendered'])}"] for r in kinds["rows"]])]
        if kinds["targets"]:
            lines += ["", markdown_table(["target on other roads than straight", "value", "target", "result"],
                                         [[t["metric"], format_number(t["value"]), t["target"], t["result"]]
                                          for t in kinds["targets"]])]
    if result.get("road"):
        lines += ["", format_road_adherence(result["road"])]
    p = result.get("panacea")
    if p:
        lines += ["", markdown_table(["Panacea direction: detector trained on", "recall on rendered test frames",
                                      "background false positives", "training crops (road users)"],
                                     [[kind, format_number(p[kind]["road_user_recall"]),
                                       format_number(p[kind]["background_false_positive_rate"]),
                                       f"{p[kind]['training_crops']} ({p[kind]['training_road_users']})"]
                                      for kind in ("generated", "rendered")])]
    return "\n".join(lines)
