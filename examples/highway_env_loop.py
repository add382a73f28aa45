"""highway-env driven by a policy, filmed by drivesim: camera video of the env's traffic with true labels.

    pip install "drivesim[sim]"
    python examples/highway_env_loop.py --env highway-v0 --steps 10 --seed 0 --policy idle --backend schematic -o out/highway
    python examples/highway_env_loop.py --steps 5 --backend diffusion -o out/highway_ldm       # the Video LDM
    drivesim serve --backend schematic &                                                      # or any server:
    python examples/highway_env_loop.py --server localhost:50051 --backend schematic -o out/highway_remote

highway-env owns the world (its default config unless --config overrides it); drivesim's camera
(`drivesim.bridges.highway_env.DrivesimCamera`) renders every frame of the elapsed time at the
header's fps from the env's own simulation sub-steps. OUT gets the layout of `drivesim generate`
(frames/*.png, video.mp4, overlay.mp4, labels.jsonl, manifest.json) plus header.yaml (the camera,
road and environment used) and env_states.jsonl (one line per env step, the reset first: the ego
and every vehicle exactly as highway-env reports them); on a road that is not straight (merge-v0,
roundabout-v0, intersection-v0, ...) also road.xodr, the env's road network, which header.yaml names.
The last line reports env steps per second.

    python examples/highway_env_loop.py --env roundabout-v0 --steps 5 --seed 0 -o out/roundabout
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

POLICIES = ("idle", "random")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="highway-v0", help="a straight-road highway-env id (default highway-v0)")
    parser.add_argument("--steps", type=int, default=10, help="env steps after the reset (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="reset seed of the env, the policy and the camera")
    parser.add_argument("--policy", choices=POLICIES, default="idle", help="idle: the IDLE meta-action every step; "
                        "random: actions sampled from the action space")
    parser.add_argument("--backend", choices=("diffusion", "schematic"), default="schematic",
                        help="frames from the Video LDM or drawn boxes; with --server, the server's backend "
                             "(it must be this one)")
    parser.add_argument("--server", metavar="HOST:PORT", help="render on a drivesim server (default: in process)")
    parser.add_argument("--token", default=os.environ.get("DRIVESIM_TOKEN"), help="server token (env DRIVESIM_TOKEN)")
    parser.add_argument("--tls-ca", metavar="PEM", help="CA certificate of a TLS server")
    parser.add_argument("--checkpoint", metavar="BUNDLE", help="diffusion bundle (default: the shipped default)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (in-process diffusion)")
    parser.add_argument("--sampling-steps", type=int, default=None, help="diffusion sampling steps (default: the bundle's)")
    parser.add_argument("--header", metavar="YAML", help="session header: camera, fps, seed, environment "
                        "(default: drivesim.bridges.highway_env.DEFAULT_HEADER)")
    parser.add_argument("--config", default=None, metavar="JSON", help='env config overrides, e.g. \'{"vehicles_count": 20}\'')
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    args = parser.parse_args(argv)

    from drivesim.errors import DrivesimError

    try:
        return run(args)
    except DrivesimError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    from drivesim import __version__
    from drivesim.bridges.highway_env import DrivesimCamera
    from drivesim.errors import DrivesimError
    from drivesim.output.folder import OutputFolder, check_output_folder
    from drivesim.bridges.world_camera import header_yaml

    if args.steps < 0 or args.seed < 0:
        raise DrivesimError(f"--steps and --seed must be >= 0, got {args.steps} and {args.seed}")
    try:
        config = json.loads(args.config) if args.config else None
    except json.JSONDecodeError as err:
        raise DrivesimError(f"--config is not JSON: {err}") from None
    if args.config and not isinstance(config, dict):
        raise DrivesimError('--config must be a JSON object of env config keys, e.g. \'{"vehicles_count": 20}\', '
                            f"got {args.config}")
    check_output_folder(Path(args.output))  # before the model loads
    options = {"steps": args.sampling_steps} if args.sampling_steps else None
    header = Path(args.header) if args.header else None
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        env = DrivesimCamera(args.env, header, args.backend, server=args.server, token=args.token,
                             tls_ca=args.tls_ca, checkpoint=args.checkpoint, device=args.device, options=options,
                             env_config=config)
        stack.callback(env.close)
        obs, info = env.reset(seed=args.seed)
        backend = env.camera.info.get("backend")
        if backend != args.backend:
            raise DrivesimError(f"the server at {args.server} runs the {backend} backend, not {args.backend}; "
                                f"pass --backend {backend} or start the server with --backend {args.backend}")
        env.action_space.seed(args.seed)
        idle = _idle_action(env) if args.policy == "idle" else None
        cam = env.header_used.camera
        folder = stack.enter_context(OutputFolder(Path(args.output), cam.width, cam.height, env.header_used.fps))
        states = [json.dumps(info["env_state"])]
        for frame in info["camera_frames"]:
            folder.write(frame)
        loop_start = time.perf_counter()
        done = 0
        for step in range(1, args.steps + 1):
            action = idle if idle is not None else env.action_space.sample()
            obs, reward, terminated, truncated, info = env.step(action)
            for frame in info["camera_frames"]:
                folder.write(frame)
            states.append(json.dumps(info["env_state"]))
            done = step
            print(f"step {step}/{args.steps}: {len(info['camera_frames'])} frames, "
                  f"{len(info['camera_labels'].boxes)} boxes in view, t = {info['env_state']['timestamp_s']:.1f} s"
                  + (" (episode ended)" if terminated or truncated else ""), flush=True)
            if terminated or truncated:
                break
        seconds = time.perf_counter() - loop_start
        rate = done / seconds if seconds > 0 else float("inf")
        header_used = env.header_used
        if env.road_file is not None:  # OUT keeps the env's road beside the header that names it
            folder.add_file("road.xodr", Path(env.road_file).read_text(encoding="utf-8"))
            road = header_used.road.model_copy(update={"opendrive": "road.xodr"})
            header_used = header_used.model_copy(update={"road": road})
        folder.add_file("header.yaml", header_yaml(header_used))
        folder.add_file("env_states.jsonl", "\n".join(states) + "\n")
        folder.commit({
            "source": f"highway-env {args.env}", "env": {"id": args.env, "config_overrides": config or {},
                                                       "seed": args.seed, "policy": args.policy, "steps": done},
            "backend": backend, "server": args.server, "camera_info": env.camera.info,
            "frames": folder.frames_written, "fps": env.header_used.fps, "width": cam.width, "height": cam.height,
            "video_codec": folder.video_codec, "versions": {"drivesim": __version__, "highway_env": _version()},
            "timings_s": {"steps": round(seconds, 4), "total": round(time.perf_counter() - start, 4)},
            "steps_per_s": round(rate, 4),
        })
    print(f"wrote {folder.frames_written} frames of {done} env steps to {args.output}; "
          f"{rate:.3g} steps/s ({folder.frames_written / max(seconds, 1e-9):.3g} frames/s, {args.backend} backend)")
    return 0


def _idle_action(env) -> int:
    from drivesim.errors import DrivesimError

    indexes = getattr(env.unwrapped.action_type, "actions_indexes", None)
    if not indexes or "IDLE" not in indexes:
        raise DrivesimError("--policy idle needs a DiscreteMetaAction action type; use --policy random")
    return indexes["IDLE"]


def _version() -> str:
    import highway_env

    return highway_env.__version__


if __name__ == "__main__":
    raise SystemExit(main())
