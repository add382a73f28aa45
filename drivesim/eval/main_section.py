"""The eval's main section: generate the held-out scenarios (day, night, no named agents, image-only,
context guidance), measure condition adherence, temporal consistency, Fréchet distance and speed
against the targets, run the paper's ablations and draw the sample strips.

    drivesim eval checkpoints/default --data data/synth --only main --quick

What each number means: docs/eval.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from drivesim.eval import ablations as A
from drivesim.eval.adherence import box_adherence, box_masks, is_background, luminance_ratio, mean_luminance
from drivesim.eval.frechet import VideoFeatureNet, frechet_distance, video_features, video_windows
from drivesim.eval.pictures import TILE_WIDTH, strip, tile
from drivesim.output.files import write_png
from drivesim.eval.real import RealClips, real_clips, real_windows, spread
from drivesim.eval.scenarios import GeneratedVideo, generate_video, held_out_scenarios, without_named_agents
from drivesim.scenario.variants import with_time_of_day
from drivesim.eval.settings import EvalSettings
from drivesim.eval.tables import markdown_table, verdict
from drivesim.eval.temporal import warp_error

__all__ = ["MainRow", "MainSection", "TARGETS", "TIMED_CLIP", "main_section", "main_table"]

# Targets from the project's issue "Training" (item 5): what a good bundle reaches.
TARGETS = {"luminance_ratio": 0.6, "box_adherence": 2.0, "warp_ratio": 0.7, "clip_seconds": 60.0}
TIMED_CLIP = (4.0, 512, 256, 2)  # duration s, width, height, CPU cores of the speed target


@dataclass
class MainRow:
    metric: str
    value: str
    target: str
    result: str  # pass | FAIL | n/a: reason | — (no target)
    number: float | None = None
    note: str = ""


@dataclass
class MainSection:
    """What the section measured, as EvalReport holds it."""

    main: list[MainRow]
    ablations: list[A.AblationRow]
    scenarios: list[dict[str, Any]]  # per held-out scenario
    samples: list[tuple[str, str]]  # (title, path relative to the report folder)
    meta: dict[str, Any]  # entries of report.json's "meta"


def main_section(bundle, record: dict, data_dir: Path, clips: Sequence, user_net: VideoFeatureNet | None,
                 s: EvalSettings, options, out_dir: Path, log: Callable[[str], None],
                 note: str | None) -> MainSection:
    """Adherence, consistency, Fréchet distance and the ablations of `bundle` with GenerateOptions `options`;
    `note` says why pass / FAIL would mean nothing (untrained stages), None when they mean something."""
    cfg = bundle.config
    # 1. real clips and the feature network
    real = real_clips(data_dir, clips, user_net, s, out_dir, log)
    fcfg = real.net.config

    # 2. generation on the held-out scenarios
    scenarios = held_out_scenarios(s.scenarios, s.duration_s, s.camera[0], s.camera[1], s.fps)
    cg_missing = A.missing_stages(record, ("autoencoder", "image", "video"))
    runs: list[dict[str, GeneratedVideo]] = []
    for i, scenario in enumerate(scenarios):
        day = with_time_of_day(scenario, "day")
        jobs = {"day": (day, options), "night": (with_time_of_day(scenario, "night"), options),
                "no_agents": (without_named_agents(day), options),
                "image_only": (day, dataclasses.replace(options, image_only=True))}
        if i == 0 and not cg_missing:
            jobs["context_guidance"] = (day, dataclasses.replace(options, context_guidance=s.context_guidance))
        videos = {}
        for name, (scn, opts) in jobs.items():
            videos[name] = generate_video(bundle, scn, opts)
            log(f"scenario {i + 1}/{len(scenarios)} {scenario.name}: {name} ({len(videos[name].frames)} frames) "
                f"in {videos[name].seconds:.1f} s")
        runs.append(videos)

    # 3. measures
    per_scenario = [_scenario_measures(scn.name, v) for scn, v in zip(scenarios, runs)]
    generated = np.concatenate([video_windows(v[k].frames, fcfg.frames, max(fcfg.frames // 2, 1))
                                for v in runs for k in ("day", "night", "no_agents")])
    frechet = frechet_distance(video_features(real.net, generated), real.features) if len(generated) >= 2 else None
    main = _main_rows(per_scenario, frechet, len(generated), len(real.windows), runs[0]["day"], s, cfg, note)

    # 4. ablations
    log("ablations: decoder, upsampler, context guidance")
    rows = [_decoder_row(bundle, record, data_dir, real, s),
            _upsampler_row(bundle, record, data_dir, real, s, options, scenarios[0]),
            _context_row(runs[0], cg_missing, real, s)]

    # 5. the sample strips
    samples = _write_samples(out_dir, runs[0], rows)
    meta = {"real_clips": len(real.clips), "real_windows": len(real.windows), "frame_stride": real.stride,
            "feature_net": real.net_info, "scenarios": [sc.name for sc in scenarios],
            "generated_windows": int(len(generated))}
    return MainSection(main, rows, per_scenario, samples, meta)


def main_table(rows: Sequence[MainRow]) -> str:
    """The main table of report.md and of the command's output."""
    return markdown_table(["metric", "value", "target", "result"], [[r.metric, r.value, r.target, r.result]
                                                                    for r in rows])


