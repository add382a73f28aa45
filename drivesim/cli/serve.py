"""`drivesim serve` (the gRPC server) and `drivesim client` (a scenario generated on one).

The client path must not load torch: only the server imports the generator."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from drivesim.cli.args import (CHECKPOINT_HELP, PRECISION_HELP, Subparsers, add_command, add_student_flag,
                               number_above, positive_int, seed, whole_in)
from drivesim.scenario.step_limits import MAX_AGENTS_PER_STEP

port = whole_in("--port", 0, 65535)
max_duration_s = number_above("--max-duration-s", 0.0, inclusive=False)
grace_s = number_above("--grace-s", 0.0, inclusive=True)


def register(sub: Subparsers) -> None:
    p = add_command(sub, "serve", "gRPC server: streamed generation and closed-loop sessions (docs/grpc.md)",
                    "drivesim serve --port 50051\n"
                    "  DRIVESIM_TOKEN=secret drivesim serve --host 0.0.0.0 --backend schematic")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default loopback only)")
    p.add_argument("--port", type=port, default=50051, help="0 picks a free port (printed at start)")
    p.add_argument("--backend", choices=("diffusion", "schematic"), default="diffusion",
                   help="diffusion: the Video LDM; schematic: drawn boxes, fast (tests, wiring a simulator)")
    p.add_argument("--checkpoint", default=None, metavar="BUNDLE", help=CHECKPOINT_HELP + "; diffusion backend")
    p.add_argument("--device", default="cpu", help="cpu or cuda (diffusion backend)")
    p.add_argument("--precision", default="auto", help=PRECISION_HELP + "; diffusion backend (GetInfo reports it)")
    add_student_flag(p, "; diffusion backend (GetInfo reports it)")
    p.add_argument("--token", default=None, help="require 'authorization: Bearer TOKEN' (prefer env DRIVESIM_TOKEN: "
                                                 "arguments are visible to other users in ps)")
    p.add_argument("--tls-cert", type=Path, default=None, metavar="PEM", help="certificate chain; serve TLS only")
    p.add_argument("--tls-key", type=Path, default=None, metavar="PEM", help="private key for --tls-cert")
    p.add_argument("--max-streams", type=positive_int, default=4, help="Generate calls at once (default 4)")
    p.add_argument("--max-sessions", type=positive_int, default=4, help="open sessions at once (default 4)")
    p.add_argument("--max-duration-s", type=max_duration_s, default=600.0,
                   help="longest scenario accepted (default 600)")
    p.add_argument("--max-pixels", type=positive_int, default=1024 * 512,
                   help="largest camera width*height accepted (default 1024*512)")
    p.add_argument("--max-agents-per-step", type=positive_int, default=MAX_AGENTS_PER_STEP,
                   help=f"most agents one closed-loop session step may send (default {MAX_AGENTS_PER_STEP})")
    p.add_argument("--grace-s", type=grace_s, default=5.0, help="on SIGTERM, running calls get this long to finish")
    p.set_defaults(func=run_serve)

    p = add_command(sub, "client", "generate a scenario on a drivesim server into an OUT folder",
                    "drivesim client scenarios/minimal.yaml --server localhost:50051 -o out/remote")
    p.add_argument("file", metavar="SCENARIO", help="scenario YAML file (sent to the server as text)")
    p.add_argument("--server", default="localhost:50051", metavar="HOST:PORT",
                   help="address of `drivesim serve` (default localhost:50051)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder, the layout of `generate`")
    p.add_argument("--seed", type=seed, default=None, help="override the scenario's seed")
    p.add_argument("--token", default=None, help="bearer token (prefer env DRIVESIM_TOKEN)")
    p.add_argument("--tls-ca", type=Path, default=None, metavar="PEM", help="CA certificate: connect with TLS")
    p.set_defaults(func=run_client)


def run_serve(args: argparse.Namespace) -> int:
    import logging

    from drivesim.serve.generator import make_generator
    from drivesim.serve.limits import Limits
    from drivesim.serve.server import ServeConfig, serve_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    limits = Limits(max_streams=args.max_streams, max_sessions=args.max_sessions,
                    max_duration_s=args.max_duration_s, max_pixels=args.max_pixels,
                    max_agents_per_step=args.max_agents_per_step)
    config = ServeConfig(host=args.host, port=args.port, token=args.token or os.environ.get("DRIVESIM_TOKEN") or None,
                         tls_cert=args.tls_cert, tls_key=args.tls_key, grace_s=args.grace_s, limits=limits)
    generator = make_generator(args.backend, args.checkpoint, args.device, args.precision,  # loads now: fail fast
                               student=args.student)
    serve_forever(generator, config, on_ready=lambda server: print(
        f"drivesim serve: {args.backend} backend listening on {server.address}"
        f"{' (token required)' if config.token else ''}; Ctrl-C or SIGTERM stops it", flush=True))
    return 0


def run_client(args: argparse.Namespace) -> int:
    from drivesim.serve.client import DrivesimClient, generate_to_folder
    from drivesim.sources import scenario_yaml_text

    text = scenario_yaml_text(args.file)
    token = args.token or os.environ.get("DRIVESIM_TOKEN") or None
    with DrivesimClient(args.server, token=token, tls_ca=args.tls_ca) as client:
        summary = generate_to_folder(client, text, Path(args.output), seed=args.seed, filename=args.file)
    print(f"wrote {summary['frames']} frames from {args.server} to {args.output}")
    return 0
