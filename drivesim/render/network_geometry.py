"""What of a road network the renderer paints, in world coordinates: every lane's surface, every
junction's surface and every road mark, cut once per network into quads that each frame only moves into
the camera's view (`network_ground.py`), and where roadside objects may stand (`network_scenery.py`).

- Surfaces: each lane of each lane section, between its inner and outer border, in `STEP_M` pieces along
  s, in the look of its type (`SURFACE_OF_TYPE`: driving lanes asphalt, sidewalks paved, shoulders,
  kerbs, medians ...). A road's outermost driving lane with no lane beyond it gets the scene's sidewalk
  strip there (as version 1's road does); roads inside a junction get none. A junction's surface is the
  convex hull of its connecting roads' lanes, so the corners between them are road too. Driving lanes
  outside junctions carry version 1's repair patches and tar seams (seeded by the scene).
- Marks: every lane border's road marks (the lane's outer border; the centre lane's on the centre line),
  as OpenDRIVE gives them: `solid`, `broken` (DASH_M painted, GAP_M gap, from where the mark starts),
  double lines (`solid solid`, `solid broken` ...: the first-named line nearer the centre lane), `botts
  dots`; white or yellow. A carriageway's edge line (the border `lane_labels` calls `edge`) is painted
  EDGE_INSET_M inside the edge, as version 1's edge lines are.
Roads follow their reference line's curves and their elevation (every point at its z).

    from drivesim.road import RoadNetwork, straight_road
    from drivesim.render.network_geometry import network_geometry
    geometry = network_geometry(RoadNetwork.of([straight_road(100.0, [3.5, 3.5], [3.5])]), sidewalk_m=2.0)
    sorted(geometry.layers)  # ['asphalt', 'centre_paint', 'kerb_strip', 'paint', 'verge_strip']
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field

import cv2
import numpy as np

from drivesim.render.canvas import hash01, stable_hash
from drivesim.render.scenery import DASH_M, EDGE_LINE_M, GAP_M, LANE_LINE_M
from drivesim.road import DRIVING_TYPES, Road, RoadNetwork
from drivesim.scenario.lane_labels import edge_borders  # the labels' edges are the painted edges

STEP_M = 2.0  # surfaces and solid lines are cut into pieces this long along s (a 2 m chord of a 10 m
# radius is 5 cm off the curve: invisible at any distance the piece is larger than a pixel)
EDGE_INSET_M = 0.15  # edge lines are painted this far inside the carriageway's edge
DOUBLE_GAP_M = 0.12  # between the two lines of a double mark
DOT_M, DOT_GAP_M = 0.3, 1.2  # botts dots: a short dab every 1.5 m
YELLOW_MARK = "yellow"
PATCH_SPACING_M, PATCH_SHARE = 7.0, 0.25  # a slot of each driving lane holds a patch or a seam at this rate

SURFACE_OF_TYPE: dict[str, str] = {
    **{t: "asphalt" for t in DRIVING_TYPES},
    "bidirectional": "asphalt", "parking": "asphalt", "stop": "asphalt", "restricted": "asphalt",
    "roadWorks": "asphalt", "tram": "asphalt", "shoulder": "shoulder", "border": "kerb", "curb": "kerb",
    "sidewalk": "sidewalk", "walking": "sidewalk", "biking": "bike_lane", "median": "median",
}  # other types (none, rail, special1..3) are not painted: the ground shows
# Painted back to front: later layers cover earlier ones where they overlap (junction corners, medians).
LAYER_ORDER: tuple[str, ...] = ("verge_strip", "kerb_strip", "median", "shoulder", "sidewalk", "kerb",
                                "junction", "asphalt", "patch_dark", "patch_light", "seam", "bike_lane", "paint", "centre_paint", "yellow_paint")


@dataclass(frozen=True)
class Quads:
    """World quads (K, 4, 3) of one look, each with a bounding sphere (centre, radius) for culling, and the
    strip it belongs to: quads k and k + 1 of one strip share an edge (corners 3, 2 of k are 0, 1 of k + 1),
    so a run of them can be filled as one polygon."""

    points: np.ndarray
    centres: np.ndarray
    radii: np.ndarray
    strip: np.ndarray  # (K,) int

    @classmethod
    def of(cls, pieces: list[tuple[np.ndarray, bool]]) -> "Quads":
        """From (quads, whether they form one strip) pieces."""
        pts = np.concatenate([p for p, _ in pieces]) if pieces else np.zeros((0, 4, 3))
        strip, next_id = [], 0
        for quads, joined in pieces:
            strip.append(np.full(len(quads), next_id) if joined else next_id + np.arange(len(quads)))
            next_id += 1 if joined else len(quads)
        centres = pts.mean(axis=1)
        radii = np.linalg.norm(pts - centres[:, None], axis=2).max(axis=1) if len(pts) else np.zeros(0)
        return cls(pts, centres, radii, np.concatenate(strip) if strip else np.zeros(0, int))


@dataclass(frozen=True)
class RoadSide:
    """One side of one road outside a junction, sampled along s: where its carriageway ends (the driving
    edge) and where its last lane or sidewalk strip ends (the outer edge), as t (the road's left is +t)."""

    road: Road
    side: int  # +1: the left side (+t), -1: the right side
    s: np.ndarray
    driving_t: np.ndarray
    outer_t: np.ndarray
    outer_xyz: np.ndarray  # (n, 3) world points of the outer edge, for finding the sides near the camera


@dataclass
class NetworkGeometry:
    layers: dict[str, Quads]
    junctions: list[np.ndarray]  # world polygons (N, 3) of the junction surfaces
    sides: list[RoadSide]
    reference: dict[str, np.ndarray]  # each road's reference line samples (n, 3), for finding roads near the camera
    _occupied_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _occupied_road: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _road_index: dict[str, int] = field(default_factory=dict)

    def on_other_road(self, road_id: str, xy: np.ndarray) -> np.ndarray:
        """(N,) whether world points (N, 2) lie on or within CLEARANCE_CELLS cells of a surface of any road
        (or junction) other than `road_id`: roadside objects of one road keep off every other road."""
        if not len(self._occupied_keys):
            return np.zeros(len(xy), bool)
        keys = _cell_keys(np.floor(np.asarray(xy) / CELL_M).astype(np.int64))
        lo = np.searchsorted(self._occupied_keys, keys, "left")
        hi = np.searchsorted(self._occupied_keys, keys, "right")
        own = self._road_index.get(road_id, -1)
        first = self._occupied_road[np.minimum(lo, len(self._occupied_road) - 1)]
        return (hi - lo > 1) | ((hi - lo == 1) & (first != own))


CELL_M = 1.0  # the grid that tells where roads are, for keeping roadside objects off them
CLEARANCE_CELLS = 2


def network_geometry(network: RoadNetwork, sidewalk_m: float, seed: int = 0) -> NetworkGeometry:
    """The network's geometry for a scene with sidewalk strips `sidewalk_m` wide and asphalt patches of scene
    seed `seed`; built once per (network, sidewalk width, seed) and cached while the network lives."""
    key = (id(network), float(sidewalk_m), int(seed))
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is network:
        return hit[1]
    geometry = _build(network, float(sidewalk_m), int(seed))
    if len(_CACHE) >= 8:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = (weakref.ref(network), geometry)
    return geometry


_CACHE: dict[tuple[int, float, int], tuple[weakref.ref, NetworkGeometry]] = {}


def _build(network: RoadNetwork, sidewalk_m: float, seed: int) -> NetworkGeometry:
    layers: dict[str, list[tuple[np.ndarray, bool]]] = {}
    sides: list[RoadSide] = []
    reference: dict[str, np.ndarray] = {}
    occupied: dict[str, list[np.ndarray]] = {}
    for road in network.roads.values():
        s_ref = _samples(0.0, road.length, STEP_M)
        reference[road.id] = _world(road, s_ref, np.zeros_like(s_ref))
        road_quads: list[np.ndarray] = []
        for index, section in enumerate(road.laneSections):
            start, end = road.section_range(index)
            s = _samples(start, end, STEP_M)
            borders = {k: t for k, (t, _) in road.section_borders(index, s).items()}
            edges = set() if road.in_junction else edge_borders(section.lanes)
            for lane_id, lane in section.lanes.items():
                look = SURFACE_OF_TYPE.get(lane.type) if lane_id else None
                if look is not None:
                    quads = _strip(road, s, borders[_inward(lane_id)], borders[lane_id])
                    layers.setdefault("junction" if road.in_junction else look, []).append((quads, True))
                    road_quads.append(quads)
                    if look == "asphalt" and not road.in_junction:
                        _patches(layers, road, index, lane_id, seed)
                _marks(layers, road, index, lane_id, s, borders, edges, section.lanes)
            if not road.in_junction:
                for side in (1, -1):
                    side_quads, road_side = _side(road, s, borders, section.lanes, side, sidewalk_m)
                    for look, quads in side_quads:
                        layers.setdefault(look, []).append((quads, True))
                        road_quads.append(quads)
                    sides.append(road_side)
        occupied.setdefault(road.id, []).extend(road_quads)
    junctions = []
    for junction in network.junctions.values():
        polygon = _junction_surface(network, junction.id)
        if polygon is not None:
            junctions.append(polygon)
            occupied.setdefault(f"junction {junction.id}", []).append(_fan(polygon))
    geometry = NetworkGeometry({k: Quads.of(v) for k, v in layers.items()}, junctions, sides, reference)
    _occupy(geometry, occupied)
    return geometry


# --- surfaces ----------------------------------------------------------------------------------

def _inward(lane_id: int) -> int:
    return lane_id - (lane_id > 0) + (lane_id < 0)


def _strip(road: Road, s: np.ndarray, t_a: np.ndarray, t_b: np.ndarray) -> np.ndarray:
    """(n - 1, 4, 3) world quads between two lines of constant-s samples (t_a, t_b arrays over s)."""
    a, b = _world(road, s, t_a), _world(road, s, t_b)
    return np.stack([a[:-1], b[:-1], b[1:], a[1:]], axis=1)


def _side(road: Road, s: np.ndarray, borders: dict[int, np.ndarray], lanes: dict, side: int,
          sidewalk_m: float) -> tuple[list[tuple[str, np.ndarray]], RoadSide]:
    """The scene's sidewalk strip beyond a side whose last lane is a driving lane, and where that side ends."""
    ids = [k for k in lanes if k * side > 0]
    outermost = max(ids, key=abs) if ids else 0
    driving = [k for k in ids if lanes[k].type in DRIVING_TYPES]
    driving_t = borders[max(driving, key=abs) if driving else 0]
    outer_t = borders[outermost]
    quads = []
    if sidewalk_m > 0 and (not ids or lanes[outermost].type in DRIVING_TYPES):
        beyond = outer_t + side * sidewalk_m
        quads.append(("verge_strip", _strip(road, s, outer_t, beyond)))
        quads.append(("kerb_strip", _strip(road, s, outer_t, outer_t + side * 0.2)))
        outer_t = beyond
    return quads, RoadSide(road, side, s, driving_t, outer_t, _world(road, s, outer_t))


def _junction_surface(network: RoadNetwork, junction_id: str) -> np.ndarray | None:
    """The convex hull of a junction's connecting roads' lanes, each corner at the height of its nearest point."""
    points = []
    for road in network.roads.values():
        if road.junction != junction_id:
            continue
        for index in range(len(road.laneSections)):
            s = _samples(*road.section_range(index), STEP_M)
            for t, _ in road.section_borders(index, s).values():
                points.append(_world(road, s, t))
    if not points:
        return None
    pts = np.concatenate(points)
    hull = cv2.convexHull(pts[:, :2].astype(np.float32)).reshape(-1, 2).astype(np.float64)
    if len(hull) < 3:
        return None
    nearest = np.argmin(np.linalg.norm(pts[None, :, :2] - hull[:, None], axis=2), axis=1)
    return np.concatenate([hull, pts[nearest, 2:3]], axis=1)


def _fan(polygon: np.ndarray) -> np.ndarray:
    """A convex polygon as quads (degenerate ones: triangles with a repeated corner) from its first corner."""
    n = len(polygon)
    return np.stack([np.stack([polygon[0], polygon[k], polygon[k + 1], polygon[k + 1]]) for k in range(1, n - 1)])


def _patches(layers: dict, road: Road, index: int, lane_id: int, seed: int) -> None:
    """Repair patches and tar seams on a driving lane, as on version 1's asphalt: a pure function of (scene
    seed, road, lane, PATCH_SPACING_M slot along s)."""
    start, end = road.section_range(index)
    n = np.arange(math.floor(start / PATCH_SPACING_M), math.ceil(end / PATCH_SPACING_M))
    u = hash01(seed, 7100, stable_hash(road.id) & 0x7FFFFFFF, lane_id, n[:, None], np.arange(5)[None])
    for k in np.nonzero(u[:, 0] < PATCH_SHARE)[0]:
        s0 = n[k] * PATCH_SPACING_M + u[k, 1] * PATCH_SPACING_M
        seam = u[k, 2] >= 0.6
        s1 = min(s0 + (0.12 if seam else 1.0 + 3.0 * u[k, 4]), end)
        if s0 < start or s1 - s0 < 0.05:
            continue
        ss = np.array([s0, s1])
        borders = road.section_borders(index, ss)
        t_in, t_out = borders[_inward(lane_id)][0], borders[lane_id][0]
        width = t_out - t_in
        if seam:  # across the lane
            a, b, look = 0.0, 1.0, "seam"
        else:  # a patch 0.8-2.8 m across
            share = min(1.0, (0.8 + 2.0 * u[k, 4]) / max(abs(width[0]), 1e-6))
            a = u[k, 3] * (1.0 - share)
            b, look = a + share, "patch_dark" if u[k, 4] < 0.5 else "patch_light"
        layers.setdefault(look, []).append((_strip(road, ss, t_in + a * width, t_in + b * width), False))


# --- marks ---------------------------------------------------------------------------------------

def _marks(layers: dict, road: Road, index: int, lane_id: int, s: np.ndarray, borders: dict[int, np.ndarray],
           edges: set[int], lanes: dict) -> None:
    """The quads of the road marks on lane `lane_id`'s outer border in lane section `index`."""
    start, end = road.section_range(index)
    marks = [m for m in lanes[lane_id].road_marks if start + m.sOffset < end]
    inner_sign = 1.0 if lane_id <= 0 else -1.0  # +t points to the centre lane from right lanes and the centre
    shift = 0.0
    if lane_id in edges:  # paint the edge line inside the carriageway
        towards_road = -np.sign(lane_id) if lane_id else (-1.0 if any(k < 0 and lanes[k].type in DRIVING_TYPES
                                                                       for k in lanes) else 1.0)
        shift = towards_road * EDGE_INSET_M
    for k, mark in enumerate(marks):
        lines = _LINES.get(mark.type)
        if not lines:
            continue
        a = start + (mark.sOffset if k else 0.0)
        b = start + marks[k + 1].sOffset if k + 1 < len(marks) else end
        width = mark.width or (EDGE_LINE_M if lane_id in edges else LANE_LINE_M)
        look = "yellow_paint" if mark.color == YELLOW_MARK else ("centre_paint" if lane_id == 0 else "paint")
        offsets = [0.0] if len(lines) == 1 else [inner_sign * (width + DOUBLE_GAP_M) / 2,
                                                 -inner_sign * (width + DOUBLE_GAP_M) / 2]
        for pattern, offset in zip(lines, offsets):
            centre = offset + shift
            if pattern == "solid":
                ss = np.concatenate([[a], s[(s > a) & (s < b)], [b]])
            else:
                ss = _dash_ends(a, b, *((DASH_M, GAP_M) if pattern == "broken" else (DOT_M, DOT_GAP_M)))
                if not len(ss):
                    continue
            t = road.section_borders(index, ss)[lane_id][0]
            quads = _strip(road, ss, t + centre - width / 2, t + centre + width / 2)
            if pattern != "solid":
                quads = quads[::2]  # (start, end) pairs: the dashes, not the gaps between them
            layers.setdefault(look, []).append((quads, pattern == "solid"))


# Each mark type's lines, the first-named (nearest the centre lane) first.
_LINES: dict[str, tuple[str, ...]] = {
    "solid": ("solid",), "broken": ("broken",), "edge": ("solid",), "botts dots": ("dots",),
    "solid solid": ("solid", "solid"), "solid broken": ("solid", "broken"), "broken solid": ("broken", "solid"),
    "broken broken": ("broken", "broken"),
}


def _dash_ends(a: float, b: float, on: float, off: float) -> np.ndarray:
    """Start and end s of each dash in [a, b] (dashes every on + off metres from a), interleaved."""
    starts = a + np.arange(0.0, max(b - a, 0.0), on + off)
    ends = np.minimum(starts + on, b)
    keep = ends - starts > 0.05
    return np.stack([starts[keep], ends[keep]], axis=1).ravel()


# --- helpers -------------------------------------------------------------------------------------

def _samples(start: float, end: float, step: float) -> np.ndarray:
    return np.linspace(start, end, max(2, math.ceil((end - start) / step - 1e-9) + 1))


def _world(road: Road, s: np.ndarray, t: np.ndarray) -> np.ndarray:
    x, y = road.planView.to_world(s, t)
    z, _ = road.elevation(s)
    return np.stack([x, y, np.broadcast_to(z, np.shape(x))], axis=-1)


def _cell_keys(cells: np.ndarray) -> np.ndarray:
    return cells[..., 0] * (1 << 32) + cells[..., 1]


def _occupy(geometry: NetworkGeometry, occupied: dict[str, list[np.ndarray]]) -> None:
    """The grid cells near each road's (and junction's) surfaces, as sorted (cell key, road index) pairs."""
    keys, owners = [], []
    r = CLEARANCE_CELLS
    dx, dy = np.meshgrid(np.arange(-r, r + 1), np.arange(-r, r + 1))
    ring = np.stack([dx.ravel(), dy.ravel()], axis=1)
    for index, (name, quads) in enumerate(occupied.items()):
        geometry._road_index[name] = index
        if not quads:
            continue
        q = np.concatenate(quads)[..., :2]
        # corners, edge midpoints and centres: every metre of a piece up to ~2 m by ~4 m
        w = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [.5, .5, 0, 0], [0, .5, .5, 0],
                      [0, 0, .5, .5], [.5, 0, 0, .5], [.25, .25, .25, .25]])
        pts = np.einsum("pk,qkd->qpd", w, q).reshape(-1, 2)
        cells = np.unique(np.floor(pts / CELL_M).astype(np.int64), axis=0)
        cells = np.unique((cells[:, None] + ring[None]).reshape(-1, 2), axis=0)
        keys.append(_cell_keys(cells))
        owners.append(np.full(len(cells), index))
    if keys:
        k, o = np.concatenate(keys), np.concatenate(owners)
        order = np.lexsort((o, k))
        geometry._occupied_keys, geometry._occupied_road = k[order], o[order]
