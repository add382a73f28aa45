"""The GPU path's figures as markdown, and device_check.sh's parts merged into one JSON and one table.

No torch here: the merge runs after the measurements, also where they failed.

    drivesim bench --mfu ... --json out/gpu.json          # prints format_device_report of what it measured
    python -m drivesim.bench.device_report merge out/device_check  # generate_eager / _compiled / _student, train .json
                                                            # -> device_check.json + device_check.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["format_device_report", "merge_reports"]

def _fmt(value: Any, spec: str = ".2f") -> str:
    return "–" if value is None else format(value, spec)


def _rate(tflops: float | None) -> str:
    """TFLOP/s: whole numbers on a GPU, three digits where they are small (a CPU dry run)."""
    return _fmt(tflops, ".0f" if tflops is not None and tflops >= 100 else ".3g")


def _generation_rows(label: str, g: dict[str, Any] | None) -> list[str]:
    if not g or not g.get("complete"):
        why = f"stopped after a {g['warmup_s']:.0f} s warm-up" if g and "warmup_s" in g else "not measured"
        return [f"| {label} | {why} | | | | | |"]
    rows = []
    for stage, s in g["stages"].items():
        rows.append(f"| {label} | {stage} | {_fmt(s['fps'])} | {_fmt(s['seconds'])} | {s['forwards']} | "
                    f"{_rate(s['tflops'])} | {_fmt(s['mfu'], '.1%')} |")
    rows.append(f"| {label} | **total** | **{_fmt(g['fps'])}** | {_fmt(g['seconds'])} | | "
                f"{_rate(g['tflops'])} | **{_fmt(g['mfu'], '.1%')}** |")
    return rows


def format_device_report(result: dict[str, Any]) -> str:
    """The figures as markdown: a generation table (its `generate` run, and `generate_compiled` and
    `generate_student` where the result has those keys) and a training table."""
    d = result["device"]
    lines = [f"device: {d['name']} ({d['type']}, {d.get('compute_dtype', '?')}, torch {d['torch']}, Python {d['python']}); peak "
             f"{_fmt(d['peak_tflops'], '.0f')} TFLOP/s ({d['peak_source']}); bundle {result['bundle']}"]
    def label(key: str) -> str:
        g = result[key] or {}
        if key == "generate_student" or g.get("students"):
            return "student"
        return "compiled" if key == "generate_compiled" or g.get("compile") else "eager"

    gens = [(label(key), result[key]) for key in ("generate", "generate_compiled", "generate_student")
            if key in result and (key != "generate_student" or result[key] is not None)]
    if gens:
        done = [g for _, g in gens if g and g.get("complete")]
        if done:
            g = done[0]
            lines += ["", f"generation: {g['frames']} frames at {g['output_size'][1]}x{g['output_size'][0]}, "
                      f"{g['output_fps']:g} fps; {g['sampler']} {g['steps']} steps, upsampler {g['sr_steps']} steps, "
                      f"guidance {g['guidance']:g}; untimed warm-up run of {g['warmup_frames']} frames first"]
        lines += ["", "| run | stage | output frames/s | s | forwards | TFLOP/s | MFU |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for label, g in gens:
            lines += _generation_rows(label, g)
        lines += [f"- {label}: peak GPU memory {_fmt(g.get('peak_gpu_mb'), '.0f')} MiB, warm-up "
                  f"{_fmt(g.get('warmup_s'), '.1f')} s" for label, g in gens if g]
    e = result.get("estimate")
    if e:
        lines.append(f"- steady state, from one counted forward per network: {e['tflop_per_frame_total']:.3g} TFLOP "
                     f"per output frame at these steps, {e['tflop_per_frame_reference']:.3g} at {e['reference_steps']} "
                     f"steps for every model (upsampler {e['upsampler_share_reference']:.0%}); at the device's peak "
                     f"{_fmt(e['fps_at_peak'], '.1f')} frames/s")
    train = result.get("train")
    if train:
        lines += ["", "| training stage | trains | batch x frames | steps | steps/s | TFLOP/step | MFU | peak GPU MiB |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        for stage, t in train.items():
            lines.append(f"| {stage} | {t['trains']} ({t['trainable_params'] / 1e6:.1f} M) | {t['batch']} x "
                         f"{t['frames']} | {t['steps']} | {_fmt(t['steps_per_s'])} | {_fmt(t['tflop_per_step'], '.3g')} "
                         f"| {_fmt(t['mfu'], '.1%')} | {_fmt(t['peak_gpu_mb'], '.0f')} |")
    return "\n".join(lines)


def merge_reports(folder: Path) -> tuple[dict[str, Any], str]:
    """device_check.sh's parts (generate_eager.json, generate_compiled.json, train.json; generate_student.json for
    a bundle with students) -> one JSON and one markdown report; parts that are missing or stopped early say so."""
    parts = {}
    for name in ("generate_eager", "generate_compiled", "train", "generate_student"):
        path = folder / f"{name}.json"
        parts[name] = json.loads(path.read_text()) if path.is_file() else None
    base = next((p for p in parts.values() if p), None)
    if base is None:
        return {"parts": parts}, "no part of the device check finished: see device_check.log"
    eager, compiled, train, student = (parts[n] or {} for n in ("generate_eager", "generate_compiled", "train",
                                                                "generate_student"))
    merged = {"device": base["device"], "config": base["config"], "bundle": base["bundle"],
              "generate": eager.get("generate"), "generate_compiled": compiled.get("generate"),
              "generate_student": student.get("generate"),
              "estimate": eager.get("estimate") or compiled.get("estimate"), "train": train.get("train")}
    return merged, format_device_report(merged)


if __name__ == "__main__":  # python -m drivesim.bench.device_report merge FOLDER
    if len(sys.argv) != 3 or sys.argv[1] != "merge":
        sys.exit("usage: python -m drivesim.bench.device_report merge FOLDER")
    out = Path(sys.argv[2])
    merged, report = merge_reports(out)
    (out / "device_check.json").write_text(json.dumps(merged, indent=2) + "\n")
    (out / "device_check.md").write_text(report + "\n")
    print(report)
