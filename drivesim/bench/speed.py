"""`drivesim bench`: seconds per output frame per stage, peak memory, and the scaling ratios.

Each video run is measured in its own child process, so its peak resident memory (getrusage
ru_maxrss: torch's CPU tensors live outside Python's allocator, tracemalloc cannot see them) is
that run's alone; the other measurements share a third child. One bench run measures:
  - a 1x and a 4x longer video of the same scenario: per-stage s/frame, peak memory ratio
    (goal <= 1.10: memory must not grow with duration) and time ratio (goal <= 4.4: linear);
  - batched guidance (cond + uncond in one forward) against two forwards (goal >= 1.6x);
  - the gRPC transport against the same backend in-process (goal >= 0.95);
  - the closed-loop session rate: frames/s and step latency for steps of 1 and of 4 frames
    (`VideoPipeline.session`, what a simulator calling `OpenSession` waits for);
  - the speed-ups over the reference, the pipeline as it ran before its CPU work (fp32 arithmetic):
    the 10 s clip (goal >= 2x) and 1-frame session steps (goal >= 3x), both measured in this run,
    so the ratios hold on whatever machine runs it;
  - with `student`, the bundle's few-step students (`drivesim train distill`) against the teachers: the
    1x clip and 1-frame session steps again with `GenerateOptions(student=True)`, in the same run.

    drivesim bench                                             # the default bundle: 10 s and 40 s clips, 256x512 at 10 fps
    drivesim bench --random-config tiny --quick --steps 4       # random weights, 2.5 s and 10 s clips
    drivesim bench --checkpoint BUNDLE --quick --student        # + teacher vs student rows
"""

from __future__ import annotations

import json
from pathlib import Path
import resource
import subprocess
import sys
import time
from typing import Any

from drivesim.errors import DrivesimError

__all__ = ["run_bench", "format_report", "bench_scenario"]

STAGES = ("keyframes", "interpolate", "decode", "upsample", "resize")
QUICK_S, FULL_S = 2.5, 10.0  # the 1x clip; the 4x clip is four times as long
SESSION_STEPS = (1, 4)  # frames per closed-loop step
GOALS = {"memory_ratio": 1.10, "time_ratio": 4.4, "guidance_speedup": 1.6, "target_seconds": 120.0, "grpc_ratio": 0.95,
         "offline_speedup": 2.0, "session_speedup": 3.0}
# The pipeline before its CPU speed work (GenerateOptions fields), re-measured in every run for the speed-ups:
# fp32 arithmetic, the interpolator at the keyframe model's steps, sessions that sample full keyframe clips
# (provisional ones too), resample their interpolation segment every step and lead each upsampler chunk
# with 2 earlier frames.
# Its child process also undoes the exact rewrites, which have no option (`_as_before`).
REFERENCE = {"precision": "fp32", "session_clip_keyframes": None, "session_fast_provisional": False,
             "session_reuse_segments": False, "session_window_context": 2}


def bench_scenario(duration_s: float):
    """The benchmark drive: 256x512 at 10 fps, three lanes, a lane change at 2 s and background traffic.
    The engine refuses actions past the end, so a drive of 2 s or less has no lane change."""
    from drivesim.scenario.format import Scenario

    lane_change = [dict(at_s=2, lane_change_to=2, duration_s=3)] if duration_s > 2 else []
    return Scenario(name="bench", seed=1, duration_s=duration_s, fps=10,
                    camera=dict(width=512, height=256, fov_deg=90),
                    environment=dict(time_of_day="day", crowdedness=0.5), road=dict(lanes=3, lane_width_m=3.5),
                    ego=dict(lane=1, speed_mps=15),
                    agents=[dict(id="lead", type="car", lane=1, distance_m=25, speed_mps=13, actions=lane_change),
                            dict(id="truck", type="truck", lane=0, distance_m=40, speed_mps=11)])


# --- child side: one measurement per process -----------------------------------------------

