"""The gRPC service (proto/drivesim.proto, package drivesim.v1): server, servicer, conversions.

    drivesim serve --backend schematic          # then: python examples/closed_loop.py --server localhost:50051

Layout: proto/ (generated stubs, scripts/gen_proto.sh), convert.py (proto <-> domain),
servicer.py (one method per RPC), server.py (auth, TLS, health, reflection, graceful stop),
generator.py (frame backends and how calls share them), session.py (closed-loop state),
limits.py, bench.py. The client is drivesim/serve/client.py; the guide is docs/grpc.md.
"""

import os

# gRPC's fork handlers race with threads that spawn subprocesses (ffmpeg writing video.mp4) and
# can leave the event engine with closed descriptors; drivesim never uses gRPC in a forked child.
# This must be set before grpc is first imported; an explicit setting in the environment wins.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")
