"""`drivesim validate | plan | preview | convert`: a scenario file checked, its labels, a picture of it,
an OpenSCENARIO file turned into one. No model is loaded."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drivesim.cli.args import Subparsers, add_command, add_trajectory_args, number_above, seed
from drivesim.errors import DrivesimError


def register(sub: Subparsers) -> None:
    p = add_command(sub, "validate", "check scenario files; prints every error with its line",
                    "drivesim validate scenarios/*.yaml")
    p.add_argument("files", nargs="+", metavar="FILE", help="scenario YAML or OpenSCENARIO .xosc file(s)")
    p.set_defaults(func=run_validate)

    p = add_command(sub, "plan", "dry run: per-frame ground-truth labels as JSON lines",
                    "drivesim plan scenarios/night_merge.yaml -o out/labels.jsonl --seed 7\n"
                    "  drivesim plan scenarios/junction_turn.yaml -o out/labels.jsonl --osi out/junction_turn.osi\n"
                    "  drivesim plan header.yaml --trajectory drive.jsonl -o out/labels.jsonl")
    p.add_argument("file", metavar="FILE", help="scenario YAML or OpenSCENARIO .xosc file")
    p.add_argument("-o", "--output", required=True, metavar="LABELS.jsonl", help="labels file: one JSON line per frame")
    add_trajectory_args(p)
    p.add_argument("--seed", type=seed, default=None, help="override the scenario's seed")
    p.add_argument("--osi", metavar="TRACE.osi", default=None,
                   help="also write every frame's world as an ASAM OSI GroundTruth trace, without making frames "
                        "(docs/export.md, \"ASAM OSI\"; needs osi-python)")
    p.set_defaults(func=run_plan)

    p = add_command(sub, "preview", "bird's-eye view and camera box overlays as one PNG",
                    "drivesim preview scenarios/night_merge.yaml -o out/preview.png")
    p.add_argument("file", metavar="FILE", help="scenario YAML or OpenSCENARIO .xosc file")
    p.add_argument("-o", "--output", required=True, metavar="PREVIEW.png", help="picture to write (PNG)")
    add_trajectory_args(p)
    p.add_argument("--seed", type=seed, default=None, help="override the scenario's seed")
    p.set_defaults(func=run_preview)

    p = add_command(sub, "convert", "OpenSCENARIO .xosc on a straight road -> the same scenario as drivesim YAML "
                                    "(docs/openscenario.md)",
                    "drivesim convert scenarios/openscenario/cut_in.xosc -o out/cut_in.yaml\n"
                    "  drivesim convert scenarios/openscenario/cut_in.xosc -o out/cut_in.yaml --fps 20 "
                    "--max-duration 30")
    p.add_argument("file", metavar="FILE.xosc", help="OpenSCENARIO 1.0-1.2 file (its .xodr road and catalogs beside it)")
    p.add_argument("-o", "--output", required=True, metavar="FILE.yaml", help="drivesim scenario to write")
    p.add_argument("--fps", type=number_above("--fps", 0.0, inclusive=False), default=10.0,
                   help="frame rate of the clip and the runner's time step (default 10)")
    p.add_argument("--max-duration", type=number_above("--max-duration", 0.0, inclusive=False), default=60.0,
                   metavar="S", help="clip length when the StopTrigger has not fired by then (default 60)")
    p.set_defaults(func=run_convert)


def run_validate(args: argparse.Namespace) -> int:
    from drivesim.errors import ScenarioError
    from drivesim.scenario.user_files import shown_path
    from drivesim.sources import read_scenario

    failed = 0
    for path in args.files:
        try:
            scenario = read_scenario(Path(path))
        except ScenarioError as err:  # every issue of the file, each with file:line:column
            failed += 1
            n = len(err.issues)
            print(f"{shown_path(path)}: {n} error{'s' if n != 1 else ''}", file=sys.stderr)
            for issue in err.issues:
                print(f"  {issue}", file=sys.stderr)
        else:
            print(f"{shown_path(path)}: ok ({scenario.name}, {scenario.num_frames} frames, {len(scenario.agents)} agents)")
    if len(args.files) > 1 and failed:
        print(f"{failed} of {len(args.files)} files have errors", file=sys.stderr)
    return 1 if failed else 0


def run_plan(args: argparse.Namespace) -> int:
    if args.trajectory:  # FILE is the header; the trajectory gives every frame's world
        if args.osi:
            raise DrivesimError("--osi writes a scenario file's ground truth; it does not apply to --trajectory")
        from drivesim.bridges.replay import write_plan

        count = write_plan(args.file, args.trajectory, args.output, seed=args.seed,
                           max_agents_per_line=args.max_agents_per_line)
        print(f"wrote {count} frames of labels to {args.output}")
        return 0
    import json

    from drivesim.output.files import atomic_write_text
    from drivesim.scenario.engine import ScenarioEngine
    from drivesim.sources import read_scenario

    scenario = read_scenario(Path(args.file))
    engine = ScenarioEngine(scenario, seed=args.seed)
    trace = None
    if args.osi:
        from drivesim.standards.osi import GroundTruthTrace

        Path(args.osi).parent.mkdir(parents=True, exist_ok=True)
        trace = GroundTruthTrace(Path(args.osi), scenario, args.seed, engine=engine)
    lines = []
    try:
        for fc in engine.frames():
            lines.append(json.dumps(fc.to_json()))
            if trace is not None:
                trace.add(fc)
    finally:
        if trace is not None:
            trace.close()
    atomic_write_text(Path(args.output), "\n".join(lines) + "\n")
    print(f"wrote {len(lines)} frames of labels to {args.output}" + (f" and their OSI trace to {args.osi}"
                                                                     if args.osi else ""))
    return 0


def run_preview(args: argparse.Namespace) -> int:
    if args.trajectory:
        from drivesim.bridges.replay import write_trajectory_preview

        write_trajectory_preview(args.file, args.trajectory, Path(args.output), seed=args.seed,
                                 max_agents_per_line=args.max_agents_per_line)
        print(f"wrote {args.output}")
        return 0
    from drivesim.draw.preview import render_preview
    from drivesim.sources import read_scenario

    scenario = read_scenario(Path(args.file))
    render_preview(scenario, Path(args.output), seed=args.seed)
    print(f"wrote {args.output}")
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from drivesim.output.files import atomic_write_text
    from drivesim.standards.openscenario import ImportOptions, import_openscenario, is_openscenario

    if not is_openscenario(args.file):
        raise DrivesimError(f"{args.file}: convert reads OpenSCENARIO .xosc files (YAML scenarios need no converting)")
    # output: the YAML names the road file relative to where it is written
    imported = import_openscenario(args.file, ImportOptions(fps=args.fps, max_duration_s=args.max_duration,
                                                            output=Path(args.output)))
    atomic_write_text(Path(args.output), imported.yaml)
    for event in imported.events:
        print(f"  {event.time_s:8.3f} s  {event.event}" + (f" (#{event.execution})" if event.execution > 1 else ""))
    print(f"wrote {args.output}: {imported.scenario.num_frames} frames, {len(imported.scenario.agents)} agents, "
          f"{len(imported.events)} event(s) fired")
    return 0
