"""`drivesim strip`: frames of `generate` OUT folders with their label boxes, as one picture."""

from __future__ import annotations

import argparse
from pathlib import Path

from drivesim.cli.args import Subparsers, add_command, index_list, positive_int


def register(sub: Subparsers) -> None:
    p = add_command(sub, "strip", "frames of `generate` OUT folders with their label boxes, one row per "
                                  "folder, as one JPEG or PNG",
                    "drivesim strip out/city_day out/night_merge -o docs/strip.jpg --count 4")
    p.add_argument("folders", nargs="+", metavar="OUT", help="folders written by `drivesim generate`")
    p.add_argument("-o", "--output", required=True, metavar="STRIP.jpg", help="picture to write (.jpg or .png)")
    p.add_argument("--count", type=positive_int, default=4, help="frames per row, spread over the clip (default 4)")
    p.add_argument("--frames", type=index_list, default=None, metavar="I,J,...",
                   help="these frame indices instead of --count")
    p.add_argument("--width", type=positive_int, default=1600, help="picture width in pixels (default 1600)")
    p.add_argument("--lanes", action="store_true",
                   help="also draw the lane lines (painted green, dashed ones dashed, road edges red) of the scenario "
                        "each folder's manifest.json names, read again from that file (its sha256 is checked)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from drivesim.draw.strip import write_strip
    from drivesim.output.folder import generated_scenario
    from drivesim.scenario.lane_frames import ScenarioLanes

    folders = [Path(f) for f in args.folders]
    lanes = [ScenarioLanes(*generated_scenario(f)) for f in folders] if args.lanes else None
    image = write_strip(folders, Path(args.output), count=args.count, frames=args.frames, width=args.width,
                        lanes=lanes)
    print(f"wrote {args.output} ({image.shape[1]}x{image.shape[0]}, {len(args.folders)} row(s))")
    return 0
