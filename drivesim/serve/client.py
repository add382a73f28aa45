"""Python client for a `drivesim serve` server: a simulation loop uses it in three lines.

    from drivesim.serve.client import DrivesimClient
    with DrivesimClient("localhost:50051", token=None) as c:
        for frame in c.generate(open("scenarios/lead_brake.yaml").read()):
            print(frame.index, frame.timestamp_s, frame.image.shape, [b.track_id for b in frame.boxes])

Closed loop (see examples/closed_loop.py):

    with c.session(header_yaml) as s:
        frames = s.step([{"id": "lead", "type": "car", "lateral_m": 5.25, "distance_m": 20, "speed_mps": 8}])

Failures raise `ServerError` (a DrivesimError) carrying the gRPC status code and the
server's message, e.g. every located issue of an invalid scenario.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import drivesim.serve  # noqa: F401,I001 - first: sets gRPC's fork option before grpc loads
import grpc
import numpy as np

from drivesim.errors import DrivesimError
from drivesim.scenario.labels import Box, FrameConditions
from drivesim.serve import convert
from drivesim.serve.proto import drivesim_pb2 as pb
from drivesim.serve.proto import drivesim_pb2_grpc as pb_grpc
from drivesim.scenario.world_state import StepAgent

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class ServerError(DrivesimError):
    """A call the server refused or failed; `code` is the grpc.StatusCode."""

    def __init__(self, code: grpc.StatusCode, details: str):
        self.code, self.details = code, details
        super().__init__(f"server answered {code.name}: {details}")


@dataclass(frozen=True)
class ClientFrame:
    index: int
    timestamp_s: float
    image: np.ndarray  # (height, width, 3) RGB uint8
    labels: FrameConditions  # the frame's ground truth: environment + boxes (a labels.jsonl line)

    @property
    def boxes(self) -> tuple[Box, ...]:
        return self.labels.boxes


def _frame(msg: pb.Frame) -> ClientFrame:
    return ClientFrame(index=msg.index, timestamp_s=msg.timestamp_s, image=convert.decode_image(msg),
                       labels=convert.conditions_from_proto(msg))


def _server_error(err: grpc.RpcError) -> ServerError:
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = err.details() if hasattr(err, "details") else str(err)
    return ServerError(code, details or "")


class DrivesimClient:
    def __init__(self, target: str = "localhost:50051", token: str | None = None,
                 tls_ca: str | Path | bytes | None = None, tls: bool = False,
                 timeout_s: float | None = None, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES):
        """`tls_ca`: the server's CA certificate (PEM path or bytes), or `tls=True` for the system roots;
        `timeout_s`: deadline of each call (for Generate, of the whole stream); None = no deadline."""
        options = [("grpc.max_send_message_length", max_message_bytes),
                   ("grpc.max_receive_message_length", max_message_bytes)]
        if tls_ca is not None or tls:
            ca = Path(tls_ca).read_bytes() if isinstance(tls_ca, (str, Path)) else tls_ca
            self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=ca), options)
        else:
            self._channel = grpc.insecure_channel(target, options)
        self.target = target
        self._stub = pb_grpc.SimulatorStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout_s = timeout_s

    # --- calls ---------------------------------------------------------------------------------

    def generate(self, scenario_yaml: str, seed: int | None = None, encoding: str = "png",
                 filename: str = "", **overrides: Any) -> Iterator[ClientFrame]:
        """Frames as the server produces them. Overrides: duration_s, fps, time_of_day, crowdedness.

        Leaving the loop early (break, exception) cancels the call, which stops the generation.
        """
        request = pb.GenerateRequest(scenario_yaml=scenario_yaml, encoding=convert.encoding_value(encoding),
                                     filename=filename, overrides=_overrides(overrides))
        if seed is not None:
            request.seed = convert.check_seed(seed, "seed")
        call = self._stub.Generate(request, metadata=self._metadata, timeout=self.timeout_s)
        try:
            for msg in call:
                yield _frame(msg)
        except grpc.RpcError as err:
            raise _server_error(err) from None
        finally:
            call.cancel()  # no-op once the stream has completed

    def validate(self, scenario_yaml: str, filename: str = "") -> list[Any]:
        """Every issue of the scenario (`ScenarioIssue`s); empty when it is valid."""
        try:
            response = self._stub.ValidateScenario(pb.ValidateRequest(scenario_yaml=scenario_yaml, filename=filename),
                                                   metadata=self._metadata, timeout=self.timeout_s)
        except grpc.RpcError as err:
            raise _server_error(err) from None
        return [convert.issue_from_proto(i) for i in response.issues]

    def info(self) -> dict[str, Any]:
        try:
            msg = self._stub.GetInfo(pb.GetInfoRequest(), metadata=self._metadata, timeout=self.timeout_s)
        except grpc.RpcError as err:
            raise _server_error(err) from None
        limits = msg.limits
        return {"backend": msg.backend, "bundle": msg.bundle, "bundle_hash": msg.bundle_hash,
                "native_width": msg.native_width, "native_height": msg.native_height,
                "limits": {f.name: getattr(limits, f.name) for f in limits.DESCRIPTOR.fields},
                "versions": dict(msg.versions), "arithmetic": dict(msg.arithmetic)}

    def session(self, header_yaml: str, seed: int | None = None, encoding: str = "raw",
                filename: str = "") -> "Session":
        """Opens a closed-loop session; the header's camera, road, ego and environment apply."""
        header = pb.SessionHeader(scenario_yaml=header_yaml, encoding=convert.encoding_value(encoding),
                                  filename=filename)
        if seed is not None:
            header.seed = convert.check_seed(seed, "seed")
        return Session(self._stub, header, self._metadata)

    # --- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "DrivesimClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Session:
    """One OpenSession call: `step()` sends the world's state and returns that step's frames."""

    _END = object()

    def __init__(self, stub: pb_grpc.SimulatorStub, header: pb.SessionHeader, metadata: tuple):
        self._requests: queue.Queue = queue.Queue()
        self._requests.put(pb.SessionRequest(header=header))
        self._call = stub.OpenSession(iter(self._requests.get, self._END), metadata=metadata)
        first = self._next()
        if first is None or first.WhichOneof("kind") != "ready":
            self.close()
            raise DrivesimError("the server did not acknowledge the session header")
        self.session_id = first.ready.session_id
        self.width, self.height, self.fps = first.ready.width, first.ready.height, first.ready.fps

    def step(self, agents: Iterable[StepAgent | Mapping[str, Any]], environment: Mapping[str, Any] | None = None,
             ego: Mapping[str, Any] | None = None, timestamps_s: Iterable[float] = (),
             num_frames: int = 1) -> list[ClientFrame]:
        """Renders one step. agents: StepAgents or dicts (id, type, lateral_m or x_m, distance_m,
        speed_mps, heading_rad, size_m); environment: {time_of_day, crowdedness}; ego: {speed_mps,
        lateral_m}; unset values keep the previous step's."""
        msg = convert.step_to_proto(agents, environment, ego, timestamps_s, num_frames)
        self._requests.put(pb.SessionRequest(step=msg))
        frames = []
        while True:
            response = self._next()
            if response is None:
                raise DrivesimError("the server ended the session in the middle of a step")
            frames.append(_frame(response.frame))
            if response.last_in_step:
                return frames

    def _next(self) -> pb.SessionResponse | None:
        try:
            return next(self._call, None)
        except grpc.RpcError as err:
            raise _server_error(err) from None

    def close(self) -> None:
        """Half-closes the request stream; the server ends the session."""
        self._requests.put(self._END)
        self._call.cancel()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def generate_to_folder(client: DrivesimClient, scenario_yaml: str, out: Path, seed: int | None = None,
                       filename: str = "") -> dict[str, Any]:
    """`drivesim client`: stream a scenario from the server into the OUT layout of `drivesim generate`
    (frames/*.png, video.mp4, overlay.mp4, labels.jsonl, manifest.json); returns the manifest."""
    import hashlib
    import time

    from drivesim import __version__
    from drivesim.output.folder import OutputFolder, check_output_folder
    from drivesim.scenario.loader import parse_scenario

    start = time.perf_counter()
    scenario = parse_scenario(scenario_yaml, filename or "<scenario>")  # located errors before any network call
    check_output_folder(Path(out))
    info = client.info()
    cam = scenario.camera
    first_frame_s = None
    with OutputFolder(Path(out), cam.width, cam.height, scenario.fps) as folder:
        for frame in client.generate(scenario_yaml, seed=seed, encoding="png", filename=filename):
            first_frame_s = first_frame_s if first_frame_s is not None else time.perf_counter() - start
            folder.write(frame)
        manifest = {
            "scenario": {"name": scenario.name, "path": filename,
                         "sha256": hashlib.sha256(scenario_yaml.encode("utf-8")).hexdigest()},
            "server": {"target": client.target, "backend": info["backend"], "versions": info["versions"]},
            "checkpoint": {"path": info["bundle"], "sha256": info["bundle_hash"]},
            "seed": scenario.seed if seed is None else seed,
            "frames": folder.frames_written, "fps": scenario.fps, "width": cam.width, "height": cam.height,
            "video_codec": folder.video_codec,
            "versions": {"drivesim": __version__, "grpc": grpc.__version__},
            "timings_s": {"first_frame": round(first_frame_s or 0.0, 4), "write": round(folder.write_seconds, 4),
                          "total": round(time.perf_counter() - start, 4)},
        }
        folder.commit(manifest)
    return manifest


def _overrides(values: Mapping[str, Any]) -> pb.ScenarioOverrides:
    allowed = {f.name for f in pb.ScenarioOverrides.DESCRIPTOR.fields}
    unknown = set(values) - allowed
    if unknown:
        raise DrivesimError(f"unknown override(s) {sorted(unknown)}; use {', '.join(sorted(allowed))}")
    return pb.ScenarioOverrides(**{k: v for k, v in values.items() if v is not None})
