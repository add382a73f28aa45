"""The `drivesim` command: parses arguments and calls the library. No logic lives here.

    drivesim validate scenarios/*.yaml
    drivesim plan scenarios/night_merge.yaml -o out/labels.jsonl
    drivesim preview scenarios/night_merge.yaml -o out/preview.png
    drivesim generate scenarios/night_merge.yaml -o out/night_merge --steps 8
    drivesim bench --quick
"""

from __future__ import annotations

import argparse
import math
import os
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
        except ScenarioError as err:  # every issue of the file, each with file:line:column
            failed += 1
            n = len(err.issues)
            print(f"{path}: {n} error{'s' if n != 1 else ''}", file=sys.stderr)
            for issue in err.issues:
                print(f"  {issue}", file=sys.stderr)
        else:
            print(f"{path}: ok ({scenario.name}, {scenario.num_frames} frames, {len(scenario.agents)} agents)")
    if len(args.files) > 1 and failed:
        print(f"{failed} of {len(args.files)} files have errors", file=sys.stderr)
    return 1 if failed else 0


def _cmd_plan(args: argparse.Namespace) -> int:
    if args.trajectory:  # FILE is the header; the trajectory gives every frame's world
        from drivesim.bridges.replay import write_plan

        count = write_plan(args.file, args.trajectory, args.output, seed=args.seed)
        print(f"wrote {count} frames of labels to {args.output}")
        return 0
    import json

    from drivesim.scenario.engine import ScenarioEngine
    from drivesim.scenario.loader import load_scenario
    from drivesim.output.files import atomic_write_text

    scenario = load_scenario(args.file)
    lines = [json.dumps(fc.to_json()) for fc in ScenarioEngine(scenario, seed=args.seed).frames()]
    atomic_write_text(Path(args.output), "\n".join(lines) + "\n")
    print(f"wrote {len(lines)} frames of labels to {args.output}")
    return 0


def _cmd_preview(args: argparse.Namespace) -> int:
    if args.trajectory:
        from drivesim.bridges.replay import write_trajectory_preview

        write_trajectory_preview(args.file, args.trajectory, Path(args.output), seed=args.seed)
        print(f"wrote {args.output}")
        return 0
    from drivesim.scenario.loader import load_scenario
    from drivesim.draw.preview import render_preview

    scenario = load_scenario(args.file)
    render_preview(scenario, Path(args.output), seed=args.seed)
    print(f"wrote {args.output}")
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from drivesim.standards.openscenario import ImportOptions, import_openscenario, is_openscenario
    from drivesim.output.files import atomic_write_text

    if not is_openscenario(args.file):
        raise DrivesimError(f"{args.file}: convert reads OpenSCENARIO .xosc files (YAML scenarios need no converting)")
    imported = import_openscenario(args.file, ImportOptions(fps=args.fps, max_duration_s=args.max_duration))
    atomic_write_text(Path(args.output), imported.yaml)
    for event in imported.events:
        print(f"  {event.time_s:8.3f} s  {event.event}" + (f" (#{event.execution})" if event.execution > 1 else ""))
    print(f"wrote {args.output}: {imported.scenario.num_frames} frames, {len(imported.scenario.agents)} agents, "
          f"{len(imported.events)} event(s) fired")
    return 0


def _cmd_strip(args: argparse.Namespace) -> int:
    from drivesim.draw.strip import write_strip

    image = write_strip([Path(f) for f in args.folders], Path(args.output), count=args.count, frames=args.frames,
                        width=args.width)
    print(f"wrote {args.output} ({image.shape[1]}x{image.shape[0]}, {len(args.folders)} row(s))")
    return 0


# --- models ------------------------------------------------------------------------------

