"""drivesim as another simulator's camera: world states in, labelled camera frames out.

    from drivesim.bridges.world_camera import WorldCamera
    from drivesim.scenario.trajectory import read_trajectory
    with WorldCamera(header, backend="schematic") as camera:        # or "diffusion", or server="host:port"
        frames = camera.render(list(read_trajectory("drive.jsonl")))  # [ClientFrame(index, timestamp_s, image, labels)]

The one path from a simulator's world (a trajectory file, the highway-env bridge) to frames:
each `WorldState` (a session step at one timestamp) is planned into its frame's conditions by the
session converter (`ClosedLoop`, through `plan_state`) and drawn by a backend's session stepper:
- in process: the schematic backend (`SchematicGenerator`, no torch), the diffusion backend (the
  bundle's `VideoPipeline.session`, all frames of one `render` call in one session step), or any
  object with `session(header, seed=...)` such as a `VideoPipeline` or `DriveSimPipeline`;
- through a server (`server="host:port"`): one `OpenSession` step per state; the server plans it
  with the same converter and its own backend draws it.
"""

from __future__ import annotations

from typing import Any, Sequence

import yaml

from drivesim.serve.client import ClientFrame
from drivesim.errors import DrivesimError
from drivesim.scenario.format import Scenario
from drivesim.scenario.trajectory import WorldState, check_header, plan_state
from drivesim.scenario.world_state import ClosedLoop
from drivesim.sources import ScenarioSource, read_scenario

__all__ = ["WorldCamera", "header_yaml", "BACKENDS"]

BACKENDS = ("schematic", "diffusion")


def header_yaml(header: Scenario) -> str:
    """The header as scenario YAML (what a server session and OUT/header.yaml get)."""
    data = header.model_dump(mode="json", exclude={"agents"})
    if header.ego.position is not None:  # the position names the lane: the loader refuses both
        data["ego"] = {k: v for k, v in data["ego"].items() if k not in ("lane", "lateral_m")}
    return yaml.safe_dump(data, sort_keys=False)


class WorldCamera:
    """One continuous camera video of a simulator's world, rendered state by state.

    `header`: a Scenario, YAML text or a file (`drivesim.sources.read_scenario`). `backend`: "schematic",
    "diffusion" (checkpoint, device and `options`, GenerateOptions fields such as steps, as `drivesim
    generate`), or a loaded pipeline; ignored with `server` (the server's backend draws). `seed`: None ->
    the header's. `filename` and `header_file` name the files in errors.
    `stepper` is the in-process session (e.g. a PipelineSession, whose `run` has the sampler settings).
    """

    def __init__(self, header: ScenarioSource, backend: str | Any = "schematic", seed: int | None = None,
                 server: str | None = None, token: str | None = None, tls_ca: str | bytes | None = None,
                 checkpoint: str | None = None, device: str = "cpu", options: dict[str, Any] | None = None,
                 filename: str = "<world state>", header_file: str = "<header>"):
        header = read_scenario(header, header_file)
        check_header(header, header_file)
        self.header, self.filename = header, filename
        self.seed = header.seed if seed is None else int(seed)
        self._client = self._session = self.stepper = self._loop = None
        if server is not None:
            from drivesim.serve.client import DrivesimClient

            self._client = DrivesimClient(server, token=token, tls_ca=tls_ca)
            try:
                self.info = self._client.info()
                self._session = self._client.session(header_yaml(header), seed=self.seed, encoding="raw",
                                                     filename=filename)
            except BaseException:
                self._client.close()
                raise
        else:
            self._loop = ClosedLoop(header)
            self.stepper, self.info = _stepper(backend, header, self.seed, checkpoint, device, options or {})

    def render(self, states: Sequence[WorldState]) -> list[ClientFrame]:
        """The frames of these states, continuing the video: one frame each, labelled."""
        if self._session is not None:
            return [frame for state in states for frame in self._remote(state)]
        if self._loop is None:
            raise DrivesimError("this WorldCamera is closed; open a new one")
        conditions = [plan_state(self._loop, state, self.filename) for state in states]
        images = self.stepper.step(conditions) if conditions else []
        return [ClientFrame(fc.index, fc.timestamp_s, image, fc) for image, fc in zip(images, conditions, strict=True)]

    def _remote(self, state: WorldState) -> list[ClientFrame]:
        road = self.header.road
        if (state.lanes not in (None, road.lanes)) or (state.lane_width_m not in (None, road.lane_width_m)):
            where = f"{self.filename}:{state.line}: " if state.line is not None else ""
            lanes, width = state.lanes or road.lanes, state.lane_width_m or road.lane_width_m
            raise DrivesimError(f"{where}ego: the road changes to {lanes} lanes of {width:g} m; a server session's "
                                "road is fixed by its header -- render it in process instead")
        step = state.step
        return self._session.step(step.agents, {"time_of_day": step.time_of_day, "crowdedness": step.crowdedness},
                                  {"speed_mps": step.ego_speed_mps, "lateral_m": step.ego_lateral_m,
                                   "pose": step.ego_pose},
                                  timestamps_s=step.timestamps_s)

    def close(self) -> None:
        self._loop = None
        if self._session is not None:
            self._session.close()
            self._session = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> "WorldCamera":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _stepper(backend: str | Any, header: Scenario, seed: int, checkpoint: str | None, device: str,
             options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """(session stepper, info like a server's GetInfo) of an in-process backend."""
    if backend == "schematic":
        from drivesim.serve.generator import SchematicGenerator

        generator = SchematicGenerator()
        return generator.session(header, seed), dict(generator.info)
    if backend == "diffusion":
        from drivesim.serve.generator import PipelineGenerator

        generator = PipelineGenerator(checkpoint, device, options)  # resolves and loads the bundle once
        return generator.session(header, seed), dict(generator.info)
    if isinstance(backend, str):
        raise DrivesimError(f"unknown backend '{backend}'; use one of {', '.join(BACKENDS)}")
    if not hasattr(backend, "session"):
        raise DrivesimError(f"backend must be {' or '.join(BACKENDS)} or a pipeline with .session(header, seed), "
                            f"got {type(backend).__name__}")
    return backend.session(header, seed=seed), {"backend": "diffusion", "bundle": type(backend).__name__}
