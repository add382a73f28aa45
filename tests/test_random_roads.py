"""Random road worlds for training data: the `world` mix of `drivesim synth-data` (data/random_scenarios.py).

The default mix (`v1`) must keep drawing exactly what the shipped model was trained on (a record of the
draws before the mix existed); the `world` mix covers bends both ways over a range of radii, two-way
roads with oncoming traffic, 1-4 lanes, left-hand traffic and junctions, and every draw validates, plans
and shows its road users.

    python -m pytest tests/test_random_roads.py -q
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from drivesim.data.random_scenarios import BEND_RADIUS_M, MIXES, random_scenario
from drivesim.data.synth import SynthConfig, clip_scenario_yaml
from drivesim.errors import DrivesimError
from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.loader import parse_scenario

REPO = Path(__file__).resolve().parent.parent
V1_DRAWS = REPO / "tests" / "data" / "synth_v1_draws.json"


def world_draws(n: int, seed: int = 0, duration_s: float = 2.0, mix: str = "world"):
    return [random_scenario(np.random.default_rng([seed, i]), duration_s, 10.0, 256, 128, mix=mix)
            for i in range(n)]


def case(scenario) -> str:
    road = scenario.road
    if road.opendrive is not None:
        return "junction"
    if road.oncoming_lanes:
        return "two_way"
    return "bends" if road.segments else "straight"


def test_the_default_mix_draws_what_it_always_drew():
    record = json.loads(V1_DRAWS.read_text())
    for key, digest in record["draws"].items():
        frames, h, w, fps = key.replace("@", "x").split("x")
        cfg = SynthConfig(output="", clips=record["clips"], frames=int(frames), height=int(h), width=int(w),
                          fps=float(fps))
        assert cfg.mix == "v1"
        text = "".join(clip_scenario_yaml(cfg, i) for i in range(record["clips"]))
        assert hashlib.sha256(text.encode()).hexdigest() == digest, key
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    assert random_scenario(rng_a, 2.0, 10, 256, 128) == random_scenario(rng_b, 2.0, 10, 256, 128, mix="v1")


@pytest.mark.parametrize("mix", ["world", "world2"])
def test_the_world_mix_covers_every_case(mix):
    draws = world_draws(160, mix=mix)
    cases = Counter(case(s) for s in draws)
    assert set(cases) == set(MIXES[mix])
    for name, share in MIXES[mix].items():  # the documented proportions, within sampling noise
        assert abs(cases[name] / len(draws) - share) < 0.1, (name, cases)
    inline = [s for s in draws if s.road.segments is not None]
    radii = [seg.arc.radius for s in inline for seg in s.road.segments if seg.arc is not None]
    assert min(radii) < 0 < max(radii)  # bends to the right and to the left
    sizes = np.abs(radii)
    low, high = BEND_RADIUS_M[mix]
    assert low <= sizes.min() < 1.5 * low and 500.0 < sizes.max() <= high
    for s in inline:  # every bend eased in and out by a clothoid
        segments = s.road.segments
        for k, seg in enumerate(segments):
            if seg.arc is not None:
                assert segments[k - 1].clothoid is not None and segments[k + 1].clothoid is not None
    assert {s.road.lanes for s in inline} == {1, 2, 3, 4}
    two_way = [s for s in draws if case(s) == "two_way"]
    assert {s.road.oncoming_lanes for s in two_way} >= {1, 2}
    assert any(seg.arc is None and seg.clothoid is None for s in two_way for seg in s.road.segments)  # straight ones
    assert any(s.road.traffic == "left" for s in two_way) and any(s.road.traffic == "left" for s in inline
                                                                  if case(s) == "bends")
    for s in two_way:  # oncoming traffic in every two-way draw: agents placed in the other direction's lanes
        onc = [a for a in s.agents if a.position is not None and (a.position.lane > 0) == (s.road.traffic == "right")]
        assert onc, s.name
    junctions = [s for s in draws if case(s) == "junction"]
    routes = {tuple(s.ego.route) for s in junctions}
    assert len(routes) >= 6  # many ways through the crossing
    crossing = [s for s in junctions if any(a.type == "pedestrian" and a.actions for a in s.agents)]
    assert len(crossing) > len(junctions) / 2  # pedestrians crossing near the junction
    assert all(any(a.route for a in s.agents if a.type != "pedestrian") for s in junctions)  # turning traffic


def test_every_world_draw_validates_and_plans():
    cfg = SynthConfig(output="", clips=40, frames=12, height=128, width=256, mix="world")
    seen = Counter()
    for i in range(cfg.clips):
        text = clip_scenario_yaml(cfg, i)
        scenario = parse_scenario(text, f"clip {i}")  # the loader's every check, road and positions included
        engine = ScenarioEngine(scenario)
        frames = list(engine.frames())
        assert len(frames) == cfg.frames
        seen[case(scenario)] += 1
    assert len(seen) == 4


def test_named_road_users_are_seen():
    seen, named = 0, 0
    for scenario in world_draws(40, seed=3):
        engine = ScenarioEngine(scenario)
        ids = {a.id for a in scenario.agents}
        boxes = {b.track_id for f in engine.frames() for b in f.boxes}
        named += len(ids)
        seen += len(ids & boxes)
    assert named > 80 and seen >= 0.75 * named, (seen, named)


def test_world_draws_are_deterministic_by_seed():
    cfg = SynthConfig(output="", clips=6, frames=16, mix="world")
    first = [clip_scenario_yaml(cfg, i) for i in range(cfg.clips)]
    assert first == [clip_scenario_yaml(cfg, i) for i in range(cfg.clips)]
    other = SynthConfig(output="", clips=6, frames=16, mix="world", seed=1)
    assert all(a != b for a, b in zip(first, (clip_scenario_yaml(other, i) for i in range(6)), strict=True))
    assert first[0].startswith("# drivesim synth-data --seed 0 --mix world, clip 0\n")


def test_unknown_mix_is_refused():
    with pytest.raises(DrivesimError, match="world"):
        SynthConfig(output="x", clips=1, frames=1, mix="curvy").validate()
    with pytest.raises(DrivesimError, match="curvy"):
        random_scenario(np.random.default_rng(0), 1.0, 10, 64, 32, mix="curvy")


def test_the_command_line_offers_every_mix():
    import argparse

    from drivesim.cli import build_parser
    from drivesim.data.random_scenarios import MIXES

    top = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    mix = next(a for a in top.choices["synth-data"]._actions if a.dest == "mix")
    assert set(mix.choices) == set(MIXES) and mix.default == "v1"
