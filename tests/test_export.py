"""Dataset export: every format read back by its reference reader, resume after kill, shards, safety.

    python -m pytest tests/test_export.py -x -q
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from drivesim.errors import DrivesimError
from drivesim.export.dataset import (ExportOptions, export_dataset, expand_inputs, merge_dataset, parse_shard,
                                     plan_clips, safe_clip_id, shard_from_env)
from drivesim.export.schematic import FRAME_DELAY_ENV, schematic_source
from drivesim.export.variations import make_variation, make_variations
from drivesim.export.writers import (COCO_CATEGORY_IDS, KittiWriter, MotWriter, ClipInfo, coco_bbox, kitti_alpha,
                                     kitti_line, kitti_occluded, parse_formats, yolo_line)
from drivesim.scenario.checks import check_scenario
from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.format import Scenario
from drivesim.scenario.labels import Box, FrameConditions

ESCAPING = """\
version: 1
name: ../../escape
seed: 3
duration_s: 1.2
fps: 5
camera: {width: 128, height: 64}
environment: {time_of_day: day, crowdedness: 0.3}
ego: {lane: 1, speed_mps: 10}
agents:
  - {id: lead, type: car, lane: 1, distance_m: 15, speed_mps: 8}
  - {id: ped, type: pedestrian, lateral_m: -2, distance_m: 12}
"""
NIGHT = """\
version: 1
name: night_truck
duration_s: 1.0
fps: 5
camera: {width: 128, height: 64}
environment: {time_of_day: night, crowdedness: 0.2, events: [{at_s: 0.6, time_of_day: day}]}
agents:
  - {id: t1, type: truck, lane: 2, distance_m: 20, speed_mps: 12, actions: [{at_s: 0.2, speed_mps: 5}]}
  - {id: bike, type: cyclist, lateral_m: 11, distance_m: 10, speed_mps: 4}
