"""What `drivesim eval` runs: EvalSettings, the --quick and full presets, the sections --only picks.

    python -c "from drivesim.eval.settings import EvalSettings; print(EvalSettings(quick=True).resolved())"
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivesim.errors import DrivesimError
from drivesim.eval.frechet import FeatureNetConfig
from drivesim.models.configs import BundleConfig

DRIFT_ROADS = ("winding", "straight")  # --drift-road: the drift section's long drive's road
DRIFT_UPSAMPLER = ("off", "on", "both")  # --drift-upsampler: which rollouts the drift section measures

__all__ = ["EvalSettings", "QUICK", "FULL", "STEP_CAPS", "SECTIONS", "DEFAULT_SECTIONS"]

SECTIONS = ("main", "controllability", "drift")  # --only NAME runs one of them
DEFAULT_SECTIONS = ("main", "controllability")  # without --only (drift is a long rollout: ask for it)

# Settings that --quick changes (None in EvalSettings = take them from here).
QUICK = dict(scenarios=1, feature_steps=200, max_real_clips=24, decoder_windows=6, upsampler_windows=2,
             control_scenarios=4, control_duration_s=2.0, control_frame_step=2, detector_clips=64,
             detector_steps=1000, panacea_steps=500, drift_minutes=2.0, control_world_scenarios=1,
             segmenter_clips=32, segmenter_steps=400)
FULL = dict(scenarios=2, feature_steps=400, max_real_clips=96, decoder_windows=16, upsampler_windows=3,
            control_scenarios=8, control_duration_s=4.0, control_frame_step=1, detector_clips=128,
            detector_steps=2000, panacea_steps=1000, drift_minutes=10.0, control_world_scenarios=6,
            segmenter_clips=64, segmenter_steps=800)
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
    control_scenarios: int | None = None  # controllability scenarios on straight roads (1..8), each run day and night
    control_world_scenarios: int | None = None  # then this many of the split's curve / junction / oncoming ones (0..6)
    control_duration_s: float | None = None  # of each controllability scenario
    control_frame_step: int | None = None  # score every k-th frame
    control_camera: tuple[int, int] = (512, 256)  # width, height: the visibility thresholds are for 512 wide
    detector_clips: int | None = None  # rendered scenarios the detector is trained on (4 instants each)
    detector_steps: int | None = None
    panacea_steps: int | None = None  # steps of each of the two Panacea-direction detectors
    segmenter_clips: int | None = None  # rendered world scenarios the road-adherence segmenter is trained on (4 instants each)
    segmenter_steps: int | None = None
    drift_minutes: float | None = None  # length of the long rollout of the drift section
    drift_frame_step: int = 10  # the drift section scores every k-th frame for recall
    drift_upsampler: str = "both"  # the drift rollout with the upsampler "off", "on" or "both" (one each)
    drift_road: str = "winding"  # the long drive's road: "winding" (S-bends, two-way) or "straight" (version 1's)
    interpolation_steps: int | None = None  # None: the bundle's diffusion.interpolation_steps, else `steps`
    session_steps: int | None = None  # controllability videos through closed-loop session steps of N frames
    precision: str = "auto"  # the networks' arithmetic (GenerateOptions.precision)
    student: bool = False  # the bundle's few-step students sample every generated video (GenerateOptions.student)
    split: str = "validation"  # controllability scenarios: "validation" (choices are made here) or "test"
    repeats: int = 1  # controllability: each scenario run with this many seeds (run-to-run spread)

    def resolved(self) -> "EvalSettings":
        preset = QUICK if self.quick else FULL
        filled = {k: v if getattr(self, k) is None else getattr(self, k) for k, v in preset.items()}
        out = dataclasses.replace(self, **filled)
        for name in ("steps", "sr_steps", "scenarios", "feature_steps", "max_real_clips", "decoder_windows",
                     "upsampler_windows", "control_scenarios", "control_frame_step", "detector_clips",
                     "detector_steps", "panacea_steps", "session_steps", "interpolation_steps", "segmenter_clips",
                     "segmenter_steps"):
            if getattr(out, name) is not None and getattr(out, name) < 1:
                raise DrivesimError(f"eval: {name.replace('_', '-')} must be >= 1, got {getattr(out, name)}")
        if not 0 < out.drift_minutes <= 60 or out.drift_frame_step < 1:
            raise DrivesimError(f"eval: --drift-minutes must be in (0, 60] (got {out.drift_minutes}) and the drift "
                                f"frame step >= 1 (got {out.drift_frame_step})")
        if out.control_world_scenarios < 0:
            raise DrivesimError(f"eval: control-world-scenarios must be >= 0, got {out.control_world_scenarios}")
        if out.split not in ("validation", "test"):
            raise DrivesimError(f"eval: --split takes validation or test, got {out.split!r}")
        if not 1 <= out.repeats <= 10:
            raise DrivesimError(f"eval: --repeats must be in 1..10, got {out.repeats}")
        if out.drift_upsampler not in DRIFT_UPSAMPLER:
            raise DrivesimError(f"eval: --drift-upsampler takes off, on or both, got {out.drift_upsampler!r}")
        if out.drift_road not in DRIFT_ROADS:
            raise DrivesimError(f"eval: --drift-road takes winding or straight, got {out.drift_road!r}")
        if out.control_duration_s <= 0:
            raise DrivesimError(f"eval: the controllability scenarios need a duration > 0 s, got {out.control_duration_s}")
        if out.only is not None and out.only not in SECTIONS:
            raise DrivesimError(f"eval: unknown section '{out.only}'; --only takes one of {', '.join(SECTIONS)}")
        if self.context_guidance <= 1.0:
            raise DrivesimError(f"eval: the context-guidance scale must be > 1, got {self.context_guidance}")
        return out

    def with_steps(self, config: BundleConfig) -> "EvalSettings":
        """Steps and sr-steps resolved against a BundleConfig: given ones, else the bundle's, capped."""
        cap, sr_cap = STEP_CAPS["quick" if self.quick else "full"]
        return dataclasses.replace(
            self, steps=self.steps or min(config.diffusion.num_inference_steps, cap),
            sr_steps=self.sr_steps or min(config.upsampler_diffusion.num_inference_steps, sr_cap))

    def to_json(self) -> dict[str, Any]:
        """report.json's "settings": every field, paths as strings."""
        data = dataclasses.asdict(self)
        data["features_weights"] = str(self.features_weights) if self.features_weights else None
        return data
