"""The `drivesim` command: parses arguments and calls the library. No logic lives here.

    drivesim validate scenarios/*.yaml
    drivesim plan scenarios/night_merge.yaml -o out/labels.jsonl
    drivesim preview scenarios/night_merge.yaml -o out/preview.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drivesim.errors import DrivesimError


# --- scenario ----------------------------------------------------------------------------

def _cmd_validate(args: argparse.Namespace) -> int:
    from drivesim.errors import ScenarioError
    from drivesim.scenario.loader import load_scenario

    failed = 0
    for path in args.files:
        try:
            scenario = load_scenario(path)
        except ScenarioError as err:
            failed += 1
            print(f"{path}: {len(err.issues)} error(s)", file=sys.stderr)
            for issue in err.issues:
                print(f"  {issue}", file=sys.stderr)
        else:
            print(f"{path}: ok ({scenario.name}, {scenario.num_frames} frames, {len(scenario.agents)} agents)")
    return 1 if failed else 0


def _cmd_plan(args: argparse.Namespace) -> int:
    import json

    from drivesim.scenario.engine import ScenarioEngine
    from drivesim.scenario.loader import load_scenario
    from drivesim.sinks import atomic_write_text

    scenario = load_scenario(args.file)
    lines = [json.dumps(fc.to_json()) for fc in ScenarioEngine(scenario, seed=args.seed).frames()]
    atomic_write_text(Path(args.output), "\n".join(lines) + "\n")
    print(f"wrote {len(lines)} frames of labels to {args.output}")
    return 0


def _cmd_preview(args: argparse.Namespace) -> int:
    from drivesim.scenario.loader import load_scenario
    from drivesim.scenario.preview import render_preview

    scenario = load_scenario(args.file)
    render_preview(scenario, Path(args.output), seed=args.seed)
    print(f"wrote {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drivesim", description=__doc__.splitlines()[0])
    from drivesim import __version__

    parser.add_argument("--version", action="version", version=f"drivesim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check scenario files; prints every error with its line")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("plan", help="dry run: per-frame ground-truth labels as JSON lines")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", required=True, metavar="LABELS.jsonl")
    p.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    p.set_defaults(func=_cmd_plan)

    p = sub.add_parser("preview", help="bird's-eye view and camera box overlays as one PNG")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", required=True, metavar="PREVIEW.png")
    p.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    p.set_defaults(func=_cmd_preview)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DrivesimError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
