"""The export runner: scenarios (+ seeded variations) -> a labelled image dataset on disk.

    drivesim export scenarios/ -o out/dataset --variations 2 --source schematic
    drivesim export scenarios/ -o /shared/ds --shard 0/4 ...   # one command per rank, then:
    drivesim export --merge /shared/ds

Every clip is generated into DATASET/.tmp/<clip_id> (images, its per-format label files and
clips/<clip_id>.jsonl, the drivesim labels), renamed into place when complete, and only then
committed by writing its record DATASET/clips/<clip_id>.json. A clip without a record is
incomplete: the next run of the same command deletes whatever of it got into place and makes
it again, so killing an export at any moment and rerunning it ends with the same bytes as an
uninterrupted run. The dataset-level files (COCO annotations, YOLO data.yaml, manifest.json,
README.md, mosaic.jpg) are rebuilt by `merge_dataset` from the committed clips, each replaced
atomically; an unsharded run merges at its end. DATASET/plan.json pins what the folder holds
(clips, seeds, formats, source, version): a different command on the same folder is refused.

Frames come from a pluggable `FrameSource`: the diffusion pipeline (`default_frame_source`),
the procedural renderer (`--source render`, the non-neural baseline) or `schematic_source`
(plain drawings of the same labels, for dry runs and tests).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import shutil
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterator, Sequence

import cv2
import numpy as np

from drivesim import __version__
from drivesim.models.checkpoint import resolve_checkpoint
from drivesim.errors import DrivesimError
from drivesim.export.schematic import schematic_source
from drivesim.export.variations import make_variations
from drivesim.export.writers import (DEFAULT_FORMATS, WRITERS, ClipInfo, LabelWriter, image_file, make_writers,
                                     parse_formats)
from drivesim.scenario.format import AGENT_TYPES, Scenario
from drivesim.scenario.labels import FrameConditions
from drivesim.output.files import atomic_write_text

__all__ = ["FrameSource", "schematic_source", "default_frame_source", "resolve_source", "ClipSpec",
           "plan_clips", "expand_inputs", "safe_clip_id", "parse_shard", "shard_from_env", "ExportOptions",
           "ExportSummary", "MergeSummary", "BoxFilter", "export_dataset", "merge_dataset"]

FrameSource = Callable[[Scenario, int], Iterator[tuple[np.ndarray, FrameConditions]]]
"""Given a scenario and a seed, yields (RGB uint8 H x W x 3 at the scenario camera's size, its labels)."""

SCHEMATIC_SOURCE_ID = "schematic"
RENDER_SOURCE_ID = "render"  # the procedural renderer of the training data (drivesim/render/frames.py)
PLAN_FILE, MANIFEST_FILE = "plan.json", "manifest.json"
STAGING_DIR, RECORDS_DIR, SHARDS_DIR = ".tmp", "clips", "shards"
MAX_CLIP_ID_CHARS = 100


# --- frame sources --------------------------------------------------------------------------

def default_frame_source(checkpoint: Path | str | None, device: str | None, precision: str = "auto",
                         student: bool = False) -> FrameSource:
    """The diffusion pipeline as a FrameSource (the CLI's default `--source diffusion`); checkpoint None ->
    the bundle `drivesim generate` uses (drivesim.models.checkpoint.resolve_checkpoint); `student`: its
    few-step students sample (GenerateOptions.student)."""
    try:
        from drivesim.pipeline.generate import frame_source
    except ImportError as err:
        raise DrivesimError(f"the diffusion pipeline is not available ({err}); "
                            "export a dry run with --source schematic instead") from err
    if device is None and os.environ.get("LOCAL_RANK"):
        import torch  # one GPU per rank under torchrun / accelerate launch

        device = f"cuda:{int(os.environ['LOCAL_RANK'])}" if torch.cuda.is_available() else "cpu"
    from drivesim.pipeline.options import GenerateOptions, arithmetic_record

    source = frame_source(resolve_checkpoint(checkpoint), device,
                          GenerateOptions(progress=False, precision=precision, student=student))
    # each clip's record says how its pixels were made
    source.arithmetic = arithmetic_record(device or "cpu", precision, student)
    return source


def resolve_source(kind: str, checkpoint: Path | str | None = None, device: str | None = None,
                   precision: str = "auto", student: bool = False) -> tuple[FrameSource, str]:
    """(frame source, its id for the plan and manifest): 'schematic', 'render' or 'bundle:<sha256>'."""
    if kind == "schematic":
        return schematic_source, SCHEMATIC_SOURCE_ID
    if kind == "render":
        from drivesim.pipeline.generate import render_source

        return render_source(), RENDER_SOURCE_ID
    if kind == "diffusion":
        from drivesim.models.bundle import bundle_sha256

        bundle = resolve_checkpoint(checkpoint)
        source = default_frame_source(bundle, device, precision, student)  # first: says so when the pipeline is missing
        return source, f"bundle:{bundle_sha256(bundle)}"
    raise DrivesimError(f"unknown frame source '{kind}'; use --source diffusion, render or schematic")


# --- the clip plan --------------------------------------------------------------------------

@dataclass(frozen=True)
class ClipSpec:
    clip_id: str
    scenario: Scenario  # the variation's scenario for variations; its seed is the clip's seed
    scenario_file: str
    scenario_sha256: str
    variation: int = 0  # 0: the scenario as written
    changes: dict[str, Any] = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return self.scenario.seed

    def plan_entry(self) -> dict[str, Any]:
        return {"id": self.clip_id, "scenario_file": self.scenario_file, "scenario_sha256": self.scenario_sha256,
                "variation": self.variation, "seed": self.seed}


def safe_clip_id(name: str) -> str:
    """A folder name that cannot leave DATASET: letters, digits, '_' and '-' only ('../../etc' -> 'etc')."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_-")[:MAX_CLIP_ID_CHARS].strip("_-")
    return cleaned or "scenario"


def expand_inputs(inputs: Sequence[str | Path]) -> list[Path]:
    """Files as given; a directory becomes its *.yaml / *.yml files, sorted by name."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
            if not found:
                raise DrivesimError(f"{path}: folder has no *.yaml scenario files")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise DrivesimError(f"{path}: no such scenario file or folder")
    if not files:
        raise DrivesimError("no scenarios given: pass scenario files or folders of them")
    return files


def plan_clips(inputs: Sequence[str | Path], variations: int = 0, export_seed: int = 0) -> list[ClipSpec]:
    """Every clip of an export, in its stable order: each scenario, then its variations."""
    from drivesim.sources import read_scenario

    clips: list[ClipSpec] = []
    taken: set[str] = set()

    def unique(clip_id: str) -> str:
        k, candidate = 2, clip_id
        while candidate in taken:
            candidate, k = f"{clip_id}_{k}", k + 1
        taken.add(candidate)
        return candidate

    for path in expand_inputs(inputs):
        scenario = read_scenario(path)  # YAML, or OpenSCENARIO .xosc run into a drivesim scenario
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        name = path.as_posix()
        base = unique(safe_clip_id(scenario.name))
        clips.append(ClipSpec(base, scenario, name, sha))
        for v in make_variations(scenario, export_seed, variations):
            clips.append(ClipSpec(unique(f"{base}_v{v.index:02d}"), v.scenario, name, sha, v.index, v.changes))
    return clips


def parse_shard(text: str) -> tuple[int, int]:
    """'1/4' -> (1, 4): this process exports clips k with k % 4 == 1."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m or not 0 <= int(m.group(1)) < int(m.group(2)):
        raise DrivesimError(f"--shard '{text}' is not I/N with 0 <= I < N, e.g. --shard 0/4")
    return int(m.group(1)), int(m.group(2))


def shard_from_env(env: dict[str, str] | None = None) -> tuple[int, int]:
    """(RANK, WORLD_SIZE) under torchrun / accelerate launch, else (0, 1)."""
    env = os.environ if env is None else env
    world, rank = env.get("WORLD_SIZE"), env.get("RANK")
    if not world:
        return 0, 1
    try:
        return parse_shard(f"{int(rank or 0)}/{int(world)}")
    except ValueError:
        raise DrivesimError(f"RANK={rank!r} / WORLD_SIZE={world!r} are not integers; pass --shard I/N") from None


# --- export -------------------------------------------------------------------------------

@dataclass(frozen=True)
class BoxFilter:
    """Which labelled boxes an export ships (every format alike, labels.jsonl too). The default ships every
    box the scenario labels; `drivesim eval`'s controllability rows say how often generated frames show
    boxes below 14 px or above 0.3 occlusion (docs/export.md, "Which boxes"), so a user can ship only what
    the frames show. Heights are the box's pixels at the clip's camera (KITTI's difficulty rule)."""

    min_box_px: float = 0.0  # boxes less tall than this are dropped
    max_occlusion: float = 1.0  # boxes more occluded than this are dropped
    types: tuple[str, ...] = AGENT_TYPES

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min_box_px) and self.min_box_px >= 0):
            raise DrivesimError(f"--min-box-px must be a number >= 0, got {self.min_box_px}")
        if not (math.isfinite(self.max_occlusion) and 0 <= self.max_occlusion <= 1):
            raise DrivesimError(f"--max-occlusion must be in 0..1, got {self.max_occlusion}")
        unknown = sorted(set(self.types) - set(AGENT_TYPES))
        if unknown or not self.types:
            raise DrivesimError(f"--types takes a comma-separated subset of {', '.join(AGENT_TYPES)}, got "
                                f"{', '.join(self.types) or 'none'}")

    @property
    def keeps_all(self) -> bool:
        return self == BoxFilter()

    def apply(self, frame: FrameConditions) -> FrameConditions:
        if self.keeps_all:
            return frame
        kept = [b for b in frame.boxes if b.type in self.types and b.occlusion <= self.max_occlusion
                and b.bbox_xyxy[3] - b.bbox_xyxy[1] >= self.min_box_px]
        return dataclasses.replace(frame, boxes=kept)

    def to_json(self) -> dict[str, Any]:
        return {"min_box_px": self.min_box_px, "max_occlusion": self.max_occlusion, "types": list(self.types)}


