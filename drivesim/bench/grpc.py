"""What the gRPC transport costs: throughput through a local server vs the backend in-process.

    python -c "from drivesim.bench.grpc import bench_grpc; print(bench_grpc())"

Both runs use the same backend and scenario; the gRPC run goes through a real server on
127.0.0.1 (port 0) and the Python client, decoding every frame. With the schematic backend
(microseconds per frame) this measures the transport and encoding overhead at its worst;
with the diffusion backend the ratio approaches 1.
"""

from __future__ import annotations

import time
from typing import Any

from drivesim.scenario.loader import parse_scenario
from drivesim.serve.generator import FrameGenerator, SchematicGenerator
from drivesim.serve.limits import Limits
from drivesim.serve.server import DrivesimServer, ServeConfig

BENCH_SCENARIO = """\
version: 1
name: bench_grpc
duration_s: 3
fps: 10
camera: {width: 512, height: 256}
environment: {crowdedness: 0.5}
ego: {lane: 1, speed_mps: 12}
agents:
  - {id: lead, type: car, lane: 1, distance_m: 20, speed_mps: 10}
"""


def bench_grpc(scenario_yaml: str = BENCH_SCENARIO, generator: FrameGenerator | None = None,
               encoding: str = "raw") -> dict[str, Any]:
    """{frames, inprocess_fps, grpc_fps, ratio (grpc / in-process), time_to_first_frame_s, ...}."""
    from drivesim.serve.client import DrivesimClient

    generator = generator or SchematicGenerator()
    scenario = parse_scenario(scenario_yaml, "<bench>")
    warm_up = generator.generate(scenario, scenario.seed, lambda: False)  # lazy imports, caches
    next(warm_up, None)
    getattr(warm_up, "close", lambda: None)()

    start = time.perf_counter()
    first_local = None
    frames = 0
    for _ in generator.generate(scenario, scenario.seed, lambda: False):
        first_local = first_local if first_local is not None else time.perf_counter() - start
        frames += 1
    local_s = time.perf_counter() - start

    cam = scenario.camera
    limits = Limits(max_duration_s=max(scenario.duration_s, 1.0), max_pixels=cam.width * cam.height)
    with DrivesimServer(generator, ServeConfig(port=0, limits=limits)) as server, \
            DrivesimClient(server.address) as client:
        client.info()  # connect first: channel set-up is not part of a frame's latency
        start = time.perf_counter()
        first_grpc = None
        received = 0
        for _ in client.generate(scenario_yaml, encoding=encoding):
            first_grpc = first_grpc if first_grpc is not None else time.perf_counter() - start
            received += 1
        grpc_s = time.perf_counter() - start

    inprocess_fps, grpc_fps = frames / local_s, received / grpc_s
    return {"frames": received, "encoding": encoding, "backend": generator.info.get("backend", "?"),
            "inprocess_fps": inprocess_fps, "grpc_fps": grpc_fps, "ratio": grpc_fps / inprocess_fps,
            "time_to_first_frame_s": first_grpc, "inprocess_first_frame_s": first_local,
            "inprocess_total_s": local_s, "grpc_total_s": grpc_s}
