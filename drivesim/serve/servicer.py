"""The Simulator service: one method per RPC, converting at the boundary (convert.py).

    python -c "from drivesim.serve.servicer import SimulatorServicer; help(SimulatorServicer)"

Every method runs behind a guard that turns exceptions into status codes, so no input can
take the server down: RpcFailure -> its code, ScenarioError / DrivesimError -> INVALID_ARGUMENT
(with every located issue in the details), BackendUnavailable -> UNAVAILABLE, Unsupported ->
UNIMPLEMENTED, anything else
-> INTERNAL (logged with its traceback). Streams check a cancelled flag between frames and
hand it to the backend, so a cancelled or disconnected client frees its worker within a frame.
"""

from __future__ import annotations

import functools
import logging
import platform
import threading
import uuid
from typing import Any, Callable, Iterator

import grpc
from google.protobuf.message import DecodeError, Message

from drivesim import __version__
from drivesim.errors import DrivesimError, ScenarioError
from drivesim.scenario.boxes import PlanningCancelled
from drivesim.scenario.format import Scenario
from drivesim.scenario.loader import parse_scenario
from drivesim.serve import convert
from drivesim.serve.generator import BackendUnavailable, FrameGenerator, Unsupported, shareable
from drivesim.serve.limits import Admission, Limits
from drivesim.serve.proto import drivesim_pb2 as pb
from drivesim.serve.proto import drivesim_pb2_grpc as pb_grpc
from drivesim.scenario.world_state import ClosedLoop

log = logging.getLogger("drivesim.serve")

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Simulator"].full_name  # "drivesim.v1.Simulator"
API_VERSION = "drivesim.v1"


class RpcFailure(Exception):
    """Ends the current call with `code` and `details`."""

    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(details)
        self.code, self.details = code, details


def _status_for(err: Exception, method: str, context: grpc.ServicerContext) -> tuple[grpc.StatusCode, str] | None:
    """The status an exception ends a call with; None when the client is already gone."""
    if isinstance(err, RpcFailure):
        return err.code, err.details
    if isinstance(err, ScenarioError):
        return grpc.StatusCode.INVALID_ARGUMENT, "invalid scenario:\n" + convert.format_issues(err.issues)
    if isinstance(err, BackendUnavailable):
        return grpc.StatusCode.UNAVAILABLE, str(err)
    if isinstance(err, Unsupported):
        return grpc.StatusCode.UNIMPLEMENTED, str(err)
    if isinstance(err, DrivesimError):
        return grpc.StatusCode.INVALID_ARGUMENT, str(err)
    if not context.is_active():
        return None  # a cancelled call's request iterator raises; nothing to report to anyone
    log.exception("%s failed", method)
    return grpc.StatusCode.INTERNAL, f"internal error in {method}: {type(err).__name__}: {err} (see the server log)"