@dataclass(frozen=True)
class ExportOptions:
    formats: tuple[str, ...] = DEFAULT_FORMATS
    shard: tuple[int, int] = (0, 1)
    source_id: str = SCHEMATIC_SOURCE_ID
    export_seed: int = 0
    variations: int = 0
    progress: bool = True
    boxes: BoxFilter = field(default_factory=BoxFilter)


@dataclass(frozen=True)
class MergeSummary:
    clips: int
    frames: int
    boxes: int
    missing: tuple[str, ...]  # planned clips that are not complete yet


@dataclass(frozen=True)
class ExportSummary:
    planned: int  # clips in the whole export
    assigned: int  # clips of this shard
    written: int  # clips made by this run (the rest were complete already)
    frames: int  # frames made by this run
    merged: MergeSummary | None  # None for a shard of a sharded export


def export_dataset(clips: Sequence[ClipSpec], out: Path | str, source: FrameSource,
                   options: ExportOptions = ExportOptions()) -> ExportSummary:
    """Write this shard's clips into `out` (skipping complete ones); merge when unsharded."""
    from tqdm import tqdm

    out = Path(out)
    formats = parse_formats(options.formats)
    index, count = options.shard
    _make_dir(out)
    _pin_plan(out, _plan_doc(clips, formats, options))

    mine = [clip for k, clip in enumerate(clips) if k % count == index]
    todo = []
    with _fs_errors(f"cannot clean up {out / STAGING_DIR}"):
        for clip in mine:
            _remove(out / STAGING_DIR / clip.clip_id)  # a staging folder never outlives its run
            if not (out / RECORDS_DIR / f"{clip.clip_id}.json").is_file():
                _discard_partial(out, clip.clip_id)
                todo.append(clip)

    frames = 0
    bar = tqdm(total=sum(c.scenario.num_frames for c in todo), unit="frame", disable=not options.progress,
               desc=f"export{'' if count == 1 else f' shard {index}/{count}'}", dynamic_ncols=True)
    with bar:
        for k, clip in enumerate(todo, 1):
            bar.set_postfix_str(f"clip {k}/{len(todo)} {clip.clip_id}")
            frames += _export_clip(out, clip, source, make_writers(formats), options.source_id, bar.update,
                                   options.boxes)
    _rmdir_if_empty(out / STAGING_DIR)

    if count > 1:
        done = [c.clip_id for c in mine if (out / RECORDS_DIR / f"{c.clip_id}.json").is_file()]
        shard = {"shard": [index, count], "clips": [c.clip_id for c in mine], "complete": done}
        name = f"{index}-of-{count}.json"
        with _fs_errors(f"cannot write the shard manifest in {out / SHARDS_DIR}"):
            for tmp in (out / SHARDS_DIR).glob(f".{name}.*.tmp"):  # left by a killed run of this shard
                tmp.unlink()
        _write(out / SHARDS_DIR / name, json.dumps(shard, indent=2) + "\n")
        merged = None
    else:
        merged = merge_dataset(out)
    return ExportSummary(len(clips), len(mine), len(todo), frames, merged)