def _scenario_measures(name: str, videos: dict[str, GeneratedVideo]) -> dict[str, Any]:
    day, night, none, image = videos["day"], videos["night"], videos["no_agents"], videos["image_only"]
    t, h, w = day.frames.shape[:3]
    inside = box_masks([[b for b in fc.boxes if not is_background(b)] for fc in day.labels], h, w)
    any_box = box_masks([fc.boxes for fc in day.labels], h, w) | box_masks([fc.boxes for fc in none.labels], h, w)
    boxes = box_adherence(day.frames, none.frames, inside, ~any_box)
    warp_video, warp_image = warp_error(day.frames), warp_error(image.frames)
    return {"scenario": name, "frames": int(t), "luminance_day": mean_luminance(day.frames),
            "luminance_night": mean_luminance(night.frames), "luminance_ratio": luminance_ratio(night.frames, day.frames),
            "box_inside": boxes.inside, "box_outside": boxes.outside, "box_ratio": boxes.ratio,
            "box_share": boxes.inside_share, "warp_video": warp_video, "warp_image_only": warp_image,
            "warp_ratio": warp_video / max(warp_image, 1e-9), "seconds_day": day.seconds}


def _main_rows(per: list[dict], frechet: float | None, gen_windows: int, real_windows: int, timing: GeneratedVideo,
               s: EvalSettings, cfg, untrained_note: str | None) -> list[MainRow]:
    lum = float(np.mean([p["luminance_ratio"] for p in per]))
    box = float(np.mean([p["box_ratio"] for p in per]))
    wv, wi = float(np.mean([p["warp_video"] for p in per])), float(np.mean([p["warp_image_only"] for p in per]))
    warp = wv / max(wi, 1e-9)
    rows = [
        MainRow("night/day mean luminance", f"{lum:.3f}", f"<= {TARGETS['luminance_ratio']}",
                verdict(lum <= TARGETS["luminance_ratio"], untrained_note), lum,
                f"mean over {len(per)} held-out scenario(s)"),
        MainRow("box adherence (change inside / outside boxes)", f"{box:.2f}", f">= {TARGETS['box_adherence']}",
                verdict(box >= TARGETS["box_adherence"], untrained_note), box, "named agents added vs removed, same seed"),
        MainRow("warp error, video / image-only", f"{warp:.3f} ({wv:.4f} / {wi:.4f})", f"<= {TARGETS['warp_ratio']}",
                verdict(warp <= TARGETS["warp_ratio"], untrained_note), warp, "Farneback flow, mean abs error, 0..1"),
    ]
    if frechet is None:
        rows.append(MainRow("Fréchet distance, generated vs real", "n/a", "lower is better",
                            "n/a: fewer than 2 generated windows (scenarios shorter than the feature net's clip)"))
    else:
        rows.append(MainRow("Fréchet distance, generated vs real", f"{frechet:.3f}", "lower is better", "—", frechet,
                            f"{gen_windows} generated vs {real_windows} real windows, eval's feature net"))
    duration, width, height, cores = TIMED_CLIP
    cam_w, cam_h = s.camera
    clip = f"{timing.frames.shape[0] / s.fps:g} s at {cam_w}x{cam_h}"
    threads = torch.get_num_threads()
    defaults = (cfg.diffusion.num_inference_steps, cfg.upsampler_diffusion.num_inference_steps)
    off_default = (s.steps, s.sr_steps) != defaults
    note = (f"steps {s.steps}, sr-steps {s.sr_steps} ({'not ' if off_default else ''}the bundle's defaults"
            f"{f' {defaults[0]} / {defaults[1]}' if off_default else ''}), {threads} thread(s), {s.device}")
    if (s.duration_s, cam_w, cam_h) != (duration, width, height):
        result = f"n/a: the timed clip is {clip}, not {duration:g} s at {width}x{height}"
    elif s.device != "cpu" or threads > cores:
        result = f"n/a: measured on {s.device} with {threads} thread(s); the target is for {cores} CPU cores"
    else:
        result = "pass" if timing.seconds <= TARGETS["clip_seconds"] else "FAIL"
        if off_default:
            result += f" (at steps {s.steps} / {s.sr_steps}, not the bundle's {defaults[0]} / {defaults[1]})"
    rows.append(MainRow(f"time for a {clip} clip", f"{timing.seconds:.1f} s", f"<= {TARGETS['clip_seconds']:g} s "
                        f"on {cores} cores", result, timing.seconds, note))
    return rows


