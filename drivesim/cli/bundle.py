"""`drivesim bundle merge | set | drop-student`: edit a trained bundle (drivesim.train.bundle_edit): take a
part trained in another bundle, set config values such as the sampling defaults, remove students."""

from __future__ import annotations

import argparse

from drivesim.cli.args import Subparsers, add_command

# drivesim.models.bundle.PARTS, written out: importing it here would load torch for `drivesim --help`
# (tests/test_bundle_edit.py checks that the two agree).
PARTS = ("autoencoder", "decoder_temporal", "unet_spatial", "unet_temporal", "interpolator", "upsampler")
STUDENT_MODELS = ("keyframe", "interpolator", "upsampler")  # drivesim.models.configs.STUDENT_MODELS


def register(sub: Subparsers) -> None:
    p = add_command(sub, "bundle", "edit a trained bundle: merge a part trained in another bundle, set config "
                                   "values (docs/training.md)",
                    "drivesim bundle merge my_bundle --from my_bundle.upsampler --part upsampler\n"
                    "  drivesim bundle set my_bundle diffusion.guidance_scale=2.0 "
                    "upsampler_diffusion.num_inference_steps=2")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True, help="merge, set or drop-student")

    merge = add_command(actions, "merge", "copy parts trained in another bundle into BUNDLE: their .safetensors "
                                          "files, their config sections and their stages.json entries",
                        "drivesim bundle merge my_bundle --from my_bundle.upsampler --part upsampler")
    merge.add_argument("bundle", metavar="BUNDLE", help="bundle folder to merge into")
    merge.add_argument("--from", dest="source", required=True, metavar="OTHER_BUNDLE",
                       help="bundle folder the parts were trained in")
    merge.add_argument("--part", dest="parts", action="append", required=True, choices=PARTS,
                       help="part to take (repeatable); checked to fit BUNDLE's other parts before anything "
                            "is written")
    merge.set_defaults(func=run_merge)

    set_ = add_command(actions, "set", "set values in BUNDLE/config.yaml, e.g. the sampling defaults; each value "
                                       "is read as YAML and typed by the config schema",
                       "drivesim bundle set my_bundle diffusion.guidance_scale=2.0 "
                       "upsampler_diffusion.num_inference_steps=2")
    set_.add_argument("bundle", metavar="BUNDLE", help="bundle folder whose config.yaml is edited")
    set_.add_argument("values", nargs="+", metavar="KEY=VALUE",
                      help="dotted config key and its value, e.g. diffusion.guidance_scale=2.0")
    set_.set_defaults(func=run_set)

    drop = add_command(actions, "drop-student", "remove few-step students from BUNDLE: their files, their "
                                                "config entries and their stages.json records (before "
                                                "distilling them anew)",
                       "drivesim bundle drop-student my_bundle upsampler")
    drop.add_argument("bundle", metavar="BUNDLE", help="bundle folder whose students are removed")
    drop.add_argument("models", nargs="+", metavar="MODEL", choices=STUDENT_MODELS,
                      help=f"whose student goes: {', '.join(STUDENT_MODELS)}")
    drop.set_defaults(func=run_drop_student)


def run_merge(args: argparse.Namespace) -> int:
    from drivesim.train.bundle_edit import merge_parts

    sections = merge_parts(args.bundle, args.source, args.parts)
    print(f"{args.bundle}: took {', '.join(dict.fromkeys(args.parts))} from {args.source}"
          + (f" (config section{'s' if len(sections) > 1 else ''} {', '.join(sections)})" if sections else ""))
    return 0


def run_set(args: argparse.Namespace) -> int:
    from drivesim.train.bundle_edit import parse_assignments, set_config_values

    typed = set_config_values(args.bundle, parse_assignments(args.values))
    print(f"{args.bundle}: set " + ", ".join(f"{key}={value!r}" for key, value in typed.items()))
    return 0


def run_drop_student(args: argparse.Namespace) -> int:
    from drivesim.train.bundle_edit import drop_students

    present = drop_students(args.bundle, args.models)
    print(f"{args.bundle}: " + (f"dropped the student{'s' if len(present) > 1 else ''} of {', '.join(present)}"
                                if present else "no such student, nothing to drop"))
    return 0
