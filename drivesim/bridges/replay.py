"""Trajectory replay: `--trajectory FILE` of `drivesim plan`, `preview`, `generate` and `export`.

    drivesim plan     header.yaml --trajectory drive.jsonl -o out/labels.jsonl
    drivesim preview  header.yaml --trajectory drive.jsonl -o out/preview.png
    drivesim generate header.yaml --trajectory drive.jsonl -o out/drive
    drivesim export   header.yaml --trajectory drive.jsonl -o out/dataset --source schematic

The header (a scenario YAML without agents or events) gives the camera, fps, seed, road and start
environment; the trajectory (docs/trajectory-format.md) gives every frame's world, at most
`max_agents_per_line` actors a line (`--max-agents-per-line`, default MAX_AGENTS_PER_STEP). Frames come
from `WorldCamera`, the same path as the highway-env bridge; the sinks are the ones of scenarios
(`OutputFolder`, the dataset exporter, the preview picture).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from drivesim.errors import DrivesimError
from drivesim.scenario.format import Agent, Ego, Scenario
from drivesim.scenario.labels import FrameConditions
from drivesim.scenario.step_limits import MAX_AGENTS_PER_STEP
from drivesim.scenario.trajectory import (Trajectory, WorldState, check_frame_rate, check_header, read_trajectory,
                                          trajectory_conditions)

__all__ = ["load_replay", "replay_frames", "write_plan", "generate_trajectory_folder", "trajectory_clip",
           "trajectory_source", "write_trajectory_preview"]

# States per in-process session step. Steps end on frames 16, 32, ...: keyframes of every stride
# (1, 4, 16), so the session never samples a provisional keyframe (docs/pipeline.md).
CHUNK_FRAMES = 16


def load_replay(header_path: str | Path, trajectory_path: str | Path, seed: int | None = None,
                max_agents_per_line: int = MAX_AGENTS_PER_STEP) -> tuple[Scenario, Trajectory]:
    """The checked header (seed overridden if given) and trajectory; every problem of both is reported."""
    from drivesim.sources import read_scenario

    header = read_scenario(Path(header_path))  # a path, never YAML text
    check_header(header, str(header_path))
    trajectory = read_trajectory(trajectory_path, max_agents_per_line)
    check_frame_rate(header, trajectory, str(header_path))
    if seed is not None:
        header = header.model_copy(update={"seed": int(seed)})
    return header, trajectory


def replay_frames(trajectory: Iterable[WorldState], camera: Any, chunk: int = CHUNK_FRAMES) -> Iterator[Any]:
    """Each state's frame (ClientFrame: index, timestamp_s, image, labels) from a WorldCamera, in order,
    rendered in steps that end on frames chunk, 2 chunk, ..."""
    batch: list[WorldState] = []
    for index, state in enumerate(trajectory):
        batch.append(state)
        if index % chunk == 0 and index > 0:
            yield from camera.render(batch)
            batch = []
    if batch:
        yield from camera.render(batch)


def write_plan(header_path: str | Path, trajectory_path: str | Path, out: str | Path, seed: int | None = None,
               max_agents_per_line: int = MAX_AGENTS_PER_STEP) -> int:
    """`drivesim plan --trajectory`: the labels.jsonl lines of the replay (no frames); returns the count."""
    from drivesim.output.files import atomic_write_text

    header, trajectory = load_replay(header_path, trajectory_path, seed, max_agents_per_line)
    lines = [json.dumps(fc.to_json()) for fc in trajectory_conditions(header, trajectory, trajectory.path)]
    atomic_write_text(Path(out), "\n".join(lines) + "\n")
    return len(lines)


# --- generate --------------------------------------------------------------------------------

def generate_trajectory_folder(header_path: Path, trajectory_path: Path, out: Path, checkpoint: Path | None,
                               options: Any, source: str = "diffusion",
                               max_agents_per_line: int = MAX_AGENTS_PER_STEP) -> dict[str, Any]:
    """`drivesim generate --trajectory`: the replay's frames into OUT (the layout of `generate`)."""
    import cv2
    import torch
    from tqdm.auto import tqdm

    from drivesim import __version__
    from drivesim.output.folder import (OutputFolder, diffusers_version, model_manifest, check_output_folder,
                                        file_sha256)
    from drivesim.pipeline.generate import VideoPipeline, load_checkpoint
    from drivesim.bridges.world_camera import WorldCamera

    start = time.perf_counter()
    if source != "diffusion":
        raise DrivesimError(f"--source {source} draws scenarios; a trajectory's frames come from --source diffusion "
                            "(for a quick dry run: drivesim export HEADER --trajectory FILE --source schematic)")
    header, trajectory = load_replay(header_path, trajectory_path, options.seed, max_agents_per_line)
    check_output_folder(Path(out))  # fail before the slow part
    bundle = load_checkpoint(checkpoint, options.device)
    pipeline = VideoPipeline(bundle, options)
    cam = header.camera
    with WorldCamera(header, pipeline, filename=trajectory.path, header_file=str(header_path)) as camera, \
            OutputFolder(Path(out), cam.width, cam.height, header.fps) as folder:
        with tqdm(total=len(trajectory), desc="write", unit="frame", disable=not options.progress,
                  dynamic_ncols=True) as bar:
            for frame in replay_frames(trajectory, camera):
                folder.write(frame)
                bar.update(1)
        session = camera.stepper  # its run holds the resolved sampler settings and timings
        run_view = _RunView(session.run, pipeline.options)
        manifest = {
            "scenario": {"name": header.name, "path": str(header_path), "sha256": file_sha256(Path(header_path))},
            "trajectory": {"path": str(trajectory_path), "sha256": file_sha256(Path(trajectory_path)),
                           "first_s": trajectory.first_s, "last_s": trajectory.last_s},
            "source": source, "frames": folder.frames_written, "fps": header.fps, "width": cam.width,
            "height": cam.height, "video_codec": folder.video_codec,
            **model_manifest(run_view, bundle, checkpoint, header),
            "versions": {"drivesim": __version__, "torch": torch.__version__, "numpy": np.__version__,
                         "opencv": cv2.__version__, "diffusers": diffusers_version()},
            "timings_s": {**session.run.timings.as_dict(), "write": round(folder.write_seconds, 4),
                          "total": round(time.perf_counter() - start, 4)},
        }
        folder.commit(manifest)
    return manifest