"""
VARIATIONS = 1


def _tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.relative_to(root).as_posix().startswith(skip)}


@pytest.fixture(scope="module")
def scen_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("scenarios")
    (d / "a_escape.yaml").write_text(ESCAPING)
    (d / "b_night.yaml").write_text(NIGHT)
    return d


@pytest.fixture(scope="module")
def clips(scen_dir):
    return plan_clips([str(scen_dir)], variations=VARIATIONS, export_seed=0)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, clips) -> Path:
    out = tmp_path_factory.mktemp("clean") / "ds"
    export_dataset(clips, out, schematic_source, ExportOptions(variations=VARIATIONS, progress=False))
    return out


def _plan_frames(clip) -> list[FrameConditions]:
    return list(ScenarioEngine(clip.scenario, seed=clip.seed).frames())


# --- the four formats, read by their reference readers -------------------------------------

def test_coco_loads_and_matches_plan_boxes(dataset, clips):
    from pycocotools.coco import COCO

    coco = COCO(str(dataset / "coco" / "annotations.json"))
    plan = {c.clip_id: _plan_frames(c) for c in clips}
    assert len(coco.getAnnIds()) == sum(len(f.boxes) for frames in plan.values() for f in frames) > 0
    assert len(coco.getImgIds()) == sum(len(frames) for frames in plan.values())
    assert {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())} == {v: k for k, v in COCO_CATEGORY_IDS.items()}
    for img in coco.loadImgs(coco.getImgIds()):
        assert (dataset / "images" / img["file_name"]).is_file()
        frame = plan[img["clip_id"]][img["frame_index"]]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img["id"]))
        assert len(anns) == len(frame.boxes)
        for ann, box in zip(anns, frame.boxes):
            x1, y1, x2, y2 = box.bbox_xyxy
            assert ann["bbox"] == pytest.approx([x1, y1, x2 - x1, y2 - y1], abs=2e-3)
            assert ann["area"] == pytest.approx((x2 - x1) * (y2 - y1), rel=1e-3, abs=1e-2)
            assert ann["category_id"] == COCO_CATEGORY_IDS[box.type] and ann["iscrowd"] == 0
            assert ann["track_id"] == box.track_id
            assert ann["occlusion"] == pytest.approx(box.occlusion, abs=1e-4)


def test_kitti_lines_have_15_numeric_columns(dataset, clips):
    for clip in clips:
        for frame in _plan_frames(clip):
            lines = (dataset / "kitti" / clip.clip_id / f"{frame.index:06d}.txt").read_text().splitlines()
            assert len(lines) == len(frame.boxes)
            for line, box in zip(lines, frame.boxes):
                cols = line.split(" ")
                assert len(cols) == 15
                nums = [float(v) for v in cols[1:]]
                assert cols[0] in {"Car", "Truck", "Misc", "Pedestrian", "Cyclist"}
                assert nums[1] in (0, 1, 2) and 0 <= nums[0] <= 1
                assert nums[3:7] == pytest.approx(box.bbox_xyxy, abs=0.006)
                assert nums[7:10] == pytest.approx(box.size_m[::-1], abs=0.006)  # h w l
                assert nums[2] == pytest.approx(kitti_alpha(box), abs=0.006)
                assert nums[10:13] == pytest.approx(box.location_m, abs=0.006)


def test_mot_gt_reads_with_motmetrics(dataset, clips):
    import motmetrics as mm

    for clip in clips:
        frames = _plan_frames(clip)
        df = mm.io.loadtxt(str(dataset / "mot" / clip.clip_id / "gt" / "gt.txt"), fmt="mot15-2D")
        assert len(df) == sum(len(f.boxes) for f in frames)
        frame_ids = df.index.get_level_values("FrameId")
        assert set(frame_ids) == {f.index + 1 for f in frames if f.boxes}  # 1-based
        record = json.loads((dataset / "clips" / f"{clip.clip_id}.json").read_text())
        ids = record["mot_track_ids"]
        assert sorted(ids.values()) == list(range(1, len(ids) + 1))
        for f in frames:
            for box in f.boxes:
                row = df.loc[(f.index + 1, ids[box.track_id])]
                # motmetrics turns MOT's 1-based pixels back into 0-based ones.
                assert [row.X, row.Y] == pytest.approx(box.bbox_xyxy[:2], abs=0.006)
                assert row.Visibility == pytest.approx(1 - box.occlusion, abs=1e-3)
        ini = (dataset / "mot" / clip.clip_id / "seqinfo.ini").read_text()
        assert f"seqLength={len(frames)}" in ini and "imWidth=128" in ini
        assert (dataset / "mot" / clip.clip_id / f"../../images/{clip.clip_id}").resolve().is_dir()


def test_yolo_labels_sit_where_ultralytics_looks(dataset, clips):
    data = yaml.safe_load((dataset / "yolo" / "data.yaml").read_text())
    images = (dataset / "yolo" / data["train"]).resolve()
    assert images == (dataset / "images").resolve() and data["nc"] == len(data["names"]) == 6
    pngs = sorted(images.rglob("*.png"))
    assert len(pngs) == sum(c.scenario.num_frames for c in clips)
    for png in pngs:
        # Ultralytics' img2label_paths: last /images/ -> /labels/, extension -> .txt
        s = str(png)
        label = Path("/labels/".join(s.rsplit("/images/", 1)).rsplit(".", 1)[0] + ".txt")
        for line in label.read_text().splitlines():
            cls, *vals = line.split()
            assert 0 <= int(cls) < 6 and len(vals) == 4
            assert all(0.0 <= float(v) <= 1.0 for v in vals)


def test_images_are_the_camera_size(dataset, clips):
    import cv2

    img = cv2.imread(str(dataset / "images" / clips[0].clip_id / "000000.png"))
    assert img.shape == (64, 128, 3)


def test_manifest_and_card(dataset, clips, scen_dir):
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert [c["id"] for c in manifest["clips"]] == [c.clip_id for c in clips]
    boxes = sum(len(f.boxes) for c in clips for f in _plan_frames(c))
    assert sum(manifest["counts"]["boxes"].values()) == boxes
    assert manifest["source"] == "schematic" and manifest["missing_clips"] == []
    tod = manifest["counts"]["time_of_day_frames"]
    assert tod["day"] > 0 and tod["night"] > 0 and tod["day"] + tod["night"] == manifest["counts"]["frames"]
    assert manifest["clips"][0]["scenario_sha256"] == __import__("hashlib").sha256(
        (scen_dir / "a_escape.yaml").read_bytes()).hexdigest()
    card = (dataset / "README.md").read_text()
    assert "mosaic.jpg" in card and f"| boxes | {boxes} |" in card
    assert (dataset / "mosaic.jpg").read_bytes()[:2] == b"\xff\xd8"


# --- writers on hand-made labels --------------------------------------------------------------

def _box(track_id="a", kind="car", xyxy=(10.0, 20.0, 40.0, 50.0), occ=0.0, trunc=0.0, loc=(2.0, 1.5, 10.0), ry=-1.5):
    return Box(track_id, kind, xyxy, trunc, occ, loc, (4.5, 1.8, 1.5), ry, 10.3)


def test_writer_conversions_by_hand(tmp_path):
    assert coco_bbox((10.0, 20.0, 40.5, 50.25)) == [10.0, 20.0, 30.5, 30.25]
    assert [kitti_occluded(o) for o in (0.0, 0.049, 0.05, 0.49, 0.5, 0.97)] == [0, 0, 1, 1, 2, 2]
    assert kitti_alpha(_box(loc=(0.0, 1.5, 10.0), ry=-math.pi / 2)) == pytest.approx(-math.pi / 2)
    assert kitti_alpha(_box(loc=(10.0, 1.5, 10.0), ry=-math.pi / 2)) == pytest.approx(-3 * math.pi / 4)
    assert kitti_line(_box(kind="bus", occ=0.3, trunc=0.25)).split() == [
        "Misc", "0.25", "1", f"{kitti_alpha(_box()):.2f}", "10.00", "20.00", "40.00", "50.00",
        "1.50", "1.80", "4.50", "2.00", "1.50", "10.00", "-1.50"]
    assert yolo_line(_box(kind="pedestrian"), 100, 100) == "3 0.250000 0.350000 0.300000 0.300000"

    mot = MotWriter()
    mot.begin_clip(ClipInfo("c", 100, 100, 7.5, 2), tmp_path)
    mot.add_frame(FrameConditions(0, 0.0, "day", 0.0, (_box("zed"), _box("amy", occ=0.25))))
    mot.add_frame(FrameConditions(1, 0.1, "day", 0.0, (_box("bob"), _box("zed"))))
    assert mot.end_clip() == {"mot_track_ids": {"zed": 1, "amy": 2, "bob": 3}}  # first appearance
    rows = (tmp_path / "mot" / "c" / "gt" / "gt.txt").read_text().splitlines()
    assert rows[1] == "1,2,11.00,21.00,30.00,30.00,1,3,0.7500" and rows[3].startswith("2,1,")
    assert "frameRate=7.5" in (tmp_path / "mot" / "c" / "seqinfo.ini").read_text()

    kitti = KittiWriter()
    kitti.begin_clip(ClipInfo("c", 100, 100, 5, 1), tmp_path)
    kitti.add_frame(FrameConditions(0, 0.0, "day", 0.0, ()))
    assert (tmp_path / "kitti" / "c" / "000000.txt").read_text() == ""  # a frame without objects


@pytest.mark.parametrize("spec", ["voc", "", "coco,nope"])
def test_unknown_formats_are_refused(spec):
    with pytest.raises(DrivesimError, match="format"):
        parse_formats(spec)


def test_formats_keep_registry_order():
    assert parse_formats("yolo, COCO") == ("coco", "yolo")


# --- variations, plan, shards ----------------------------------------------------------------

def test_variations_are_deterministic_valid_and_flip_time_of_day(clips):
    base = clips[0].scenario
    a, b = make_variations(base, 5, 4), make_variations(base, 5, 4)
    assert [v.scenario for v in a] == [v.scenario for v in b]
    assert make_variation(base, 6, 1).scenario != a[0].scenario  # --seed matters
    for v in a:
        assert check_scenario(v.scenario) == [] and Scenario.model_validate(v.scenario.model_dump()) == v.scenario
        flipped = v.scenario.environment.time_of_day != base.environment.time_of_day
        assert flipped == (v.index % 2 == 1) == v.changes["time_of_day_flipped"]
        assert 0.0 <= v.scenario.environment.crowdedness <= 1.0
        for agent, orig in zip(v.scenario.agents, base.agents):
            f = v.changes["agents"][agent.id]
            assert agent.speed_mps == pytest.approx(orig.speed_mps * f["speed_factor"], abs=1e-3)
            assert 0.85 <= agent.distance_m / orig.distance_m <= 1.15
    assert len({v.scenario.seed for v in a}) == 4


def test_plan_order_ids_and_path_escape(clips, scen_dir, dataset, tmp_path):
    assert [c.clip_id for c in clips] == ["escape", "escape_v01", "night_truck", "night_truck_v01"]
    assert safe_clip_id("../../etc") == "etc" and safe_clip_id("/abs/../x y") == "abs_x_y"
    assert safe_clip_id("..") == "scenario" and "/" not in safe_clip_id("a/b\\c")
    root = dataset.resolve()
    assert all(root in p.resolve().parents for p in dataset.rglob("*"))
    assert not (dataset.parent.parent / "escape").exists() and not (dataset.parent / "escape").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DrivesimError, match="no \\*.yaml"):
        expand_inputs([tmp_path / "empty"])
    with pytest.raises(DrivesimError, match="no such"):
        expand_inputs([tmp_path / "missing.yaml"])
    twice = plan_clips([scen_dir / "b_night.yaml", scen_dir / "b_night.yaml"])
    assert [c.clip_id for c in twice] == ["night_truck", "night_truck_2"]


def test_shard_parsing_and_env():
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(DrivesimError, match="--shard"):
            parse_shard(bad)
    assert shard_from_env({}) == (0, 1)
    assert shard_from_env({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "3"}) == (3, 8)
    with pytest.raises(DrivesimError):
        shard_from_env({"RANK": "x", "WORLD_SIZE": "2"})


def test_sharded_then_merged_equals_unsharded(tmp_path, clips, dataset):
    out = tmp_path / "ds"
    opts = dict(variations=VARIATIONS, progress=False)
    first = export_dataset(clips, out, schematic_source, ExportOptions(shard=(0, 2), **opts))
    assert first.merged is None and first.assigned == 2
    assert merge_dataset(out).missing == ("escape_v01", "night_truck_v01")  # shard 1 not run yet
    assert "**Incomplete:** 2 planned clip(s)" in (out / "README.md").read_text()
    export_dataset(clips, out, schematic_source, ExportOptions(shard=(1, 2), **opts))
    assert merge_dataset(out).missing == ()
    shard = json.loads((out / "shards" / "1-of-2.json").read_text())
    assert shard["clips"] == shard["complete"] == ["escape_v01", "night_truck_v01"]
    assert _tree(out, skip=("shards/",)) == _tree(dataset)


def test_each_clip_and_the_manifest_say_how_the_pixels_were_made(tmp_path, clips):
    """A diffusion source carries its arithmetic (precision, threads, CPU); shards run on machines of two
    kinds leave both in the manifest, each clip's record its own."""
    def source_on(precision: str):
        def source(scenario, seed):
            yield from schematic_source(scenario, seed)
        source.arithmetic = {"precision": precision, "threads": 2, "cpu": "test", "cpu_native_bf16": precision == "bf16"}
        return source

    out = tmp_path / "ds"
    opts = dict(variations=VARIATIONS, progress=False)
    export_dataset(clips, out, source_on("bf16"), ExportOptions(shard=(0, 2), **opts))
    export_dataset(clips, out, source_on("fp32"), ExportOptions(shard=(1, 2), **opts))
    merge_dataset(out)
    records = {p.stem: json.loads(p.read_text()) for p in (out / "clips").glob("*.json")}
    assert {r["arithmetic"]["precision"] for r in records.values()} == {"bf16", "fp32"}
    assert records["escape_v01"]["arithmetic"]["precision"] == "fp32"  # shard 1's clip
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(a["precision"] for a in manifest["arithmetic"]) == ["bf16", "fp32"]


