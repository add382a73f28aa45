"""`drivesim eval BUNDLE --data DIR`: run every measurement and write REPORT_DIR/report.md.

    drivesim eval checkpoints/default --data data/synth --quick      # a few minutes on 2 CPU cores
    drivesim eval checkpoints/default --data data/synth -o out/eval  # the full set
    drivesim eval checkpoints/default --data data/synth --only controllability --quick

Order: check the inputs (fail fast); the main section (main_section.py): load the real clips, train
(or reuse) the feature network, generate the held-out scenarios (day, night, no named agents,
image-only, context guidance), measure, run the ablations; the controllability section
(controllability.py): train (or reuse) the detector, generate and render its scenarios, score them;
with --only drift, the long rollout (drift.py); then write report.md, report.json and PNG strips
under samples/. This module only runs the sections and writes the report; they never import it.
What each number means: docs/eval.md.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from drivesim.errors import BundleError
from drivesim.eval import ablations as A
from drivesim.eval.controllability import controllability_section, format_controllability
from drivesim.eval.drift import drift_section, format_drift
from drivesim.eval.frechet import load_feature_net
from drivesim.eval.main_section import MainRow, main_section, main_table
from drivesim.eval.real import clip_seeds
from drivesim.eval.settings import DEFAULT_SECTIONS, EvalSettings
from drivesim.eval.tables import format_number, markdown_table
from drivesim.output.files import atomic_write_text

__all__ = ["EvalReport", "run_eval", "format_report", "format_main_table", "default_report_dir"]

PIPELINE_STAGES = ("autoencoder", "image", "decoder", "video")  # + interpolation when keyframes are strided


@dataclass
class EvalReport:
    main: list[MainRow]
    ablations: list[A.AblationRow]
    scenarios: list[dict[str, Any]]
    meta: dict[str, Any]
    samples: list[tuple[str, str]]  # (title, path relative to the report folder)
    path: Path | None = None
    controllability: dict[str, Any] | None = None  # controllability.controllability_section's result
    drift: dict[str, Any] | None = None  # drift.drift_section's result (--only drift)

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
    from drivesim.pipeline.rollout import choose_keyframe_stride
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
                              sampler=s.sampler, device=s.device, progress=False, precision=s.precision,
                              student=s.student)
    VideoPipeline(bundle, options)  # checks the device, moves the models there, eval mode
    record = read_record(bundle_dir)
    cfg = bundle.config

    interpolation = ("interpolation",) if choose_keyframe_stride(cfg, s.fps) > 1 else ()
    untrained = A.missing_stages(record, (*PIPELINE_STAGES, *interpolation, *A.UPSAMPLER_STAGES))
    note = _untrained_note(record, untrained)
    meta = {"bundle": str(bundle_dir), "config": cfg.name, "trained_stages": sorted(record.get("stages", {})),
            "stages_record": bool(record.get("stages")), "data": str(data_dir), "data_clips": len(clips),
            "settings": s.to_json(), "threads": torch.get_num_threads(), "sections": list(
                DEFAULT_SECTIONS if s.only is None else (s.only,))}
    report = EvalReport(main=[], ablations=[], scenarios=[], meta=meta, samples=[])
    if s.only in (None, "main"):
        main = main_section(bundle, record, data_dir, clips, user_net, s, options, out_dir, log, note)
        report.main, report.ablations, report.scenarios, report.samples = (main.main, main.ablations, main.scenarios,
                                                                           main.samples)
        meta.update(main.meta)
    if s.only in (None, "controllability"):
        report.controllability = controllability_section(bundle, options, s, out_dir, log, clip_seeds(clips), note)
        meta["controllability_scenarios"] = report.controllability["settings"]["scenarios"]
    if s.only == "drift":
        report.drift = drift_section(bundle, options, s, data_dir, clips, user_net, out_dir, log)

    meta["seconds"] = round(time.perf_counter() - started, 1)
    report.path = out_dir / "report.md"
    atomic_write_text(report.path, format_report(report))
    atomic_write_text(out_dir / "report.json", json.dumps(report.to_json(), indent=1) + "\n")
    return report


def _untrained_note(record: dict, untrained: list[str]) -> str | None:
    """Why pass/fail would mean nothing (no stages.json, or a stage the pipeline uses is untrained)."""
    if not record.get("stages"):
        return "the bundle has no stages.json, so no stage is known to be trained"
    if untrained:
        return f"untrained stage(s) {', '.join(untrained)} (values from random weights)"
    return None


def _logger(enabled: bool) -> Callable[[str], None]:
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


# --- markdown ------------------------------------------------------------------------------------

def format_main_table(report: EvalReport) -> str:
    """The main table (what `drivesim eval` prints)."""
    return main_table(report.main)


def format_report(report: EvalReport) -> str:
    """report.md: the run's settings, then each section that ran (main, controllability or drift)."""
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
                  f"{d['settings']['fps']:g} fps, upsampler {d['settings']['upsampler']}, steps "
                  f"{d['settings']['steps']}; recall on every {d['settings']['frame_step']}th frame; took "
                  f"{d['settings']['seconds']:.0f} s", "", format_drift(d), "",
                  *(f"![first frames of minutes, upsampler {r['upsampler']}]({r['samples']})" for r in d["runs"]), ""]
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
        A.format_ablations(report.ablations), "",
        "Fréchet distances are in the eval's own feature space: compare them between runs with the same "
        "feature network, not with the paper's FVD values. Few windows make them noisy "
        f"({', '.join(f'{r.name}: {r.windows}' for r in report.ablations if not r.reason) or 'no ablation ran'}).",
        "", "## Per scenario", "",
        markdown_table(["scenario", "luminance day / night (ratio)", "box change inside / outside (ratio)",
                        "warp video / image-only (ratio)", "seconds (day run)"],
                       [[p["scenario"],
                         f"{p['luminance_day']:.1f} / {p['luminance_night']:.1f} ({p['luminance_ratio']:.3f})",
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
        f"{det['training_crops']} crops of {det['clips']} rendered scenarios of each of "
        f"{', '.join(det.get('mixes', ['v1']))} (synth-data seed {det['data_seed']}); "
        f"on held-out rendered frames (seed {det['validation_seed']}): road-user recall "
        f"{val['road_user_recall']:.3f}{_by_mix(det)}, background false positives "
        f"{val['background_false_positive_rate']:.3f}, class accuracy {val['class_accuracy']:.3f}", "",
        *_format_segmenter(c.get("road")),
        format_controllability(c), "",
        f"Panacea direction: {pan['steps']} steps each, tested on {pan['test_road_users']} road users and "
        f"{pan['test_background']} background boxes of rendered frames of the same scenarios with seeds + "
        f"{pan['test_seed_offset']}; recall ratio generated / rendered "
        f"{format_number(pan['recall_ratio'], 2)}.", "",
        f"![controllability: generated and rendered frames with the visible road users' boxes]({c['samples']})", "",
        *([f"![road adherence: frame, lines found, label lines; generated then rendered]({c['road']['samples']})", ""]
          if c.get("road") else []),
    ]


def _by_mix(det: dict[str, Any]) -> str:
    """' (v1 0.984, world 0.960)': the held-out road-user recall per mix of roads, where recorded."""
    per = det.get("validation_by_mix") or {}
    return " (" + ", ".join(f"{m} {v['road_user_recall']:.3f}" for m, v in per.items()) + ")" if per else ""


def _format_segmenter(road: dict[str, Any] | None) -> list[str]:
    """The road-adherence segmenter's line of the controllability section (nothing without one)."""
    if not road:
        return []
    seg = road["segmenter"]
    val = seg["validation"]["lane_lines"]
    return [f"- road adherence: lane-line segmenter ({seg['source']}: {seg['path']}), {seg['steps']} training steps on "
            f"{seg['clips']} rendered world scenarios x {seg['instants']} frames (synth-data seed {seg['data_seed']}, "
            f"mix {seg['mix']}); on held-out rendered frames (seed {seg['validation_seed']}): lane-line recall "
            f"{format_number(val['recall'])}, precision {format_number(val['precision'])}, F1 "
            f"{format_number(val['f1'])} within {road['tolerance_px']:g} px; every {road['frame_step']} frame(s) scored",
            ""]

