"""Seeded background traffic: `crowdedness` fills the road with agents bg_0, bg_1, ...

The model, chosen so that traffic never overlaps, never hides a named agent, and appears or
vanishes only out of the picture or far away:
- A seeded *pool* of agents is laid out once per (scenario, seed) on loops that travel with
  the ego: one loop per lane (cars mostly, some trucks, buses, motorcycles), one per sidewalk
  (pedestrians, both road sides) and one bike strip just right of the road (cyclists).
  Oncoming lanes get loops too, driven towards the camera (heading pi). Loops run along the ego's lane
  path (on a bend the traffic follows the road), at fixed positions across the road (metres right of the
  left edge of the ego's lanes, as measured where the ego starts), so that a road whose lanes change
  width, or a route into another road, moves the traffic off its lanes (roads from OpenDRIVE files);
  agents off the end of the road are hidden.
  A loop covers z in [WINDOW_BEHIND_M, WINDOW_AHEAD_M) around the camera (along the ego's path); an agent that
  leaves one end re-enters at the other (far beyond label range or behind the camera), so
  the road stays populated for scenarios of any length.
- Every agent on a loop moves at that loop's speed (ego lane: the ego's speed; lanes to the
  left a little faster, to the right a little slower; seeded jitter), so agents of one loop
  keep their spacing (GAP_M bumper to bumper, or more) and cannot run into each other.
- Each pool agent has a seeded threshold in (0, 1]; it is wanted while the current
  crowdedness >= its threshold (crowdedness 0: none; 1: the whole pool). Pedestrians and
  cyclists have higher thresholds, so they appear on busier roads.
- An agent is also unwanted while it would overlap a named agent or the ego's own car, or
  stand in the camera's line of sight to a named agent (nearer than it, overlapping it in
  bird's-eye angle): background traffic never hides the agents a scenario is about.
- Switches only happen where they are hard to see: out of the picture or farther than
  SWITCH_RANGE_M. While an agent is (conservatively) nearer and in the picture its state is
  the one it had when it came there, and it is hidden for that whole stretch if it would
  overlap or hide a named agent at any point of it. So a crowdedness event makes traffic thin out or
  build up far ahead and as agents leave and enter the picture, instead of boxes appearing
  from nothing next to the ego.
States are precomputed on a GRID_DT_S time grid; the overlap test widens its margin by the
relative speed times GRID_DT_S to cover the time between grid points.

    from drivesim.scenario.engine import ScenarioEngine
    [s.track_id for s in ScenarioEngine(scenario).agent_states(0.0) if s.is_background]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from drivesim.scenario.boxes import in_view_mask
from drivesim.scenario.camera import PinholeCamera
from drivesim.scenario.ego_view import EgoView
from drivesim.scenario.format import DEFAULT_SIZE_M, Scenario

if TYPE_CHECKING:
    from drivesim.scenario.network import TrafficLanes

WINDOW_BEHIND_M = -60.0  # loops start this far behind the camera ...
WINDOW_AHEAD_M = 240.0  # ... and end this far ahead (beyond boxes.MAX_RANGE_M = 200 m)
GRID_DT_S = 0.1
GAP_M = {"vehicle": (5.0, 28.0), "pedestrian": (2.0, 20.0), "cyclist": (15.0, 60.0)}
VEHICLE_MIX = {"car": 0.72, "truck": 0.09, "bus": 0.05, "motorcycle": 0.14}
SIDEWALK_OFFSET_M = 2.2  # pedestrians walk this far outside each road edge
BIKE_STRIP_OFFSET_M = 0.8  # cyclists ride this far right of the right road edge
THRESHOLD_FLOOR = {"vehicle": 0.0, "pedestrian": 0.25, "cyclist": 0.3}
OVERLAP_MARGIN_M = (0.3, 2.0)  # (lateral, longitudinal) clearance kept to named agents and the ego
SWITCH_RANGE_M = 80.0  # beyond this an agent may appear or vanish (a car is ~10 px tall at 512 px, 90 deg)
SIGHT_MARGIN = 0.01  # widens line-of-sight tests by this x/z slope (0.6 deg)
SIGHT_NEAR_M = 0.1
VIEW_MARGIN = (0.1, 5.0)  # (share of the image width, metres of range) added to the in-view test
ONCOMING_SPEED_JITTER = 0.08  # oncoming lanes drive at the reference speed within this share


@dataclass(frozen=True)
class Obstacles:
    """Footprints that background traffic must not overlap (named agents and the ego), on the grid. The
    overlap test runs in each obstacle's lane direction (`lane_heading`); the line of sight in the camera's
    road frame (`x_m`, `z_m`)."""

    world_x: np.ndarray  # (N, T) centre in the world
    world_y: np.ndarray  # (N, T)
    lane_heading: np.ndarray  # (N, T) world heading of its lane there (without the yaw of a lane change)
    x_m: np.ndarray  # (N, T) centre in the camera's road frame: right of the camera ...
    z_m: np.ndarray  # (N, T) ... and ahead of it
    speed_mps: np.ndarray  # (N, T) along the camera's direction
    half_width_m: np.ndarray  # (N, T) lateral half extent (grows while an agent is yawed)
    half_length_m: np.ndarray  # (N,)
    keep_visible: np.ndarray  # (N,) bool: keep the camera's line of sight to it clear (named agents)


@dataclass(frozen=True)
class BackgroundSnapshot:
    """The active background agents at one time; parallel arrays."""

    track_ids: list[str]
    types: list[str]
    lateral_m: np.ndarray  # metres right of the left edge of the ego's lanes
    z_m: np.ndarray  # metres ahead of the camera along the ego's path
    speed_mps: np.ndarray  # along the ego's direction: negative on oncoming lanes
    heading_rad: np.ndarray  # relative to the ego's path: 0 with it, pi against it
    size_m: np.ndarray  # (n, 3)


def grid_times(duration_s: float) -> np.ndarray:
    """The traffic grid: 0, GRID_DT_S, ... up to one step past the scenario's end."""
    return np.arange(int(math.floor(duration_s / GRID_DT_S)) + 2) * GRID_DT_S


