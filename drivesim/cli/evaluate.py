"""`drivesim eval`: a bundle measured against real clips -> REPORT_DIR/report.md (docs/eval.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from drivesim.cli.args import PRECISION_HELP, Subparsers, add_command, add_student_flag, positive_int


def register(sub: Subparsers) -> None:
    p = add_command(sub, "eval", "condition adherence, flicker, Fréchet distance and the paper's ablations -> "
                                 "REPORT_DIR/report.md (docs/eval.md)",
                    "drivesim eval checkpoints/default --data data/synth --quick\n"
                    "  drivesim eval my_bundle --data data/synth -o out/eval")
    p.add_argument("bundle", metavar="BUNDLE", help="bundle folder to evaluate")
    p.add_argument("--data", required=True, metavar="DIR", help="real clips (docs/data-format.md), e.g. synth-data output")
    p.add_argument("-o", "--output", default=None, metavar="REPORT_DIR", help="report folder (default: BUNDLE/eval)")
    p.add_argument("--quick", action="store_true", help="one short scenario, fewer steps: a few minutes on 2 CPU cores")
    p.add_argument("--steps", type=positive_int, default=None,
                   help="sampling steps (default: the bundle's, at most 20; --quick at most 4)")
    p.add_argument("--sr-steps", type=positive_int, default=None,
                   help="upsampler steps (default: the bundle's, at most 4; --quick at most 2)")
    p.add_argument("--interpolation-steps", type=positive_int, default=None, metavar="N",
                   help="interpolator steps (default: the bundle's diffusion.interpolation_steps, else --steps)")
    p.add_argument("--sampler", choices=("ddim", "dpmpp"), default=None, help="default: the bundle's")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (the speed target is 2 cores)")
    p.add_argument("--features-weights", default=None, metavar="FILE.safetensors",
                   help="your own video feature network for the Fréchet distance (interface: docs/eval.md)")
    p.add_argument("--only", choices=("main", "controllability", "drift"), default=None,
                   help="run one section: main (adherence, flicker, Fréchet distance, ablations), controllability "
                        "(road users found where their labels say, renderer as the ceiling) or drift (one long "
                        "rollout measured minute by minute); default: main and controllability")
    p.add_argument("--drift-minutes", type=float, default=None, metavar="MIN",
                   help="length of the drift section's rollout (default 10; --quick 2)")
    p.add_argument("--drift-upsampler", choices=("off", "on", "both"), default="both",
                   help="the drift rollout with the upsampler off, on, or both one after the other (default both)")
    p.add_argument("--drift-road", choices=("winding", "straight"), default="winding",
                   help="the drift section's road: winding (S-bends every 480 m, a two-way road with oncoming "
                        "traffic; default) or straight (version 1's three-lane road)")
    p.add_argument("--session-steps", type=positive_int, default=None, metavar="N",
                   help="generate the controllability videos through a closed-loop session, N frames per step "
                        "(what a simulator driving OpenSession gets; default: offline generation)")
    p.add_argument("--precision", default="auto", help=PRECISION_HELP)
    add_student_flag(p, "; every generated video of the report")
    p.add_argument("--split", choices=("validation", "test"), default="validation",
                   help="controllability scenarios: validation (where settings are chosen; default) or test (the "
                        "untouched split the verdict is reported on)")
    p.add_argument("--world-scenarios", type=int, choices=range(7), default=None, metavar="N",
                   help="controllability: how many of the split's curve / junction / oncoming scenarios, 0-6 "
                        "(default: 1 with --quick, all 6 without)")
    p.add_argument("--repeats", type=positive_int, default=1, metavar="N",
                   help="controllability: run each scenario with N seeds and report the spread (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from drivesim.eval.report import EvalSettings, format_main_table, run_eval

    settings = EvalSettings(quick=args.quick, steps=args.steps, sr_steps=args.sr_steps, sampler=args.sampler,
                            device=args.device, threads=args.threads,
                            features_weights=Path(args.features_weights) if args.features_weights else None,
                            progress=not args.quiet, only=args.only, drift_minutes=args.drift_minutes,
                            drift_upsampler=args.drift_upsampler, drift_road=args.drift_road,
                            split=args.split, repeats=args.repeats, control_world_scenarios=args.world_scenarios,
                            precision=args.precision, student=args.student,
                            session_steps=args.session_steps, interpolation_steps=args.interpolation_steps)
    report = run_eval(Path(args.bundle), Path(args.data), Path(args.output) if args.output else None, settings)
    if report.main:
        print(format_main_table(report))
    if report.controllability is not None:
        from drivesim.eval.controllability import format_controllability

        print(format_controllability(report.controllability))
    if report.drift is not None:
        from drivesim.eval.drift import format_drift

        print(format_drift(report.drift))
    print(f"wrote {report.path} ({'ablations, per-scenario numbers, sample strips' if report.main else 'every number'})")
    return 0