def _unary(method: Callable) -> Callable:
    @functools.wraps(method)
    def guarded(self: "SimulatorServicer", request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except Exception as err:  # noqa: BLE001 - every failure becomes a status, never a crash
            status = _status_for(err, method.__name__, context)
            if status is not None:
                context.abort(*status)
    return guarded


def _streaming(method: Callable) -> Callable:
    @functools.wraps(method)
    def guarded(self: "SimulatorServicer", request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            yield from method(self, request, context)
        except Exception as err:  # noqa: BLE001 - every failure becomes a status, never a crash
            status = _status_for(err, method.__name__, context)
            if status is not None:
                context.abort(*status)
    return guarded


def decode(message_type: type[Message], data: bytes | Message, method: str,
           context: grpc.ServicerContext) -> Any:
    """A request message from the bytes gRPC received. The handlers take raw bytes (see
    `add_to_server`) so that malformed bytes are the client's error, INVALID_ARGUMENT with one
    log line, rather than gRPC's own INTERNAL with a traceback; and so that the token is
    checked before anything is parsed."""
    if isinstance(data, message_type):
        return data  # called in-process with a message
    try:
        return message_type.FromString(data)
    except (DecodeError, TypeError, ValueError) as err:
        log.warning("%s: malformed request from %s: %s", method, context.peer(), err)
        raise RpcFailure(grpc.StatusCode.INVALID_ARGUMENT,
                         f"malformed {message_type.DESCRIPTOR.full_name}: the bytes are not a valid protobuf "
                         "message; generate the client from proto/drivesim.proto") from None


def add_to_server(servicer: "SimulatorServicer", server: grpc.Server) -> None:
    """Register the Simulator service with raw-bytes handlers (the methods decode, see `decode`)."""
    def out(message: Message) -> bytes:
        return message.SerializeToString()

    handlers = {
        "Generate": grpc.unary_stream_rpc_method_handler(servicer.Generate, response_serializer=out),
        "ValidateScenario": grpc.unary_unary_rpc_method_handler(servicer.ValidateScenario, response_serializer=out),
        "OpenSession": grpc.stream_stream_rpc_method_handler(servicer.OpenSession, response_serializer=out),
        "GetInfo": grpc.unary_unary_rpc_method_handler(servicer.GetInfo, response_serializer=out),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))


def cancel_flag(context: grpc.ServicerContext) -> Callable[[], bool]:
    """True once the call has ended for any reason (client cancel, disconnect, deadline, server stop)."""
    ended = threading.Event()
    context.add_callback(ended.set)
    return lambda: ended.is_set() or not context.is_active()


class SimulatorServicer(pb_grpc.SimulatorServicer):
    def __init__(self, generator: FrameGenerator, limits: Limits = Limits()):
        self.generator = shareable(generator)
        self.limits = limits
        self.admission = Admission(limits)

    # --- unary -------------------------------------------------------------------------------

    @_unary
    def ValidateScenario(self, request: bytes, context: grpc.ServicerContext) -> pb.ValidateResponse:
        request = decode(pb.ValidateRequest, request, "ValidateScenario", context)
        filename = self._filename(request.filename)
        try:
            scenario = parse_scenario(request.scenario_yaml, filename)
        except ScenarioError as err:  # at most loader.MAX_ISSUES issues, plus one counting the rest
            return pb.ValidateResponse(valid=False, issues=[convert.issue_to_proto(i) for i in err.issues])
        return pb.ValidateResponse(valid=True, scenario_name=scenario.name, num_frames=scenario.num_frames)

    @_unary
    def GetInfo(self, request: bytes, context: grpc.ServicerContext) -> pb.Info:
        from google.protobuf import __version__ as protobuf_version

        decode(pb.GetInfoRequest, request, "GetInfo", context)

        versions = {"drivesim": __version__, "api": API_VERSION, "grpc": grpc.__version__,
                    "protobuf": protobuf_version, "python": platform.python_version()}
        return convert.info_to_proto(self.generator.info, self.limits, versions)

    # --- streams -----------------------------------------------------------------------------

    @_streaming
    def Generate(self, request: bytes, context: grpc.ServicerContext) -> Iterator[pb.Frame]:
        request = decode(pb.GenerateRequest, request, "Generate", context)
        scenario = convert.apply_overrides(self._scenario(request.scenario_yaml, request.filename),
                                           request.overrides)
        self._check_limits(scenario, check_duration=True)
        encoding = convert.encoding_value(request.encoding)
        seed = convert.check_seed(request.seed, "seed") if request.HasField("seed") else scenario.seed
        cancelled = cancel_flag(context)
        with self.admission.slot("stream") as granted:
            if not granted:
                raise RpcFailure(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                 f"{self.limits.max_streams} Generate stream(s) already running (the server's "
                                 "--max-streams); retry when one has finished")
            for rgb, fc in self.generator.generate(scenario, seed, cancelled):
                if cancelled():
                    log.info("Generate '%s' cancelled at frame %d", scenario.name, fc.index)
                    return
                yield convert.frame_to_proto(rgb, fc, encoding)

    @_streaming
    def OpenSession(self, requests: Iterator[bytes],
                    context: grpc.ServicerContext) -> Iterator[pb.SessionResponse]:
        requests = (decode(pb.SessionRequest, raw, "OpenSession", context) for raw in requests)
        first = next(requests, None)
        if first is None:
            return
        if first.WhichOneof("kind") != "header":
            raise RpcFailure(grpc.StatusCode.FAILED_PRECONDITION,
                             "the first SessionRequest must carry a header (the session's scenario)")
        header = self._scenario(first.header.scenario_yaml, first.header.filename)
        self._check_limits(header, check_duration=False)  # a session is not bounded by duration_s
        encoding = convert.encoding_value(first.header.encoding)
        seed = convert.check_seed(first.header.seed, "header.seed") if first.header.HasField("seed") else header.seed
        cancelled = cancel_flag(context)
        with self.admission.slot("session") as granted:
            if not granted:
                raise RpcFailure(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                 f"{self.limits.max_sessions} session(s) already open (the server's "
                                 "--max-sessions); close one or retry later")
            stepper = self.generator.session(header, seed)
            loop = ClosedLoop(header, self.limits.max_frames_per_step)
            cam = header.camera
            yield pb.SessionResponse(step=0, last_in_step=True, ready=pb.SessionReady(
                session_id=uuid.uuid4().hex, width=cam.width, height=cam.height, fps=header.fps))
            for request in requests:
                if request.WhichOneof("kind") != "step":
                    raise RpcFailure(grpc.StatusCode.FAILED_PRECONDITION,
                                     "after the header, every SessionRequest must carry a step")
                step_index = loop.steps
                self._check_agents(request.step, step_index)
                try:
                    conditions = loop.plan(convert.step_from_proto(request.step), cancelled)
                except PlanningCancelled:
                    return
                frames = stepper.step(conditions, cancelled)  # returns early (fewer frames) once cancelled
                if cancelled():
                    log.info("session step %d cancelled", step_index)
                    return
                if len(frames) != len(conditions):
                    raise RuntimeError(f"backend returned {len(frames)} frames for {len(conditions)} conditions")
                for k, (rgb, fc) in enumerate(zip(frames, conditions)):
                    if cancelled():
                        return
                    yield pb.SessionResponse(step=step_index, last_in_step=k == len(frames) - 1,
                                             frame=convert.frame_to_proto(rgb, fc, encoding))

    # --- helpers -----------------------------------------------------------------------------

    def _scenario(self, text: str, filename: str) -> Scenario:
        return parse_scenario(text, self._filename(filename))

    def _filename(self, name: str) -> str:
        """The request's file name for issues; refused when long (it is copied into every issue)."""
        if len(name) > self.limits.max_filename_chars:
            raise RpcFailure(grpc.StatusCode.INVALID_ARGUMENT,
                             f"filename is {len(name)} characters; the limit is {self.limits.max_filename_chars} "
                             "(send the file's name, not its content)")
        return name or "<request>"

    def _check_agents(self, step: pb.SessionStep, index: int) -> None:
        # Before any conversion: the cost of a step grows with its agents (occlusion).
        if len(step.agents) > self.limits.max_agents_per_step:
            raise RpcFailure(grpc.StatusCode.RESOURCE_EXHAUSTED,
                             f"step {index} carries {len(step.agents)} agents; this server takes at most "
                             f"{self.limits.max_agents_per_step} per step (--max-agents-per-step)")

    def _check_limits(self, scenario: Scenario, check_duration: bool) -> None:
        problem = self.limits.scenario_problem(scenario, check_duration=check_duration)
        if problem is not None:
            raise RpcFailure(grpc.StatusCode.RESOURCE_EXHAUSTED, problem)
