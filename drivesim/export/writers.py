"""Label writers: one small class per dataset format, all behind one interface.

    drivesim export scenarios/ -o out/dataset --formats coco,kitti,mot,yolo --source schematic
    drivesim export scenarios/openscenario/cut_in.xosc -o out/osi --formats osi --source schematic
    drivesim export scenarios/ -o out/lanes --formats lanes --source render

A writer sees each clip as it is generated (`begin_clip`, `add_frame` per frame, `end_clip`)
and writes its per-clip files under a staging root that mirrors the dataset layout; the export
runner renames them into place once the clip is complete (`clip_paths` says which). Files that
describe the whole dataset (COCO's annotations.json, YOLO's data.yaml) are rebuilt by
`finalize` from every completed clip, so a resumed or sharded export merges into the same bytes.

Conventions shared by every format (docs/export.md has the full tables):
- images are `images/<clip_id>/<frame:06d>.png`, frame = 0-based index in the clip;
- class order is `AGENT_TYPES` (car, truck, bus, pedestrian, cyclist, motorcycle):
  COCO category id = position + 1, YOLO class = position;
- pixel coordinates are 0-based, x right, y down, as in `Box.bbox_xyxy`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, Iterator, Protocol, Sequence

from drivesim.errors import DrivesimError
from drivesim.scenario.format import AGENT_TYPES
from drivesim.scenario.labels import Box, FrameConditions
from drivesim.output.files import atomic_write_text

IMAGE_EXT = ".png"

# COCO category id = position in AGENT_TYPES + 1 (0 is "background" for many trainers).
COCO_CATEGORY_IDS: dict[str, int] = {t: i + 1 for i, t in enumerate(AGENT_TYPES)}
COCO_SUPERCATEGORY = {"car": "vehicle", "truck": "vehicle", "bus": "vehicle",
                      "pedestrian": "person", "cyclist": "two_wheeler", "motorcycle": "two_wheeler"}
YOLO_CLASS_IDS: dict[str, int] = {t: i for i, t in enumerate(AGENT_TYPES)}
# KITTI has no bus or motorcycle class: buses go to Misc (ignored by the KITTI benchmark like
# Truck), motorcycles with their rider to Cyclist (as the nuScenes -> KITTI converters do).
KITTI_TYPES = {"car": "Car", "truck": "Truck", "bus": "Misc", "pedestrian": "Pedestrian",
               "cyclist": "Cyclist", "motorcycle": "Cyclist"}
# KITTI `occluded`: 0 fully visible, 1 partly, 2 largely occluded (3 = unknown, never written).
KITTI_OCCLUDED_THRESHOLDS = (0.05, 0.5)  # occlusion share < 0.05 -> 0, < 0.5 -> 1, else 2
# MOTChallenge (MOT17/MOT20) class ids where one exists: 1 pedestrian, 2 person on vehicle
# (a cyclist or motorcyclist: a distractor in the pedestrian benchmark), 3 car (every motor vehicle).
MOT_CLASS_IDS = {"pedestrian": 1, "cyclist": 2, "motorcycle": 2, "car": 3, "truck": 3, "bus": 3}


def image_file(clip_id: str, index: int) -> str:
    """An image's path relative to DATASET/images (COCO `file_name`)."""
    return f"{clip_id}/{index:06d}{IMAGE_EXT}"


@dataclass(frozen=True)
class ClipInfo:
    clip_id: str
    width: int
    height: int
    fps: float
    num_frames: int
    scenario: Any = None  # the clip's Scenario and engine seed, for writers of world state (OSI)
    seed: int | None = None


class ClipLabels(Protocol):
    """A completed clip as `finalize` reads it back (the runner reads its labels.jsonl)."""

    info: ClipInfo

    def frames(self) -> Iterator[FrameConditions]: ...


class LabelWriter:
    """One dataset format. Per-clip files go under `root` (a staging folder mirroring DATASET)."""

    name: ClassVar[str]

    def clip_paths(self, clip_id: str) -> list[PurePosixPath]:
        """Paths, relative to DATASET, that hold this clip's files (renamed into place together)."""
        return []

    def begin_clip(self, clip: ClipInfo, root: Path) -> None:
        pass

    def add_frame(self, frame: FrameConditions) -> None:
        pass

    def end_clip(self) -> dict[str, Any]:
        """Finish the clip's files; returns facts to keep in the clip record (may be empty)."""
        return {}

    def abort(self) -> None:
        """Release what `begin_clip` opened; the runner discards the staged files."""

    def finalize(self, root: Path, clips: Sequence[ClipLabels]) -> None:
        """Rewrite the dataset-level files from every completed clip (atomically)."""