def _decoder_row(bundle, record: dict, data_dir: Path, real: RealClips, s: EvalSettings) -> A.AblationRow:
    missing = A.missing_stages(record, ("autoencoder", "decoder"))
    if missing:
        return A.na_row("decoder", f"not trained per stages.json: {', '.join(missing)}")
    windows, _ = real_windows(data_dir, real.clips, real.net.config.frames, bundle.config.frame_size, real.stride,
                              s.decoder_windows)
    if len(windows) < 2:
        return A.na_row("decoder", "fewer than 2 real windows")
    return A.decoder_ablation(bundle, windows, real.net)


def _upsampler_row(bundle, record: dict, data_dir: Path, real: RealClips, s: EvalSettings, options,
                   scenario) -> A.AblationRow:
    from drivesim.scenario.engine import ScenarioEngine

    missing = A.missing_stages(record, A.UPSAMPLER_STAGES)
    if missing:
        return A.na_row("upsampler", f"not trained per stages.json: {', '.join(missing)}")
    # at least 2 windows: a Fréchet distance needs two feature vectors per set
    windows, _ = real_windows(data_dir, real.clips, real.net.config.frames, bundle.config.output_size, real.stride,
                              max(2, s.upsampler_windows))
    if len(windows) < 2:
        return A.na_row("upsampler", "fewer than 2 real windows")
    return A.upsampler_ablation(bundle, windows, real.net, options, ScenarioEngine(scenario))


def _context_row(videos: dict[str, GeneratedVideo], missing: list[str], real: RealClips,
                 s: EvalSettings) -> A.AblationRow:
    if missing:
        return A.na_row("context_guidance", f"not trained per stages.json: {', '.join(missing)}")
    if videos["day"].keyframe_clips < 2:
        return A.na_row("context_guidance", f"the {s.duration_s:g} s scenario fits in one keyframe clip: no context "
                                            "frames to guide; use longer scenarios")
    frames = real.net.config.frames
    if len(video_windows(videos["day"].frames, frames, max(frames // 2, 1))) < 2:
        return A.na_row("context_guidance", "fewer than 2 generated windows")
    return A.context_guidance_ablation(videos["day"].frames, videos["context_guidance"].frames, real.net,
                                       real.features, s.context_guidance)


def _spread_frames(video: np.ndarray, count: int = 4) -> list[np.ndarray]:
    return [video[i] for i in spread(len(video), count)]


def _consecutive(video: np.ndarray, count: int = 4) -> list[np.ndarray]:
    start = max(0, len(video) // 2 - count // 2)
    return list(video[start:start + count])


def _write_samples(out_dir: Path, videos: dict[str, GeneratedVideo], rows: list[A.AblationRow]) -> list[tuple[str, str]]:
    from drivesim.draw.overlay import draw_boxes

    day, night, none, image = videos["day"], videos["night"], videos["no_agents"], videos["image_only"]
    picks = spread(len(day.frames), 4)
    scale = TILE_WIDTH / day.frames.shape[2]  # boxes drawn on the tile, so lines stay thin at any frame size
    boxed = [draw_boxes(tile(day.frames[i]), [b for b in day.labels[i].boxes if not is_background(b)],
                        scale=(scale, scale), captions=False) for i in picks]
    diff = [cv2.applyColorMap(np.clip(np.abs(day.frames[i].astype(np.int16) - none.frames[i]).mean(-1) * 4, 0, 255)
                              .astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1] for i in picks]
    strips = {
        "day_night.png": ("Day vs night, same scenario and seed", [("day", _spread_frames(day.frames)),
                                                                   ("night", _spread_frames(night.frames))]),
        "boxes.png": ("Named agents added vs removed (|difference| x4)", [
            ("with agents", boxed), ("without", [none.frames[i] for i in picks]), ("|difference|", diff)]),
        "temporal.png": ("Video model vs image-only, 4 consecutive frames", [
            ("video", _consecutive(day.frames)), ("image-only", _consecutive(image.frames))]),
    }
    for row in rows:
        if row.samples:
            pick = _spread_frames if row.name == "context_guidance" else _consecutive
            strips[f"ablation_{row.name}.png"] = (f"Ablation: {row.before} vs {row.after}",
                                                   [(label, pick(v)) for label, v in row.samples.items()])
    out = []
    for name, (title, content) in strips.items():
        write_png(out_dir / "samples" / name, strip(content))
        out.append((title, f"samples/{name}"))
    return out
