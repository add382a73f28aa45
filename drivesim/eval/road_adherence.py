"""Road adherence: is the road drawn where the labels say? The lane-line segmenter (lane_segmenter.py),
trained on rendered frames of unseen world scenarios, marks lane lines and road edges in the generated
frames and in the renderer's frames of the same scenario and seed (the ceiling); both are scored against
the road masks of the labels (`RenderPipeline(masks=True)`: the lane lines' whole polylines, the road
edges) within a tolerance.

- recall: share of the mask's line pixels with a predicted line pixel within TOLERANCE_PX;
- precision: share of the predicted line pixels with a mask line pixel within TOLERANCE_PX;
- F1 of the two, from the pixel counts summed over the scored frames of a run, a road type, all runs.
Pixels inside labelled boxes are left out of both (a road user may cover the road there). Lane-line
adherence = F1 of the generated frames / F1 of the rendered frames; the target (issue "road in the
pixels") is >= 0.80 on the non-straight road types together.

    drivesim eval checkpoints/default --data data/synth --only controllability --quick
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drivesim.eval.lane_segmenter import TARGETS, LaneSegmenter, box_ignore_mask, predict
from drivesim.eval.pictures import strip
from drivesim.eval.tables import format_number, markdown_table, verdict
from drivesim.output.files import write_png
from drivesim.scenario.labels import FrameConditions

__all__ = ["TOLERANCE_PX", "REFERENCE_WIDTH", "ADHERENCE_TARGET", "ROAD_TYPES", "LineCounts", "line_counts",
           "score_frames", "RoadRun", "road_summary", "validation_scores", "write_road_samples",
           "format_road_adherence"]

TOLERANCE_PX = 3.0  # at a 512 px wide frame; scaled with the width
REFERENCE_WIDTH = 512
THRESHOLD = 0.5  # a pixel is predicted a line where the segmenter's probability is at least this
ADHERENCE_TARGET = 0.80  # generated / rendered lane-line F1, on the non-straight road types together
ROAD_TYPES = ("straight", "curve", "junction", "oncoming")


@dataclass
class LineCounts:
    """Pixel counts of one line kind over some frames: mask pixels, those with a prediction near them,
    predicted pixels, those with a mask pixel near them."""

    label: int = 0
    label_hit: int = 0
    predicted: int = 0
    predicted_hit: int = 0

    def __add__(self, other: "LineCounts") -> "LineCounts":
        return LineCounts(self.label + other.label, self.label_hit + other.label_hit,
                          self.predicted + other.predicted, self.predicted_hit + other.predicted_hit)

    @property
    def recall(self) -> float | None:
        return self.label_hit / self.label if self.label else None

    @property
    def precision(self) -> float | None:
        # nothing predicted where there are lines: precision 0 (no credit for silence); nothing anywhere: None
        return self.predicted_hit / self.predicted if self.predicted else (0.0 if self.label else None)

    @property
    def f1(self) -> float | None:
        r, p = self.recall, self.precision
        if r is None or p is None:
            return None
        return 2 * r * p / (r + p) if r + p else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"label_pixels": self.label, "predicted_pixels": self.predicted, "recall": self.recall,
                "precision": self.precision, "f1": self.f1}


def tolerance_px(width: int) -> float:
    return TOLERANCE_PX * width / REFERENCE_WIDTH


def line_counts(predicted: np.ndarray, label: np.ndarray, ignore: np.ndarray | None = None,
                tolerance: float = TOLERANCE_PX) -> LineCounts:
    """Counts of one frame: `predicted` and `label` (H, W) bool, `ignore` (H, W) bool pixels left out."""
    keep = np.ones(label.shape, bool) if ignore is None else ~ignore
    predicted, label = predicted & keep, label & keep

    def near(mask: np.ndarray) -> np.ndarray:  # within `tolerance` of a pixel of `mask` (Euclidean)
        if not mask.any():
            return np.zeros(mask.shape, bool)
        return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5) <= tolerance

    return LineCounts(int(label.sum()), int((label & near(predicted)).sum()), int(predicted.sum()),
                      int((predicted & near(label)).sum()))


def score_frames(probs: np.ndarray, targets: np.ndarray, ignore: np.ndarray,
                 tolerance: float = TOLERANCE_PX) -> dict[str, LineCounts]:
    """Counts per target (TARGETS) of (N, len(TARGETS), H, W) probabilities against bool targets of the
    same shape, `ignore` (N, H, W)."""
    out = {name: LineCounts() for name in TARGETS}
    for p, t, m in zip(probs, targets, ignore):
        for k, name in enumerate(TARGETS):
            out[name] = out[name] + line_counts(p[k] >= THRESHOLD, t[k], m, tolerance)
    return out


def validation_scores(net: LaneSegmenter, frames: np.ndarray, targets: np.ndarray, ignore: np.ndarray
                      ) -> dict[str, Any]:
    """The segmenter on held-out rendered frames: recall, precision, F1 per target."""
    counts = score_frames(predict(net, frames), targets, ignore, tolerance_px(frames.shape[2]))
    return {name: c.to_json() for name, c in counts.items()}


# --- runs ----------------------------------------------------------------------------------------

@dataclass
class RoadRun:
    """One scenario at one time of day: the counts of its generated and rendered frames, its road types,
    and one scored frame kept for the picture (generated, rendered, their predictions, the masks)."""

    name: str
    road_types: tuple[str, ...]
    generated: dict[str, LineCounts]
    rendered: dict[str, LineCounts]
    sample: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def scored(cls, net: LaneSegmenter, name: str, road_types: Sequence[str], generated: np.ndarray,
               rendered: np.ndarray, labels: Sequence[FrameConditions], masks: Sequence[dict[str, np.ndarray]],
               frame_step: int = 1) -> "RoadRun":
        """Score every `frame_step`-th frame of a run's generated and rendered videos (T, H, W, 3) against
        the masks (RenderPipeline(masks=True)'s, one dict per frame) of its labels."""
        picks = list(range(0, len(labels), max(1, frame_step)))
        h, w = rendered.shape[1:3]
        targets = np.stack([np.stack([masks[i][t] for t in TARGETS]) for i in picks])
        ignore = np.stack([box_ignore_mask(labels[i], h, w) for i in picks])
        tolerance = tolerance_px(w)
        counts, probs = {}, {}
        for kind, frames in (("generated", generated), ("rendered", rendered)):
            probs[kind] = predict(net, frames[picks])
            counts[kind] = score_frames(probs[kind], targets, ignore, tolerance)
        mid = len(picks) // 2
        sample = {"generated": generated[picks[mid]], "rendered": rendered[picks[mid]],
                  "generated_lines": probs["generated"][mid] >= THRESHOLD,
                  "rendered_lines": probs["rendered"][mid] >= THRESHOLD, "labels": targets[mid]}
        return cls(name, tuple(road_types), counts["generated"], counts["rendered"], sample)


def _group(name: str, runs: Sequence[RoadRun]) -> dict[str, Any]:
    """One row: counts summed over `runs`; lane-line and road-edge recall / precision / F1 of both sources."""
    row: dict[str, Any] = {"group": name, "runs": len(runs)}
    for kind in ("generated", "rendered"):
        row[kind] = {t: sum((getattr(r, kind)[t] for r in runs), LineCounts()).to_json() for t in TARGETS}
    for t in TARGETS:
        g, r = row["generated"][t]["f1"], row["rendered"][t]["f1"]
        row[f"{t}_ratio"] = g / r if g is not None and r else None
    return row


def road_summary(runs: Sequence[RoadRun], untrained_note: str | None) -> dict[str, Any]:
    """Rows (all runs, each road type, each run) and the target row: generated / rendered lane-line F1 on
    the runs of the non-straight road types together >= ADHERENCE_TARGET."""
    rows = {"overall": [_group("all runs", runs)],
            "road_type": [_group(t, [r for r in runs if t in r.road_types]) for t in ROAD_TYPES
                          if any(t in r.road_types for r in runs)],
            "run": [_group(r.name, [r]) for r in runs]}
    world = [r for r in runs if set(r.road_types) - {"straight"}]
    value = _group("non-straight", world)["lane_lines_ratio"] if world else None
    if value is None:
        result = "n/a: no non-straight run with lane lines the segmenter finds in the rendered frames"
    else:
        result = verdict(value >= ADHERENCE_TARGET, untrained_note)
    target = {"metric": "lane-line adherence on non-straight roads (generated / rendered F1)", "value": value,
              "target": f">= {ADHERENCE_TARGET:g}", "result": result, "runs": len(world)}
    return {"rows": rows, "targets": [target]}


# --- picture and table ---------------------------------------------------------------------------

LINE_COLOURS = ((255, 40, 40), (40, 230, 40))  # lane lines red, road edges green


def _painted(frame: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """`frame` with (len(TARGETS), H, W) bool lines painted over it."""
    out = frame.copy()
    for mask, colour in zip(lines, LINE_COLOURS):  # widened by a pixel: still seen in the shrunk tile
        out[cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0] = colour
    return out


def write_road_samples(out_dir: Path, runs: Sequence[RoadRun]) -> str:
    """samples/road_adherence.png: per run, frame | predicted lines | label lines for the generated frame,
    then the same for the rendered one; returns its path relative to out_dir."""
    rows = []
    for run in runs:
        s = run.sample
        if not s:
            continue
        rows.append((f"{run.name} ({'+'.join(run.road_types)}): generated | found | labels",
                     [s["generated"], _painted(s["generated"], s["generated_lines"]),
                      _painted(s["generated"], s["labels"])]))
        rows.append((f"{run.name}: rendered | found | labels",
                     [s["rendered"], _painted(s["rendered"], s["rendered_lines"]), _painted(s["rendered"], s["labels"])]))
    write_png(Path(out_dir) / "samples" / "road_adherence.png", strip(rows))
    return "samples/road_adherence.png"


def format_road_adherence(result: dict[str, Any]) -> str:
    """The road-adherence table of report.md and of the command's output."""
    def cells(row: dict[str, Any], target: str) -> list[str]:
        g, r = row["generated"][target], row["rendered"][target]
        ratio = row[f"{target}_ratio"]
        return [f"{format_number(g['recall'])} / {format_number(g['precision'])} / {format_number(g['f1'])}",
                f"{format_number(r['recall'])} / {format_number(r['precision'])} / {format_number(r['f1'])}",
                "—" if ratio is None else f"{ratio:.2f}"]

    body = [[row["group"], row["runs"], *cells(row, "lane_lines"), format_number(row["road_edges_ratio"], 2)]
            for section in ("overall", "road_type", "run") for row in result["rows"][section]]
    tol = result.get("tolerance_px", TOLERANCE_PX)
    lines = [markdown_table([f"road adherence (lines within {tol:g} px)", "runs",
                             "lane lines, generated: recall / precision / F1", "rendered (ceiling)", "F1 ratio",
                             "road edges: F1 ratio"], body), "",
             markdown_table(["target", "value", "target", "result"],
                            [[t["metric"], format_number(t["value"]), t["target"], t["result"]]
                             for t in result["targets"]])]
    return "\n".join(lines)
