"""`drivesim synth-data` (procedural training clips) and `drivesim train` (one stage of a bundle, or
`drivesim train distill MODEL`: a few-step student of one of its models)."""

from __future__ import annotations

import argparse
from pathlib import Path

from drivesim.cli.args import Subparsers, add_command, positive_int
from drivesim.errors import DrivesimError

STUDENTS = ("keyframe", "interpolator", "upsampler")  # drivesim.models.configs.STUDENT_MODELS (no torch import here)


def register(sub: Subparsers) -> None:
    p = add_command(sub, "synth-data", "procedural training clips: rendered frames + exact labels "
                                       "(docs/data-format.md)",
                    "drivesim synth-data -o data/synth --clips 160 --frames 48 --size 256x512 --workers 2")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="dataset folder; rerun to resume")
    p.add_argument("--clips", type=int, required=True, metavar="N", help="number of clips in the dataset")
    p.add_argument("--frames", type=int, required=True, metavar="T", help="frames per clip")
    p.add_argument("--size", default="128x256", metavar="HxW", help="frame size (default 128x256)")
    p.add_argument("--fps", type=float, default=10.0, help="frame rate (default 10)")
    p.add_argument("--seed", type=int, default=0, help="dataset seed: same seed, same clips (default 0)")
    p.add_argument("--workers", type=int, default=1, metavar="K", help="render processes (default 1)")
    p.add_argument("--mix", choices=("v1", "world", "world2"), default="v1",
                   help="which roads are drawn: v1 = straight one-way roads only (default); world = bends, two-way "
                        "roads, junctions and straight roads, as the shipped default was fine-tuned on; world2 = "
                        "the same with bends down to 40 m and more junctions (docs/data-format.md, 'The random mix')")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_synth_data)

    p = add_command(sub, "train", "train one stage of a bundle (docs/training.md); `accelerate launch` for GPUs",
                    "drivesim train autoencoder --data data/synth --config tiny --out my_bundle --threads 1\n"
                    "  drivesim train image --data data/synth --out my_bundle --resume\n"
                    "  drivesim train distill keyframe --bundle my_bundle --data data/synth --steps 1000 --threads 1")
    p.add_argument("stage", metavar="STAGE",
                   help="autoencoder | image | decoder | video | interpolation | upsampler (in this order), or "
                        "distill (then MODEL)")
    p.add_argument("student", metavar="MODEL", nargs="?", default=None,
                   help="distill only: keyframe | interpolator | upsampler, the model whose few-step student "
                        "is distilled into BUNDLE/students/ (docs/training.md, 'Few-step students')")
    p.add_argument("--data", required=True, metavar="DIR", help="clips folder (synth-data or docs/data-format.md)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", metavar="BUNDLE", help="bundle folder: read, trained part written back")
    where.add_argument("--bundle", dest="out", metavar="BUNDLE", help="the same as --out (read as `distill`'s)")
    p.add_argument("--config", default=None, metavar="NAME", help="preset used to create BUNDLE if absent (tiny, paper)")
    p.add_argument("--init-from", default=None, metavar="TRAINED_BUNDLE",
                   help="with --config, create BUNDLE from TRAINED_BUNDLE's weights wherever names and shapes match "
                        "(layers the preset adds start from their initialisation); fine-tune instead of retraining")
    p.add_argument("--resume", action="store_true", help="continue the saved state in BUNDLE/.train/STAGE")
    p.add_argument("--steps", type=positive_int, default=None, help="total optimizer steps (default: per stage)")
    p.add_argument("--batch", type=positive_int, default=None, help="batch size per process (default: per stage)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: per stage)")
    p.add_argument("--seed", type=int, default=None, help="seed of data order, noise and dropout (default 0)")
    p.add_argument("--phase", default=None, help="upsampler only: spatial (default), then temporal")
    p.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="any other stage setting, e.g. --set gan_start=500 (repeatable; see docs/training.md)")
    p.add_argument("--preview-every", type=int, default=250, metavar="K", help="preview PNG every K steps (0 = off)")
    p.add_argument("--log-every", type=positive_int, default=10, metavar="K", help="CSV loss row every K steps")
    p.add_argument("--save-every", type=positive_int, default=250, metavar="K", help="resumable state every K steps")
    p.add_argument("--workers", type=int, default=0, metavar="K", help="data-loading processes (default 0)")
    p.add_argument("--threads", type=positive_int, default=None, metavar="N",
                   help="torch CPU threads (default: torch's; use 1 on a CPU shared with other jobs)")
    p.add_argument("--cpu", action="store_true", help="train on CPUs even where GPUs exist (multi-process: torchrun)")
    p.add_argument("--save-dtype", choices=("fp16", "fp32"), default="fp16", help="dtype of the bundle written")
    p.add_argument("--mixed-precision", choices=("no", "fp16", "bf16"), default=None,
                   help="autocast on GPU (default: accelerate's config / launch flag)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)


def run_synth_data(args: argparse.Namespace) -> int:
    from drivesim.data.synth import SynthConfig, parse_size, synth_data

    height, width = parse_size(args.size)
    cfg = SynthConfig(output=args.output, clips=args.clips, frames=args.frames, height=height, width=width,
                      fps=args.fps, seed=args.seed, workers=args.workers, mix=args.mix)
    rendered = synth_data(cfg, progress=not args.quiet)
    print(f"rendered {len(rendered)} clip(s), {cfg.clips - len(rendered)} already present, in {args.output}")
    return 0


def _stage(args: argparse.Namespace) -> str:
    """The stage to run: STAGE, or `distill-MODEL`, which needs a trained bundle."""
    if args.stage != "distill":
        if args.student is not None:
            raise DrivesimError(f"drivesim train {args.stage} takes no MODEL ({args.student!r}); only "
                                "`drivesim train distill MODEL` does")
        return args.stage
    if args.student not in STUDENTS:
        raise DrivesimError(f"drivesim train distill needs the model to distil: one of {', '.join(STUDENTS)}"
                            + (f", not {args.student!r}" if args.student else ""))
    if not (Path(args.out) / "config.yaml").is_file():
        raise DrivesimError(f"{args.out} is not a trained bundle (no config.yaml): a student is distilled from "
                            "the models of an existing bundle")
    if args.config or args.init_from or args.phase:
        raise DrivesimError("drivesim train distill reads its bundle as it is: drop --config, --init-from and --phase")
    return f"distill-{args.student}"


def run_train(args: argparse.Namespace) -> int:
    from drivesim.train.loop import TrainOptions, train

    overrides = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DrivesimError(f"--set expects NAME=VALUE, got {item!r}")
        overrides[key.strip()] = value.strip()
    result = train(TrainOptions(
        stage=_stage(args), data=Path(args.data), out=Path(args.out), config=args.config,
        init_from=Path(args.init_from) if args.init_from else None, resume=args.resume,
        steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed, phase=args.phase, overrides=overrides,
        preview_every=args.preview_every, log_every=args.log_every, save_every=args.save_every,
        workers=args.workers, save_dtype=args.save_dtype, mixed_precision=args.mixed_precision,
        threads=args.threads, cpu=args.cpu, progress=not args.quiet))
    if result.step > result.start_step and result.is_main_process:
        losses = ", ".join(f"{k} {v:.4g}" for k, v in result.losses.items())
        print(f"{result.stage}: trained steps {result.start_step + 1}-{result.step} ({losses}); "
              f"wrote {args.out}; log and previews in {result.run_dir}")
    return 0
