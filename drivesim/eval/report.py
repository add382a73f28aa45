"""`drivesim eval BUNDLE --data DIR`: run every measurement and write REPORT_DIR/report.md.

    drivesim eval checkpoints/default --data data/synth --quick      # a few minutes on 2 CPU cores
    drivesim eval checkpoints/default --data data/synth -o out/eval  # the full set
    drivesim eval checkpoints/default --data data/synth --only controllability --quick

Order: check the inputs (fail fast); the main section: load the real clips, train (or reuse) the
feature network, generate the held-out scenarios (day, night, no named agents, image-only, context
guidance), measure, run the ablations; the controllability section (controllability.py): train (or
reuse) the detector, generate and render its scenarios, score them; then write report.md,
report.json and PNG strips under samples/. What each number means: docs/eval.md.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from drivesim.errors import BundleError, DrivesimError
from drivesim.eval import ablations as A
from drivesim.eval.adherence import box_adherence, box_masks, is_background, luminance_ratio, mean_luminance
from drivesim.eval.controllability import controllability_section, format_controllability
from drivesim.eval.drift import format_drift
from drivesim.eval.frechet import (FeatureNetConfig, VideoFeatureNet, data_fingerprint,
                                   frechet_distance, load_feature_net, read_feature_net_metadata, save_feature_net,
                                   targets_from_conditions, train_feature_net, video_features, video_windows)
from drivesim.eval.scenarios import (GeneratedVideo, generate_video, held_out_scenarios, with_time_of_day,
                                     without_named_agents)
from drivesim.eval.temporal import warp_error
from drivesim.output.files import atomic_write_bytes, atomic_write_text

__all__ = ["EvalSettings", "MainRow", "EvalReport", "TARGETS", "run_eval", "format_main_table", "default_report_dir"]

# Targets from the project's issue "Training" (item 5): what a good bundle reaches.
TARGETS = {"luminance_ratio": 0.6, "box_adherence": 2.0, "warp_ratio": 0.7, "clip_seconds": 60.0}
TIMED_CLIP = (4.0, 512, 256, 2)  # duration s, width, height, CPU cores of the speed target
PIPELINE_STAGES = ("autoencoder", "image", "decoder", "video")  # + interpolation when keyframes are strided
UPSAMPLER_STAGES = ("upsampler:spatial", "upsampler:temporal")
FEATURE_FILE = "feature_net.safetensors"
FINGERPRINT_KEY = "data_fingerprint"

SECTIONS = ("main", "controllability", "drift")  # --only NAME runs one of them
DEFAULT_SECTIONS = ("main", "controllability")  # without --only (drift is a long rollout: ask for it)

# Settings that --quick changes (None in EvalSettings = take them from here).
QUICK = dict(scenarios=1, feature_steps=200, max_real_clips=24, decoder_windows=6, upsampler_windows=2,
             control_scenarios=4, control_duration_s=2.0, control_frame_step=2, detector_clips=64,
             detector_steps=1000, panacea_steps=500, drift_minutes=2.0)
FULL = dict(scenarios=2, feature_steps=400, max_real_clips=96, decoder_windows=16, upsampler_windows=3,
            control_scenarios=8, control_duration_s=4.0, control_frame_step=1, detector_clips=128,
            detector_steps=2000, panacea_steps=1000, drift_minutes=10.0)
# Sampling steps default to the bundle's own (what users get, and what the speed target is about),
# capped to keep the eval's run time bounded for bundles with many-step defaults (e.g. DDIM 50).
STEP_CAPS = {"quick": (4, 2), "full": (20, 4)}  # (keyframe model / interpolator, upsampler)


@dataclass
class EvalSettings:
    """What `drivesim eval` runs; None = the --quick or full preset (QUICK / FULL)."""

    quick: bool = False
    steps: int | None = None  # keyframe model / interpolator steps; None: the bundle's, capped (STEP_CAPS)
    sr_steps: int | None = None  # upsampler steps; None: the bundle's, capped
    sampler: str | None = None  # None -> the bundle's
    scenarios: int | None = None  # how many held-out scenarios (1..3)
    duration_s: float = 4.0  # of each held-out scenario (the first one is also the timed 4 s clip)
    camera: tuple[int, int] = (512, 256)  # width, height of the generated frames
    fps: float = 10.0
    feature_steps: int | None = None  # feature network training steps
    max_real_clips: int | None = None  # real clips read from --data (spread evenly over the folder)
    decoder_windows: int | None = None  # real windows in the decoder ablation
    upsampler_windows: int | None = None  # real windows in the upsampler ablation
    context_guidance: float = 2.0  # the "on" scale of the context-guidance ablation
    device: str = "cpu"
    threads: int | None = None  # torch CPU threads (None: torch's default)
    features_weights: Path | None = None  # a user's feature network instead of training one
    feature_net: FeatureNetConfig = field(default_factory=FeatureNetConfig)
    seed: int = 0  # feature-network and detector training seed (generation uses each scenario's own seed)
    progress: bool = True  # one line per step on stderr
    only: str | None = None  # None: main and controllability; "main", "controllability" or "drift": that one alone
    control_scenarios: int | None = None  # controllability scenarios (1..8), each run day and night
    control_duration_s: float | None = None  # of each controllability scenario
    control_frame_step: int | None = None  # score every k-th frame
    control_camera: tuple[int, int] = (512, 256)  # width, height: the visibility thresholds are for 512 wide
    detector_clips: int | None = None  # rendered scenarios the detector is trained on (4 instants each)
    detector_steps: int | None = None
    panacea_steps: int | None = None  # steps of each of the two Panacea-direction detectors
    drift_minutes: float | None = None  # length of the long rollout of the drift section
    drift_frame_step: int = 10  # the drift section scores every k-th frame for recall
    interpolation_steps: int | None = None  # None: the bundle's diffusion.interpolation_steps, else `steps`
    session_steps: int | None = None  # controllability videos through closed-loop session steps of N frames

    def resolved(self) -> "EvalSettings":
        preset = QUICK if self.quick else FULL
        filled = {k: v if getattr(self, k) is None else getattr(self, k) for k, v in preset.items()}
        out = dataclasses.replace(self, **filled)
        for name in ("steps", "sr_steps", "scenarios", "feature_steps", "max_real_clips", "decoder_windows",
                     "upsampler_windows", "control_scenarios", "control_frame_step", "detector_clips",
                     "detector_steps", "panacea_steps", "session_steps", "interpolation_steps"):
            if getattr(out, name) is not None and getattr(out, name) < 1:
                raise DrivesimError(f"eval: {name.replace('_', '-')} must be >= 1, got {getattr(out, name)}")
        if not 0 < out.drift_minutes <= 60 or out.drift_frame_step < 1:
            raise DrivesimError(f"eval: --drift-minutes must be in (0, 60] (got {out.drift_minutes}) and the drift "
                                f"frame step >= 1 (got {out.drift_frame_step})")
        if out.control_duration_s <= 0:
            raise DrivesimError(f"eval: the controllability scenarios need a duration > 0 s, got {out.control_duration_s}")
        if out.only is not None and out.only not in SECTIONS:
            raise DrivesimError(f"eval: unknown section '{out.only}'; --only takes one of {', '.join(SECTIONS)}")
        if self.context_guidance <= 1.0:
            raise DrivesimError(f"eval: the context-guidance scale must be > 1, got {self.context_guidance}")
        return out

    def with_steps(self, config) -> "EvalSettings":
        """Steps and sr-steps resolved against a BundleConfig: given ones, else the bundle's, capped."""
        cap, sr_cap = STEP_CAPS["quick" if self.quick else "full"]
        return dataclasses.replace(
            self, steps=self.steps or min(config.diffusion.num_inference_steps, cap),
            sr_steps=self.sr_steps or min(config.upsampler_diffusion.num_inference_steps, sr_cap))