# --- COCO -----------------------------------------------------------------------------------

def coco_bbox(xyxy: Sequence[float]) -> list[float]:
    """[x1, y1, x2, y2] -> COCO [x, y, w, h] (rounded like the labels, so no float noise)."""
    x1, y1, x2, y2 = xyxy
    return [round(x1, 3), round(y1, 3), round(x2 - x1, 3), round(y2 - y1, 3)]


class CocoWriter(LabelWriter):
    """`coco/annotations.json`: COCO detection, one image per frame, built at finalize."""

    name = "coco"
    path = PurePosixPath("coco/annotations.json")

    def finalize(self, root: Path, clips: Sequence[ClipLabels]) -> None:
        images: list[dict[str, Any]] = []
        annotations: list[dict[str, Any]] = []
        for clip in clips:
            info = clip.info
            for frame in clip.frames():
                image_id = len(images) + 1
                images.append({"id": image_id, "file_name": image_file(info.clip_id, frame.index),
                               "width": info.width, "height": info.height, "clip_id": info.clip_id,
                               "frame_index": frame.index, "timestamp_s": frame.timestamp_s,
                               "time_of_day": frame.time_of_day})
                for box in frame.boxes:
                    bbox = coco_bbox(box.bbox_xyxy)
                    annotations.append({
                        "id": len(annotations) + 1, "image_id": image_id,
                        "category_id": COCO_CATEGORY_IDS[box.type], "bbox": bbox,
                        "area": round(bbox[2] * bbox[3], 3), "iscrowd": 0,
                        "track_id": box.track_id, "occlusion": box.occlusion, "truncation": box.truncation,
                    })
        categories = [{"id": COCO_CATEGORY_IDS[t], "name": t, "supercategory": COCO_SUPERCATEGORY[t]}
                      for t in AGENT_TYPES]
        doc = {"info": {"description": "drivesim synthetic driving dataset", "version": "1.0"},
               "licenses": [], "images": images, "annotations": annotations, "categories": categories}
        atomic_write_text(root / self.path, json.dumps(doc, separators=(",", ":")) + "\n")


# --- KITTI ----------------------------------------------------------------------------------

def kitti_occluded(occlusion: float) -> int:
    low, high = KITTI_OCCLUDED_THRESHOLDS
    return 0 if occlusion < low else 1 if occlusion < high else 2


def kitti_alpha(box: Box) -> float:
    """Observation angle: rotation_y minus the ray angle to the object, wrapped to [-pi, pi)."""
    x, _, z = box.location_m
    a = box.rotation_y - math.atan2(x, z)
    return (a + math.pi) % (2 * math.pi) - math.pi


def kitti_line(box: Box) -> str:
    """One KITTI object line: type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y."""
    length, width, height = box.size_m
    x1, y1, x2, y2 = box.bbox_xyxy
    x, y, z = box.location_m
    truncated = min(max(box.truncation, 0.0), 1.0)
    numbers = (kitti_alpha(box), x1, y1, x2, y2, height, width, length, x, y, z, box.rotation_y)
    return " ".join([KITTI_TYPES[box.type], f"{truncated:.2f}", str(kitti_occluded(box.occlusion)),
                     *(f"{v:.2f}" for v in numbers)])


class KittiWriter(LabelWriter):
    """`kitti/<clip_id>/<frame:06d>.txt`: KITTI object labels (15 columns), one file per frame."""

    name = "kitti"

    def clip_paths(self, clip_id: str) -> list[PurePosixPath]:
        return [PurePosixPath("kitti", clip_id)]

    def begin_clip(self, clip: ClipInfo, root: Path) -> None:
        self._dir = root / "kitti" / clip.clip_id
        self._dir.mkdir(parents=True, exist_ok=True)

    def add_frame(self, frame: FrameConditions) -> None:
        text = "".join(kitti_line(b) + "\n" for b in frame.boxes)
        (self._dir / f"{frame.index:06d}.txt").write_text(text, encoding="utf-8")


# --- MOTChallenge ---------------------------------------------------------------------------