def test_the_diffusion_source_carries_its_arithmetic(tmp_path):
    import torch

    from drivesim.export.dataset import default_frame_source
    from drivesim.models.bundle import save_bundle
    from drivesim.pipeline.options import compute_dtype
    from pipeline_fixtures import micro_bundle

    save_bundle(micro_bundle(), tmp_path / "bundle", dtype=torch.float32)
    arithmetic = default_frame_source(tmp_path / "bundle", "cpu").arithmetic
    assert arithmetic["precision"] == {torch.float32: "fp32", torch.bfloat16: "bf16"}[compute_dtype("cpu")]
    assert arithmetic["device"] == "cpu" and arithmetic["threads"] >= 1
    pinned = default_frame_source(tmp_path / "bundle", "cpu", "fp32").arithmetic  # export --precision fp32
    assert (pinned["precision"], pinned["precision_option"]) == ("fp32", "fp32")


def test_a_different_command_on_the_same_folder_is_refused(tmp_path, clips, scen_dir):
    out = tmp_path / "ds"
    export_dataset(clips[:1], out, schematic_source, ExportOptions(variations=VARIATIONS, progress=False))
    other = plan_clips([scen_dir], variations=2)
    with pytest.raises(DrivesimError, match="different export"):
        export_dataset(other, out, schematic_source, ExportOptions(variations=2, progress=False))