@dataclass
class MainRow:
    metric: str
    value: str
    target: str
    result: str  # pass | FAIL | n/a: reason | — (no target)
    number: float | None = None
    note: str = ""


@dataclass
class EvalReport:
    main: list[MainRow]
    ablations: list[A.AblationRow]
    scenarios: list[dict[str, Any]]
    meta: dict[str, Any]
    samples: list[tuple[str, str]]  # (title, path relative to the report folder)
    path: Path | None = None
    controllability: dict[str, Any] | None = None  # controllability.controllability_section's result
    drift: dict[str, Any] | None = None  # _drift_section's result (--only drift)

    def to_json(self) -> dict[str, Any]:
        return {"meta": self.meta, "main": [dataclasses.asdict(r) for r in self.main],
                "ablations": [r.to_json() for r in self.ablations], "scenarios": self.scenarios,
                "samples": [{"title": t, "path": p} for t, p in self.samples],
                "controllability": self.controllability, "drift": self.drift}


def default_report_dir(bundle: Path) -> Path:
    """BUNDLE/eval: reports live with the bundle they measure (bundle_sha256 ignores the folder)."""
    return Path(bundle) / "eval"


# --- the run -------------------------------------------------------------------------------------

def run_eval(bundle_dir: str | Path, data_dir: str | Path, out_dir: str | Path | None = None,
             settings: EvalSettings | None = None) -> EvalReport:
    """Measure a bundle against held-out scenarios and the real clips in `data_dir`; write the report."""
    from drivesim.data.clips import scan_clips
    from drivesim.pipeline import GenerateOptions, VideoPipeline
    from drivesim.train.state import read_record

    started = time.perf_counter()
    s = (settings or EvalSettings()).resolved()
    bundle_dir, data_dir = Path(bundle_dir), Path(data_dir)
    out_dir = Path(out_dir) if out_dir is not None else default_report_dir(bundle_dir)
    log = _logger(s.progress)

    # 1. inputs, before any long work: the bundle, the data, the user's feature weights
    bundle = _load_bundle(bundle_dir)
    clips = scan_clips(data_dir)
    user_net = load_feature_net(s.features_weights) if s.features_weights else None
    if s.threads:
        torch.set_num_threads(s.threads)
    s = s.with_steps(bundle.config)
    options = GenerateOptions(steps=s.steps, sr_steps=s.sr_steps, interpolation_steps=s.interpolation_steps,
                              sampler=s.sampler, device=s.device, progress=False)
    VideoPipeline(bundle, options)  # checks the device, moves the models there, eval mode
    record = read_record(bundle_dir)
    cfg = bundle.config

    interpolation = ("interpolation",) if _keyframe_stride(cfg, s.fps) > 1 else ()
    untrained = A.missing_stages(record, (*PIPELINE_STAGES, *interpolation, *UPSAMPLER_STAGES))
    note = _untrained_note(record, untrained)
    meta = {"bundle": str(bundle_dir), "config": cfg.name, "trained_stages": sorted(record.get("stages", {})),
            "stages_record": bool(record.get("stages")), "data": str(data_dir), "data_clips": len(clips),
            "settings": _settings_json(s), "threads": torch.get_num_threads(), "sections": list(
                DEFAULT_SECTIONS if s.only is None else (s.only,))}
    main, rows, per_scenario, samples = [], [], [], []
    if s.only in (None, "main"):
        main, rows, per_scenario, samples, main_meta = _main_section(bundle, record, data_dir, clips, user_net, s,
                                                                     options, out_dir, log, note)
        meta.update(main_meta)
    control = None
    if s.only in (None, "controllability"):
        control = controllability_section(bundle, options, s, out_dir, log, _clip_seeds(clips), note)
        meta["controllability_scenarios"] = control["settings"]["scenarios"]
    drift = None
    if s.only == "drift":
        drift = _drift_section(bundle, options, s, data_dir, clips, user_net, out_dir, log)

    meta["seconds"] = round(time.perf_counter() - started, 1)
    report = EvalReport(main=main, ablations=rows, scenarios=per_scenario, meta=meta, samples=samples,
                        controllability=control, drift=drift)
    report.path = out_dir / "report.md"
    atomic_write_text(report.path, format_report(report))
    atomic_write_text(out_dir / "report.json", json.dumps(report.to_json(), indent=1) + "\n")
    return report


