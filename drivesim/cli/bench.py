"""`drivesim bench`: seconds per frame on CPU (drivesim.bench.speed), or with --mfu the GPU path:
frames/s per stage, memory, counted FLOPs and MFU (drivesim.bench.device)."""

from __future__ import annotations

import argparse
from pathlib import Path

from drivesim.cli.args import CHECKPOINT_HELP, PRECISION_HELP, Subparsers, add_command, add_student_flag


def register(sub: Subparsers) -> None:
    p = add_command(sub, "bench", "s/frame per stage, peak memory, 4x-duration and guidance ratios",
                    "drivesim bench --quick --threads 2\n"
                    "  drivesim bench --random-config tiny --quick --steps 4 --json bench.json\n"
                    "  drivesim bench --mfu --device cuda --random-config paper --steps 8 --sr-steps 4 --json gpu.json")
    p.add_argument("--checkpoint", default=None, metavar="BUNDLE", help=CHECKPOINT_HELP)
    p.add_argument("--random-config", default=None, metavar="NAME",
                   help="time a randomly initialised bundle of this config (tiny, paper) instead of a checkpoint")
    p.add_argument("--quick", action="store_true", help="2.5 s and 10 s clips instead of 10 s and 40 s")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--steps", type=int, default=None, help="sampling steps per clip (default: the bundle's)")
    p.add_argument("--sr-steps", type=int, default=None, help="upsampler sampling steps (default: --steps)")
    p.add_argument("--sampler", choices=("ddim", "dpmpp"), default=None, help="default: the bundle's")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads in the measured runs")
    p.add_argument("--precision", default="auto", help=PRECISION_HELP + "; the measured runs (the reference is fp32)")
    add_student_flag(p, "; here: the students measured too, beside the teachers, in the same run (a 1x clip and "
                        "1-frame session steps each; docs/performance.md)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write every figure as JSON")
    p.add_argument("--mfu", nargs="?", const="all", default=None, choices=("all", "generate", "train"),
                   help="the GPU path instead (docs/performance.md): output frames/s per stage, peak GPU memory, "
                        "counted FLOPs and model FLOP utilisation at the config's output size, and training "
                        "steps/s of the image and video stages; `generate` or `train` for one part")
    p.add_argument("--frames", type=int, default=None, help="--mfu: output frames of the timed run "
                   "(default: about one keyframe clip, 236 for the paper config)")
    p.add_argument("--compile", action="store_true", help="--mfu: torch.compile the networks")
    p.add_argument("--train-steps", type=int, default=200, help="--mfu: training steps per stage (default 200)")
    p.add_argument("--train-seconds", type=float, default=60.0,
                   help="--mfu: stop a training stage after this long even before --train-steps (default 60)")
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="--mfu: the device's peak bf16 TFLOP/s for MFU (default: a table by GPU name)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    if args.mfu:  # the GPU path: frames/s per stage, GPU memory, counted FLOPs and MFU, training steps/s
        from drivesim.bench.device import DeviceBenchOptions, run_device_bench
        from drivesim.bench.device_report import format_device_report

        options = DeviceBenchOptions(device=args.device, random_config=args.random_config, checkpoint=args.checkpoint,
                                     part=args.mfu, frames=args.frames, steps=args.steps, sr_steps=args.sr_steps,
                                     sampler=args.sampler, compile=args.compile, train_steps=args.train_steps,
                                     train_seconds=args.train_seconds, peak_tflops=args.peak_tflops,
                                     threads=args.threads, student=args.student)
        print(format_device_report(run_device_bench(options, json_path=args.json)))
        return 0
    from drivesim.bench.speed import format_report, run_bench

    result = run_bench(checkpoint=args.checkpoint, random_config=args.random_config, device=args.device,
                       quick=args.quick, steps=args.steps, sr_steps=args.sr_steps, sampler=args.sampler,
                       threads=args.threads, precision=args.precision, student=args.student)
    print(format_report(result))
    if args.json:
        from drivesim.output.files import atomic_write_text

        atomic_write_text(Path(args.json), json.dumps(result, indent=2) + "\n")
    return 0