class _RunView:
    """What the generate manifest reads of a pipeline (`run`, `options`), for a session's run."""

    def __init__(self, run: Any, options: Any):
        self.run, self.options = run, options


# --- export ----------------------------------------------------------------------------------

def trajectory_clip(header_path: str | Path, trajectory_path: str | Path, seed: int | None = None,
                    max_agents_per_line: int = MAX_AGENTS_PER_STEP) -> Any:
    """The one clip of `drivesim export --trajectory`: the header as its scenario, as long as the trajectory."""
    from drivesim.export.dataset import ClipSpec, safe_clip_id
    from drivesim.output.folder import file_sha256

    header, trajectory = load_replay(header_path, trajectory_path, seed, max_agents_per_line)
    # Exactly len(trajectory) frames at the header's fps (the exporter counts them); model_copy keeps
    # the header's checks, a long trajectory may outlast the 3600 s a scenario file allows.
    scenario = header.model_copy(update={"duration_s": len(trajectory) / header.fps})
    digest = hashlib.sha256((file_sha256(Path(header_path)) + file_sha256(Path(trajectory_path))).encode())
    return ClipSpec(safe_clip_id(Path(trajectory_path).stem), scenario,
                    f"{Path(header_path).as_posix()} --trajectory {Path(trajectory_path).as_posix()}",
                    digest.hexdigest())


def trajectory_source(kind: str, trajectory_path: str | Path, checkpoint: str | Path | None = None,
                      device: str | None = None, max_agents_per_line: int = MAX_AGENTS_PER_STEP) -> tuple[Any, str]:
    """(FrameSource replaying the trajectory for the clip's scenario and seed, source id for the plan)."""
    from drivesim.export.dataset import SCHEMATIC_SOURCE_ID
    from drivesim.bridges.world_camera import WorldCamera

    if kind == "schematic":
        backend, source_id = "schematic", SCHEMATIC_SOURCE_ID
    elif kind == "diffusion":
        from drivesim.models.checkpoint import resolve_checkpoint
        from drivesim.models.bundle import bundle_sha256
        from drivesim.pipeline import GenerateOptions, VideoPipeline, load_checkpoint

        bundle = resolve_checkpoint(checkpoint)
        backend = VideoPipeline(load_checkpoint(bundle, device or "cpu"),
                                GenerateOptions(progress=False, device=device or "cpu"))
        source_id = f"bundle:{bundle_sha256(bundle)}"
    else:
        raise DrivesimError(f"--source {kind} draws scenarios; export a trajectory with --source diffusion or "
                            "--source schematic")
    trajectory = read_trajectory(trajectory_path, max_agents_per_line)

    def source(scenario: Scenario, seed: int) -> Iterator[tuple[np.ndarray, FrameConditions]]:
        with WorldCamera(scenario, backend, seed, filename=trajectory.path) as camera:
            for frame in replay_frames(trajectory, camera):
                yield frame.image, frame.labels

    return source, source_id


