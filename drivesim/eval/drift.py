"""Long rollouts: does a minutes-long video degrade? Per-minute numbers of one long generated drive.

Users of other driving world models report that long rollouts drift (colours wash out, road users
fade, the scene turns to mush). This measures ours: one held-out drive of `minutes` minutes is
generated as a stream (the autoregressive rollout with its bounded context, so memory stays flat)
and every minute gets
  - visible-agent recall: the controllability detector at the labelled boxes (every `frame_step`-th frame);
  - mean luminance (BT.601) and mean colour (R, G, B);
  - Fréchet distance of its 8-frame windows to the real (rendered) clips, in the eval's feature space;
  - lane-line F1: the road-adherence lane segmenter (road_adherence.py) on the scored frames against the
    lane lines the labels' road puts there (does the road stay drawn where it is?).
The verdict compares the last minute with the first: each number within `TOLERANCE` of it (recall,
lane-line F1 and Fréchet distance only count a change for the worse).

The rollout runs with the upsampler off and again with it on (`--drift-upsampler off|on|both`, default
both): the upsampler reads its own earlier output windows, so it can drift on its own. The detector is the
controllability section's (cached with it), the real clips and feature network the main section's.

The drive's road (`--drift-road`): "winding" (S-bends both ways on a two-way road, the default) or
"straight" (version 1's road).

    drivesim eval checkpoints/default --data data/world --only drift --drift-minutes 10
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from drivesim.conditions.road_maps import road_masks
from drivesim.errors import DrivesimError
from drivesim.eval.adherence import mean_luminance
from drivesim.eval.controllability import Scorer, detect_video, net_scorer
from drivesim.eval.detector import detector_plan, trained_detector
from drivesim.eval.lane_segmenter import (TARGETS, LaneSegmenter, SegmenterPlan, box_ignore_mask, predict,
                                          trained_segmenter)
from drivesim.eval.frechet import VideoFeatureNet, frechet_distance, video_features, video_windows
from drivesim.eval.pictures import strip
from drivesim.output.files import write_png
from drivesim.eval.real import clip_seeds, real_clips
from drivesim.eval.road_adherence import THRESHOLD, LineCounts, line_counts, tolerance_px, validation_scores
from drivesim.eval.settings import DRIFT_ROADS, DRIFT_UPSAMPLER, EvalSettings
from drivesim.eval.tables import format_number, markdown_table
from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.format import Scenario
from drivesim.scenario.labels import FrameConditions

__all__ = ["TOLERANCE", "DRIFT_ROADS", "DRIFT_UPSAMPLER", "long_drive", "minute_rows", "drift_verdicts", "drift_section",
           "format_drift"]

TOLERANCE = 0.10  # the last minute within 10 % of the first (the target)
LONG_DRIVE_SEED = 930_001  # outside the training data's draws (random_scenarios) and the other eval scenarios


def _winding_segments(length_m: float) -> list[dict[str, Any]]:
    """S-bends without end: a left and a right bend (radius 150 m, 30 m clothoids in and out) every 480 m,
    with 60 m straights between, until `length_m` is covered."""
    k = 1 / 150
    period: list[dict[str, Any]] = []
    for sign in (1, -1):
        period += [dict(straight=60), dict(clothoid=dict(length=30, curvature_start=0, curvature_end=sign * k)),
                   dict(arc=dict(length=120, radius=sign * 150)),
                   dict(clothoid=dict(length=30, curvature_start=sign * k, curvature_end=0))]
    return period * (int(length_m // 480) + 1)


def long_drive(minutes: float, width: int = 512, height: int = 256, fps: float = 10.0,
               time_of_day: str = "day", road: str = "winding") -> Scenario:
    """A drive of `minutes` minutes: a lead car and a truck that keep pace with the ego (visible all the
    way), a car that overtakes, and background traffic throughout. `road` "winding": a two-way road of
    S-bends (two lanes the ego's way, one oncoming, oncoming traffic); "straight": version 1's three-lane
    straight road (the measurement before the road became a world)."""
    if not 0 < minutes <= 60:
        raise DrivesimError(f"drift: --drift-minutes must be in (0, 60], got {minutes}")
    if road not in DRIFT_ROADS:
        raise DrivesimError(f"drift: --drift-road takes {' or '.join(DRIFT_ROADS)}, got {road!r}")
    common = dict(version=1, seed=LONG_DRIVE_SEED, duration_s=float(minutes) * 60, fps=float(fps),
                  camera=dict(width=int(width), height=int(height), fov_deg=90))
    if road == "straight":
        return Scenario.model_validate(dict(
            common, name=f"eval_long_drive_{minutes:g}min",
            environment=dict(time_of_day=time_of_day, crowdedness=0.5), road=dict(lanes=3, lane_width_m=3.5),
            ego=dict(lane=1, speed_mps=15),
            agents=[dict(id="lead", type="car", lane=1, distance_m=16, speed_mps=15),
                    dict(id="truck", type="truck", lane=2, distance_m=24, speed_mps=15),
                    dict(id="overtaker", type="car", lane=0, distance_m=-20, speed_mps=17)]))
    speed = 12.0
    return Scenario.model_validate(dict(
        common, name=f"eval_long_winding_drive_{minutes:g}min",
        environment=dict(time_of_day=time_of_day, crowdedness=0.4),
        road=dict(lanes=2, oncoming_lanes=1, lane_width_m=3.5,
                  segments=_winding_segments(speed * 1.5 * float(minutes) * 60 + 500)),
        ego=dict(position=dict(road="main", lane=-1, s=40), speed_mps=speed),
        agents=[dict(id="lead", type="car", lane=0, distance_m=16, speed_mps=speed),
                dict(id="truck", type="truck", lane=1, distance_m=24, speed_mps=speed),
                dict(id="overtaker", type="car", lane=1, distance_m=-20, speed_mps=speed * 1.15),
                dict(id="oncoming_car", type="car", position=dict(road="main", lane=1, s=160), speed_mps=10)]))


LaneScorer = Callable[[np.ndarray, Sequence[FrameConditions]], LineCounts]  # frames (N, H, W, 3), their labels


def lane_scorer(segmenter: LaneSegmenter, scenario: Scenario) -> LaneScorer:
    """Lane-line pixel counts of generated frames: the segmenter's lines against the masks of the lane lines
    the labels' road puts in the scenario's camera (road_maps.road_masks; pixels in boxes left out)."""
    engine = ScenarioEngine(scenario)
    network = engine.world.network

    k = TARGETS.index("lane_lines")  # the segmenter's road-edge channel is not scored here

    def score(video: np.ndarray, labels: Sequence[FrameConditions]) -> LineCounts:
        h, w = video.shape[1:3]
        counts = LineCounts()
        for probs, fc in zip(predict(segmenter, video), labels):
            lines = road_masks(fc, engine.camera, (h, w), network)["lane_lines"]
            counts = counts + line_counts(probs[k] >= THRESHOLD, lines, box_ignore_mask(fc, h, w), tolerance_px(w))
        return counts

    return score


def minute_rows(frames: Iterable[Any], fps: float, score: Scorer, feature_net, real_features: np.ndarray,
                frame_step: int = 10, log: Callable[[str], None] = lambda _: None,
                lanes: LaneScorer | None = None) -> list[dict[str, Any]]:
    """Per-minute numbers of a stream of GeneratedFrame (image, labels); only one minute is held. With
    `lanes`, also the lane-line F1 of every `frame_step`-th frame (None where the road shows no lines)."""
    per_minute = max(1, round(60 * fps))
    rows: list[dict[str, Any]] = []
    images, labels = [], []
    start = time.perf_counter()

    def close_minute() -> None:
        video = np.stack(images)
        found = detect_video(score, video, labels, frame_step, seed=len(rows))
        window = feature_net.config.frames
        windows = video_windows(video, window, max(window // 2, 1))
        fd = frechet_distance(video_features(feature_net, windows), real_features) if len(windows) >= 2 else None
        colour = video.reshape(-1, 3).mean(0) / 255.0
        picks = list(range(0, len(video), frame_step))
        lines = lanes(video[picks], [labels[i] for i in picks]) if lanes is not None else None
        rows.append({"minute": len(rows) + 1, "frames": len(video), "visible": int(len(found.found)),
                     "recall": found.recall, "luminance": mean_luminance(video),
                     "colour": [round(float(c), 4) for c in colour], "frechet": fd,
                     "lane_f1": None if lines is None else lines.f1,
                     "seconds": round(time.perf_counter() - start, 1)})
        r = rows[-1]
        log(f"drift: minute {r['minute']}: recall {format_number(r['recall'])} of {r['visible']}, luminance "
            f"{r['luminance']:.1f}, FD {format_number(r['frechet'])}, lane-line F1 {format_number(r['lane_f1'])} "
            f"({r['seconds']:.0f} s so far)")
        images.clear()
        labels.clear()

    for frame in frames:
        images.append(frame.image)
        labels.append(frame.labels)
        if len(images) == per_minute:
            close_minute()
    if len(images) >= per_minute // 2:  # a last part-minute counts when it is at least half a minute
        close_minute()
    if not rows:
        raise DrivesimError("drift: the drive is shorter than half a minute; use --drift-minutes >= 1")
    return rows


def drift_section(bundle, options, s: EvalSettings, data_dir: Path, clips: Sequence,
                  user_net: VideoFeatureNet | None, out_dir: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """The long rollout of `bundle` with GenerateOptions `options`, measured minute by minute, once with
    the upsampler off and/or once with it on (`s.drift_upsampler`): the upsampler reads the low-res video
    of its own earlier output windows, so it can drift on its own. `s` is the resolved EvalSettings.
    Returns the report.json entry: the shared scenario, detector and feature net, and one run per mode."""
    start = time.perf_counter()
    real = real_clips(data_dir, clips, user_net, s, out_dir, log)
    width, height = s.control_camera
    scenario = long_drive(s.drift_minutes, width, height, s.fps, road=s.drift_road)
    excluded = clip_seeds(clips) | {int(scenario.seed)}
    detector, detector_info = trained_detector(detector_plan(s, (width, height)), out_dir, log, excluded)
    segmenter_plan = SegmenterPlan(clips=s.segmenter_clips, steps=s.segmenter_steps, camera=(width, height),
                                   seed=s.seed, validation_clips=max(1, s.segmenter_clips // 4))
    segmenter, segmenter_info = trained_segmenter(segmenter_plan, out_dir, log, validation_scores, excluded)
    lanes = lane_scorer(segmenter, scenario)
    modes = {"off": (False,), "on": (True,), "both": (False, True)}[s.drift_upsampler]
    runs = [_rollout(bundle, dataclasses.replace(options, super_resolution=sr), scenario, s, net_scorer(detector),
                     real, out_dir, log, lanes) for sr in modes]
    return {"scenario": scenario.name, "runs": runs, "segmenter": segmenter_info,
            "settings": {"minutes": s.drift_minutes, "camera": [width, height], "fps": s.fps,
                         "frame_step": s.drift_frame_step, "steps": options.steps, "upsampler": s.drift_upsampler,
                         "road": s.drift_road,
                         "real_windows": len(real.windows), "seconds": round(time.perf_counter() - start, 1)},
            "detector": detector_info, "feature_net": real.net_info}


def _rollout(bundle, opts, scenario: Scenario, s: EvalSettings, score: Scorer, real, out_dir: Path,
             log: Callable[[str], None], lanes: LaneScorer | None = None) -> dict[str, Any]:
    """One long rollout with `opts` (its super_resolution says whether the upsampler runs), measured."""
    from drivesim.draw.overlay import draw_boxes
    from drivesim.pipeline import VideoPipeline

    start = time.perf_counter()
    mode = "on" if opts.super_resolution else "off"
    log(f"drift: generating {s.drift_minutes:g} minutes ({scenario.name}, {s.control_camera[0]}x"
        f"{s.control_camera[1]}, upsampler {mode})")
    firsts: list[tuple[str, np.ndarray]] = []
    per_minute = round(60 * s.fps)

    def stream():
        for frame in VideoPipeline(bundle, opts).frames(scenario):
            if frame.index % per_minute == 0:  # the first frame of every minute, for the picture
                firsts.append((f"minute {frame.index // per_minute + 1}", draw_boxes(frame.image, frame.labels.boxes)))
            yield frame

    rows = minute_rows(stream(), s.fps, score, real.net, real.features, s.drift_frame_step, log, lanes)
    picks = sorted({0, len(firsts) // 2, len(firsts) - 1})
    samples = f"samples/drift_upsampler_{mode}.png"
    write_png(out_dir / samples, strip([(f"upsampler {mode}: first frame of " + ", ".join(firsts[i][0] for i in picks),
                                         [firsts[i][1] for i in picks])]))
    return {"upsampler": mode, "minutes": rows, "verdicts": drift_verdicts(rows), "samples": samples,
            "super_resolution": bool(opts.super_resolution), "seconds": round(time.perf_counter() - start, 1)}


def _change(first: float | None, last: float | None) -> float | None:
    return None if first is None or last is None or first == 0 else (last - first) / abs(first)


def drift_verdicts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Last minute vs first: recall and lane-line F1 may not fall, FD not rise, luminance and colour not move,
    by > TOLERANCE."""
    first, last = rows[0], rows[-1]
    checks = [("visible-agent recall", first["recall"], last["recall"], "down")]
    if any(r.get("lane_f1") is not None for r in rows):  # lane lines scored (drift_section always scores them)
        checks.append(("lane-line F1", first["lane_f1"], last["lane_f1"], "down"))
    checks += [("mean luminance", first["luminance"], last["luminance"], "both"),
               ("Fréchet distance to rendered", first["frechet"], last["frechet"], "up")]
    checks += [(f"mean colour {c}", first["colour"][k], last["colour"][k], "both") for k, c in enumerate("RGB")]
    out = []
    for name, a, b, bad in checks:
        change = _change(a, b)
        if change is None:
            result = "n/a"
        else:
            worse = -change if bad == "down" else change if bad == "up" else abs(change)
            result = "pass" if worse <= TOLERANCE else "FAIL"
        out.append({"metric": name, "first": a, "last": b, "change": change, "result": result})
    return out


def format_drift(result: dict[str, Any]) -> str:
    """Per run (upsampler off / on): the per-minute table and the first-vs-last verdicts, as Markdown."""
    parts = []
    for run in result["runs"]:
        minutes = [[r["minute"], r["visible"], format_number(r["recall"]), format_number(r.get("lane_f1")),
                    f"{r['luminance']:.1f}", ", ".join(f"{c:.3f}" for c in r["colour"]),
                    format_number(r["frechet"], 2)] for r in run["minutes"]]
        verdicts = [[v["metric"], format_number(v["first"]), format_number(v["last"]),
                     "—" if v["change"] is None else f"{v['change']:+.1%}", v["result"]] for v in run["verdicts"]]
        parts += [f"Upsampler {run['upsampler']} ({run['seconds']:.0f} s):", "",
                  markdown_table(["minute", "visible", "recall", "lane-line F1", "luminance", "colour (R, G, B)",
                                  "Fréchet distance"], minutes),
                  "", markdown_table([f"last minute vs first (within {TOLERANCE:.0%})", "first", "last", "change",
                                      "result"], verdicts), ""]
    return "\n".join(parts).rstrip("\n")
