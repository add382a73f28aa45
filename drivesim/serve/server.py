"""The gRPC server: Simulator + grpc.health.v1 + reflection, token auth, TLS, limits, graceful stop.

    drivesim serve --backend schematic                      # 127.0.0.1:50051, no token
    DRIVESIM_TOKEN=s3cret drivesim serve --host 0.0.0.0 --tls-cert srv.pem --tls-key srv.key
    grpcurl -plaintext localhost:50051 list                 # reflection
    grpcurl -plaintext localhost:50051 grpc.health.v1.Health/Check

In code (tests, benchmarks, an in-process simulator):

    from drivesim.serve.server import DrivesimServer, ServeConfig
    from drivesim.serve.generator import SchematicGenerator
    with DrivesimServer(SchematicGenerator(), ServeConfig(port=0)) as server:
        print(server.address)   # 127.0.0.1:<free port>
"""

from __future__ import annotations

import hmac
import itertools
import logging
import os
import signal
import ssl
import sys
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from drivesim.errors import DrivesimError
from drivesim.serve.generator import FrameGenerator
from drivesim.serve.limits import Limits
from drivesim.serve.servicer import SERVICE_NAME, SimulatorServicer, add_to_server

log = logging.getLogger("drivesim.serve")

# Calls that need no token: load balancers probe health, tools discover the API by reflection.
OPEN_METHOD_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.v1alpha.ServerReflection/",
                        "/grpc.reflection.v1.ServerReflection/")
WORKER_PREFIX = "drivesim-rpc"
_SERVER_NUMBERS = itertools.count()
SPARE_WORKERS = 4  # threads beyond the stream and session limits, for unary calls and health checks
STOP_MARGIN_S = 0.8  # after the grace: how long stop() waits for the cancelled calls' threads
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"  # grpcurl and newer tools ask v1 first


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"  # loopback by default: exposing the server is a deliberate choice
    port: int = 50051  # 0 = any free port (see DrivesimServer.port)
    token: str | None = None  # required as `authorization: Bearer <token>` when set
    tls_cert: Path | None = None  # PEM certificate chain; with tls_key, serve TLS only
    tls_key: Path | None = None
    grace_s: float = 5.0  # on stop: in-flight calls get this long to finish, then are cancelled
    limits: Limits = field(default_factory=Limits)


class TokenAuthInterceptor(grpc.ServerInterceptor):
    """Rejects calls without `authorization: Bearer <token>` (UNAUTHENTICATED); health/reflection stay open."""

    def __init__(self, token: str):
        self._expected = token.encode()

    def intercept_service(self, continuation: Callable, details: grpc.HandlerCallDetails) -> Any:
        if details.method.startswith(OPEN_METHOD_PREFIXES):
            return continuation(details)
        given = next((v for k, v in (details.invocation_metadata or ()) if k == "authorization"), None)
        # RFC 6750: the scheme name is case-insensitive ("bearer", "BEARER"); the token is not.
        scheme, _, credentials = str(given or "").strip().partition(" ")
        if given is not None and scheme.lower() == "bearer" and hmac.compare_digest(
                credentials.strip().encode(), self._expected):
            return continuation(details)
        handler = continuation(details)
        if handler is None:
            return None  # unknown method: let gRPC answer UNIMPLEMENTED
        reason = "missing 'authorization: Bearer <token>' metadata" if given is None else "wrong token"
        return _denying_handler(handler, f"{reason}; this server requires a token (--token / DRIVESIM_TOKEN)")