def _cmd_info(args: argparse.Namespace) -> int:
    from drivesim.models.info import format_bundle_info, missing_parts

    print(format_bundle_info(Path(args.bundle), with_hash=args.sha256))
    missing = missing_parts(Path(args.bundle))
    if missing:
        print(f"error: bundle {args.bundle} is missing part(s): {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


# --- generation ----------------------------------------------------------------------------

PRECISION_HELP = ("the networks' arithmetic: auto (default) = bf16 where the device computes it natively (CUDA, "
                  "CPUs with AVX512-BF16 or AMX: ~1.6x faster, frames within ~0.3/255 on average), else fp32; "
                  "fp32 = exact")


def _cmd_generate(args: argparse.Namespace) -> int:
    from drivesim.output.folder import generate_folder
    from drivesim.pipeline.options import GenerateOptions

    options = GenerateOptions(seed=args.seed, steps=args.steps, sr_steps=args.sr_steps, sampler=args.sampler,
                              interpolation_steps=args.interpolation_steps, guidance=args.guidance, context_guidance=args.context_guidance,
                              image_only=args.image_only, super_resolution=False if args.no_sr else (True if args.sr else None), device=args.device,
                              compile=args.compile, progress=not args.quiet, precision=args.precision)
    from drivesim.models.checkpoint import resolve_checkpoint

    if args.osi and args.trajectory:
        raise DrivesimError("--osi writes a scenario file's ground truth; it does not apply to --trajectory")
    checkpoint = None if args.source == "render" else resolve_checkpoint(args.checkpoint)  # render reads no bundle
    if args.trajectory:  # FILE is the header; the trajectory gives every frame's world
        from drivesim.bridges.replay import generate_trajectory_folder

        manifest = generate_trajectory_folder(Path(args.file), Path(args.trajectory), Path(args.output), checkpoint,
                                              options, args.source)
    else:
        manifest = generate_folder(Path(args.file), Path(args.output), checkpoint, options, args.source, osi=args.osi)
    print(f"wrote {manifest['frames']} frames ({manifest['width']}x{manifest['height']} at {manifest['fps']:g} fps) "
          f"to {args.output} in {manifest['timings_s']['total']:.1f} s")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    import json

    if args.mfu:  # the GPU path: frames/s per stage, GPU memory, counted FLOPs and MFU, training steps/s
        from drivesim.bench.device import DeviceBenchOptions, run_device_bench
        from drivesim.bench.device_report import format_device_report

        options = DeviceBenchOptions(device=args.device, random_config=args.random_config, checkpoint=args.checkpoint,
                                     part=args.mfu, frames=args.frames, steps=args.steps, sr_steps=args.sr_steps,
                                     sampler=args.sampler, compile=args.compile, train_steps=args.train_steps,
                                     train_seconds=args.train_seconds, peak_tflops=args.peak_tflops,
                                     threads=args.threads)
        print(format_device_report(run_device_bench(options, json_path=args.json)))
        return 0
    from drivesim.bench.speed import format_report, run_bench

    result = run_bench(checkpoint=args.checkpoint, random_config=args.random_config, device=args.device,
                       quick=args.quick, steps=args.steps, sr_steps=args.sr_steps, sampler=args.sampler,
                       threads=args.threads)
    print(format_report(result))
    if args.json:
        from drivesim.output.files import atomic_write_text

        atomic_write_text(Path(args.json), json.dumps(result, indent=2) + "\n")
    return 0


# --- dataset export ------------------------------------------------------------------------

def _cmd_export(args: argparse.Namespace) -> int:
    from drivesim.export.dataset import (ExportOptions, export_dataset, merge_dataset, parse_shard, plan_clips,
                                         resolve_source, shard_from_env)
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
            clips = [trajectory_clip(args.scenarios[0], args.trajectory)]
            source, source_id = trajectory_source(args.source, args.trajectory, args.checkpoint, args.device)
        else:
            clips = plan_clips(args.scenarios, variations=args.variations, export_seed=args.seed)
            source, source_id = resolve_source(args.source, args.checkpoint, args.device)
        options = ExportOptions(formats=parse_formats(args.formats), shard=shard, source_id=source_id,
                                export_seed=args.seed, variations=args.variations, progress=not args.quiet)
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


# --- gRPC service --------------------------------------------------------------------------

def _cmd_serve(args: argparse.Namespace) -> int:
    import logging
    import os

    from drivesim.serve.generator import make_generator
    from drivesim.serve.limits import Limits
    from drivesim.serve.server import ServeConfig, serve_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    limits = Limits(max_streams=args.max_streams, max_sessions=args.max_sessions,
                    max_duration_s=args.max_duration_s, max_pixels=args.max_pixels,
                    max_agents_per_step=args.max_agents_per_step)
    config = ServeConfig(host=args.host, port=args.port, token=args.token or os.environ.get("DRIVESIM_TOKEN") or None,
                         tls_cert=args.tls_cert, tls_key=args.tls_key, grace_s=args.grace_s, limits=limits)
    generator = make_generator(args.backend, args.checkpoint, args.device)  # loads the model now: fail fast
    serve_forever(generator, config, on_ready=lambda server: print(
        f"drivesim serve: {args.backend} backend listening on {server.address}"
        f"{' (token required)' if config.token else ''}; Ctrl-C or SIGTERM stops it", flush=True))
    return 0


def _cmd_client(args: argparse.Namespace) -> int:
    import os

    from drivesim.serve.client import DrivesimClient, generate_to_folder
    from drivesim.scenario.loader import read_scenario_text

    text = read_scenario_text(args.file)
    token = args.token or os.environ.get("DRIVESIM_TOKEN") or None
    with DrivesimClient(args.server, token=token, tls_ca=args.tls_ca) as client:
        summary = generate_to_folder(client, text, Path(args.output), seed=args.seed, filename=args.file)
    print(f"wrote {summary['frames']} frames from {args.server} to {args.output}")
    return 0


def _cmd_synth_data(args: argparse.Namespace) -> int:
    from drivesim.data.synth import SynthConfig, parse_size, synth_data

    height, width = parse_size(args.size)
    cfg = SynthConfig(output=args.output, clips=args.clips, frames=args.frames, height=height, width=width,
                      fps=args.fps, seed=args.seed, workers=args.workers)
    rendered = synth_data(cfg, progress=not args.quiet)
    print(f"rendered {len(rendered)} clip(s), {cfg.clips - len(rendered)} already present, in {args.output}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from drivesim.train.loop import TrainOptions, train

    overrides = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DrivesimError(f"--set expects NAME=VALUE, got {item!r}")
        overrides[key.strip()] = value.strip()
    result = train(TrainOptions(
        stage=args.stage, data=Path(args.data), out=Path(args.out), config=args.config,
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


def _cmd_eval(args: argparse.Namespace) -> int:
    from drivesim.eval.report import EvalSettings, format_main_table, run_eval

    settings = EvalSettings(quick=args.quick, steps=args.steps, sr_steps=args.sr_steps, sampler=args.sampler,
                            device=args.device, threads=args.threads,
                            features_weights=Path(args.features_weights) if args.features_weights else None,
                            progress=not args.quiet, only=args.only, drift_minutes=args.drift_minutes,
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


TRAJECTORY_HELP = ("replay a simulator's per-frame world state (docs/trajectory-format.md); the scenario is then "
                   "its header: camera, fps, seed, road and start environment, no agents")
CHECKPOINT_HELP = ("checkpoint bundle folder (default: $DRIVESIM_CHECKPOINT, else the shipped default bundle, "
                   "found wherever drivesim is installed)")

DESCRIPTION = """\
drivesim turns a driving scenario (time of day, crowdedness, road, agents and their manoeuvres,
written as YAML) into labelled camera video generated by a conditioned Video Latent Diffusion
Model, and exports the scenario's ground truth as COCO / KITTI / MOT / YOLO labels.

Write a scenario (docs/scenario-format.md, examples in scenarios/), check it with `validate`,
look at it with `preview`, then `generate` the video. The shipped default model is used unless
you pass --checkpoint or set DRIVESIM_CHECKPOINT. `drivesim COMMAND -h` shows a command's
options and examples."""

EPILOG = """\
examples:
  drivesim validate scenarios/*.yaml
  drivesim preview scenarios/night_merge.yaml -o preview.png
  drivesim generate scenarios/night_merge.yaml -o out/night_merge
  drivesim export scenarios/ -o out/dataset --variations 2
  drivesim serve --port 50051"""

EXAMPLES = {  # `drivesim COMMAND -h` ends with these
    "validate": "drivesim validate scenarios/*.yaml",
    "plan": "drivesim plan scenarios/night_merge.yaml -o out/labels.jsonl --seed 7\n"
            "  drivesim plan header.yaml --trajectory drive.jsonl -o out/labels.jsonl",
    "preview": "drivesim preview scenarios/night_merge.yaml -o out/preview.png",
    "convert": "drivesim convert scenarios/openscenario/cut_in.xosc -o out/cut_in.yaml\n"
               "  drivesim convert scenarios/openscenario/cut_in.xosc -o out/cut_in.yaml --fps 20 --max-duration 30",
    "info": "drivesim info checkpoints/default --sha256",
    "strip": "drivesim strip out/city_day out/night_merge -o docs/strip.jpg --count 4",
    "generate": "drivesim generate scenarios/night_merge.yaml -o out/night_merge\n"
                "  drivesim generate scenarios/minimal.yaml -o out/fast --steps 4 --no-sr -q\n"
                "  DRIVESIM_CHECKPOINT=my_bundle drivesim generate scenarios/minimal.yaml -o out/mine\n"
                "  drivesim generate header.yaml --trajectory drive.jsonl -o out/drive",
    "bench": "drivesim bench --quick --threads 2\n  drivesim bench --random-config tiny --quick --steps 4 --json bench.json\n"
             "  drivesim bench --mfu --device cuda --random-config paper --steps 8 --sr-steps 4 --json gpu.json",
    "export": "drivesim export scenarios/ -o out/dataset --variations 2\n"
              "  drivesim export scenarios/ -o out/dry --source schematic --formats coco,yolo\n"
              "  drivesim export scenarios/ -o out/dataset --shard 0/2   # then 1/2, then: drivesim export --merge out/dataset\n"
              "  drivesim export header.yaml --trajectory drive.jsonl -o out/drive_dataset --source schematic",
    "serve": "drivesim serve --port 50051\n  DRIVESIM_TOKEN=secret drivesim serve --host 0.0.0.0 --backend schematic",
    "client": "drivesim client scenarios/minimal.yaml --server localhost:50051 -o out/remote",
    "synth-data": "drivesim synth-data -o data/synth --clips 160 --frames 48 --size 256x512 --workers 2",
    "train": "drivesim train autoencoder --data data/synth --config tiny --out my_bundle --threads 1\n"
             "  drivesim train image --data data/synth --out my_bundle --resume",
    "eval": "drivesim eval checkpoints/default --data data/synth --quick\n"
            "  drivesim eval my_bundle --data data/synth -o out/eval",
}


def _describe_commands(sub: argparse._SubParsersAction) -> None:
    """Each command's help line as its description, its examples as its epilog."""
    helps = {action.dest: action.help for action in sub._choices_actions}
    for name, command in sub.choices.items():
        command.description = command.description or helps.get(name)
        examples = EXAMPLES[name]
        command.epilog = ("examples:\n  " if "\n" in examples else "example:\n  ") + examples
        command.formatter_class = argparse.RawDescriptionHelpFormatter


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drivesim", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    from drivesim import __version__

    parser.add_argument("--version", action="version", version=f"drivesim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")  # none: main() prints this help

    p = sub.add_parser("validate", help="check scenario files; prints every error with its line")
    p.add_argument("files", nargs="+", metavar="FILE", help="scenario YAML or OpenSCENARIO .xosc file(s)")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("plan", help="dry run: per-frame ground-truth labels as JSON lines")
    p.add_argument("file", metavar="FILE", help="scenario YAML or OpenSCENARIO .xosc file")
    p.add_argument("-o", "--output", required=True, metavar="LABELS.jsonl", help="labels file: one JSON line per frame")
    p.add_argument("--trajectory", metavar="FILE.jsonl", help=TRAJECTORY_HELP)
    p.add_argument("--seed", type=_seed, default=None, help="override the scenario's seed")
    p.set_defaults(func=_cmd_plan)

    p = sub.add_parser("preview", help="bird's-eye view and camera box overlays as one PNG")
    p.add_argument("file", metavar="FILE", help="scenario YAML or OpenSCENARIO .xosc file")
    p.add_argument("-o", "--output", required=True, metavar="PREVIEW.png", help="picture to write (PNG)")
    p.add_argument("--trajectory", metavar="FILE.jsonl", help=TRAJECTORY_HELP)
    p.add_argument("--seed", type=_seed, default=None, help="override the scenario's seed")
    p.set_defaults(func=_cmd_preview)

    p = sub.add_parser("convert", help="OpenSCENARIO .xosc on a straight road -> the same scenario as drivesim YAML "
                                       "(docs/openscenario.md)")
    p.add_argument("file", metavar="FILE.xosc", help="OpenSCENARIO 1.0-1.2 file (its .xodr road and catalogs beside it)")
    p.add_argument("-o", "--output", required=True, metavar="FILE.yaml", help="drivesim scenario to write")
    p.add_argument("--fps", type=_number_above("--fps", 0.0, inclusive=False), default=10.0,
                   help="frame rate of the clip and the runner's time step (default 10)")
    p.add_argument("--max-duration", type=_number_above("--max-duration", 0.0, inclusive=False), default=60.0,
                   metavar="S", help="clip length when the StopTrigger has not fired by then (default 60)")
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("strip", help="frames of `generate` OUT folders with their label boxes, one row per "
                                     "folder, as one JPEG or PNG")
    p.add_argument("folders", nargs="+", metavar="OUT", help="folders written by `drivesim generate`")
    p.add_argument("-o", "--output", required=True, metavar="STRIP.jpg", help="picture to write (.jpg or .png)")
    p.add_argument("--count", type=_positive_int, default=4, help="frames per row, spread over the clip (default 4)")
    p.add_argument("--frames", type=_index_list, default=None, metavar="I,J,...",
                   help="these frame indices instead of --count")
    p.add_argument("--width", type=_positive_int, default=1600, help="picture width in pixels (default 1600)")
    p.set_defaults(func=_cmd_strip)

    p = sub.add_parser("info", help="a checkpoint bundle's parts (spatial/temporal parameters, dtype, size) and config")
    p.add_argument("bundle", metavar="BUNDLE", help="bundle folder (config.yaml + .safetensors parts)")
    p.add_argument("--sha256", action="store_true", help="also print the bundle's sha256 (config + all parts)")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("generate", help="scenario -> OUT folder: PNG frames, video.mp4, overlay.mp4, labels, manifest")
    p.add_argument("file", metavar="SCENARIO", help="scenario YAML or OpenSCENARIO .xosc file")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder (written atomically)")
    p.add_argument("--trajectory", metavar="FILE.jsonl", help=TRAJECTORY_HELP)
    p.add_argument("--checkpoint", default=None, metavar="BUNDLE", help=CHECKPOINT_HELP)
    p.add_argument("--seed", type=_seed, default=None, help="override the scenario's seed (traffic and noise)")
    p.add_argument("--steps", type=int, default=None, help="sampling steps per clip (default: the bundle's)")
    p.add_argument("--sr-steps", type=int, default=None, help="upsampler sampling steps (default: --steps)")
    p.add_argument("--interpolation-steps", type=_positive_int, default=None, metavar="N",
                   help="interpolator sampling steps (default: the bundle's diffusion.interpolation_steps, else --steps)")
    p.add_argument("--sampler", choices=("ddim", "dpmpp"), default=None,
                   help="ddim (the paper) or dpmpp (DPM-Solver++, good in fewer steps); default: the bundle's")
    p.add_argument("--guidance", type=float, default=None,
                   help="label/box guidance scale (1 = off; default: the bundle's diffusion.guidance_scale)")
    p.add_argument("--context-guidance", type=float, default=1.0, help="context guidance scale s >= 1 (1 = off)")
    p.add_argument("--image-only", action="store_true", help="image model only: every frame sampled on its own")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--precision", default="auto", help=PRECISION_HELP)  # checked by GenerateOptions
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
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("bench", help="s/frame per stage, peak memory, 4x-duration and guidance ratios")
    p.add_argument("--checkpoint", default=None, metavar="BUNDLE", help=CHECKPOINT_HELP)
    p.add_argument("--random-config", default=None, metavar="NAME",
                   help="time a randomly initialised bundle of this config (tiny, paper) instead of a checkpoint")
    p.add_argument("--quick", action="store_true", help="2.5 s and 10 s clips instead of 10 s and 40 s")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--steps", type=int, default=None, help="sampling steps per clip (default: the bundle's)")
    p.add_argument("--sr-steps", type=int, default=None, help="upsampler sampling steps (default: --steps)")
    p.add_argument("--sampler", choices=("ddim", "dpmpp"), default=None, help="default: the bundle's")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads in the measured runs")
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
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("export", help="labelled dataset: images + COCO / KITTI / MOT / YOLO (resumable, shardable)")
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO_OR_DIR", help="scenario files or folders of *.yaml")
    p.add_argument("-o", "--output", metavar="DATASET", help="dataset folder; rerun the same command to resume")
    p.add_argument("--trajectory", metavar="FILE.jsonl", help=TRAJECTORY_HELP + " (one clip)")
    p.add_argument("--formats", default="coco,kitti,mot,yolo",
                   help="comma-separated: coco, kitti, mot, yolo, osi (default: coco,kitti,mot,yolo)")
    p.add_argument("--variations", type=int, default=0, metavar="N", help="seeded variations per scenario")
    p.add_argument("--seed", type=int, default=0, help="seed of the variations (default 0)")
    p.add_argument("--shard", metavar="I/N", help="export clips k with k %% N == I (default: RANK/WORLD_SIZE)")
    p.add_argument("--source", choices=["diffusion", "render", "schematic"], default="diffusion",
                   help="frames from the diffusion model, the procedural renderer (non-neural baseline), or "
                        "schematic drawings of the labels (dry run)")
    p.add_argument("--checkpoint", metavar="BUNDLE", help=CHECKPOINT_HELP + "; --source diffusion")
    p.add_argument("--device", help="torch device for --source diffusion (default: cuda:LOCAL_RANK or cpu)")
    p.add_argument("--merge", metavar="DATASET", help="merge the shards' clips: COCO, manifest and card")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("serve", help="gRPC server: streamed generation and closed-loop sessions (docs/grpc.md)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default loopback only)")
    p.add_argument("--port", type=_port, default=50051, help="0 picks a free port (printed at start)")
    p.add_argument("--backend", choices=("diffusion", "schematic"), default="diffusion",
                   help="diffusion: the Video LDM; schematic: drawn boxes, fast (tests, wiring a simulator)")
    p.add_argument("--checkpoint", default=None, metavar="BUNDLE", help=CHECKPOINT_HELP + "; diffusion backend")
    p.add_argument("--device", default="cpu", help="cpu or cuda (diffusion backend)")
    p.add_argument("--token", default=None, help="require 'authorization: Bearer TOKEN' (prefer env DRIVESIM_TOKEN: "
                                                 "arguments are visible to other users in ps)")
    p.add_argument("--tls-cert", type=Path, default=None, metavar="PEM", help="certificate chain; serve TLS only")
    p.add_argument("--tls-key", type=Path, default=None, metavar="PEM", help="private key for --tls-cert")
    p.add_argument("--max-streams", type=_positive_int, default=4, help="Generate calls at once (default 4)")
    p.add_argument("--max-sessions", type=_positive_int, default=4, help="open sessions at once (default 4)")
    p.add_argument("--max-duration-s", type=_positive_number, default=600.0, help="longest scenario accepted (default 600)")
    p.add_argument("--max-pixels", type=_positive_int, default=1024 * 512,
                   help="largest camera width*height accepted (default 1024*512)")
    p.add_argument("--max-agents-per-step", type=_positive_int, default=500,
                   help="most agents one closed-loop session step may send (default 500)")
    p.add_argument("--grace-s", type=_seconds, default=5.0, help="on SIGTERM, running calls get this long to finish")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("client", help="generate a scenario on a drivesim server into an OUT folder")
    p.add_argument("file", metavar="SCENARIO", help="scenario YAML file (sent to the server as text)")
    p.add_argument("--server", default="localhost:50051", metavar="HOST:PORT",
                   help="address of `drivesim serve` (default localhost:50051)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder, the layout of `generate`")
    p.add_argument("--seed", type=_seed, default=None, help="override the scenario's seed")
    p.add_argument("--token", default=None, help="bearer token (prefer env DRIVESIM_TOKEN)")
    p.add_argument("--tls-ca", type=Path, default=None, metavar="PEM", help="CA certificate: connect with TLS")
    p.set_defaults(func=_cmd_client)

    p = sub.add_parser("synth-data", help="procedural training clips: rendered frames + exact labels (docs/data-format.md)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="dataset folder; rerun to resume")
    p.add_argument("--clips", type=int, required=True, metavar="N", help="number of clips in the dataset")
    p.add_argument("--frames", type=int, required=True, metavar="T", help="frames per clip")
    p.add_argument("--size", default="128x256", metavar="HxW", help="frame size (default 128x256)")
    p.add_argument("--fps", type=float, default=10.0, help="frame rate (default 10)")
    p.add_argument("--seed", type=int, default=0, help="dataset seed: same seed, same clips (default 0)")
    p.add_argument("--workers", type=int, default=1, metavar="K", help="render processes (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_synth_data)

    p = sub.add_parser("train", help="train one stage of a bundle (docs/training.md); `accelerate launch` for GPUs")
    p.add_argument("stage", metavar="STAGE",
                   help="autoencoder | image | decoder | video | interpolation | upsampler (in this order)")
    p.add_argument("--data", required=True, metavar="DIR", help="clips folder (synth-data or docs/data-format.md)")
    p.add_argument("--out", required=True, metavar="BUNDLE", help="bundle folder: read, trained part written back")
    p.add_argument("--config", default=None, metavar="NAME", help="preset used to create BUNDLE if absent (tiny, paper)")
    p.add_argument("--init-from", default=None, metavar="TRAINED_BUNDLE",
                   help="with --config, create BUNDLE from TRAINED_BUNDLE's weights wherever names and shapes match "
                        "(layers the preset adds start from their initialisation); fine-tune instead of retraining")
    p.add_argument("--resume", action="store_true", help="continue the saved state in BUNDLE/.train/STAGE")
    p.add_argument("--steps", type=_positive_int, default=None, help="total optimizer steps (default: per stage)")
    p.add_argument("--batch", type=_positive_int, default=None, help="batch size per process (default: per stage)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: per stage)")
    p.add_argument("--seed", type=int, default=None, help="seed of data order, noise and dropout (default 0)")
    p.add_argument("--phase", default=None, help="upsampler only: spatial (default), then temporal")
    p.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="any other stage setting, e.g. --set gan_start=500 (repeatable; see docs/training.md)")
    p.add_argument("--preview-every", type=int, default=250, metavar="K", help="preview PNG every K steps (0 = off)")
    p.add_argument("--log-every", type=_positive_int, default=10, metavar="K", help="CSV loss row every K steps")
    p.add_argument("--save-every", type=_positive_int, default=250, metavar="K", help="resumable state every K steps")
    p.add_argument("--workers", type=int, default=0, metavar="K", help="data-loading processes (default 0)")
    p.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="torch CPU threads (default: torch's; use 1 on a CPU shared with other jobs)")
    p.add_argument("--cpu", action="store_true", help="train on CPUs even where GPUs exist (multi-process: torchrun)")
    p.add_argument("--save-dtype", choices=("fp16", "fp32"), default="fp16", help="dtype of the bundle written")
    p.add_argument("--mixed-precision", choices=("no", "fp16", "bf16"), default=None,
                   help="autocast on GPU (default: accelerate's config / launch flag)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("eval", help="condition adherence, flicker, Fréchet distance and the paper's ablations -> "
                                    "REPORT_DIR/report.md (docs/eval.md)")
    p.add_argument("bundle", metavar="BUNDLE", help="bundle folder to evaluate")
    p.add_argument("--data", required=True, metavar="DIR", help="real clips (docs/data-format.md), e.g. synth-data output")
    p.add_argument("-o", "--output", default=None, metavar="REPORT_DIR", help="report folder (default: BUNDLE/eval)")
    p.add_argument("--quick", action="store_true", help="one short scenario, fewer steps: a few minutes on 2 CPU cores")
    p.add_argument("--steps", type=_positive_int, default=None,
                   help="sampling steps (default: the bundle's, at most 20; --quick at most 4)")
    p.add_argument("--sr-steps", type=_positive_int, default=None,
                   help="upsampler steps (default: the bundle's, at most 4; --quick at most 2)")
    p.add_argument("--interpolation-steps", type=_positive_int, default=None, metavar="N",
                   help="interpolator steps (default: the bundle's diffusion.interpolation_steps, else --steps)")
    p.add_argument("--sampler", choices=("ddim", "dpmpp"), default=None, help="default: the bundle's")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=_positive_int, default=None, help="torch CPU threads (the speed target is 2 cores)")
    p.add_argument("--features-weights", default=None, metavar="FILE.safetensors",
                   help="your own video feature network for the Fréchet distance (interface: docs/eval.md)")
    p.add_argument("--only", choices=("main", "controllability", "drift"), default=None,
                   help="run one section: main (adherence, flicker, Fréchet distance, ablations), controllability "
                        "(road users found where their labels say, renderer as the ceiling) or drift (one long "
                        "rollout measured minute by minute); default: main and controllability")
    p.add_argument("--drift-minutes", type=float, default=None, metavar="MIN",
                   help="length of the drift section's rollout (default 10; --quick 2)")
    p.add_argument("--session-steps", type=_positive_int, default=None, metavar="N",
                   help="generate the controllability videos through a closed-loop session, N frames per step "
                        "(what a simulator driving OpenSession gets; default: offline generation)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_cmd_eval)

    _describe_commands(sub)
    return parser


def _index_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected frame indices like 0,40,80, got {text!r}") from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"frame indices are >= 0, got {text!r}")
    return values


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


# Option values out of range raise DrivesimError (not argparse's exit 2): main() prints them as
# one line and exits 1, like every other user error. The message names the option.

def _whole_in(option: str, low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise DrivesimError(f"{option} expects a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise DrivesimError(f"{option} must be in {low}..{high}, got {value}")
        return value
    return parse


def _number_above(option: str, low: float, inclusive: bool):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise DrivesimError(f"{option} expects a number, got {text!r}") from None
        if not math.isfinite(value) or value < low or (value == low and not inclusive):
            raise DrivesimError(f"{option} must be a finite number {'>=' if inclusive else '>'} {low:g}, got {text}")
        return value
    return parse


_seed = _whole_in("--seed", 0, 2**31 - 1)  # the range of a scenario's `seed:`
_port = _whole_in("--port", 0, 65535)
_positive_number = _number_above("--max-duration-s", 0.0, inclusive=False)
_seconds = _number_above("--grace-s", 0.0, inclusive=True)


def main(argv: list[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        # `drivesim info ... | head`: the reader has gone; point stdout at devnull so the final
        # flush at exit does not fail again, and end quietly with an error status.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except DrivesimError as err:  # an option value out of range (see _whole_in)
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.command is None:  # plain `drivesim`: say what it does and how to use it
        parser.print_help()
        return 0
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