def _export_clip(out: Path, clip: ClipSpec, source: FrameSource, writers: list[LabelWriter], source_id: str,
                 on_frame: Callable[[int], Any], box_filter: BoxFilter = BoxFilter()) -> int:
    """Generate one clip into its staging folder, rename it into place, then commit its record."""
    scenario = clip.scenario
    info = ClipInfo(clip.clip_id, scenario.camera.width, scenario.camera.height, scenario.fps, scenario.num_frames,
                    scenario, clip.seed)
    stage = out / STAGING_DIR / clip.clip_id
    boxes: Counter[str] = Counter()
    tracks: dict[str, set[str]] = {t: set() for t in AGENT_TYPES}
    time_of_day: Counter[str] = Counter()
    facts: dict[str, Any] = {}
    n = 0
    with _fs_errors(f"cannot write clip {clip.clip_id} under {out}"):
        try:
            (stage / "images" / clip.clip_id).mkdir(parents=True)
            (stage / RECORDS_DIR).mkdir(parents=True)
            for w in writers:
                w.begin_clip(info, stage)
            with open(stage / RECORDS_DIR / f"{clip.clip_id}.jsonl", "w", encoding="utf-8") as labels:
                for image, frame in source(scenario, clip.seed):
                    _check_frame(clip, n, image, frame)
                    frame = box_filter.apply(frame)
                    # Every format is written from the labels.jsonl values, so all of them agree exactly.
                    line = json.dumps(frame.to_json())
                    frame = FrameConditions.from_json(json.loads(line), info.width, info.height)
                    ok, png = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
                    if not ok:
                        raise DrivesimError(f"clip {clip.clip_id}: frame {n} could not be encoded as PNG")
                    (stage / "images" / image_file(clip.clip_id, n)).write_bytes(png.tobytes())
                    labels.write(line + "\n")
                    for w in writers:
                        w.add_frame(frame)
                    boxes.update(b.type for b in frame.boxes)
                    for b in frame.boxes:
                        tracks[b.type].add(b.track_id)
                    time_of_day[frame.time_of_day] += 1
                    n += 1
                    on_frame(1)
            if n != info.num_frames:
                raise DrivesimError(f"clip {clip.clip_id}: the frame source gave {n} frames, the scenario has "
                                    f"{info.num_frames} ({scenario.duration_s} s at {scenario.fps} fps)")
            for w in writers:
                facts.update(w.end_clip())
        except BaseException:
            _abort_clip(stage, writers)
            raise

        # Commit: rename the clip's folders into place, then write its record (the commit mark).
        for rel in _clip_paths(clip.clip_id, writers):
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage / rel, out / rel)
        record = {
            **clip.plan_entry(), "scenario_name": scenario.name, "changes": clip.changes, "frames": n,
            "width": info.width, "height": info.height, "fps": info.fps, "source": source_id,
            "formats": [w.name for w in writers],
            **({"arithmetic": source.arithmetic} if getattr(source, "arithmetic", None) else {}),
            "counts": {"boxes": {t: boxes[t] for t in AGENT_TYPES}, "tracks": {t: len(tracks[t]) for t in AGENT_TYPES},
                       "time_of_day_frames": {"day": time_of_day["day"], "night": time_of_day["night"]}},
            **facts,
        }
        _write(out / RECORDS_DIR / f"{clip.clip_id}.json", json.dumps(record, indent=2) + "\n")
        _remove(stage)
    return n