def _denying_handler(like: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same arity as `like` that ends the call with UNAUTHENTICATED."""
    def deny(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    kinds = {(False, False): grpc.unary_unary_rpc_method_handler,
             (False, True): grpc.unary_stream_rpc_method_handler,
             (True, False): grpc.stream_unary_rpc_method_handler,
             (True, True): grpc.stream_stream_rpc_method_handler}
    make = kinds[(like.request_streaming, like.response_streaming)]
    return make(deny, request_deserializer=like.request_deserializer,
                response_serializer=like.response_serializer)


class DrivesimServer:
    """A started-on-demand gRPC server around one frame backend."""

    def __init__(self, generator: FrameGenerator, config: ServeConfig = ServeConfig()):
        self.config = config
        limits = config.limits
        self.servicer = SimulatorServicer(generator, limits)
        workers = limits.max_streams + limits.max_sessions + SPARE_WORKERS
        interceptors = [TokenAuthInterceptor(config.token)] if config.token else []
        options = [("grpc.max_send_message_length", limits.max_message_bytes),
                   ("grpc.max_receive_message_length", limits.max_message_bytes),
                   ("grpc.so_reuseport", 0)]  # two servers must not silently share a port
        # Each server names its threads apart, so stop() waits for its own calls only.
        self._workers = f"{WORKER_PREFIX}-{next(_SERVER_NUMBERS)}"
        self._executor = futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix=self._workers)
        self._server = grpc.server(self._executor, interceptors=interceptors, options=options)
        add_to_server(self.servicer, self._server)

        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        _enable_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME, REFLECTION_V1), self._server)
        self.port = self._bind()
        self._stopped = threading.Event()

    def _bind(self) -> int:
        c = self.config
        if not 0 <= c.port <= 65535:  # gRPC would take the number modulo 65536 and listen elsewhere
            raise DrivesimError(f"port must be in 0..65535, got {c.port}")
        target = f"[{c.host}]:{c.port}" if ":" in c.host else f"{c.host}:{c.port}"
        try:
            if c.tls_cert or c.tls_key:
                if not (c.tls_cert and c.tls_key):
                    raise DrivesimError("TLS needs both --tls-cert and --tls-key")
                _check_tls_pair(Path(c.tls_cert), Path(c.tls_key))
                creds = grpc.ssl_server_credentials([(Path(c.tls_key).read_bytes(), Path(c.tls_cert).read_bytes())])
                port = self._server.add_secure_port(target, creds)
            else:
                port = self._server.add_insecure_port(target)
        except OSError as err:
            raise DrivesimError(f"cannot read the TLS files: {err}") from err
        except RuntimeError as err:  # grpc raises RuntimeError when it cannot bind
            raise DrivesimError(f"cannot listen on {target} ({err}); is the port in use, or the host "
                                "not an address of this machine?") from err
        if port == 0:
            raise DrivesimError(f"cannot listen on {target}; is the port in use, or the host not an address "
                                "of this machine?")
        if c.token and not c.tls_cert and c.host not in ("127.0.0.1", "localhost", "::1"):
            log.warning("a token over plaintext on %s can be read on the network; add --tls-cert/--tls-key", c.host)
        if not c.token and c.host not in ("127.0.0.1", "localhost", "::1"):
            log.warning("serving on %s without a token: anyone who can reach it can use it", c.host)
        return port

    @property
    def address(self) -> str:
        host = "127.0.0.1" if self.config.host in ("0.0.0.0", "::", "") else self.config.host
        return f"{host}:{self.port}"

    def start(self) -> "DrivesimServer":
        self._server.start()
        self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        self.health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
        log.info("drivesim %s backend listening on %s%s", self.servicer.generator.info.get("backend", "?"),
                 self.address, " (TLS)" if self.config.tls_cert else "")
        return self

    def stop(self, grace_s: float | None = None) -> bool:
        """Health goes NOT_SERVING, new calls are refused, running ones get `grace_s` to finish, then
        are cancelled. Returns within grace + STOP_MARGIN_S whatever the calls do: True when every
        call's thread has ended by then, False when one is still busy (a step inside the model)."""
        if self._stopped.is_set():
            return True
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        grace = self.config.grace_s if grace_s is None else grace_s
        deadline = time.monotonic() + grace + STOP_MARGIN_S
        # Never wait() without a timeout: a handler that ignores its cancellation would hang the stop.
        self._server.stop(grace).wait(max(0.0, deadline - time.monotonic()))
        self._executor.shutdown(wait=False, cancel_futures=True)
        busy = _busy_workers(self._workers)
        while busy and time.monotonic() < deadline:
            time.sleep(0.02)
            busy = _busy_workers(self._workers)
        if busy:
            log.warning("drivesim server on %s stopped; %d call(s) still running after the %.1f s grace",
                        self.address, len(busy), grace)
        else:
            log.info("drivesim server on %s stopped", self.address)
        return not busy

    def wait(self, timeout_s: float | None = None) -> bool:
        return self._server.wait_for_termination(timeout_s)

    def __enter__(self) -> "DrivesimServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop(0)


def serve_forever(generator: FrameGenerator, config: ServeConfig,
                  on_ready: Callable[[DrivesimServer], None] | None = None) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully (in-flight calls get config.grace_s) and end the
    process at once (exit status 0): it never returns, except with an exception raised before the stop."""
    server = DrivesimServer(generator, config).start()
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        if on_ready is not None:
            on_ready(server)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()  # logs a call still running after the grace
        for s, handler in previous.items():
            signal.signal(s, handler)
    # Leave now: a call's thread may still be busy after the grace (gRPC has cancelled it; it will
    # notice at its next check), and the interpreter would join it at exit; even when every call has
    # ended, the interpreter's own teardown (every loaded module's finalizers) takes most of a second
    # on a busy machine. Nothing is left to do, so SIGTERM ends the process within grace + STOP_MARGIN_S
    # whatever the clients sent.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _busy_workers(prefix: str) -> list[threading.Thread]:
    """The server's worker threads still alive (after shutdown, idle ones end at once)."""
    return [t for t in threading.enumerate() if t.name.startswith(prefix + "_") and t.is_alive()]


def _check_tls_pair(cert: Path, key: Path) -> None:
    """Load the pair with Python's ssl first: gRPC only says it cannot bind, which reads like a busy port."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(str(cert), str(key))
    except ssl.SSLError as err:
        raise DrivesimError(f"cannot use --tls-cert {cert} with --tls-key {key}: {err.reason or err} "
                            "(expected a PEM certificate chain and the PEM private key that matches it)") from None


def _enable_reflection(service_names: tuple[str, ...], server: grpc.Server) -> None:
    """Server reflection under v1alpha and v1. grpcio-reflection ships only v1alpha; v1 is the same
    protocol (same messages and field numbers) under another package name, so the same servicer
    answers both, registered by hand for v1."""
    reflection.enable_server_reflection(service_names, server)
    from grpc_reflection.v1alpha import reflection_pb2 as rpb

    servicer = reflection.ReflectionServicer(service_names)
    method = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo, request_deserializer=rpb.ServerReflectionRequest.FromString,
        response_serializer=rpb.ServerReflectionResponse.SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(REFLECTION_V1,
                                                                         {"ServerReflectionInfo": method}),))