def _rss_mb() -> float:
    """Current resident set size (Linux /proc; falls back to the peak)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return _peak_rss_mb()


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def _load(spec: dict[str, Any]):
    if spec.get("random_config"):
        from drivesim.models.bundle import build_bundle
        from drivesim.models.configs import get_config

        return build_bundle(get_config(spec["random_config"]), seed=0)
    from drivesim.pipeline.generate import load_checkpoint

    return load_checkpoint(spec["checkpoint"], spec["device"])


def _options(spec: dict[str, Any], bundle):
    """The run's GenerateOptions: the spec's sampling settings, and the reference's where it asks for them."""
    from drivesim.pipeline import GenerateOptions

    reference = {}
    if spec.get("reference"):
        reference = {**REFERENCE, "interpolation_steps": spec["steps"] or bundle.config.diffusion.num_inference_steps}
    return GenerateOptions(device=spec["device"], steps=spec["steps"], sr_steps=spec.get("sr_steps"),
                           sampler=spec["sampler"], progress=False, student=bool(spec.get("student")),
                           **{"precision": spec.get("precision", "auto"), **reference})  # the reference: fp32


def _child_video(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    from drivesim.pipeline import VideoPipeline

    bundle = _load(spec)
    pipeline = VideoPipeline(bundle, _options(spec, bundle))
    scenario = bench_scenario(spec["duration_s"])
    rss_loaded = _rss_mb()
    start = time.perf_counter()
    frames = sum(1 for _ in pipeline.frames(scenario))
    seconds = time.perf_counter() - start
    out = {"frames": frames, "seconds": seconds, "stages": dict(pipeline.run.timings.seconds),
           "peak_rss_mb": _peak_rss_mb(), "rss_after_load_mb": rss_loaded,
           "steps": pipeline.run.steps, "sr_steps": pipeline.run.sr_steps, "sampler": pipeline.run.sampler,
           "interpolation_steps": pipeline.run.interpolation_steps,
           "threads": torch.get_num_threads(), "precision": str(pipeline.run.compute_dtype),
           "students": pipeline.run.student_record()}
    if spec["device"].startswith("cuda"):
        out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def _child_guidance(spec: dict[str, Any], repeats: int = 5) -> dict[str, Any]:
    import torch

    from drivesim.pipeline import GenerateOptions
    from drivesim.pipeline.context import RunContext
    from drivesim.pipeline.generate import VideoPipeline
    from drivesim.sampling.guidance import label_guidance
    from drivesim.scenario.engine import ScenarioEngine

    pipeline = VideoPipeline(_load(spec), GenerateOptions(device=spec["device"], progress=False))
    bundle, cfg = pipeline.bundle, pipeline.bundle.config
    run = RunContext(bundle, pipeline.options, ScenarioEngine(bench_scenario(QUICK_S)))
    frames, (h, w) = cfg.clip_frames, cfg.latent_size
    cond = run.unet_conditions(list(range(frames)), cfg.layout_size)
    x = run.noise((1, frames, cfg.autoencoder.latent_channels, h, w), "bench", 0)
    t = torch.tensor([500], device=run.device)
    model = lambda x, t, c: bundle.unet(x, t, c)  # noqa: E731
    result = {}
    for name, batched in (("batched", True), ("two_passes", False)):
        guided = label_guidance(model, 2.0, batched=batched)
        with run.compute(name):
            guided(x, t, cond)  # warm-up
        with run.compute(name):
            for _ in range(repeats):
                guided(x, t, cond)
        result[name] = run.timings.seconds[name]
    return {"batched_s": result["batched"], "two_passes_s": result["two_passes"], "repeats": repeats}


def _child_session(spec: dict[str, Any]) -> dict[str, Any]:
    """A closed loop on the benchmark drive: the same frames sent as steps of 1 and of 4 frames,
    each in a fresh session; per step size, frames/s and the mean and worst step latency."""
    from drivesim.pipeline import VideoPipeline
    from drivesim.scenario.engine import ScenarioEngine

    bundle = _load(spec)
    pipeline = VideoPipeline(bundle, _options(spec, bundle))
    scenario = bench_scenario(spec["duration_s"])
    plan = list(ScenarioEngine(scenario).frames())
    out = {}
    for size in spec.get("sizes", SESSION_STEPS):
        session = pipeline.session(scenario)
        latencies = []
        for k in range(0, len(plan) - len(plan) % size, size):  # whole steps only: equal work per step
            start = time.perf_counter()
            session.step(plan[k:k + size])
            latencies.append(time.perf_counter() - start)
        out[f"step_{size}"] = {"frames": size * len(latencies), "steps": len(latencies),
                               "fps": size * len(latencies) / sum(latencies),
                               "mean_step_s": sum(latencies) / len(latencies), "max_step_s": max(latencies)}
    return out


def _child_grpc(spec: dict[str, Any]) -> dict[str, Any]:
    """The same frames through a real gRPC server on loopback vs in-process (drivesim.bench.grpc)."""
    import tempfile

    from drivesim.bench.grpc import BENCH_SCENARIO, bench_grpc
    from drivesim.serve.generator import make_generator

    scenario = BENCH_SCENARIO.replace("duration_s: 3", f"duration_s: {spec['duration_s']:g}")
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = spec["checkpoint"]
        if spec.get("random_config"):  # serve needs a bundle folder: save the random one
            from drivesim.models.bundle import save_bundle

            checkpoint = f"{tmp}/bundle"
            save_bundle(_load(spec), Path(checkpoint))
        return bench_grpc(scenario, make_generator("diffusion", checkpoint, spec["device"]))


def _as_before() -> None:
    """In a reference child process only: compute the layers as before the speed work -- diffusers' temporal
    transformer block, torch's Conv3d for the frame convolutions, one interpolation segment per forward,
    the per-clip inputs recomputed at every sampler step. Each rewrite gives the same numbers
    (tests/test_pipeline.py, tests/test_video_unet.py), only slower."""
    from diffusers.models.attention import TemporalBasicTransformerBlock
    from torch import nn

    import drivesim.pipeline.interpolate as interpolate
    from drivesim.models.temporal import FrameAttentionBlock, FrameConv
    from drivesim.models.video_unet import VideoUNet

    FrameAttentionBlock.forward = TemporalBasicTransformerBlock.forward
    FrameConv.forward = nn.Conv3d.forward
    interpolate.SEGMENT_BATCH = 1
    held = VideoUNet._clip_inputs

    def every_step(self, *args):
        self.forget_clip_inputs()
        return held(self, *args)

    VideoUNet._clip_inputs = every_step


def _child_main(argv: list[str]) -> None:
    specs = json.loads(argv[0])  # measurements run one after the other in this process
    if specs[0].get("reference"):
        _as_before()
    if specs[0].get("threads"):
        import torch

        torch.set_num_threads(specs[0]["threads"])
    kinds = {"video": _child_video, "guidance": _child_guidance, "grpc": _child_grpc, "session": _child_session}
    print(json.dumps([kinds[spec["kind"]](spec) for spec in specs]))


# --- parent side ----------------------------------------------------------------------------

def _measure(*specs: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the measurements in one child process; their results, in order."""
    proc = subprocess.run([sys.executable, "-m", "drivesim.bench.speed", json.dumps(specs)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
        raise DrivesimError(f"benchmark run {', '.join(s['kind'] for s in specs)} failed:\n{tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_bench(checkpoint: str | None = None, random_config: str | None = None, device: str = "cpu",
              quick: bool = False, steps: int | None = None, sr_steps: int | None = None,
              sampler: str | None = None, threads: int | None = None, log=print,
              precision: str = "auto", student: bool = False) -> dict[str, Any]:
    """Run every measurement (1x video, 4x video; guidance, gRPC, sessions; with `student` the students' 1x video
    and 1-frame sessions) in child processes; the figures."""
    from drivesim.pipeline.options import GenerateOptions, cpu_has_native_bf16, cpu_model

    if random_config and student:
        raise DrivesimError("--student measures a bundle's distilled students; a --random-config bundle has none")
    if not random_config:
        from drivesim.models.checkpoint import resolve_checkpoint
        from drivesim.pipeline.context import resolve_students
        from drivesim.pipeline.generate import load_checkpoint

        checkpoint = str(resolve_checkpoint(checkpoint))
        bundle = load_checkpoint(checkpoint, device)  # clear error before the children start
        resolve_students(bundle, GenerateOptions(student=student))  # and for --student without a student
    base = QUICK_S if quick else FULL_S
    spec = dict(checkpoint=checkpoint, random_config=random_config, device=device,
                steps=steps, sr_steps=sr_steps, sampler=sampler, threads=threads, precision=precision)
    log(f"bench: {base:g} s and {4 * base:g} s of 256x512 video at 10 fps, then guidance, gRPC and sessions ...")
    # Each video run gets a process of its own: its peak memory is its own. The other measurements
    # report no memory and share one process (every import of the pipeline costs seconds).
    one, = _measure({**spec, "kind": "video", "duration_s": base})
    log(f"  1x: {one['frames']} frames in {one['seconds']:.1f} s")
    four, = _measure({**spec, "kind": "video", "duration_s": 4 * base})
    log(f"  4x: {four['frames']} frames in {four['seconds']:.1f} s")
    guidance, grpc, session = _measure(
        {**spec, "kind": "guidance"}, {**spec, "kind": "grpc", "duration_s": 1.0 if quick else 3.0},
        {**spec, "kind": "session", "duration_s": QUICK_S})  # sessions: 1-frame steps are slow, keep it short
    log(f"  gRPC: {grpc['frames']} frames, ratio {grpc['ratio']:.3f}")
    log("  session: " + ", ".join(f"{k}: {v['fps']:.2f} frames/s" for k, v in session.items()))
    ten_s = one if not quick else four  # the 10 s clip of the target
    reference = {**spec, "reference": True}
    log(f"  the reference ({', '.join(f'{k}={v}' for k, v in REFERENCE.items())}): the 10 s clip and sessions ...")
    ref_clip, ref_session = _measure({**reference, "kind": "video", "duration_s": FULL_S if not quick else 4 * QUICK_S},
                                     {**reference, "kind": "session", "duration_s": QUICK_S})
    log(f"  reference: 10 s clip in {ref_clip['seconds']:.1f} s, "
        + ", ".join(f"{k}: {v['fps']:.2f} frames/s" for k, v in ref_session.items()))
    students = None
    if student:  # the same 1x clip and 1-frame session steps, sampled by the students
        log("  the students (--student): the 1x clip and 1-frame session steps ...")
        clip, steps = _measure({**spec, "student": True, "kind": "video", "duration_s": base},
                               {**spec, "student": True, "kind": "session", "duration_s": QUICK_S, "sizes": [1]})
        students = {"record": clip["students"], "clip": clip, "session": steps,
                    "clip_speedup": one["seconds"] / clip["seconds"],
                    "session_speedup": steps["step_1"]["fps"] / session["step_1"]["fps"]}
        log(f"  students: {base:g} s clip in {clip['seconds']:.1f} s, 1-frame steps {steps['step_1']['fps']:.2f} frames/s")
    return {
        "device": device, "bundle": random_config and f"random {random_config}" or spec["checkpoint"],
        "steps": one["steps"], "sr_steps": one["sr_steps"], "sampler": one["sampler"], "threads": one["threads"],
        "interpolation_steps": one["interpolation_steps"],
        "one": one, "four": four, "guidance": guidance, "grpc": grpc, "session": session,
        "memory_ratio": four["peak_rss_mb"] / one["peak_rss_mb"],
        "generation_memory_ratio": (four["peak_rss_mb"] - four["rss_after_load_mb"])
        / max(one["peak_rss_mb"] - one["rss_after_load_mb"], 1e-6),
        "time_ratio": four["seconds"] / one["seconds"],
        "guidance_speedup": guidance["two_passes_s"] / guidance["batched_s"],
        "ten_second_clip_s": ten_s["seconds"], "precision": one["precision"],
        "cpu": {"model": cpu_model(), "native_bf16": cpu_has_native_bf16()},  # what the timings were measured on
        "reference": {"options": {**REFERENCE, "interpolation_steps": ref_clip["interpolation_steps"]},
                      "ten_second_clip_s": ref_clip["seconds"], "stages": ref_clip["stages"],
                      "session": ref_session},
        "offline_speedup": ref_clip["seconds"] / ten_s["seconds"],
        "session_speedup": session["step_1"]["fps"] / ref_session["step_1"]["fps"],
        "students": students,
    }


def format_report(r: dict[str, Any]) -> str:
    one, four = r["one"], r["four"]
    cpu = r.get("cpu") or {}
    lines = [f"cpu {cpu.get('model', 'unknown')} | native bf16: {'yes' if cpu.get('native_bf16') else 'no'}",
             f"bundle {r['bundle']} | device {r['device']} | {r['threads']} threads | {r['precision']} | sampler "
             f"{r['sampler']}, {r['steps']} steps ({r['interpolation_steps']} for the interpolator, {r['sr_steps']} for "
             f"the upsampler)",
             f"{'stage':<12}{'s/frame 1x':>12}{'s/frame 4x':>12}"]
    for stage in STAGES:
        lines.append(f"{stage:<12}{one['stages'].get(stage, 0) / one['frames']:>12.3f}"
                     f"{four['stages'].get(stage, 0) / four['frames']:>12.3f}")
    lines.append(f"{'total':<12}{one['seconds'] / one['frames']:>12.3f}{four['seconds'] / four['frames']:>12.3f}")
    ok = lambda good: "ok" if good else "MISSED"  # noqa: E731
    lines += [
        f"peak RSS      1x {one['peak_rss_mb']:.0f} MB, 4x {four['peak_rss_mb']:.0f} MB: ratio "
        f"{r['memory_ratio']:.3f} (goal <= {GOALS['memory_ratio']}) {ok(r['memory_ratio'] <= GOALS['memory_ratio'])}; "
        f"above the loaded models {r['generation_memory_ratio']:.2f}x",
        f"time          4x / 1x = {r['time_ratio']:.2f} (goal <= {GOALS['time_ratio']}) "
        f"{ok(r['time_ratio'] <= GOALS['time_ratio'])}",
        f"guidance      batched {r['guidance']['batched_s']:.2f} s vs two passes {r['guidance']['two_passes_s']:.2f} s"
        f": {r['guidance_speedup']:.2f}x (goal >= {GOALS['guidance_speedup']}) "
        f"{ok(r['guidance_speedup'] >= GOALS['guidance_speedup'])}",
        f"gRPC          {r['grpc']['grpc_fps']:.2f} vs in-process {r['grpc']['inprocess_fps']:.2f} frames/s: ratio "
        f"{r['grpc']['ratio']:.3f} (goal >= {GOALS['grpc_ratio']}) {ok(r['grpc']['ratio'] >= GOALS['grpc_ratio'])}; "
        f"first frame after {r['grpc']['time_to_first_frame_s']:.2f} s",
        f"10 s clip     {r['ten_second_clip_s']:.1f} s wall (goal <= {GOALS['target_seconds']:.0f} s) "
        f"{ok(r['ten_second_clip_s'] <= GOALS['target_seconds'])}",
    ]
    ref = r["reference"]
    for size in SESSION_STEPS:  # what a closed loop waits for, per step size
        s, was = r["session"][f"step_{size}"], ref["session"][f"step_{size}"]
        lines.append(f"{f'session {size}':<14}{size}-frame steps: {s['fps']:.2f} frames/s (reference {was['fps']:.2f}), "
                     f"step latency mean {s['mean_step_s']:.2f} s, max {s['max_step_s']:.2f} s ({s['steps']} steps)")
    reference = ", ".join(f"{k}={v}" for k, v in ref["options"].items())
    lines += [
        f"speed-up      over the reference ({reference}), measured in this run:",
        f"  10 s clip   {ref['ten_second_clip_s']:.1f} s -> {r['ten_second_clip_s']:.1f} s: {r['offline_speedup']:.2f}x "
        f"(goal >= {GOALS['offline_speedup']:g}x) {ok(r['offline_speedup'] >= GOALS['offline_speedup'])}",
        f"  1-frame     session steps {ref['session']['step_1']['fps']:.2f} -> {r['session']['step_1']['fps']:.2f} "
        f"frames/s: {r['session_speedup']:.2f}x (goal >= {GOALS['session_speedup']:g}x) "
        f"{ok(r['session_speedup'] >= GOALS['session_speedup'])}",
    ]
    return "\n".join(lines + _student_lines(r))


def _student_lines(r: dict[str, Any]) -> list[str]:
    """Teacher vs student rows of a --student run (none otherwise)."""
    s = r.get("students")
    if not s:
        return []
    one, clip = r["one"], s["clip"]
    which = ", ".join(f"{name} {v['steps']} steps (guidance {v['guidance_folded']:g} folded)" if isinstance(v, dict)
                      else f"{name} {v}" for name, v in s["record"].items())
    stages = ", ".join(f"{stage} {one['stages'].get(stage, 0):.1f} -> {clip['stages'].get(stage, 0):.1f} s"
                       for stage in STAGES[:4])
    teacher, student = r["session"]["step_1"], s["session"]["step_1"]
    return [f"students      {which}",
            f"  {one['frames']}-frame clip teacher {one['seconds']:.1f} s -> student {clip['seconds']:.1f} s: "
            f"{s['clip_speedup']:.2f}x ({stages})",
            f"  1-frame     session steps teacher {teacher['fps']:.2f} -> student {student['fps']:.2f} frames/s: "
            f"{s['session_speedup']:.2f}x (step latency mean {student['mean_step_s']:.2f} s, max "
            f"{student['max_step_s']:.2f} s)"]


if __name__ == "__main__":  # child process: python -m drivesim.bench.speed '{"kind": ...}'
    _child_main(sys.argv[1:])