class MotWriter(LabelWriter):
    """`mot/<clip_id>/gt/gt.txt` + `seqinfo.ini`: MOTChallenge ground truth, 1-based frames.

    Track ids are integers 1, 2, ... in order of first appearance in the clip (earliest frame,
    then nearest box first); the clip record keeps the mapping as `mot_track_ids`. Boxes use
    MOTChallenge's 1-based pixels (bb_left = x1 + 1); visibility = 1 - occlusion.
    """

    name = "mot"

    def clip_paths(self, clip_id: str) -> list[PurePosixPath]:
        return [PurePosixPath("mot", clip_id)]

    def begin_clip(self, clip: ClipInfo, root: Path) -> None:
        self._clip = clip
        self._dir = root / "mot" / clip.clip_id
        (self._dir / "gt").mkdir(parents=True, exist_ok=True)
        self._gt = open(self._dir / "gt" / "gt.txt", "w", encoding="utf-8")
        self._ids: dict[str, int] = {}

    def add_frame(self, frame: FrameConditions) -> None:
        for box in frame.boxes:
            tid = self._ids.setdefault(box.track_id, len(self._ids) + 1)
            x, y, w, h = coco_bbox(box.bbox_xyxy)
            x, y = x + 1, y + 1  # MOTChallenge pixels are 1-based (motmetrics subtracts the 1 again)
            visibility = min(max(1.0 - box.occlusion, 0.0), 1.0)
            self._gt.write(f"{frame.index + 1},{tid},{x:.2f},{y:.2f},{w:.2f},{h:.2f},1,"
                           f"{MOT_CLASS_IDS[box.type]},{visibility:.4f}\n")

    def end_clip(self) -> dict[str, Any]:
        self._gt.close()
        clip = self._clip
        fps = int(clip.fps) if float(clip.fps).is_integer() else clip.fps
        # Images are not copied into MOT's usual img1/: imDir points at the shared images folder.
        ini = (f"[Sequence]\nname={clip.clip_id}\nimDir=../../images/{clip.clip_id}\nframeRate={fps}\n"
               f"seqLength={clip.num_frames}\nimWidth={clip.width}\nimHeight={clip.height}\nimExt={IMAGE_EXT}\n")
        (self._dir / "seqinfo.ini").write_text(ini, encoding="utf-8")
        return {"mot_track_ids": dict(self._ids)}

    def abort(self) -> None:
        gt, self._gt = getattr(self, "_gt", None), None
        if gt is not None:
            try:
                gt.close()  # flushes what is buffered: on a full disk this fails again
            except OSError:
                pass  # the file is closed anyway, and the runner removes it with the staging folder


# --- YOLO -----------------------------------------------------------------------------------

def yolo_line(box: Box, width: int, height: int) -> str:
    """`class cx cy w h`, normalised to [0, 1] by the image size."""
    x1, y1, x2, y2 = (min(max(v, 0.0), lim) for v, lim in zip(box.bbox_xyxy, (width, height, width, height)))
    cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
    w, h = (x2 - x1) / width, (y2 - y1) / height
    return f"{YOLO_CLASS_IDS[box.type]} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"


class YoloWriter(LabelWriter):
    """`labels/<clip_id>/<frame:06d>.txt` + `yolo/data.yaml`, the layout Ultralytics reads as-is.

    Ultralytics finds an image's labels by replacing the last `/images/` of its path with
    `/labels/`, so the txt files sit in DATASET/labels beside DATASET/images; data.yaml has no
    `path` key, so `train: ../images` is resolved from the yaml's own folder.
    """

    name = "yolo"
    data_yaml = PurePosixPath("yolo/data.yaml")

    def clip_paths(self, clip_id: str) -> list[PurePosixPath]:
        return [PurePosixPath("labels", clip_id)]

    def begin_clip(self, clip: ClipInfo, root: Path) -> None:
        self._clip = clip
        self._dir = root / "labels" / clip.clip_id
        self._dir.mkdir(parents=True, exist_ok=True)

    def add_frame(self, frame: FrameConditions) -> None:
        text = "".join(yolo_line(b, self._clip.width, self._clip.height) + "\n" for b in frame.boxes)
        (self._dir / f"{frame.index:06d}.txt").write_text(text, encoding="utf-8")

    def finalize(self, root: Path, clips: Sequence[ClipLabels]) -> None:
        names = "".join(f"  {i}: {t}\n" for t, i in YOLO_CLASS_IDS.items())
        text = ("# Ultralytics YOLO: yolo detect train data=<DATASET>/yolo/data.yaml\n"
                "# Labels are in <DATASET>/labels/<clip_id>/ (found from images/ by Ultralytics).\n"
                "# train and val are the same folder: split by clip with image-list .txt files (docs/export.md).\n"
                "train: ../images\nval: ../images\n"
                f"nc: {len(YOLO_CLASS_IDS)}\nnames:\n{names}")
        atomic_write_text(root / self.data_yaml, text)


