"""Long rollouts: does a minutes-long video degrade? Per-minute numbers of one long generated drive.

Users of other driving world models report that long rollouts drift (colours wash out, road users
fade, the scene turns to mush). This measures ours: one held-out drive of `minutes` minutes is
generated as a stream (the autoregressive rollout with its bounded context, so memory stays flat)
and every minute gets
  - visible-agent recall: the controllability detector at the labelled boxes (every `frame_step`-th frame);
  - mean luminance (BT.601) and mean colour (R, G, B);
  - Fréchet distance of its 8-frame windows to the real (rendered) clips, in the eval's feature space.
The verdict compares the last minute with the first: each number within `TOLERANCE` of it (recall
and Fréchet distance only count a change for the worse).

    drivesim eval checkpoints/default --data data/synth --only drift --drift-minutes 10
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from drivesim.errors import DrivesimError
from drivesim.eval.adherence import mean_luminance
from drivesim.eval.controllability import Scorer, detect_video
from drivesim.eval.frechet import frechet_distance, video_features, video_windows
from drivesim.scenario.format import Scenario

__all__ = ["TOLERANCE", "long_drive", "minute_rows", "drift_verdicts", "format_drift"]

TOLERANCE = 0.10  # the last minute within 10 % of the first (the target)
LONG_DRIVE_SEED = 930_001  # outside the training data's draws (random_scenarios) and the other eval scenarios


def long_drive(minutes: float, width: int = 512, height: int = 256, fps: float = 10.0,
               time_of_day: str = "day") -> Scenario:
    """A drive of `minutes` minutes: a lead car and a truck that keep pace with the ego (visible all the
    way), a car that overtakes, and background traffic throughout."""
    if not 0 < minutes <= 60:
        raise DrivesimError(f"drift: --drift-minutes must be in (0, 60], got {minutes}")
    return Scenario.model_validate(dict(
        version=1, name=f"eval_long_drive_{minutes:g}min", seed=LONG_DRIVE_SEED, duration_s=float(minutes) * 60,
        fps=float(fps), camera=dict(width=int(width), height=int(height), fov_deg=90),
        environment=dict(time_of_day=time_of_day, crowdedness=0.5), road=dict(lanes=3, lane_width_m=3.5),
        ego=dict(lane=1, speed_mps=15),
        agents=[dict(id="lead", type="car", lane=1, distance_m=16, speed_mps=15),
                dict(id="truck", type="truck", lane=2, distance_m=24, speed_mps=15),
                dict(id="overtaker", type="car", lane=0, distance_m=-20, speed_mps=17)]))


def minute_rows(frames: Iterable[Any], fps: float, score: Scorer, feature_net, real_features: np.ndarray,
                frame_step: int = 10, log: Callable[[str], None] = lambda _: None) -> list[dict[str, Any]]:
    """Per-minute numbers of a stream of GeneratedFrame (image, labels); only one minute is held."""
    per_minute = max(1, round(60 * fps))
    rows: list[dict[str, Any]] = []
    images, labels = [], []
    start = time.perf_counter()

    def close_minute() -> None:
        video = np.stack(images)
        found = detect_video(score, video, labels, frame_step, seed=len(rows))
        window = feature_net.config.frames
        windows = video_windows(video, window, max(window // 2, 1))
        fd = frechet_distance(video_features(feature_net, windows), real_features) if len(windows) >= 2 else None
        colour = video.reshape(-1, 3).mean(0) / 255.0
        rows.append({"minute": len(rows) + 1, "frames": len(video), "visible": int(len(found.found)),
                     "recall": found.recall, "luminance": mean_luminance(video),
                     "colour": [round(float(c), 4) for c in colour], "frechet": fd,
                     "seconds": round(time.perf_counter() - start, 1)})
        r = rows[-1]
        log(f"drift: minute {r['minute']}: recall {_fmt(r['recall'])} of {r['visible']}, luminance "
            f"{r['luminance']:.1f}, FD {_fmt(r['frechet'])} ({r['seconds']:.0f} s so far)")
        images.clear()
        labels.clear()

    for frame in frames:
        images.append(frame.image)
        labels.append(frame.labels)
        if len(images) == per_minute:
            close_minute()
    if len(images) >= per_minute // 2:  # a last part-minute counts when it is at least half a minute
        close_minute()
    if not rows:
        raise DrivesimError("drift: the drive is shorter than half a minute; use --drift-minutes >= 1")
    return rows


def _change(first: float | None, last: float | None) -> float | None:
    return None if first is None or last is None or first == 0 else (last - first) / abs(first)


def drift_verdicts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Last minute vs first: recall may not fall, FD not rise, luminance and colour not move, by > TOLERANCE."""
    first, last = rows[0], rows[-1]
    checks = [("visible-agent recall", first["recall"], last["recall"], "down"),
              ("mean luminance", first["luminance"], last["luminance"], "both"),
              ("Fréchet distance to rendered", first["frechet"], last["frechet"], "up")]
    checks += [(f"mean colour {c}", first["colour"][k], last["colour"][k], "both") for k, c in enumerate("RGB")]
    out = []
    for name, a, b, bad in checks:
        change = _change(a, b)
        if change is None:
            result = "n/a"
        else:
            worse = -change if bad == "down" else change if bad == "up" else abs(change)
            result = "pass" if worse <= TOLERANCE else "FAIL"
        out.append({"metric": name, "first": a, "last": b, "change": change, "result": result})
    return out


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def format_drift(result: dict[str, Any]) -> str:
    """The per-minute table and the first-vs-last verdicts, as Markdown."""
    lines = ["| minute | visible | recall | luminance | colour (R, G, B) | Fréchet distance |",
             "|---|---|---|---|---|---|"]
    for r in result["minutes"]:
        colour = ", ".join(f"{c:.3f}" for c in r["colour"])
        lines.append(f"| {r['minute']} | {r['visible']} | {_fmt(r['recall'])} | {r['luminance']:.1f} | {colour} | "
                     f"{_fmt(r['frechet'], 2)} |")
    lines += ["", f"| last minute vs first (within {TOLERANCE:.0%}) | first | last | change | result |",
              "|---|---|---|---|---|"]
    for v in result["verdicts"]:
        change = "—" if v["change"] is None else f"{v['change']:+.1%}"
        lines.append(f"| {v['metric']} | {_fmt(v['first'])} | {_fmt(v['last'])} | {change} | {v['result']} |")
    return "\n".join(lines)
