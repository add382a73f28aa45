"""`drivesim generate`: a scenario (or a simulator's trajectory) -> an OUT folder of frames, videos and labels."""

from __future__ import annotations

import argparse
from pathlib import Path

from drivesim.cli.args import (CHECKPOINT_HELP, PRECISION_HELP, Subparsers, add_command, add_student_flag,
                               add_trajectory_args, positive_int, seed)
from drivesim.errors import DrivesimError


def register(sub: Subparsers) -> None:
    p = add_command(sub, "generate", "scenario -> OUT folder: PNG frames, video.mp4, overlay.mp4, labels, manifest",
                    "drivesim generate scenarios/night_merge.yaml -o out/night_merge\n"
                    "  drivesim generate scenarios/minimal.yaml -o out/fast --steps 4 --no-sr -q\n"
                    "  DRIVESIM_CHECKPOINT=my_bundle drivesim generate scenarios/minimal.yaml -o out/mine\n"
                    "  drivesim generate header.yaml --trajectory drive.jsonl -o out/drive")
    p.add_argument("file", metavar="SCENARIO", help="scenario YAML or OpenSCENARIO .xosc file")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder (written atomically)")
    add_trajectory_args(p)
    p.add_argument("--checkpoint", default=None, metavar="BUNDLE", help=CHECKPOINT_HELP)
    p.add_argument("--seed", type=seed, default=None, help="override the scenario's seed (traffic and noise)")
    p.add_argument("--time-of-day", choices=("day", "night"), default=None,
                   help="the scenario at this time of day throughout (its time-of-day events dropped; the manifest "
                        "records it); road, agents and seed unchanged")
    p.add_argument("--steps", type=int, default=None, help="sampling steps per clip (default: the bundle's)")
    p.add_argument("--sr-steps", type=int, default=None, help="upsampler sampling steps (default: --steps)")
    p.add_argument("--interpolation-steps", type=positive_int, default=None, metavar="N",
                   help="interpolator sampling steps (default: the bundle's diffusion.interpolation_steps, else --steps)")
    p.add_argument("--sampler", choices=("ddim", "dpmpp"), default=None,
                   help="ddim (the paper) or dpmpp (DPM-Solver++, good in fewer steps); default: the bundle's")
    p.add_argument("--guidance", type=float, default=None,
                   help="label/box guidance scale (1 = off; default: the bundle's diffusion.guidance_scale)")
    p.add_argument("--context-guidance", type=float, default=1.0, help="context guidance scale s >= 1 (1 = off)")
    p.add_argument("--image-only", action="store_true", help="image model only: every frame sampled on its own")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--precision", default="auto", help=PRECISION_HELP)  # checked by GenerateOptions
    add_student_flag(p)
    p.add_argument("--osi", action="store_true", help="also write OUT/ground_truth.osi: every frame's world as an "
                   "ASAM OSI GroundTruth trace (docs/export.md; needs osi-python)")
    sr = p.add_mutually_exclusive_group()
    sr.add_argument("--no-sr", action="store_true", help="skip the video upsampler: resize the decoded frames")
    sr.add_argument("--sr", action="store_true", help="run the video upsampler even where the bundle's config "
                    "turns it off (super_resolution: false)")
    p.add_argument("--compile", action="store_true", help="torch.compile the networks (pays off on long GPU runs)")
    p.add_argument("--source", choices=("diffusion", "render"), default="diffusion",
                   help="frames from the bundle's diffusion model (default) or the procedural renderer of the "
                        "training data (the non-neural baseline; no bundle read)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from drivesim.models.checkpoint import resolve_checkpoint
    from drivesim.output.folder import generate_folder
    from drivesim.pipeline.options import GenerateOptions

    options = GenerateOptions(seed=args.seed, steps=args.steps, sr_steps=args.sr_steps, sampler=args.sampler,
                              interpolation_steps=args.interpolation_steps, guidance=args.guidance,
                              context_guidance=args.context_guidance, image_only=args.image_only,
                              super_resolution=False if args.no_sr else (True if args.sr else None),
                              device=args.device, compile=args.compile, progress=not args.quiet,
                              precision=args.precision, student=args.student)
    if args.time_of_day and args.trajectory:
        raise DrivesimError("--time-of-day changes a scenario file; with --trajectory, set time_of_day in the header")
    if args.osi and args.trajectory:
        raise DrivesimError("--osi writes a scenario file's ground truth; it does not apply to --trajectory")
    checkpoint = None if args.source == "render" else resolve_checkpoint(args.checkpoint)  # render reads no bundle
    if args.trajectory:  # FILE is the header; the trajectory gives every frame's world
        from drivesim.bridges.replay import generate_trajectory_folder

        manifest = generate_trajectory_folder(Path(args.file), Path(args.trajectory), Path(args.output), checkpoint,
                                              options, args.source, max_agents_per_line=args.max_agents_per_line)
    else:
        manifest = generate_folder(Path(args.file), Path(args.output), checkpoint, options, args.source, osi=args.osi,
                                   time_of_day=args.time_of_day)
    print(f"wrote {manifest['frames']} frames ({manifest['width']}x{manifest['height']} at {manifest['fps']:g} fps) "
          f"to {args.output} in {manifest['timings_s']['total']:.1f} s")
    return 0
