"""`drivesim info`: a checkpoint bundle's parts and config, read without building the models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drivesim.cli.args import Subparsers, add_command


def register(sub: Subparsers) -> None:
    p = add_command(sub, "info", "a checkpoint bundle's parts (spatial/temporal parameters, dtype, size) and config",
                    "drivesim info checkpoints/default --sha256")
    p.add_argument("bundle", metavar="BUNDLE", help="bundle folder (config.yaml + .safetensors parts)")
    p.add_argument("--sha256", action="store_true", help="also print the bundle's sha256 (config + all parts)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from drivesim.models.info import format_bundle_info, missing_parts

    print(format_bundle_info(Path(args.bundle), with_hash=args.sha256))
    missing = missing_parts(Path(args.bundle))
    if missing:
        print(f"error: bundle {args.bundle} is missing part(s): {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0
