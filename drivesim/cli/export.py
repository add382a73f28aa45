"""`drivesim export`: a labelled dataset (images + COCO / KITTI / MOT / YOLO / OSI), resumable and
shardable; `--merge` joins the shards."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drivesim.cli.args import (CHECKPOINT_HELP, PRECISION_HELP, TRAJECTORY_HELP, Subparsers, add_command,
                               add_student_flag, add_trajectory_args)
from drivesim.errors import DrivesimError


def register(sub: Subparsers) -> None:
    p = add_command(sub, "export", "labelled dataset: images + COCO / KITTI / MOT / YOLO (resumable, shardable)",
                    "drivesim export scenarios/ -o out/dataset --variations 2\n"
                    "  drivesim export scenarios/ -o out/dry --source schematic --formats coco,yolo\n"
                    "  drivesim export scenarios/ -o out/dataset --shard 0/2   # then 1/2, then: "
                    "drivesim export --merge out/dataset\n"
                    "  drivesim export header.yaml --trajectory drive.jsonl -o out/drive_dataset --source schematic")
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO_OR_DIR", help="scenario files or folders of *.yaml")
    p.add_argument("-o", "--output", metavar="DATASET", help="dataset folder; rerun the same command to resume")
    add_trajectory_args(p, TRAJECTORY_HELP + " (one clip)")
    p.add_argument("--formats", default="coco,kitti,mot,yolo",
                   help="comma-separated: coco, kitti, mot, yolo, osi, lanes (default: coco,kitti,mot,yolo)")
    p.add_argument("--variations", type=int, default=0, metavar="N", help="seeded variations per scenario")
    p.add_argument("--seed", type=int, default=0, help="seed of the variations (default 0)")
    p.add_argument("--shard", metavar="I/N", help="export clips k with k %% N == I (default: RANK/WORLD_SIZE)")
    p.add_argument("--source", choices=["diffusion", "render", "schematic"], default="diffusion",
                   help="frames from the diffusion model, the procedural renderer (non-neural baseline), or "
                        "schematic drawings of the labels (dry run)")
    p.add_argument("--checkpoint", metavar="BUNDLE", help=CHECKPOINT_HELP + "; --source diffusion")
    p.add_argument("--device", help="torch device for --source diffusion (default: cuda:LOCAL_RANK or cpu)")
    p.add_argument("--precision", default="auto", help=PRECISION_HELP + "; --source diffusion")
    add_student_flag(p, "; --source diffusion")
    p.add_argument("--min-box-px", type=float, default=0.0, metavar="PX",
                   help="ship only boxes at least PX pixels tall (default 0: every labelled box; docs/export.md "
                        "says what generated frames show below 14 px)")
    p.add_argument("--max-occlusion", type=float, default=1.0, metavar="SHARE",
                   help="ship only boxes occluded at most this much, 0..1 (default 1: every box)")
    p.add_argument("--types", default=None, metavar="T1,T2",
                   help="ship only these road-user types, comma-separated (default: all)")
    p.add_argument("--merge", metavar="DATASET", help="merge the shards' clips: COCO, manifest and card")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from drivesim.export.dataset import (BoxFilter, ExportOptions, export_dataset, merge_dataset, parse_shard,
                                         plan_clips, resolve_source, shard_from_env)
    from drivesim.export.writers import parse_formats

    if args.merge:
        if args.scenarios or args.output:
            raise DrivesimError("--merge DATASET takes no scenarios and no -o; run it after every shard finished")
        summary = merge_dataset(Path(args.merge))
    else:
        if not args.scenarios or not args.output:
            raise DrivesimError("usage: drivesim export SCENARIO_OR_DIR... -o DATASET (or --merge DATASET)")
        shard = parse_shard(args.shard) if args.shard else shard_from_env()
        if args.trajectory:  # one clip: SCENARIO is its header, the trajectory gives every frame's world
            from drivesim.bridges.replay import trajectory_clip, trajectory_source

            if len(args.scenarios) != 1 or args.variations:
                raise DrivesimError("--trajectory takes one header scenario and no --variations")
            if "osi" in parse_formats(args.formats):  # the OSI trace is built from a scenario's engine
                raise DrivesimError("--formats osi writes a scenario file's ground truth; it does not apply to "
                                    "--trajectory")
            if "lanes" in parse_formats(args.formats):  # so are lane labels, from the engine's ego
                raise DrivesimError("--formats lanes needs each frame's ego pose from a scenario file's engine; "
                                    "it does not apply to --trajectory yet")
            clips = [trajectory_clip(args.scenarios[0], args.trajectory, max_agents_per_line=args.max_agents_per_line)]
            source, source_id = trajectory_source(args.source, args.trajectory, args.checkpoint, args.device,
                                                  max_agents_per_line=args.max_agents_per_line)
        else:
            clips = plan_clips(args.scenarios, variations=args.variations, export_seed=args.seed)
            source, source_id = resolve_source(args.source, args.checkpoint, args.device, args.precision,
                                               args.student)
        types = tuple(t.strip() for t in args.types.split(",") if t.strip()) if args.types is not None else None
        boxes = BoxFilter(args.min_box_px, args.max_occlusion, *([types] if types is not None else []))
        options = ExportOptions(formats=parse_formats(args.formats), shard=shard, source_id=source_id,
                                export_seed=args.seed, variations=args.variations, progress=not args.quiet,
                                boxes=boxes)
        result = export_dataset(clips, Path(args.output), source, options)
        print(f"{args.output}: wrote {result.written} clip(s) ({result.frames} frames), "
              f"{result.assigned - result.written} already complete, {result.assigned} of {result.planned} "
              f"in this {'shard' if shard[1] > 1 else 'export'}")
        if result.merged is None:
            print(f"shard {shard[0]}/{shard[1]} done; when every shard has finished: "
                  f"drivesim export --merge {args.output}")
            return 0
        summary = result.merged
    print(f"dataset: {summary.clips} clips, {summary.frames} frames, {summary.boxes} boxes")
    if summary.missing:
        print(f"warning: {len(summary.missing)} planned clip(s) not exported yet ({', '.join(summary.missing[:5])}"
              f"{' ...' if len(summary.missing) > 5 else ''}); rerun their shards, then --merge again",
              file=sys.stderr)
        return 1
    return 0