# --- preview ---------------------------------------------------------------------------------

def write_trajectory_preview(header_path: str | Path, trajectory_path: str | Path, out: str | Path,
                             seed: int | None = None, max_agents_per_line: int = MAX_AGENTS_PER_STEP) -> np.ndarray:
    """`drivesim preview --trajectory`: the scenario preview's picture of the replay (bird's-eye tracks,
    four camera views with their boxes)."""
    from drivesim.draw.preview import NUM_VIEWS, render_preview, view_indices

    header, trajectory = load_replay(header_path, trajectory_path, seed, max_agents_per_line)
    view = TrajectoryView(header, trajectory, view_indices(len(trajectory), NUM_VIEWS))
    return render_preview(view.scenario, Path(out), engine=view)


class TrajectoryView:
    """A replayed trajectory behind the part of ScenarioEngine's interface the preview reads:
    its frames' conditions at the views, and each actor's (lateral_m, distance_m) over time."""

    def __init__(self, header: Scenario, trajectory: Trajectory, views: list[int]):
        from drivesim.scenario.camera import PinholeCamera
        from drivesim.scenario.trajectory import plan_state
        from drivesim.scenario.world_state import ClosedLoop

        self.camera = PinholeCamera.from_config(header.camera)
        self.seed, self.num_frames, self.fps = header.seed, len(trajectory), header.fps
        self._frames: dict[int, FrameConditions] = {}
        self._tracks: dict[str, tuple[list[float], list[float], list[float]]] = {}  # id -> (t, lateral, z)
        actors: dict[str, Agent] = {}
        loop = ClosedLoop(header)
        ego: tuple[float, float] | None = None  # first (lateral_m, speed_mps)
        for k, state in enumerate(trajectory):
            fc = plan_state(loop, state, trajectory.path)
            if k in views:
                self._frames[k] = fc
            ego = ego or (loop.ego_lateral_m, loop.ego_speed_mps)
            for a in state.step.agents:
                lateral = a.lateral_m if a.lateral_m is not None else a.x_m + loop.ego_lateral_m
                track = self._tracks.setdefault(a.id, ([], [], []))
                for values, v in zip(track, (state.timestamp_s, lateral, a.distance_m)):
                    values.append(v)
                # the actor as the preview lists it: its first state (no validation: lateral_m may be anywhere)
                actors.setdefault(a.id, Agent.model_construct(id=a.id, type=a.type, lateral_m=lateral, lane=None,
                                                              distance_m=a.distance_m, speed_mps=a.speed_mps,
                                                              size_m=a.size_m, actions=[]))
        self.ego_lateral_m = ego[0]
        lane = int(np.clip(ego[0] // header.road.lane_width_m, 0, header.road.lanes - 1))
        # The bird's-eye view runs from t = 0 to the last frame: the duration ends one frame after it.
        self.scenario = header.model_copy(update={
            "duration_s": trajectory.last_s + 1.0 / header.fps, "agents": list(actors.values()),
            "ego": Ego.model_construct(lane=lane, speed_mps=ego[1])})

    def frame(self, index: int) -> FrameConditions:
        return self._frames[index]

    def agent_states(self, t: float) -> list:
        return []  # a trajectory has no background traffic: every actor is named

    def named_trajectory(self, agent_id: str, t: np.ndarray) -> tuple[np.ndarray, ...]:
        """(lateral_m, z_m, nan, nan) at times t, interpolated between the actor's frames; NaN where it is absent."""
        times, lateral, z = (np.asarray(v, float) for v in self._tracks[agent_id])
        t = np.atleast_1d(np.asarray(t, float))
        absent = (t < times[0] - 1e-9) | (t > times[-1] + 1e-9)
        out = [np.where(absent, np.nan, np.interp(t, times, v)) for v in (lateral, z)]
        return out[0], out[1], np.full(t.shape, np.nan), np.full(t.shape, np.nan)