class BackgroundTraffic:
    def __init__(self, scenario: Scenario, seed: int, camera: PinholeCamera, crowdedness_on_grid: np.ndarray,
                 obstacles: Obstacles, view: EgoView, lanes: "TrafficLanes"):
        """`view`: the ego camera over time (the loops travel with the ego along its path); `lanes`: which lanes
        and road edges the loops lie on."""
        self.view = view
        self.ego_speed = view.ego.speed.initial
        # An ego without actions keeps the closed form (speed - ego speed) * t of version 1, to the bit.
        self._ego_constant = not scenario.ego.actions
        rng = np.random.default_rng([int(seed), 0x7AFF1C])  # own stream: other seeded parts stay independent
        pool = _build_pool(scenario, lanes, rng)
        self.types: list[str] = pool["types"]
        self.track_ids = [f"bg_{i}" for i in range(len(self.types))]
        self.size_m = np.array(pool["size_m"], float).reshape(-1, 3)
        self.lateral_m = np.array(pool["lateral_m"], float)
        self.speed_mps = np.array(pool["speed_mps"], float)
        self.phase_m = np.array(pool["phase_m"], float)
        self.threshold = np.array(pool["threshold"], float)
        self.heading_rad = np.where(self.speed_mps < 0, math.pi, 0.0)
        self.active = self._activity(camera, np.asarray(crowdedness_on_grid, float), obstacles)

    def __len__(self) -> int:
        return len(self.types)

    def z_at(self, t: np.ndarray | float, idx: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Forward position of pool agents `idx` at time(s) t, wrapped into the loop window."""
        span = WINDOW_AHEAD_M - WINDOW_BEHIND_M
        if self._ego_constant:
            travelled = (self.speed_mps[idx] - self.ego_speed) * t
        else:
            travelled = self.speed_mps[idx] * t - self.view.ego.travel(t)
        return WINDOW_BEHIND_M + np.mod(self.phase_m[idx] - WINDOW_BEHIND_M + travelled, span)

    def snapshot(self, t: float) -> BackgroundSnapshot:
        k = int(np.clip(math.floor(t / GRID_DT_S + 1e-6), 0, self.active.shape[1] - 1))
        idx = np.nonzero(self.active[:, k])[0]
        return BackgroundSnapshot(
            track_ids=[self.track_ids[i] for i in idx], types=[self.types[i] for i in idx],
            lateral_m=self.lateral_m[idx], z_m=self.z_at(t, idx), speed_mps=self.speed_mps[idx],
            heading_rad=self.heading_rad[idx], size_m=self.size_m[idx])

    def _activity(self, camera: PinholeCamera, crowd: np.ndarray, obs: Obstacles) -> np.ndarray:
        """(P, T) bool: which pool agents exist at each grid time (see the module docstring)."""
        t = np.arange(len(crowd)) * GRID_DT_S
        active = np.zeros((len(self), len(t)), bool)
        margin_px = VIEW_MARGIN[0] * camera.width
        cam = self.view.pose(t)
        cos_h, sin_h = np.cos(obs.lane_heading), np.sin(obs.lane_heading)
        for i in range(len(self)):
            z = self.z_at(t, i)
            world, on_road = self.view.along(z, self.lateral_m[i], t)
            x_c, _, z_c, yaw = EgoView.see(world.x, world.y, world.z, world.heading - self.heading_rad[i], cam)
            half_l, half_w = self.size_m[i, 0] / 2, self.size_m[i, 1] / 2
            dx, dy = world.x - obs.world_x, world.y - obs.world_y  # in each obstacle's lane direction:
            along, across = dx * cos_h + dy * sin_h, dy * cos_h - dx * sin_h
            speed = self.speed_mps[i]
            lat_hit = np.abs(across) < obs.half_width_m + half_w + OVERLAP_MARGIN_M[0]
            lon_gap = (obs.half_length_m[:, None] + half_l + OVERLAP_MARGIN_M[1]
                       + np.abs(obs.speed_mps - speed) * GRID_DT_S)
            blocked = (lat_hit & (np.abs(along) < lon_gap)).any(axis=0) | ~on_road
            blocked |= self._hides(i, x_c, z_c, obs).any(axis=0)
            wanted = self.threshold[i] <= crowd + 1e-9
            view = in_view_mask(camera, x_c, z_c, yaw, self.size_m[i], margin_px=margin_px,
                                max_range_m=SWITCH_RANGE_M + VIEW_MARGIN[1])
            active[i] = _switch_out_of_view(wanted, blocked, view)
        return active

    def _hides(self, i: int, x_b: np.ndarray, z: np.ndarray, obs: Obstacles) -> np.ndarray:
        """(N, T) True where pool agent i (at camera-frame x_b, z over the grid) is in the line of sight to obstacle n."""
        keep = obs.keep_visible
        if not keep.any():
            return np.zeros((0, len(z)), bool)
        lo_b, hi_b, ok_b = _slope_interval(x_b, z, self.size_m[i, 0] / 2, self.size_m[i, 1] / 2)
        x_n = obs.x_m[keep]
        lo_n, hi_n, ok_n = _slope_interval(x_n, obs.z_m[keep], obs.half_length_m[keep, None], obs.half_width_m[keep])
        nearer = np.hypot(x_b, z) < np.hypot(x_n, obs.z_m[keep])
        return ok_b & ok_n & nearer & (lo_b < hi_n + SIGHT_MARGIN) & (hi_b > lo_n - SIGHT_MARGIN)


def _slope_interval(x, z, half_l, half_w) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bird's-eye extent of axis-aligned footprints as seen from the camera: (min x/z, max x/z, in front)."""
    near = np.maximum(z - half_l, SIGHT_NEAR_M)
    far = np.maximum(z + half_l, SIGHT_NEAR_M)
    cands = np.stack(np.broadcast_arrays((x - half_w) / near, (x - half_w) / far,
                                         (x + half_w) / near, (x + half_w) / far))
    return cands.min(axis=0), cands.max(axis=0), z + half_l > SIGHT_NEAR_M


def _switch_out_of_view(wanted: np.ndarray, blocked: np.ndarray, view: np.ndarray) -> np.ndarray:
    """Out of view: wanted and not blocked. In view: frozen at its state on entering view,
    or hidden for the whole stretch when blocked anywhere in it."""
    state = wanted & ~blocked
    edges = np.diff(np.concatenate([[0], view.astype(np.int8), [0]]))
    for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
        state[a:b] = False if blocked[a:b].any() else wanted[a]
    return state


def _build_pool(scenario: Scenario, lanes: "TrafficLanes", rng: np.random.Generator) -> dict[str, list]:
    """Lay out every potential background agent on its loop; deterministic in `rng` (the oncoming lanes
    draw last, so that a one-way road's pool is version 1's)."""
    ego = scenario.ego
    pool: dict[str, list] = {k: [] for k in ("types", "size_m", "lateral_m", "speed_mps", "phase_m", "threshold")}
    v_ref = ego.speed_mps if ego.speed_mps >= 3.0 else 10.0  # a stopped ego still sees moving traffic

    kinds = list(VEHICLE_MIX)
    probs = np.array([VEHICLE_MIX[k] for k in kinds])
    if lanes.lane_width_m < 3.0:  # narrow lanes: no trucks or buses
        probs = probs * np.array([k not in ("truck", "bus") for k in kinds])
    probs = probs / probs.sum()

    def vehicle() -> tuple[str, np.ndarray]:
        kind = kinds[int(rng.choice(len(kinds), p=probs))]
        return kind, np.array(DEFAULT_SIZE_M[kind]) * rng.uniform(0.92, 1.08, size=3)

    def fill_lane(centre: float, speed: float) -> None:
        for z, kind, size in _fill_loop(rng, "vehicle", vehicle):
            slack = max(0.0, (lanes.lane_width_m - size[1]) / 2 - 0.25)
            _add(pool, rng, "vehicle", kind, size, centre + rng.uniform(-1, 1) * min(0.2, slack), speed, z)

    ego_lane = lanes.ego_lane
    for lane, centre in enumerate(lanes.forward):
        if lane == ego_lane:
            speed = ego.speed_mps  # the ego follows / is followed by its lane's flow
        else:
            speed = v_ref * (1.0 + 0.06 * (ego_lane - lane)) * (1.0 + rng.uniform(-0.06, 0.06))
            side = 1.0 if lane < ego_lane else -1.0  # left lanes overtake, right lanes fall back
            if abs(speed - ego.speed_mps) < 0.8:  # a loop frozen in view would never change
                speed = ego.speed_mps + 0.8 * side
            speed = max(speed, 0.0)
        fill_lane(centre, speed)

    def person(kind: str) -> tuple[str, np.ndarray]:
        return kind, np.array(DEFAULT_SIZE_M[kind]) * rng.uniform(0.9, 1.1, size=3)

    left, right = lanes.edges
    for lateral in (left - SIDEWALK_OFFSET_M, right + SIDEWALK_OFFSET_M):
        speed = rng.uniform(1.1, 1.5) * (1.0 if rng.random() < 0.5 else -1.0)  # one walking direction per side
        for z, kind, size in _fill_loop(rng, "pedestrian", lambda: person("pedestrian")):
            _add(pool, rng, "pedestrian", kind, size, lateral + rng.uniform(-0.4, 0.4), speed, z)

    speed = rng.uniform(4.0, 6.5)
    kerb = right + BIKE_STRIP_OFFSET_M if lanes.kerb_side > 0 else left - BIKE_STRIP_OFFSET_M
    for z, kind, size in _fill_loop(rng, "cyclist", lambda: person("cyclist")):
        _add(pool, rng, "cyclist", kind, size, kerb, speed, z)

    for centre in lanes.oncoming:  # towards the camera: negative speeds along the ego's direction
        fill_lane(centre, -v_ref * (1.0 + rng.uniform(-ONCOMING_SPEED_JITTER, ONCOMING_SPEED_JITTER)))
    return pool


def _fill_loop(rng: np.random.Generator, group: str, draw) -> list[tuple[float, str, np.ndarray]]:
    """Agents one after another around a loop with seeded gaps; the wrap-around gap is kept too."""
    span = WINDOW_AHEAD_M - WINDOW_BEHIND_M
    gap_lo, gap_hi = GAP_M[group]
    offset, cursor, out = rng.uniform(0.0, span), 0.0, []
    while True:
        kind, size = draw()
        if cursor + size[0] + gap_lo > span:
            return out
        out.append((WINDOW_BEHIND_M + (offset + cursor + size[0] / 2) % span, kind, size))
        cursor += size[0] + rng.uniform(gap_lo, gap_hi)


def _add(pool: dict[str, list], rng: np.random.Generator, group: str, kind: str, size: np.ndarray,
         lateral: float, speed: float, z: float) -> None:
    floor = THRESHOLD_FLOOR[group]
    pool["types"].append(kind)
    pool["size_m"].append(size)
    pool["lateral_m"].append(lateral)
    pool["speed_mps"].append(speed)
    pool["phase_m"].append(z)
    pool["threshold"].append(floor + (1.0 - floor) * (1.0 - rng.random()))  # in (floor, 1]