def _abort_clip(stage: Path, writers: Sequence[LabelWriter]) -> None:
    """Release every writer and remove the clip's staging folder, whatever fails on the way: on a
    full disk closing a file fails again, and that second error must not hide the first or skip the
    cleanup. Best effort: the next run removes what is left."""
    for w in writers:
        try:
            w.abort()
        except Exception:  # noqa: BLE001 - the error being raised is the one to report
            pass
    shutil.rmtree(stage, ignore_errors=True)
    _rmdir_if_empty(stage.parent)  # the staging root, unless another clip or shard still uses it


def _check_frame(clip: ClipSpec, n: int, image: Any, frame: FrameConditions) -> None:
    cam = clip.scenario.camera
    where = f"clip {clip.clip_id} frame {n}"
    if n >= clip.scenario.num_frames:
        raise DrivesimError(f"clip {clip.clip_id}: the frame source gave more than the scenario's "
                            f"{clip.scenario.num_frames} frames")
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.shape != (cam.height, cam.width, 3):
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise DrivesimError(f"{where}: the frame source gave a {got} image; expected uint8 RGB "
                            f"({cam.height}, {cam.width}, 3), the scenario camera's size")
    if frame.index != n:
        raise DrivesimError(f"{where}: the frame source labelled it as frame {frame.index}")


