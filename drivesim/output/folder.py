"""The OUT folder of `drivesim generate`: frames as PNG, video.mp4, overlay.mp4, labels.jsonl, manifest.json.

    drivesim generate scenarios/night_merge.yaml -o out/night_merge --steps 8
    drivesim generate scenarios/night_merge.yaml -o out/night_merge_render --source render
    OUT/frames/000000.png ...   lossless RGB frames, named by frame index
    OUT/video.mp4               H.264 yuv420p at the scenario's fps (plays in common players)
    OUT/overlay.mp4             the same video with the boxes, track ids and lane lines drawn
    OUT/labels.jsonl            one line per frame, byte-identical to `drivesim plan`
    OUT/manifest.json           source, scenario and checkpoint sha256, seed, sampler settings, versions, timings
                                (--source render: the procedural renderer's frames, checkpoint null)

manifest.json's `road` says whether the road is a straight one-way road (`is_straight_road`) and, on any
other road (bends, junctions, oncoming lanes, a road read from OpenDRIVE), what draws it: a bundle whose
keyframe model reads the road network's maps (11 layout channels, `BundleConfig.draws_road_network`; the shipped default)
draws the layout the labels follow (`{"straight": false, "drawn_from": "road network"}`); a bundle of
version 1's 6 channels has learned straight one-way roads only, so `generate` warns once on stderr and
records the warning (`{"straight": false, "warning": ...}`). `--source render` draws any road from the
network model.

Everything is written into a hidden temporary folder beside OUT and renamed to OUT at the end,
so an interrupted run leaves no half-written OUT (a previous OUT is replaced only then).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drivesim.errors import DrivesimError
from drivesim.draw.overlay import draw_boxes, draw_lane_lines
from drivesim.scenario.variants import with_time_of_day

__all__ = ["OutputFolder", "VideoWriter", "check_output_folder", "file_sha256", "generate_folder", "generated_scenario",
           "MANIFEST"]

MANIFEST = "manifest.json"


class VideoWriter:
    """RGB frames -> mp4: H.264 yuv420p through imageio-ffmpeg's ffmpeg (raw frames on a pipe);
    OpenCV's mp4v where that is unavailable. Odd sizes are padded by one edge pixel (4:2:0 needs even)."""

    def __init__(self, path: Path, width: int, height: int, fps: float):
        self.path, self.size = Path(path), (width + width % 2, height + height % 2)
        try:
            import imageio_ffmpeg

            self._pipe = imageio_ffmpeg.write_frames(
                str(self.path), self.size, fps=fps, codec="libx264", pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
                quality=None, macro_block_size=1, ffmpeg_log_level="error",
                output_params=["-crf", "18", "-preset", "medium", "-movflags", "+faststart"])
            self._pipe.send(None)  # starts ffmpeg
            self.codec, self._cv = "h264", None
        except (ImportError, RuntimeError, OSError):
            self._pipe = None
            self._cv = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), fps, self.size)
            if not self._cv.isOpened():
                raise DrivesimError(f"cannot write {self.path}: neither imageio-ffmpeg nor OpenCV can encode mp4; "
                                    "pip install imageio-ffmpeg")
            self.codec = "mp4v"

    def write(self, image_rgb: np.ndarray) -> None:
        h, w = image_rgb.shape[:2]
        if (w, h) != self.size:
            image_rgb = np.pad(image_rgb, ((0, self.size[1] - h), (0, self.size[0] - w), (0, 0)), mode="edge")
        if self._pipe is not None:
            self._pipe.send(np.ascontiguousarray(image_rgb))
        else:
            self._cv.write(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()  # flushes and waits for ffmpeg
            self._pipe = None
        if self._cv is not None:
            self._cv.release()
            self._cv = None


def check_output_folder(out: Path) -> None:
    """OUT may be new, empty, or an earlier drivesim output (replaced at the end); anything else is refused."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DrivesimError(f"-o {out} is a file; pass a folder path for the output")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise DrivesimError(f"-o {out} exists and is not a drivesim output folder (it has no {MANIFEST}); "
                            "pass a new folder, or empty it first")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class OutputFolder:
    """Context manager: `write` each frame, `commit` the manifest; leaving without commit removes it all."""

    def __init__(self, out: Path, width: int, height: int, fps: float, overlay: bool = True, lanes: Any = None):
        """`lanes`: the run's `ScenarioLanes` (one per run: it samples the road once), whose lane lines the
        overlay draws under the boxes; None draws boxes only."""
        self.out = Path(out)
        check_output_folder(self.out)
        self.width, self.height, self.fps, self.overlay, self.lanes = width, height, fps, overlay, lanes
        self.frames_written = 0
        self.write_seconds = 0.0
        self._tmp: Path | None = None

    def __enter__(self) -> "OutputFolder":
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.partial-", dir=self.out.parent))
        (self._tmp / "frames").mkdir()
        self._video = VideoWriter(self._tmp / "video.mp4", self.width, self.height, self.fps)
        self._overlay = (VideoWriter(self._tmp / "overlay.mp4", self.width, self.height, self.fps)
                         if self.overlay else None)
        self._labels = open(self._tmp / "labels.jsonl", "w", encoding="utf-8", newline="\n")
        return self

    @property
    def video_codec(self) -> str:
        return self._video.codec

    def add_file(self, name: str, text: str) -> None:
        """A sink's own extra file (e.g. header.yaml), written into OUT with the frames at commit."""
        self.extra_path(name).write_text(text, encoding="utf-8", newline="\n")

    def extra_path(self, name: str) -> Path:
        """Where a sink writes its own extra file (e.g. ground_truth.osi): inside OUT once committed."""
        if Path(name).name != name or name in ("frames", "video.mp4", "overlay.mp4", "labels.jsonl", MANIFEST):
            raise ValueError(f"{name!r} is not a free file name in the output folder")
        return self._tmp / name

    def write(self, frame: Any) -> None:
        """One GeneratedFrame: PNG, a video frame, an overlay frame and its labels line."""
        start = time.perf_counter()
        image = frame.image
        if image.shape[:2] != (self.height, self.width):
            raise ValueError(f"frame {frame.index} is {image.shape[1]}x{image.shape[0]}, "
                             f"expected {self.width}x{self.height}")
        png = self._tmp / "frames" / f"{frame.index:06d}.png"
        if not cv2.imwrite(str(png), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
            raise DrivesimError(f"cannot write PNG frames into {self._tmp}; check the disk space")
        self._video.write(image)
        if self._overlay is not None:
            shown = image
            if self.lanes is not None:
                shown = draw_lane_lines(shown, self.lanes.labels(frame.labels)[0])
            self._overlay.write(draw_boxes(shown, frame.labels.boxes))
        self._labels.write(json.dumps(frame.labels.to_json()) + "\n")  # the `drivesim plan` line format
        self.frames_written += 1
        self.write_seconds += time.perf_counter() - start

    def commit(self, manifest: dict[str, Any]) -> Path:
        """Close the writers, write manifest.json, then move the folder to OUT (replacing an earlier output)."""
        self._close()
        text = json.dumps({**manifest, "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")},
                          indent=2) + "\n"
        (self._tmp / MANIFEST).write_text(text, encoding="utf-8")
        check_output_folder(self.out)  # it may have changed while we were generating
        old = None
        if self.out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.old-", dir=self.out.parent))
            os.replace(self.out, old / "out")
        os.replace(self._tmp, self.out)
        self._tmp = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.out

    def _close(self) -> None:
        self._labels.close()
        self._video.close()
        if self._overlay is not None:
            self._overlay.close()

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._tmp is not None:  # not committed: an error or an interrupt
            try:
                self._close()
            finally:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None


SOURCES = ("diffusion", "render")  # `drivesim generate --source`
# GenerateOptions fields that only the diffusion source reads, with their defaults (--source render refuses others)
MODEL_ONLY = {"steps": None, "sr_steps": None, "interpolation_steps": None, "sampler": None, "guidance": None,
              "context_guidance": 1.0, "image_only": False, "super_resolution": None, "compile": False}


OSI_TRACE = "ground_truth.osi"  # `generate --osi`
UNLEARNED_ROAD = ("this bundle's video model has not learned curved roads, junctions or oncoming traffic (it reads "
                  "version 1's straight-road layout, 6 channels, and has seen straight one-way roads only), so the "
                  "frames will not show this road's layout; the labels (boxes, lane lines, world poses) follow it. A "
                  "bundle with the road network's maps (11 layout channels, as the shipped default) draws it, "
                  "`--source render` draws frames of this road with the procedural renderer, and `drivesim preview` "
                  "shows its layout")


def road_record(scenario: Any, source: str, draws_road_network: bool = False) -> dict[str, Any]:
    """manifest.json's `road`: whether it is a straight one-way road, what draws any other road, and the
    warning when the frames cannot show it. draws_road_network: the bundle's (`BundleConfig.draws_road_network`)
    for source "diffusion"; the procedural renderer draws any road from the network model."""
    from drivesim.scenario.network import is_straight_road

    if is_straight_road(scenario):
        return {"straight": True}
    if source == "render" or draws_road_network:
        return {"straight": False, "drawn_from": "road network"}
    return {"straight": False, "warning": f"scenario '{scenario.name}': {UNLEARNED_ROAD}"}


def generate_folder(scenario_path: Path, out: Path, checkpoint: Path | None, options: Any,
                    source: str = "diffusion", osi: bool = False, time_of_day: str | None = None) -> dict[str, Any]:
    """`drivesim generate`: stream the scenario's frames into OUT; returns the manifest.
    source "diffusion": the bundle's Video LDM; "render": the procedural renderer (no bundle read).
    time_of_day: the scenario at this time of day throughout (`with_time_of_day`), recorded in the manifest.
    osi: also OUT/ground_truth.osi, every frame's world as an OSI GroundTruth trace (drivesim/standards/osi.py)."""
    import torch
    from tqdm.auto import tqdm

    from drivesim import __version__
    from drivesim.pipeline.generate import RenderPipeline, VideoPipeline, load_checkpoint
    from drivesim.sources import read_scenario

    start = time.perf_counter()
    if source not in SOURCES:
        raise DrivesimError(f"unknown frame source '{source}'; use --source {' or --source '.join(SOURCES)}")
    if source == "render":
        given = [k for k, default in MODEL_ONLY.items() if getattr(options, k) != default]
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            raise DrivesimError(f"{flags} only apply to --source diffusion (the renderer has no model); drop them")
    from drivesim.scenario.lane_frames import ScenarioLanes

    scenario = read_scenario(Path(scenario_path))  # a path, never YAML text
    if time_of_day is not None:
        scenario = with_time_of_day(scenario, time_of_day)
    check_output_folder(Path(out))  # fail before the slow part
    if source == "render":
        bundle, pipeline = None, RenderPipeline(options)
    else:
        bundle = load_checkpoint(checkpoint, options.device)
        pipeline = VideoPipeline(bundle, options)
    road = road_record(scenario, source, bundle is not None and bundle.config.draws_road_network)
    if "warning" in road:  # before the slow part
        print(f"warning: {road['warning']}", file=sys.stderr)
    cam = scenario.camera
    lanes = ScenarioLanes(scenario, options.seed)
    with OutputFolder(Path(out), cam.width, cam.height, scenario.fps, lanes=lanes) as folder:
        trace = None
        if osi:
            from drivesim.standards.osi import GroundTruthTrace

            trace = GroundTruthTrace(folder.extra_path(OSI_TRACE), scenario, options.seed)
        with tqdm(total=scenario.num_frames, desc="write", unit="frame", position=4,
                  disable=not options.progress, dynamic_ncols=True) as bar:
            for frame in pipeline.frames(scenario):
                folder.write(frame)
                if trace is not None:
                    trace.add(frame.labels)
                bar.update(1)
        if trace is not None:
            trace.close()
        common = {
            "scenario": {"name": scenario.name, "path": str(scenario_path), "sha256": file_sha256(Path(scenario_path)),
                         **({"time_of_day": time_of_day} if time_of_day is not None else {})},
            "source": source,
            "frames": folder.frames_written, "fps": scenario.fps, "width": cam.width, "height": cam.height,
            "video_codec": folder.video_codec, "road": road,
            **({"osi_trace": OSI_TRACE} if osi else {}),
        }
        versions = {"drivesim": __version__, "torch": torch.__version__, "numpy": np.__version__,
                    "opencv": cv2.__version__}
        total = {"write": round(folder.write_seconds, 4), "total": round(time.perf_counter() - start, 4)}
        if bundle is None:
            seed = scenario.seed if options.seed is None else int(options.seed)
            manifest = {**common, "checkpoint": None, "seed": seed, "versions": versions, "timings_s": total}
        else:
            manifest = {**common, **model_manifest(pipeline, bundle, checkpoint, scenario),
                        "versions": {**versions, "diffusers": diffusers_version()},
                        "timings_s": {**pipeline.run.timings.as_dict(), **total}}
        folder.commit(manifest)
    return manifest


def generated_scenario(out: Path) -> tuple[Any, int | None]:
    """The scenario and seed that made a `drivesim generate` OUT folder, read back from the file its manifest names
    (as given to generate: relative to the folder generate ran in, tried from here, or beside OUT) and checked
    against the recorded sha256, so the lane lines drawn over the frames are those of the run."""
    from drivesim.sources import read_scenario

    manifest_path = Path(out) / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
        record, seed = manifest["scenario"], manifest.get("seed")
        recorded = Path(record["path"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DrivesimError(f"{manifest_path}: no readable manifest with the scenario's path ({err}); generate "
                            f"{out} again with `drivesim generate`") from None
    candidates = [recorded] if recorded.is_absolute() else [recorded, Path(out).resolve().parent / recorded]
    path = next((c for c in candidates if c.is_file()), None)
    if path is None:
        raise DrivesimError(f"{out}: the scenario {recorded} its manifest names is not found (looked at "
                            f"{', '.join(str(c) for c in candidates)}); run from the folder generate ran in")
    if file_sha256(path) != record.get("sha256"):
        raise DrivesimError(f"{out}: {path} has changed since it generated these frames (sha256 differs); "
                            f"generate {out} again")
    scenario = read_scenario(path)
    if record.get("time_of_day") is not None:
        scenario = with_time_of_day(scenario, record["time_of_day"])
    return scenario, seed


def model_manifest(pipeline: Any, bundle: Any, checkpoint: Path, scenario: Any) -> dict[str, Any]:
    """The diffusion source's manifest entries: bundle, seed and sampler settings as resolved by the run."""
    from drivesim.models.bundle import bundle_sha256
    from drivesim.pipeline.rollout import choose_keyframe_stride
    from drivesim.pipeline.options import arithmetic_record

    run, cfg, options = pipeline.run, bundle.config, pipeline.options  # options with the bundle's defaults
    stride = choose_keyframe_stride(cfg, scenario.fps, options.image_only)
    return {
        "checkpoint": {"path": str(checkpoint), "sha256": bundle_sha256(checkpoint), "config": cfg.name},
        "seed": run.seed, "steps": run.steps, "sr_steps": run.sr_steps if options.super_resolution else None,
        "interpolation_steps": run.interpolation_steps if stride > 1 else None,
        "sampler": run.sampler, "guidance": run.guidance, "context_guidance": options.context_guidance,
        "image_only": options.image_only, "super_resolution": options.super_resolution,
        "device": options.device, "compile": options.compile, "model_frame_size": list(cfg.frame_size),
        "keyframe_stride": stride, "arithmetic": arithmetic_record(options.device, options.precision, options.student),
        "students": run.student_record(),  # --student: which models' students sampled (None: the teachers)
    }


def diffusers_version() -> str:
    import diffusers

    return diffusers.__version__
