"""A road network sampled once into the world pieces the road maps draw (conditions/road_maps.py).

- surfaces: every lane of a driving type (`DRIVING_TYPES`: where cars may drive) as its inner and outer
  border sampled every SAMPLE_STEP_M of s, with the way it is driven along the samples and whether it
  lies inside a junction;
- lines: the lane borders that lane labels label (`LaneLabeler`'s stretches: the same borders, the same
  types solid / dashed / edge), sampled every SAMPLE_STEP_M, so the maps and the labels show one road;
- dashes: the painted dashes of every dashed stretch, DASH_LENGTH_M of every DASH_PERIOD_M counted from
  the stretch's start: fixed on the road, they flow past as the ego drives (the cue for its speed).
Samples are kept in their order along each lane, so CHUNK consecutive ones are compact in space: a frame
discards whole chunks by bounding sphere, then joins the samples left into quads and segments (fewer
far away: conditions/road_maps.py). Sampling a network takes milliseconds; `road_geometry` keeps the
latest networks' samples, so a clip samples its network once.

    from drivesim.conditions.road_geometry import road_geometry
    from drivesim.scenario.loader import load_scenario
    from drivesim.scenario.network import scenario_network
    geometry = road_geometry(scenario_network(load_scenario("scenarios/curve_oncoming.yaml")))
    len(geometry.surfaces.points), len(geometry.lines.points), len(geometry.dashes.points)
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from drivesim.scenario.lane_labels import DRIVING_TYPES, LaneLabeler, RoadNetwork

SAMPLE_STEP_M = 2.0  # along s (surfaces) and along lane lines; chord error on a 10 m junction radius: 5 cm
DASH_LENGTH_M, DASH_PERIOD_M = 3.0, 12.0  # painted dash and dash+gap, as version 1's road channel
LINE_TYPES: tuple[str, ...] = ("solid", "dashed", "edge")  # lane_labels' types; a line's `Runs.kind` indexes this
CHUNK = 32  # samples (or pieces) per bounding sphere
CACHE_SIZE = 8  # networks whose samples are kept (a training batch holds a few clips)


@dataclass(frozen=True)
class Runs:
    """Samples along lanes, in runs (a lane over one lane section, a line over one stretch): each sample
    holds k world points (a lane's inner and outer border: k = 2; a line: k = 1). Consecutive samples of a
    run bound one piece (a quad, a segment); so do any two samples of a run, skipping those between."""

    points: np.ndarray  # (n, k, 3) world x, y, z
    kind: np.ndarray  # (n,) int8: a line's type (LINE_TYPES), a surface's junction flag (1 inside a junction)
    sign: np.ndarray  # (n,) int8: +1 where the lane is driven towards the next sample, -1 towards the previous
    run: np.ndarray  # (n,) which run the sample is on
    index: np.ndarray  # (n,) the sample's place in its run, from 0
    last: np.ndarray  # (n,) bool: its run's last sample
    chunk_centres: np.ndarray  # (ceil(n / CHUNK), 3): bounding spheres of samples [c * CHUNK, (c + 1) * CHUNK)
    chunk_radii: np.ndarray

    @classmethod
    def of(cls, runs: list[tuple[np.ndarray, int, int]], k: int) -> Runs:
        """From (points (m, k, 3), kind, sign) per run."""
        if not runs:
            return cls(np.zeros((0, k, 3)), *(np.zeros(0, dtype) for dtype in (np.int8, np.int8, np.int64, np.int64)),
                       np.zeros(0, bool), np.zeros((0, 3)), np.zeros(0))
        points = np.concatenate([p for p, _, _ in runs])
        lengths = [len(p) for p, _, _ in runs]
        index = np.concatenate([np.arange(n) for n in lengths])
        centres = points.mean(axis=1)
        radii = np.linalg.norm(points - centres[:, None], axis=2).max(axis=1)
        return cls(points, np.repeat([kind for _, kind, _ in runs], lengths).astype(np.int8),
                   np.repeat([sign for _, _, sign in runs], lengths).astype(np.int8),
                   np.repeat(np.arange(len(runs)), lengths), index, np.append(index[1:] == 0, True),
                   *_chunk_spheres(centres, radii))

    def near(self, point: np.ndarray, reach_m: float) -> np.ndarray:
        """(n,) bool: the samples of the chunks that may come within `reach_m` of `point` (whole chunks:
        what is near is a few unbroken stretches of each run)."""
        return _near_chunks(self.chunk_centres, self.chunk_radii, len(self.points), point, reach_m)


@dataclass(frozen=True)
class Pieces:
    """n world segments (points (n, 2, 3)); a frame takes those near the camera."""

    points: np.ndarray
    centres: np.ndarray  # (n, 3) bounding sphere of each piece
    radii: np.ndarray  # (n,)
    chunk_centres: np.ndarray  # bounding spheres of pieces [c * CHUNK, (c + 1) * CHUNK)
    chunk_radii: np.ndarray

    @classmethod
    def of(cls, points: np.ndarray) -> Pieces:
        centres = points.mean(axis=1)
        radii = np.linalg.norm(points - centres[:, None], axis=2).max(axis=1)
        return cls(points, centres, radii, *_chunk_spheres(centres, radii))

    def near(self, point: np.ndarray, reach_m: float) -> np.ndarray:
        """Indices of the pieces that may come within `reach_m` of `point`."""
        candidates = np.nonzero(_near_chunks(self.chunk_centres, self.chunk_radii, len(self.points), point,
                                             reach_m))[0]
        close = np.linalg.norm(self.centres[candidates] - point, axis=1) <= reach_m + self.radii[candidates]
        return candidates[close]


@dataclass(frozen=True)
class RoadGeometry:
    surfaces: Runs  # k = 2: inner and outer border of each drivable lane
    lines: Runs  # k = 1: the labelled lane borders
    dashes: Pieces  # the dashes of dashed lines


def sample_network(network: RoadNetwork) -> RoadGeometry:
    """Every road of `network` as surfaces, lines and dashes (see the module docstring)."""
    lines, dashes = [], []
    for stretch in LaneLabeler(network, SAMPLE_STEP_M).stretches:
        lines.append((stretch.points[:, None], LINE_TYPES.index(stretch.type), 0))
        if stretch.type == "dashed":
            dashes.append(_dashes(stretch.points))
    return RoadGeometry(surfaces=Runs.of(_lane_surfaces(network), 2), lines=Runs.of(lines, 1),
                        dashes=Pieces.of(np.concatenate(dashes) if dashes else np.zeros((0, 2, 3))))


def _lane_surfaces(network: RoadNetwork) -> list[tuple[np.ndarray, int, int]]:
    """(inner and outer border (m, 2, 3), in a junction, driving direction along s) of every drivable lane
    over every lane section."""
    out = []
    for road in network.roads.values():
        for section_index, section in enumerate(road.laneSections):
            start, end = road.section_range(section_index)
            s = np.linspace(start, end, max(2, math.ceil((end - start) / SAMPLE_STEP_M - 1e-9) + 1))
            world = {lane_id: _world(road, s, t) for lane_id, (t, _) in road.section_borders(section_index, s).items()}
            for lane_id, lane in section.lanes.items():
                if lane_id == 0 or lane.type not in DRIVING_TYPES:
                    continue
                inner = world[lane_id - int(np.sign(lane_id))]  # the border towards the centre lane
                out.append((np.stack([inner, world[lane_id]], axis=1), int(road.in_junction), road.direction(lane_id)))
    return out


_cache: OrderedDict[int, tuple[RoadNetwork, RoadGeometry]] = OrderedDict()
_cache_lock = threading.Lock()


def road_geometry(network: RoadNetwork) -> RoadGeometry:
    """`sample_network(network)`, kept for the CACHE_SIZE networks used last (by identity: networks are
    immutable, and the cache holds each one so its id is not reused)."""
    key = id(network)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is network:
            _cache.move_to_end(key)
            return hit[1]
    geometry = sample_network(network)
    with _cache_lock:
        _cache[key] = (network, geometry)
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return geometry


def _chunk_spheres(centres: np.ndarray, radii: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounding spheres (centres, radii) of the spheres [c * CHUNK, (c + 1) * CHUNK)."""
    chunk_centres, chunk_radii = [], []
    for start in range(0, len(centres), CHUNK):
        c, r = centres[start:start + CHUNK], radii[start:start + CHUNK]
        mid = (c.min(axis=0) + c.max(axis=0)) / 2
        chunk_centres.append(mid)
        chunk_radii.append(float(np.max(np.linalg.norm(c - mid, axis=1) + r)))
    return np.array(chunk_centres).reshape(-1, 3), np.array(chunk_radii)


def _near_chunks(centres: np.ndarray, radii: np.ndarray, n: int, point: np.ndarray, reach_m: float) -> np.ndarray:
    """(n,) bool: the items of the chunks whose sphere comes within `reach_m` of `point`."""
    chunks = np.linalg.norm(centres - point, axis=1) <= reach_m + radii
    return np.repeat(chunks, CHUNK)[:n]


def _world(road, s: np.ndarray, t: np.ndarray) -> np.ndarray:
    x, y = road.planView.to_world(s, t)
    return np.stack([x, y, road.elevation(s)[0]], axis=-1)


def _dashes(points: np.ndarray) -> np.ndarray:
    """(m, 2, 3): the dashes along a polyline, from its start."""
    length = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    starts = np.arange(0.0, length[-1], DASH_PERIOD_M)
    ends = np.minimum(starts + DASH_LENGTH_M, length[-1])

    def at(u: np.ndarray) -> np.ndarray:
        return np.stack([np.interp(u, length, points[:, k]) for k in range(3)], axis=-1)

    return np.stack([at(starts), at(ends)], axis=1)