def _clip_paths(clip_id: str, writers: Sequence[LabelWriter]) -> list[PurePosixPath]:
    """Everything one clip owns, relative to DATASET (its record aside)."""
    paths = [PurePosixPath("images", clip_id), PurePosixPath(RECORDS_DIR, f"{clip_id}.jsonl")]
    paths += [p for w in writers for p in w.clip_paths(clip_id)]
    assert all(".." not in p.parts and not p.is_absolute() for p in paths), paths
    return paths


def _discard_partial(out: Path, clip_id: str) -> None:
    """Delete what an interrupted run of this (uncommitted) clip left in place, in any format."""
    with _fs_errors(f"cannot clean up the interrupted clip {clip_id} in {out}"):
        for rel in _clip_paths(clip_id, [cls() for cls in WRITERS.values()]):
            _remove(out / rel)
        for tmp in (out / RECORDS_DIR).glob(f".{clip_id}.json.*.tmp"):
            tmp.unlink()


# --- plan ------------------------------------------------------------------------------------

def _plan_doc(clips: Sequence[ClipSpec], formats: Sequence[str], options: ExportOptions) -> dict[str, Any]:
    plan = {"drivesim_version": __version__, "source": options.source_id, "formats": list(formats),
            "export_seed": options.export_seed, "variations": options.variations,
            "clips": [c.plan_entry() for c in clips]}
    if not options.boxes.keeps_all:  # only then: a folder exported before the filter existed still resumes
        plan["boxes"] = options.boxes.to_json()
    return plan


def _pin_plan(out: Path, plan: dict[str, Any]) -> None:
    """Write plan.json, or check that the folder's plan is this one (resume = the same command)."""
    path = out / PLAN_FILE
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old != plan:
            differ = [k for k in plan if old.get(k) != plan[k]]
            raise DrivesimError(f"{out} already holds a different export ({', '.join(differ)} differ from its "
                                f"{PLAN_FILE}); rerun the original command to resume it, or export to a new folder")
        return
    _write(path, json.dumps(plan, indent=2) + "\n")


def _read_plan(out: Path) -> dict[str, Any]:
    path = out / PLAN_FILE
    if not path.is_file():
        raise DrivesimError(f"{out} is not a drivesim export (no {PLAN_FILE}); "
                            "run `drivesim export SCENARIOS -o DATASET` first")
    return json.loads(path.read_text(encoding="utf-8"))


