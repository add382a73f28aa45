"""`drivesim strip`: frames of generate OUT folders with their boxes, one row per folder.

    python -m pytest tests/test_strip.py -x -q
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivesim.errors import DrivesimError
from drivesim.draw.overlay import class_color
from drivesim.scenario.labels import Box, FrameConditions
from drivesim.draw.strip import CAPTION_PX, strip_image, write_strip

W, H = 200, 100


def fake_out(root: Path, name: str, frames: int = 5) -> Path:
    """A generate-like OUT folder: grey frames, one pedestrian box at (40..80, 20..80) in each."""
    out = root / name
    (out / "frames").mkdir(parents=True)
    box = Box("ped", "pedestrian", (40.0, 20.0, 80.0, 80.0), 0.0, 0.0, (0.0, 1.5, 8.0), (0.5, 0.6, 1.7), 0.0, 8.0)
    with (out / "labels.jsonl").open("w") as f:
        for i in range(frames):
            cv2.imwrite(str(out / "frames" / f"{i:06d}.png"), np.full((H, W, 3), 90, np.uint8))
            f.write(json.dumps(FrameConditions(i, i / 10, "day", 0.3, boxes=(box,)).to_json()) + "\n")
    return out


def test_strip_rows_frames_and_boxes_where_the_labels_say(tmp_path):
    a, b = fake_out(tmp_path, "a"), fake_out(tmp_path, "b")
    image = strip_image([a, b], count=2, width=404)
    tile_w = (404 - 4) // 2
    tile_h = round(tile_w * H / W)
    assert image.shape == (2 * (CAPTION_PX + tile_h), 404, 3)
    # the box's left edge (x = 40 of 200) in the first tile of the first row, in the pedestrian colour
    edge = image[CAPTION_PX + tile_h // 2, round(40 * tile_w / W)]
    assert np.abs(edge.astype(int) - class_color("pedestrian")).max() < 60
    centre = image[CAPTION_PX + tile_h // 2 + 5, round(60 * tile_w / W)]  # inside the box: the frame's grey
    assert np.abs(centre.astype(int) - 90).max() < 10
    path = write_strip([a], tmp_path / "docs" / "strip.jpg", count=3, width=300)
    assert cv2.imread(str(tmp_path / "docs" / "strip.jpg")).shape[:2] == path.shape[:2]


def test_strip_errors_name_the_folder_and_the_fix(tmp_path):
    with pytest.raises(DrivesimError, match="drivesim generate"):
        strip_image([tmp_path / "nothing"])
    out = fake_out(tmp_path, "a", frames=3)
    with pytest.raises(DrivesimError, match=r"frames 0\.\.2.*\[7\]"):
        strip_image([out], frames=[0, 7])
    with pytest.raises(DrivesimError, match=".jpg"):
        write_strip([out], tmp_path / "strip.gif")
    (out / "frames" / "000001.png").unlink()
    with pytest.raises(DrivesimError, match="000001.png"):
        strip_image([out], frames=[1])


def test_cli_strip_writes_the_picture_and_refuses_bad_frames(tmp_path, capsys):
    from drivesim.cli import main

    out = fake_out(tmp_path, "day")
    assert main(["strip", str(out), "-o", str(tmp_path / "s.jpg"), "--frames", "0,4", "--width", "300"]) == 0
    assert cv2.imread(str(tmp_path / "s.jpg")).shape[1] == 300
    assert "wrote" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["strip", str(out), "-o", str(tmp_path / "t.jpg"), "--frames", "a,b"])
    assert "frame indices" in capsys.readouterr().err
    assert main(["strip", str(tmp_path / "missing"), "-o", str(tmp_path / "u.jpg")]) == 1
    err = capsys.readouterr().err
    assert "drivesim generate" in err and "Traceback" not in err


CURVE = """version: 1
name: strip_curve
seed: 3
duration_s: 0.3
fps: 10
camera: {width: 256, height: 128}
environment: {time_of_day: day, crowdedness: 0.0}
road:
  lanes: 2
  oncoming_lanes: 1
  lane_width_m: 3.5
  segments: [{straight: 20}, {arc: {length: 200, radius: 120}}]
ego: {position: {road: main, lane: -1, s: 10}, speed_mps: 10}
agents: []
"""


def test_cli_strip_lanes_draws_the_lane_lines_of_the_scenario_that_made_the_frames(tmp_path, capsys):
    from drivesim.cli import main
    from drivesim.draw.overlay import LANE_COLORS

    scenario = tmp_path / "curve.yaml"
    scenario.write_text(CURVE)
    out = tmp_path / "curve"
    assert main(["generate", str(scenario), "-o", str(out), "--source", "render", "-q"]) == 0
    plain, drawn = tmp_path / "plain.png", tmp_path / "lanes.png"
    assert main(["strip", str(out), "-o", str(plain), "--count", "1", "--width", "256"]) == 0
    assert main(["strip", str(out), "-o", str(drawn), "--count", "1", "--width", "256", "--lanes"]) == 0
    a = cv2.cvtColor(cv2.imread(str(plain)), cv2.COLOR_BGR2RGB).astype(int)
    b = cv2.cvtColor(cv2.imread(str(drawn)), cv2.COLOR_BGR2RGB).astype(int)
    for kind in ("edge", "solid"):  # the road's edges and the centre line between the directions
        near = lambda img: (np.abs(img - np.array(LANE_COLORS[kind])).max(axis=2) < 40).sum()
        assert near(b) > near(a) + 50, kind
    scenario.write_text(CURVE.replace("seed: 3", "seed: 4"))  # the file changed since it made the frames
    assert main(["strip", str(out), "-o", str(drawn), "--lanes"]) == 1
    err = capsys.readouterr().err
    assert "has changed" in err and "Traceback" not in err
    scenario.unlink()
    assert main(["strip", str(out), "-o", str(drawn), "--lanes"]) == 1
    assert "not found" in capsys.readouterr().err


def test_generate_time_of_day_makes_the_night_of_a_scenario_and_records_it(tmp_path, capsys):
    from drivesim.cli import main

    scenario = tmp_path / "curve.yaml"
    scenario.write_text(CURVE)
    lum = {}
    for tod in ("day", "night"):
        out = tmp_path / tod
        assert main(["generate", str(scenario), "-o", str(out), "--source", "render", "-q", "--time-of-day", tod]) == 0
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["scenario"]["time_of_day"] == tod
        assert json.loads((out / "labels.jsonl").read_text().splitlines()[0])["environment"]["time_of_day"] == tod
        lum[tod] = cv2.imread(str(out / "frames" / "000000.png")).mean()
        assert main(["strip", str(out), "-o", str(tmp_path / f"{tod}.png"), "--lanes", "--count", "1"]) == 0
    assert lum["night"] < 0.6 * lum["day"]
    assert main(["generate", str(scenario), "-o", str(tmp_path / "x"), "--source", "render", "--time-of-day",
                 "night", "--trajectory", str(scenario)]) == 1
    assert "--time-of-day" in capsys.readouterr().err
