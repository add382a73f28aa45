"""`drivesim preview` picture and the shared box overlay.

    python -m pytest tests/test_preview.py -q
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from drivesim.cli import main as cli_main
from drivesim.draw.overlay import CLASS_COLORS, draw_boxes
from drivesim.scenario.format import Scenario
from drivesim.scenario.labels import Box
from drivesim.draw.preview import (BEV_W, LEGEND_H, MARGIN, TITLE_H, preview_size, render_preview,
                                       view_indices)


def scenario(time_of_day="day", lane=1, crowdedness=0.3, name="preview_test") -> Scenario:
    return Scenario.model_validate({
        "name": name, "duration_s": 2.0, "fps": 5,
        "camera": {"width": 512, "height": 256},
        "environment": {"time_of_day": time_of_day, "crowdedness": crowdedness},
        "road": {"lanes": 3, "lane_width_m": 3.5},
        "ego": {"lane": 1, "speed_mps": 12},
        "agents": [{"id": "lead", "type": "car", "lane": lane, "distance_m": 20, "speed_mps": 10,
                    "actions": [{"at_s": 0.5, "lane_change_to": 2, "duration_s": 1.0}]},
                   {"id": "walker", "type": "pedestrian", "lateral_m": -1.5, "distance_m": 15}],
    })


def read_rgb(path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, f"{path} is not a readable image"
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def views_region(img: np.ndarray) -> np.ndarray:
    return img[TITLE_H:, 2 * MARGIN + BEV_W:]


def test_preview_png_is_written_with_the_expected_size_and_content(tmp_path):
    sc = scenario()
    returned = render_preview(sc, tmp_path / "p.png")
    img = read_rgb(tmp_path / "p.png")
    width, height = preview_size(sc)
    assert img.shape == (height, width, 3)
    assert np.array_equal(img, returned)
    assert img.std() > 20
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 200  # a picture, not a few flat panels
    # the class colour of the named car's box shows up in the camera views
    car = np.array(CLASS_COLORS["car"])
    assert (np.abs(views_region(img).astype(int) - car).sum(axis=-1) < 10).sum() > 50


def test_preview_changes_with_the_scenario(tmp_path):
    base = render_preview(scenario(), tmp_path / "a.png")
    assert np.array_equal(base, render_preview(scenario(), tmp_path / "again.png"))  # deterministic
    moved = render_preview(scenario(lane=0), tmp_path / "b.png")
    assert not np.array_equal(base[:, :2 * MARGIN + BEV_W], moved[:, :2 * MARGIN + BEV_W])  # bird's-eye
    assert not np.array_equal(views_region(base), views_region(moved))
    night = render_preview(scenario(time_of_day="night"), tmp_path / "c.png")
    assert views_region(night).mean() < views_region(base).mean() - 30
    other_seed = render_preview(scenario(), tmp_path / "d.png", seed=99)
    assert not np.array_equal(base, other_seed)


def test_preview_cli(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("version: 1\nname: cli_preview\nduration_s: 1\ncamera: {width: 256, height: 128}\n")
    assert cli_main(["preview", str(path), "-o", str(tmp_path / "out" / "p.png")]) == 0
    assert read_rgb(tmp_path / "out" / "p.png").shape[2] == 3
    assert cli_main(["preview", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "x.png")]) == 1


def test_view_indices_span_the_scenario():
    assert view_indices(100) == [0, 33, 66, 99]
    assert view_indices(2) == [0, 1]
    assert view_indices(1) == [0]


def make_box(occlusion=0.0, kind="car") -> Box:
    return Box(track_id="lead", type=kind, bbox_xyxy=(100.0, 100.0, 300.0, 200.0), truncation=0.0,
               occlusion=occlusion, location_m=(0.0, 1.5, 20.0), size_m=(4.5, 1.8, 1.5),
               rotation_y=-1.57, distance_m=20.0)


@pytest.mark.parametrize("scale", [(1.0, 1.0), (0.5, 0.5)])
def test_draw_boxes_draws_class_coloured_scaled_boxes_on_a_copy(scale):
    image = np.zeros((300, 400, 3), np.uint8)
    out = draw_boxes(image, [make_box(kind="truck")], scale=scale)
    assert image.max() == 0  # the input is untouched
    sx, sy = scale
    left_edge = out[int(150 * sy), int(round(100 * sx))]
    assert tuple(left_edge) == CLASS_COLORS["truck"]
    assert out[int(150 * sy), int(200 * sx)].max() == 0  # the inside stays clear
    assert out[int(150 * sy), int(330 * sx)].max() == 0  # nothing right of the box


def test_draw_boxes_dashes_occluded_boxes():
    image = np.zeros((300, 400, 3), np.uint8)
    solid = draw_boxes(image, [make_box(0.0)], captions=False)
    dashed = draw_boxes(image, [make_box(0.7)], captions=False)
    edge = (slice(120, 180), 300)  # the right edge, away from the corners
    assert (solid[edge].max(axis=-1) > 0).all()
    lit = dashed[edge].max(axis=-1) > 0
    assert lit.any() and not lit.all()


def test_birds_eye_draws_agents_in_their_class_colours(tmp_path):
    # One truck and one cyclist: each must appear in its own class colour in the bird's-eye view, and
    # no other class's colour may appear there (per-agent colours once drew the truck in another hue).
    sc = Scenario.model_validate({
        "name": "classes", "duration_s": 2.0, "fps": 5, "camera": {"width": 512, "height": 256},
        "environment": {"crowdedness": 0.0}, "road": {"lanes": 3, "lane_width_m": 3.5}, "ego": {"lane": 1},
        "agents": [{"id": "big", "type": "truck", "lane": 0, "distance_m": 25, "speed_mps": 8},
                   {"id": "bike", "type": "cyclist", "lane": 2, "distance_m": 15, "speed_mps": 5}]})
    image = render_preview(sc, tmp_path / "p.png")
    bev = image[TITLE_H:image.shape[0] - LEGEND_H - MARGIN, MARGIN:MARGIN + BEV_W].reshape(-1, 3)  # no legend
    for kind, color in CLASS_COLORS.items():
        exact = int((bev == np.array(color)).all(axis=-1).sum())
        assert (exact > 20) == (kind in ("truck", "cyclist")), (kind, exact)


def test_a_road_network_is_drawn_from_above_with_every_road_user_and_lane_lines_in_the_views(tmp_path):
    # junction_turn: the crossing's roads and junction from above, each named agent in its class colour,
    # and the lane-line labels (overlay.LANE_COLORS) in the camera views
    from pathlib import Path

    from drivesim.draw.overlay import LANE_COLORS
    from drivesim.draw.world_map import JUNCTION_LINE
    from drivesim.scenario.loader import load_scenario

    sc = load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / "junction_turn.yaml")
    image = render_preview(sc, tmp_path / "p.png")
    assert image.shape[:2] == preview_size(sc)[::-1]
    bev = image[TITLE_H:image.shape[0] - LEGEND_H - MARGIN, MARGIN:MARGIN + BEV_W]
    for kind in ("car", "truck", "pedestrian"):
        assert (np.abs(bev.astype(int) - CLASS_COLORS[kind]).sum(axis=-1) < 10).sum() > 20, kind
    assert (np.abs(bev.astype(int) - JUNCTION_LINE).sum(axis=-1) < 10).sum() > 20  # the junction's outline
    views = views_region(image)[:-(LEGEND_H + MARGIN)]
    for kind in ("solid", "edge"):
        assert (np.abs(views.astype(int) - LANE_COLORS[kind]).sum(axis=-1) < 30).sum() > 100, kind


def test_version_1_views_carry_lane_lines_and_keep_their_birds_eye(tmp_path):
    from drivesim.draw.overlay import LANE_COLORS
    from drivesim.draw.world_map import JUNCTION_LINE

    image = render_preview(scenario(), tmp_path / "p.png")
    views = views_region(image)[:-(LEGEND_H + MARGIN)]
    assert (np.abs(views.astype(int) - LANE_COLORS["edge"]).sum(axis=-1) < 30).sum() > 100
    bev = image[TITLE_H:image.shape[0] - LEGEND_H - MARGIN, MARGIN:MARGIN + BEV_W]
    assert not (np.abs(bev.astype(int) - JUNCTION_LINE).sum(axis=-1) < 10).any()  # the ego-frame view, no map