def _main_section(bundle, record: dict, data_dir: Path, clips, user_net, s: EvalSettings, options, out_dir: Path,
                  log, note: str | None) -> tuple[list, list, list, list, dict[str, Any]]:
    """Adherence, consistency, Fréchet distance and the ablations: (main rows, ablation rows,
    per-scenario numbers, sample strips, meta entries)."""
    cfg = bundle.config
    # 2. real clips and the feature network
    subset, stride, real, net, net_info, real_features = _real_features(data_dir, clips, user_net, s, out_dir, log)
    fcfg = net.config

    # 3. generation on the held-out scenarios
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

    # 4. measures
    per_scenario = [_scenario_measures(scn.name, v) for scn, v in zip(scenarios, runs)]
    generated = np.concatenate([video_windows(v[k].frames, fcfg.frames, max(fcfg.frames // 2, 1))
                                for v in runs for k in ("day", "night", "no_agents")])
    frechet = frechet_distance(video_features(net, generated), real_features) if len(generated) >= 2 else None
    timing = runs[0]["day"]
    main = _main_rows(per_scenario, frechet, len(generated), len(real), timing, s, cfg, note)

    # 5. ablations
    log("ablations: decoder, upsampler, context guidance")
    rows = [_decoder_row(bundle, record, data_dir, subset, stride, fcfg, s, net),
            _upsampler_row(bundle, record, data_dir, subset, stride, fcfg, s, net, options, scenarios[0]),
            _context_row(runs[0], cg_missing, net, real_features, s)]

    # 6. the sample strips
    samples = _write_samples(out_dir, runs[0], rows)
    meta = {"real_clips": len(subset), "real_windows": len(real), "frame_stride": stride, "feature_net": net_info,
            "scenarios": [sc.name for sc in scenarios], "generated_windows": int(len(generated))}
    return main, rows, per_scenario, samples, meta


def _real_features(data_dir: Path, clips, user_net, s: EvalSettings, out_dir: Path, log):
    """The real clips' windows and the feature network (trained or reused) with their features:
    (clips used, frame stride, windows, net, net info, features)."""
    subset = [clips[i] for i in _spread(len(clips), s.max_real_clips)]
    stride = _frame_stride(subset, s.fps)
    fcfg = user_net.config if user_net else s.feature_net
    real, real_conditions = _real_windows(data_dir, subset, fcfg.frames, (fcfg.height, fcfg.width), stride)
    log(f"real clips: {len(subset)} of {len(clips)}, {len(real)} windows of {fcfg.frames} frames (stride {stride})")
    if len(real) < 2:
        raise DrivesimError(f"{data_dir} gives only {len(real)} clip window(s) of {fcfg.frames} frames; the Fréchet "
                            "distance needs at least 2: add clips or longer clips")
    net, net_info = _feature_net(user_net, s, real, real_conditions, subset, stride, out_dir, log)
    return subset, stride, real, net, net_info, video_features(net, real)


def _drift_section(bundle, options, s: EvalSettings, data_dir: Path, clips, user_net, out_dir: Path,
                   log) -> dict[str, Any]:
    """One long rollout (upsampler off: minutes of video on a CPU), measured minute by minute (drift.py)."""
    from drivesim.eval.controllability import DetectorPlan, net_scorer, trained_detector
    from drivesim.eval.drift import drift_verdicts, long_drive, minute_rows
    from drivesim.draw.overlay import draw_boxes
    from drivesim.pipeline import VideoPipeline

    start = time.perf_counter()
    _, _, real, net, net_info, real_features = _real_features(data_dir, clips, user_net, s, out_dir, log)
    width, height = s.control_camera
    scenario = long_drive(s.drift_minutes, width, height, s.fps)
    plan = DetectorPlan(clips=s.detector_clips, steps=s.detector_steps, camera=(width, height), seed=s.seed)
    detector, detector_info = trained_detector(plan, out_dir, log, _clip_seeds(clips) | {int(scenario.seed)})
    opts = dataclasses.replace(options, super_resolution=False)
    log(f"drift: generating {s.drift_minutes:g} minutes ({scenario.name}, {width}x{height}, upsampler off)")
    firsts: list[tuple[str, np.ndarray]] = []
    per_minute = round(60 * s.fps)

    def stream():
        for frame in VideoPipeline(bundle, opts).frames(scenario):
            if frame.index % per_minute == 0:  # the first frame of every minute, for the picture
                firsts.append((f"minute {frame.index // per_minute + 1}", draw_boxes(frame.image, frame.labels.boxes)))
            yield frame

    rows = minute_rows(stream(), s.fps, net_scorer(detector), net, real_features, s.drift_frame_step, log)
    picks = sorted({0, len(firsts) // 2, len(firsts) - 1})
    samples = "samples/drift.png"
    _write_png(out_dir / samples, strip([("first frame of " + ", ".join(firsts[i][0] for i in picks),
                                          [firsts[i][1] for i in picks])]))
    return {"scenario": scenario.name, "minutes": rows, "verdicts": drift_verdicts(rows), "samples": samples,
            "settings": {"minutes": s.drift_minutes, "camera": [width, height], "fps": s.fps,
                         "frame_step": s.drift_frame_step, "steps": opts.steps, "super_resolution": False,
                         "real_windows": len(real), "seconds": round(time.perf_counter() - start, 1)},
            "detector": detector_info, "feature_net": net_info}


def _untrained_note(record: dict, untrained: list[str]) -> str | None:
    """Why pass/fail would mean nothing (no stages.json, or a stage the pipeline uses is untrained)."""
    if not record.get("stages"):
        return "the bundle has no stages.json, so no stage is known to be trained"
    if untrained:
        return f"untrained stage(s) {', '.join(untrained)} (values from random weights)"
    return None


def _clip_seeds(clips) -> set[int]:
    """Scenario seeds of the --data clips (synth-data's meta.json): the detector must not train on them."""
    seeds = set()
    for clip in clips:
        try:
            seed = json.loads((clip.path / "meta.json").read_text(encoding="utf-8")).get("scenario_seed")
        except (OSError, ValueError):
            continue  # real footage has no meta.json / scenario seed
        if seed is not None:
            seeds.add(int(seed))
    return seeds


def _logger(enabled: bool):
    def log(message: str) -> None:
        if enabled:
            print(f"eval: {message}", file=sys.stderr, flush=True)
    return log


def _load_bundle(path: Path):
    from drivesim.models.bundle import load_bundle

    try:
        return load_bundle(path, device="cpu")
    except BundleError as err:
        raise BundleError(f"cannot evaluate {path}: {err} (`drivesim info BUNDLE` checks a bundle)") from err


def _spread(count: int, limit: int) -> list[int]:
    """Up to `limit` indices spread evenly over range(count)."""
    if count <= limit:
        return list(range(count))
    return sorted({int(round(i)) for i in np.linspace(0, count - 1, limit)})


def _frame_stride(clips, fps: float) -> int:
    """Take every k-th frame of the real clips so they run at about the generated frame rate."""
    rates = [c.fps for c in clips if c.fps]
    return max(1, int(round(float(np.median(rates)) / fps))) if rates else 1


def _keyframe_stride(cfg, fps: float) -> int:
    from drivesim.pipeline.generate import choose_keyframe_stride

    return choose_keyframe_stride(cfg, fps)


def _to_uint8(frames: torch.Tensor) -> np.ndarray:
    """(T, 3, H, W) in [-1, 1] -> (T, H, W, 3) uint8."""
    return ((frames.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _real_windows(root: Path, clips, frames: int, size: tuple[int, int], stride: int,
                  limit: int | None = None) -> tuple[np.ndarray, list]:
    """Windows (N, frames, H, W, 3) uint8 of the clips at `size` (cover + centre crop), and their conditions."""
    from drivesim.data.clips import ClipDataset

    try:
        ds = ClipDataset(root, frames, size=size, frame_stride=stride, clips=clips)
    except DrivesimError as err:
        raise DrivesimError(f"drivesim eval needs real clips of at least {(frames - 1) * stride + 1} frames in "
                            f"{root} ({frames}-frame windows at frame stride {stride}): {err}") from err
    indices = _spread(len(ds), limit) if limit else range(len(ds))
    items = [ds[i] for i in indices]
    return np.stack([_to_uint8(it["frames"]) for it in items]), [it["conditions"] for it in items]


def _feature_net(user_net: VideoFeatureNet | None, s: EvalSettings, real: np.ndarray, conditions: list, clips,
                 stride: int, out_dir: Path, log) -> tuple[VideoFeatureNet, dict[str, Any]]:
    """The user's network, the cached one trained on the same data and settings, or a freshly trained one."""
    if user_net is not None:
        return user_net, {"source": "user", "path": str(s.features_weights), "config": dataclasses.asdict(user_net.config)}
    fingerprint = data_fingerprint([f"{c.clip_id}:{c.num_frames}:{c.width}x{c.height}" for c in clips] +
                                   [s.feature_net.to_json(), f"stride={stride}", f"steps={s.feature_steps}",
                                    f"seed={s.seed}", f"windows={len(real)}"])
    cache = out_dir / FEATURE_FILE
    info = {"path": str(cache), "fingerprint": fingerprint, "config": dataclasses.asdict(s.feature_net),
            "steps": s.feature_steps}
    if cache.is_file() and read_feature_net_metadata(cache).get(FINGERPRINT_KEY) == fingerprint:
        log(f"feature network: reusing {cache}")
        return load_feature_net(cache), {**info, "source": "cached"}
    start = time.perf_counter()
    net, losses = train_feature_net(real, targets_from_conditions(conditions), s.feature_net, steps=s.feature_steps,
                                    seed=s.seed)
    save_feature_net(net, cache, extra={FINGERPRINT_KEY: fingerprint})
    seconds = time.perf_counter() - start
    log(f"feature network: trained {s.feature_steps} steps in {seconds:.1f} s, saved {cache}")
    return net, {**info, "source": "trained", "seconds": round(seconds, 1),
                 "final_losses": {k: round(v, 4) for k, v in losses.items()}}


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


def _verdict(ok: bool, untrained: str | None) -> str:
    return f"n/a: {untrained}" if untrained else ("pass" if ok else "FAIL")


def _main_rows(per: list[dict], frechet: float | None, gen_windows: int, real_windows: int, timing: GeneratedVideo,
               s: EvalSettings, cfg, untrained_note: str | None) -> list[MainRow]:
    lum = float(np.mean([p["luminance_ratio"] for p in per]))
    box = float(np.mean([p["box_ratio"] for p in per]))
    wv, wi = float(np.mean([p["warp_video"] for p in per])), float(np.mean([p["warp_image_only"] for p in per]))
    warp = wv / max(wi, 1e-9)
    rows = [
        MainRow("night/day mean luminance", f"{lum:.3f}", f"<= {TARGETS['luminance_ratio']}",
                _verdict(lum <= TARGETS["luminance_ratio"], untrained_note), lum,
                f"mean over {len(per)} held-out scenario(s)"),
        MainRow("box adherence (change inside / outside boxes)", f"{box:.2f}", f">= {TARGETS['box_adherence']}",
                _verdict(box >= TARGETS["box_adherence"], untrained_note), box, "named agents added vs removed, same seed"),
        MainRow("warp error, video / image-only", f"{warp:.3f} ({wv:.4f} / {wi:.4f})", f"<= {TARGETS['warp_ratio']}",
                _verdict(warp <= TARGETS["warp_ratio"], untrained_note), warp, "Farneback flow, mean abs error, 0..1"),
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


def _decoder_row(bundle, record, data_dir, clips, stride, fcfg, s, net) -> A.AblationRow:
    missing = A.missing_stages(record, ("autoencoder", "decoder"))
    if missing:
        return A.na_row("decoder", f"not trained per stages.json: {', '.join(missing)}")
    real, _ = _real_windows(data_dir, clips, fcfg.frames, bundle.config.frame_size, stride, s.decoder_windows)
    if len(real) < 2:
        return A.na_row("decoder", "fewer than 2 real windows")
    return A.decoder_ablation(bundle, real, net)


def _upsampler_row(bundle, record, data_dir, clips, stride, fcfg, s, net, options, scenario) -> A.AblationRow:
    from drivesim.scenario.engine import ScenarioEngine

    missing = A.missing_stages(record, UPSAMPLER_STAGES)
    if missing:
        return A.na_row("upsampler", f"not trained per stages.json: {', '.join(missing)}")
    # at least 2 windows: a Fréchet distance needs two feature vectors per set
    real, _ = _real_windows(data_dir, clips, fcfg.frames, bundle.config.output_size, stride,
                            max(2, s.upsampler_windows))
    if len(real) < 2:
        return A.na_row("upsampler", "fewer than 2 real windows")
    return A.upsampler_ablation(bundle, real, net, options, ScenarioEngine(scenario))


def _context_row(videos: dict[str, GeneratedVideo], missing: list[str], net, real_features,
                 s: EvalSettings) -> A.AblationRow:
    if missing:
        return A.na_row("context_guidance", f"not trained per stages.json: {', '.join(missing)}")
    if videos["day"].keyframe_clips < 2:
        return A.na_row("context_guidance", f"the {s.duration_s:g} s scenario fits in one keyframe clip: no context "
                                            "frames to guide; use longer scenarios")
    if len(video_windows(videos["day"].frames, net.config.frames, max(net.config.frames // 2, 1))) < 2:
        return A.na_row("context_guidance", "fewer than 2 generated windows")
    return A.context_guidance_ablation(videos["day"].frames, videos["context_guidance"].frames, net, real_features,
                                       s.context_guidance)


def _settings_json(s: EvalSettings) -> dict[str, Any]:
    data = dataclasses.asdict(s)
    data["features_weights"] = str(s.features_weights) if s.features_weights else None
    return data


# --- sample strips -------------------------------------------------------------------------------

TILE_WIDTH = 256


def _tile(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    height = max(1, round(h * TILE_WIDTH / w))
    mode = cv2.INTER_AREA if w > TILE_WIDTH else cv2.INTER_NEAREST
    return cv2.resize(np.ascontiguousarray(frame), (TILE_WIDTH, height), interpolation=mode)


def strip(rows: list[tuple[str, list[np.ndarray]]]) -> np.ndarray:
    """A mosaic: one row per (label, frames), frames resized to TILE_WIDTH wide, the label on the first."""
    lines = []
    for label, frames in rows:
        tiles = [_tile(f) for f in frames]
        height = max(t.shape[0] for t in tiles)
        tiles = [np.pad(t, ((0, height - t.shape[0]), (0, 2), (0, 0))) for t in tiles]
        line = np.concatenate(tiles, axis=1)
        cv2.putText(line, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(line, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        lines.append(line)
    width = max(line.shape[1] for line in lines)
    lines = [np.pad(line, ((0, 2), (0, width - line.shape[1]), (0, 0))) for line in lines]
    return np.concatenate(lines, axis=0)


def _write_png(path: Path, image: np.ndarray) -> None:
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise DrivesimError(f"cannot encode {path} as PNG")
    atomic_write_bytes(path, data.tobytes())


def _spread_frames(video: np.ndarray, count: int = 4) -> list[np.ndarray]:
    return [video[i] for i in _spread(len(video), count)]


def _consecutive(video: np.ndarray, count: int = 4) -> list[np.ndarray]:
    start = max(0, len(video) // 2 - count // 2)
    return list(video[start:start + count])


def _write_samples(out_dir: Path, videos: dict[str, GeneratedVideo], rows: list[A.AblationRow]) -> list[tuple[str, str]]:
    from drivesim.draw.overlay import draw_boxes

    day, night, none, image = videos["day"], videos["night"], videos["no_agents"], videos["image_only"]
    picks = _spread(len(day.frames), 4)
    scale = TILE_WIDTH / day.frames.shape[2]  # boxes drawn on the tile, so lines stay thin at any frame size
    boxed = [draw_boxes(_tile(day.frames[i]), [b for b in day.labels[i].boxes if not is_background(b)],
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
        _write_png(out_dir / "samples" / name, strip(content))
        out.append((title, f"samples/{name}"))
    return out


# --- markdown ------------------------------------------------------------------------------------

def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def format_main_table(report: EvalReport) -> str:
    return _table(["metric", "value", "target", "result"], [[r.metric, r.value, r.target, r.result] for r in report.main])


def _pair(values: tuple[float, float] | None, digits: int = 3) -> str:
    if values is None or any(v is None for v in values):
        return "—"
    return f"{values[0]:.{digits}f} -> {values[1]:.{digits}f}"


def format_ablations(rows: list[A.AblationRow]) -> str:
    body = []
    for r in rows:
        if r.reason:
            body.append([f"{r.before} -> {r.after}", r.paper, f"n/a: {r.reason}", "", "", "n/a"])
            continue
        warp = _pair(r.warp, 4) + (f" (real {r.real_warp:.4f})" if r.real_warp is not None else "")
        rec = _pair(r.rec_error, 4) + (f" ({r.baseline[0]} {r.baseline[1]:.4f})" if r.baseline else "")
        body.append([f"{r.before} -> {r.after}", r.paper, _pair(r.frechet), rec, warp, r.direction])
    return _table(["ablation", "paper", "ours: Fréchet distance", "ours: rec. error", "ours: warp error",
                   "same direction as paper"], body)


def format_report(report: EvalReport) -> str:
    m = report.meta
    st = m["settings"]
    stages = ", ".join(m["trained_stages"]) or "none recorded"
    lines = [f"# drivesim eval: {m['bundle']}", "",
             f"- bundle config `{m['config']}`, trained stages (stages.json): {stages}",
             f"- {'--quick, ' if st['quick'] else ''}steps {st['steps']}, sr-steps {st['sr_steps']}, device "
             f"{st['device']}, {m['threads']} thread(s); sections: {', '.join(m['sections'])}; eval took "
             f"{m['seconds']:.0f} s"]
    if report.main:
        lines += _format_main(report)
    if report.controllability is not None:
        lines += _format_control(report.controllability)
    if report.drift is not None:
        d = report.drift
        lines += ["", f"## Long rollout: {d['settings']['minutes']:g} minutes, minute by minute", "",
                  f"- {d['scenario']}, {d['settings']['camera'][0]}x{d['settings']['camera'][1]} at "
                  f"{d['settings']['fps']:g} fps, upsampler off, steps {d['settings']['steps']}; recall on every "
                  f"{d['settings']['frame_step']}th frame; took {d['settings']['seconds']:.0f} s", "",
                  format_drift(d), "", f"![first frames of minutes]({d['samples']})", ""]
    lines += ["How each number is measured: docs/eval.md. Every number is also in report.json.", ""]
    return "\n".join(lines)


def _format_main(report: EvalReport) -> list[str]:
    m = report.meta
    st = m["settings"]
    fn = m["feature_net"]
    return [
        f"- real clips: {m['real_clips']} of {m['data_clips']} in `{m['data']}`, {m['real_windows']} windows "
        f"(frame stride {m['frame_stride']})",
        f"- held-out scenarios: {', '.join(m['scenarios'])} ({st['duration_s']:g} s, {st['camera'][0]}x"
        f"{st['camera'][1]}, {st['fps']:g} fps)",
        f"- feature network: {fn['source']} ({fn.get('path', '')})", "",
        "## Main table", "", format_main_table(report), "",
        *[f"- {r.metric}: {r.note}" for r in report.main if r.note], "",
        "## Ablations (paper's FVD beside ours, for direction)", "",
        format_ablations(report.ablations), "",
        "Fréchet distances are in the eval's own feature space: compare them between runs with the same "
        "feature network, not with the paper's FVD values. Few windows make them noisy "
        f"({', '.join(f'{r.name}: {r.windows}' for r in report.ablations if not r.reason) or 'no ablation ran'}).",
        "", "## Per scenario", "",
        _table(["scenario", "luminance day / night (ratio)", "box change inside / outside (ratio)",
                "warp video / image-only (ratio)", "seconds (day run)"],
               [[p["scenario"], f"{p['luminance_day']:.1f} / {p['luminance_night']:.1f} ({p['luminance_ratio']:.3f})",
                 f"{p['box_inside']:.2f} / {p['box_outside']:.2f} ({p['box_ratio']:.2f})",
                 f"{p['warp_video']:.4f} / {p['warp_image_only']:.4f} ({p['warp_ratio']:.3f})",
                 f"{p['seconds_day']:.1f}"] for p in report.scenarios]),
        "", "## Samples", "",
        *[f"**{title}**\n\n![{title}]({path})\n" for title, path in report.samples],
    ]


def _format_control(c: dict[str, Any]) -> list[str]:
    st, det = c["settings"], c["detector"]
    val = det["validation"]
    pan = c["panacea"]
    return [
        "", "## Controllability (visible road users where their labels say; renderer = ceiling)", "",
        f"- scenarios, each day and night: {', '.join(st['scenarios'])} ({st['duration_s']:g} s, {st['camera'][0]}x"
        f"{st['camera'][1]}, {st['fps']:g} fps; frames {', '.join(map(str, range(0, 3 * st['frame_step'], st['frame_step'])))}, "
        f"... scored, {st['negatives_per_frame']} background boxes per frame)",
        f"- detector: crop classifier ({det['source']}: {det['path']}), {det['steps']} training steps on "
        f"{det['training_crops']} crops of {det['clips']} rendered scenarios (synth-data seed {det['data_seed']}); "
        f"on held-out rendered frames (seed {det['validation_seed']}): road-user recall "
        f"{val['road_user_recall']:.3f}, background false positives {val['background_false_positive_rate']:.3f}, "
        f"class accuracy {val['class_accuracy']:.3f}", "",
        format_controllability(c), "",
        f"Panacea direction: {pan['steps']} steps each, tested on {pan['test_road_users']} road users and "
        f"{pan['test_background']} background boxes of rendered frames of the same scenarios with seeds + "
        f"{pan['test_seed_offset']}; recall ratio generated / rendered "
        f"{'—' if pan['recall_ratio'] is None else format(pan['recall_ratio'], '.2f')}.", "",
        f"![controllability: generated and rendered frames with the visible road users' boxes]({c['samples']})", "",
    ]