# --- ASAM OSI -------------------------------------------------------------------------------

class OsiWriter(LabelWriter):
    """`osi/<clip_id>.osi`: the clip's ground truth as an OSI trace, one osi3.GroundTruth per frame
    (drivesim/standards/osi.py; needs the optional osi-python package)."""

    name = "osi"

    def clip_paths(self, clip_id: str) -> list[PurePosixPath]:
        return [PurePosixPath("osi", f"{clip_id}.osi")]

    def begin_clip(self, clip: ClipInfo, root: Path) -> None:
        from drivesim.standards.osi import GroundTruthTrace

        if clip.scenario is None:
            raise DrivesimError(f"clip {clip.clip_id}: the osi format needs the clip's scenario in its ClipInfo")
        (root / "osi").mkdir(parents=True, exist_ok=True)
        self._trace = GroundTruthTrace(root / "osi" / f"{clip.clip_id}.osi", clip.scenario, clip.seed)

    def add_frame(self, frame: FrameConditions) -> None:
        self._trace.add(frame)

    def end_clip(self) -> dict[str, Any]:
        self._trace.close()
        return {}

    def abort(self) -> None:
        trace, self._trace = getattr(self, "_trace", None), None
        if trace is not None:
            try:
                trace.close()
            except OSError:
                pass  # the runner removes the staged file


# --- lane lines (OpenLane style) ------------------------------------------------------------

class LanesWriter(LabelWriter):
    """`lanes/<clip_id>/<frame:06d>.json`: each frame's lane lines and road edges in the style of OpenLane
    (drivesim/scenario/lane_frames.py; docs/labels.md, "Lane lines"). The labels are computed here from
    the clip's scenario (network, camera, the frame's ego pose), as the OSI writer computes its world."""

    name = "lanes"

    def clip_paths(self, clip_id: str) -> list[PurePosixPath]:
        return [PurePosixPath("lanes", clip_id)]

    def begin_clip(self, clip: ClipInfo, root: Path) -> None:
        from drivesim.scenario.lane_frames import ScenarioLanes

        if clip.scenario is None:
            raise DrivesimError(f"clip {clip.clip_id}: the lanes format needs the clip's scenario in its ClipInfo")
        self._clip = clip
        self._lanes = ScenarioLanes(clip.scenario, clip.seed)
        self._dir = root / "lanes" / clip.clip_id
        self._dir.mkdir(parents=True, exist_ok=True)

    def add_frame(self, frame: FrameConditions) -> None:
        doc = self._lanes.frame_json(frame, f"images/{image_file(self._clip.clip_id, frame.index)}")
        (self._dir / f"{frame.index:06d}.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n",
                                                          encoding="utf-8")


# --- registry -------------------------------------------------------------------------------

WRITERS: dict[str, type[LabelWriter]] = {w.name: w for w in (CocoWriter, KittiWriter, MotWriter, YoloWriter,
                                                             OsiWriter, LanesWriter)}
# osi and lanes on request: osi needs osi-python; lanes adds a file per frame that box datasets do not use
DEFAULT_FORMATS: tuple[str, ...] = ("coco", "kitti", "mot", "yolo")


def parse_formats(spec: str | Sequence[str]) -> tuple[str, ...]:
    """'coco,kitti' -> ('coco', 'kitti') in registry order; unknown names raise DrivesimError."""
    names = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    unknown = [n for n in names if n not in WRITERS]
    if unknown or not names:
        raise DrivesimError(f"unknown export format(s) {', '.join(unknown) or '(none given)'}; "
                            f"choose from {','.join(WRITERS)}, e.g. --formats coco,yolo")
    return tuple(n for n in WRITERS if n in names)


def make_writers(formats: Sequence[str]) -> list[LabelWriter]:
    return [WRITERS[name]() for name in parse_formats(formats)]