def test_bad_frame_source_fails_cleanly(tmp_path, clips):
    def wrong_size(scenario, seed):
        for image, frame in schematic_source(scenario, seed):
            yield image[:, :-1], frame

    def too_short(scenario, seed):
        yield next(iter(schematic_source(scenario, seed)))

    out = tmp_path / "ds"
    for source, match in ((wrong_size, "expected uint8 RGB"), (too_short, "gave 1 frames")):
        with pytest.raises(DrivesimError, match=match):
            export_dataset(clips[:1], out, source, ExportOptions(progress=False))
        assert not (out / "images" / "escape").exists() and not (out / "clips" / "escape.json").exists()
        assert not (out / ".tmp" / "escape").exists()


# --- resume after kill, through the CLI ------------------------------------------------------

def _cli(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "drivesim.cli", "export", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _kill_when(proc, ready, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"export ended before it could be killed: {proc.communicate()}"
        assert time.monotonic() < deadline, "timed out waiting for the export to make progress"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_killed_export_resumes_to_identical_bytes(tmp_path, scen_dir, dataset):
    out = tmp_path / "ds"
    args = [str(scen_dir), "-o", str(out), "--source", "schematic", "--variations", str(VARIATIONS), "-q"]
    slow = {**os.environ, FRAME_DELAY_ENV: "0.08"}

    # 1. killed in the middle of the first clip; 2. killed after a clip was committed.
    _kill_when(_cli(args, env=slow), lambda: any((out / ".tmp").glob("*/images/*/*.png")))
    assert not (out / "clips").exists() or not any((out / "clips").glob("*.json"))
    _kill_when(_cli(args, env=slow), lambda: (out / "clips" / "escape.json").is_file()
               and any((out / ".tmp").glob("*/images/*/*.png")))
    # 3. a kill between renaming a clip into place and committing it, plus a killed merge's temp file.
    (out / "clips" / "escape.json").unlink()
    (out / "coco").mkdir(exist_ok=True)
    (out / "coco" / ".annotations.json.x1.tmp").write_text("partial")

    proc = _cli(args)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "wrote 4 clip(s)" in stdout  # everything uncommitted was made again
    assert not (out / ".tmp").exists()
    assert _tree(out) == _tree(dataset)

    again = _cli(args)
    stdout, _ = again.communicate(timeout=60)
    assert again.returncode == 0 and "wrote 0 clip(s)" in stdout and "4 already complete" in stdout
    assert _tree(out) == _tree(dataset)


def test_unwritable_output_gives_a_clear_error(tmp_path, scen_dir):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    proc = _cli([str(scen_dir), "-o", str(blocker / "sub"), "--source", "schematic", "-q"])
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert stderr.startswith("error: cannot create the dataset folder") and "Traceback" not in stderr
    proc = _cli(["--merge", str(tmp_path)])
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "not a drivesim export" in stderr and "Traceback" not in stderr


def test_schematic_frames_match_labels(clips):
    clip = clips[2]  # night at first, day from 0.6 s
    frames = list(schematic_source(clip.scenario, clip.seed))
    assert [f.time_of_day for _, f in frames] == ["night"] * 3 + ["day"] * 2
    image, frame = frames[0]
    assert image.dtype == np.uint8 and image.shape == (64, 128, 3)
    assert np.asarray(image[:5]).mean() < np.asarray(frames[-1][0][:5]).mean()  # night sky is darker
    near = frame.boxes[0]
    x0, y0, x1, y1 = (int(round(v)) for v in near.bbox_xyxy)
    inside = image[(y0 + y1) // 2, (x0 + x1) // 2].astype(int)
    from drivesim.draw.overlay import class_color
    assert np.abs(inside - np.array(class_color(near.type)) * 0.6).max() <= 2  # filled, dimmed at night


def test_full_disk_is_a_clear_error(tmp_path, clips, monkeypatch):
    import errno

    def no_space(self, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", no_space)
    out = tmp_path / "ds"
    with pytest.raises(DrivesimError, match="cannot write clip escape .*No space left on device.*disk has space"):
        export_dataset(clips[:1], out, schematic_source, ExportOptions(progress=False))
    assert not (out / "images").exists() and not (out / ".tmp" / "escape").exists()


def test_full_disk_in_a_label_writer_still_cleans_up(tmp_path, clips, monkeypatch):
    """The MOT writer's buffered gt.txt fails on write and again on close (the flush): the second
    error must neither escape nor skip the cleanup of the staging folder."""
    import errno
    import io

    import drivesim.export.writers as writers

    class FullDisk(io.StringIO):
        def write(self, text):
            raise OSError(errno.ENOSPC, "No space left on device", "gt.txt")

        def close(self):
            super().close()
            raise OSError(errno.ENOSPC, "No space left on device", "gt.txt")

    real_open = open
    monkeypatch.setattr(writers, "open", lambda path, *a, **kw: FullDisk() if str(path).endswith("gt.txt")
                        else real_open(path, *a, **kw), raising=False)
    out = tmp_path / "ds"
    with pytest.raises(DrivesimError, match="cannot write clip escape .*No space left on device"):
        export_dataset(clips[:1], out, schematic_source, ExportOptions(progress=False))
    assert not (out / ".tmp").exists()  # neither the clip's staging folder nor the empty staging root
    assert not (out / "images").exists() and not (out / "mot").exists() and not (out / "clips").exists()

    monkeypatch.undo()  # disk space again: the same command completes
    export_dataset(clips[:1], out, schematic_source, ExportOptions(progress=False))
    assert (out / "mot" / "escape" / "gt" / "gt.txt").is_file()


def test_box_filters_ship_only_the_boxes_asked_for_in_every_format(tmp_path, scen_dir):
    """--min-box-px / --max-occlusion / --types: labels.jsonl, COCO and the counts agree; the manifest
    records the filter; a resume with another filter is refused; bad values are named."""
    from drivesim.cli import main

    plain, kept = tmp_path / "plain", tmp_path / "kept"
    base = ["export", str(scen_dir), "--source", "schematic", "--formats", "coco,yolo", "-q"]
    assert main([*base, "-o", str(plain)]) == 0
    assert main([*base, "-o", str(kept), "--min-box-px", "12", "--max-occlusion", "0.3",
                 "--types", "car,truck"]) == 0
    every = [b for p in sorted((plain / "clips").glob("*.jsonl")) for line in p.read_text().splitlines()
             for b in json.loads(line)["boxes"]]
    shipped = [b for p in sorted((kept / "clips").glob("*.jsonl")) for line in p.read_text().splitlines()
               for b in json.loads(line)["boxes"]]
    assert 0 < len(shipped) < len(every)
    for b in shipped:
        x0, y0, x1, y1 = b["bbox_xyxy"]
        assert y1 - y0 >= 12 - 1e-3 and b["occlusion"] <= 0.3 and b["type"] in ("car", "truck")
    expected = [b for b in every if b["type"] in ("car", "truck") and b["occlusion"] <= 0.3
                and b["bbox_xyxy"][3] - b["bbox_xyxy"][1] >= 12]
    assert abs(len(shipped) - len(expected)) <= 2  # the jsonl rounds boxes to 1/1000 px
    coco = json.loads((kept / "annotations" / "coco.json").read_text()) if (kept / "annotations").is_dir() else None
    if coco is not None:
        assert len(coco["annotations"]) == len(shipped)
    manifest = json.loads((kept / "manifest.json").read_text())
    assert manifest["boxes"] == {"min_box_px": 12.0, "max_occlusion": 0.3, "types": ["car", "truck"]}
    assert sum(manifest["counts"]["boxes"].values()) == len(shipped)
    assert json.loads((plain / "manifest.json").read_text())["boxes"]["min_box_px"] == 0.0
    assert main([*base, "-o", str(kept), "--min-box-px", "10"]) == 1  # another filter: not a resume
    for bad in (["--min-box-px", "-1"], ["--max-occlusion", "1.5"], ["--types", "car,tank"]):
        assert main([*base, "-o", str(tmp_path / "bad"), *bad]) == 1


def test_the_card_states_measured_fidelity_not_a_blanket_claim(monkeypatch):
    """Per class and size band for the shipped default's bundle, a pointer to `drivesim eval` for another
    bundle, what the renderer and schematic frames mean, and the box filter in force."""
    from drivesim.export import card

    monkeypatch.setattr(card, "_default_bundle_sha", lambda: "abc")
    full = {"min_box_px": 0.0, "max_occlusion": 1.0, "types": list(card.AGENT_TYPES)}
    default = "\n".join(card.fidelity_lines("bundle:abc", full))
    n, g, gt, c, ct = card.DEFAULT_FIDELITY["by_type"]["pedestrian"]
    assert f"| pedestrian | {n} | {g:.2f} | {gt:.2f} | {c:.2f} | {ct:.2f} |" in default and n > 0
    n, g, c = card.DEFAULT_FIDELITY["by_band"]["small (< 14 px tall)"]
    assert f"| small (< 14 px tall) | {n} | {g:.2f} | {c:.2f} |" in default and "Boxes shipped: every labelled box" in default
    other = "\n".join(card.fidelity_lines("bundle:def", {"min_box_px": 14.0, "max_occlusion": 0.3,
                                                         "types": ["car", "truck"]}))
    assert "Not measured for this bundle" in other and "| car |" not in other
    assert "at least 14 px tall, occlusion at most 0.3, types car, truck" in other
    assert "every box is drawn" in "\n".join(card.fidelity_lines("schematic", None))
    assert "ceiling" in "\n".join(card.fidelity_lines("render", None))
    text = card.card_markdown({"drivesim_version": "0", "source": "schematic", "formats": ["coco"],
                               "export_seed": 0, "variations": 0, "boxes": full, "missing_clips": [],
                               "counts": {"clips": 0, "frames": 0, "boxes": {t: 0 for t in card.AGENT_TYPES},
                                          "tracks": {t: 0 for t in card.AGENT_TYPES},
                                          "time_of_day_frames": {"day": 0, "night": 0}}, "clips": []}, False)
    assert "ground truth of the frames" not in text and "## Label fidelity" in text