# --- merge -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoredClip:
    """A committed clip read back from DATASET (implements writers.ClipLabels)."""

    root: Path
    info: ClipInfo

    @classmethod
    def from_record(cls, root: Path, record: dict[str, Any]) -> "StoredClip":
        return cls(root, ClipInfo(record["id"], record["width"], record["height"], record["fps"], record["frames"]))

    def frames(self) -> Iterator[FrameConditions]:
        with open(self.root / RECORDS_DIR / f"{self.info.clip_id}.jsonl", encoding="utf-8") as f:
            for line in f:
                yield FrameConditions.from_json(json.loads(line), self.info.width, self.info.height)

    def image_path(self, index: int) -> Path:
        return self.root / "images" / image_file(self.info.clip_id, index)


def merge_dataset(out: Path | str) -> MergeSummary:
    """Rebuild COCO, data.yaml, manifest.json, README.md and the mosaic from every committed clip."""
    from drivesim.export.card import write_card

    out = Path(out)
    plan = _read_plan(out)
    with _fs_errors(f"cannot merge {out}"):
        for folder in (out, out / "coco", out / "yolo"):  # temp files of a merge that was killed
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink()
        records, missing = [], []
        for entry in plan["clips"]:
            path = out / RECORDS_DIR / f"{entry['id']}.json"
            if path.is_file():
                records.append(json.loads(path.read_text(encoding="utf-8")))
            else:
                missing.append(entry["id"])
        clips = [StoredClip.from_record(out, r) for r in records]
        for writer in make_writers(plan["formats"]):
            writer.finalize(out, clips)
        manifest = build_manifest(plan, records, missing)
        _write(out / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
        write_card(out, manifest, clips)
    counts = manifest["counts"]
    return MergeSummary(counts["clips"], counts["frames"], sum(counts["boxes"].values()), tuple(missing))


def build_manifest(plan: dict[str, Any], records: Sequence[dict[str, Any]], missing: Sequence[str]) -> dict[str, Any]:
    def total(key: str, sub: str) -> dict[str, int]:
        return {k: sum(r["counts"][key][k] for r in records) for k in sub}

    keep = ("id", "scenario_file", "scenario_sha256", "scenario_name", "variation", "changes", "seed",
            "frames", "width", "height", "fps")
    return {
        "drivesim_version": plan["drivesim_version"], "source": plan["source"], "formats": plan["formats"],
        "export_seed": plan["export_seed"], "variations": plan["variations"],
        "boxes": plan.get("boxes", BoxFilter().to_json()),  # which labelled boxes were shipped
        "counts": {"clips": len(records), "frames": sum(r["frames"] for r in records),
                   "boxes": total("boxes", AGENT_TYPES), "tracks": total("tracks", AGENT_TYPES),
                   "time_of_day_frames": total("time_of_day_frames", ("day", "night"))},
        # shards may run on other machines: every distinct way the clips' pixels were made
        "arithmetic": [dict(a) for a in {json.dumps(r["arithmetic"], sort_keys=True): r["arithmetic"]
                                          for r in records if r.get("arithmetic")}.values()],
        "clips": [{k: r[k] for k in keep} for r in records],
        "missing_clips": list(missing),
    }


# --- files ---------------------------------------------------------------------------------

@contextmanager
def _fs_errors(what: str) -> Iterator[None]:
    """Turn OSError (full disk, unwritable folder) into a DrivesimError that says what failed."""
    try:
        yield
    except OSError as err:
        where = f" ({err.filename})" if err.filename else ""
        raise DrivesimError(f"{what}: {err.strerror or err}{where}. "
                            "Check that the folder is writable and the disk has space.") from err


def _make_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise DrivesimError(f"{out} is a file; -o must name a dataset folder")
    with _fs_errors(f"cannot create the dataset folder {out}"):
        out.mkdir(parents=True, exist_ok=True)


def _write(path: Path, text: str) -> None:
    atomic_write_text(path, text)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _rmdir_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass  # absent, or another shard still has clips staged there
