"""Fuzz the doors drivesim opened after the YAML loader: seeded mutations of the shipped OpenSCENARIO (.xosc)
and OpenDRIVE (.xodr) files, of the YAML format's numbers, of a bundle's config.yaml, of trajectory lines and of
the Python API's arguments never raise anything but drivesim's own errors (`DrivesimError`: ScenarioError, BundleError) and
never make a silent NaN world.

    python -m pytest tests/test_fuzz_doors.py -q
    DRIVESIM_FUZZ_CASES=5000 python -m pytest tests/test_fuzz_doors.py -q -x   # a local campaign

Each door runs a fixed list of seeds (case i of a door is `random.Random(SALT * 1_000_003 + i)`), so a run in
CI is the same run everywhere; `DRIVESIM_FUZZ_CASES=N` raises every door to at least N cases (the CI cases
first, then new ones). A failure names the door, the seed and the mutant (kept in the test's tmp folder), so
it replays exactly. What must hold, per case: the input is refused with a `DrivesimError`, or it is accepted
and everything it makes is finite -- every entity's motion at every frame of the scenario (`scenario_world`),
and for a sample the engine's first, middle and last frames (boxes, poses, road state, every agent's 3D
state); a road network's lane poses along every lane; a bundle's frame (not one flat colour: a NaN in the
latents comes out black) and labels; the API's frames and labels, and an argument is refused before a frame
is made. A case that runs past `CASE_SECONDS` fails too (a hostile input must not hang a reader).

The mutations are what a broken exporter, a hand edit or an attacker might do to a file: attribute values
replaced by edge values (empty, signs, zero, nan, inf, 1e308, thousand-digit numbers, `${...}` expressions
that overflow or do not parse, unicode, long text), numbers scaled or shifted, references swapped,
attributes dropped, elements deleted, duplicated, swapped or moved, the text cut at a random byte; YAML
numbers replaced by huge, tiny or boundary ones; config values replaced by junk, scaled or deleted; API
arguments of every type and none.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import re
import shutil
import signal
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from drivesim.errors import DrivesimError
from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.file_formats import read_road_network
from drivesim.scenario.format import Scenario
from drivesim.scenario.loader import parse_scenario
from drivesim.scenario.motion import EntityMotion
from drivesim.scenario.network import scenario_world
from drivesim.sources import read_scenario

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
XOSC = sorted((SCENARIOS / "openscenario").glob("*.xosc"))
XODR = sorted((SCENARIOS / "roads").glob("*.xodr")) + sorted((SCENARIOS / "openscenario").glob("*.xodr"))
# .xosc files run on a road network take seconds each (the network runner steps lane paths frame by frame):
# they get one case in NETWORK_EVERY of the straight ones'
NETWORK_XOSC = {"curve_cut_in.xosc", "left_turn_across.xosc"}
NETWORK_EVERY = 20

CASES = {"xosc": 450, "xodr": 900, "yaml": 1500, "bundle": 120, "api": 330}
ENGINE_EVERY = {"xosc": 8, "xodr": 6, "yaml": 8}  # one case in N also checks the engine's frames (~0.3 s)
CASE_SECONDS = 60.0  # one case over this is a hang, and fails


def _cases(door: str) -> int:
    return max(CASES[door], int(os.environ.get("DRIVESIM_FUZZ_CASES", "0") or 0))


# --- the values a mutation writes ------------------------------------------------------------------------

EDGE_VALUES = [
    "", " ", "-1", "0", "-0", "1", "-0.0", "nan", "NaN", "-nan", "inf", "-inf", "INF", "Infinity", "1e308", "-1e308",
    "1.7976931348623157e308", "1e-320", "5e-324", "1e12", "1e13", "-1e12", "1e300", "9" * 40, "1" + "0" * 400,
    "-" + "9" * 5000, "0x10", " 3 ", "3,5", "1e3", "+5", "1_000", "true", "false", "None",
    "${pow(10,400)}", "${pow(10, 308) * 10}", "${1/0}", "${0/0}", "${-1e308 * 10}", "${round(1e308*10)}",
    "${sqrt(-1)}", "${", "${}", "${$", "${$Undefined}", "$Undefined", "${1 +}", "${(1}", "${1)}",
    "${" + "(" * 300 + "1" + ")" * 300 + "}", "${" + "-" * 400 + "1}", "${not 1}", "${1 == 1}", "$$",
    "é", "日本語", "\u202eevil", "\U0001F697", "x" * 5000, "a b c", "<", "&amp;", "step", "linear", "cubic",
    "sinusoidal", "time", "distance", "rate", "rising", "falling", "risingOrFalling", "greaterThan", "lessThan",
    "equalTo", "-2", "-3", "2", "3", "7", "100", "-100", "1000000", "0.001", "-0.5",
]
SCALES = [0.0, -1.0, 0.5, 2.0, 10.0, 1e3, 1e6, 1e-6, 1e11, 1e12, 1.0000001]
SHIFTS = [0.001, -0.001, 0.5, -0.5, 1.0, -1.0, 3.5, -3.5, 50.0, -50.0, 1e4]


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _write_number(x: float) -> str:
    return repr(float(x)) if not float(x).is_integer() or abs(x) >= 1e16 else str(int(x))


def mutate_xml(raw: bytes, rng: random.Random, edits: tuple[int, int] = (1, 3)) -> bytes:
    """1-3 edits of an XML file's tree, then (sometimes) its bytes cut short or one byte changed."""
    root = ET.fromstring(raw)
    values = sorted({v for el in root.iter() for v in el.attrib.values()})  # swapped in: references stay plausible
    for _ in range(rng.randint(*edits)):
        elements = list(root.iter())
        parents = {child: parent for parent in elements for child in parent}
        el = rng.choice(elements)
        keys = sorted(el.attrib)
        op = rng.randrange(12)
        if op <= 2 and keys:  # an attribute's value becomes an edge value
            el.set(rng.choice(keys), rng.choice(EDGE_VALUES))
        elif op <= 5 and keys:  # a number scaled or shifted: still a number, maybe a nonsensical one
            key = rng.choice(keys)
            x = _number(el.get(key, ""))
            if x is not None:
                x = x * rng.choice(SCALES) if rng.random() < 0.5 else x + rng.choice(SHIFTS)
                el.set(key, _write_number(x))
            else:
                el.set(key, rng.choice(values))
        elif op == 6 and keys:  # another attribute's value of the file (entity names, lane ids, enums)
            el.set(rng.choice(keys), rng.choice(values))
        elif op == 7 and keys:  # dropped
            del el.attrib[rng.choice(keys)]
        elif op == 8 and el in parents:  # deleted
            parents[el].remove(el)
        elif op == 9 and el in parents:  # duplicated in place
            parent = parents[el]
            parent.insert(list(parent).index(el), copy.deepcopy(el))
        elif op == 10 and el in parents:  # swapped with a sibling
            siblings = list(parents[el])
            if len(siblings) > 1:
                i, j = rng.sample(range(len(siblings)), 2)
                siblings[i], siblings[j] = siblings[j], siblings[i]
                parents[el][:] = siblings
        elif op == 11 and el in parents:  # moved under another element
            target = rng.choice(elements)
            if target is not el and el not in target.iter() and target not in el.iter():
                parents[el].remove(el)
                target.append(el)
    out = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    cut = rng.random()
    if cut < 0.06:
        out = out[:rng.randrange(len(out) + 1)]
    elif cut < 0.09:
        k = rng.randrange(len(out))
        out = out[:k] + bytes([rng.randrange(256)]) + out[k + 1:]
    return out


# --- what must hold -----------------------------------------------------------------------------------------

class _Hang(Exception):
    pass


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    def expired(signum, frame):
        raise _Hang(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _not_finite(what: str, values: Any) -> str | None:
    array = np.asarray(values, dtype=float)
    bad = ~np.isfinite(array)
    return f"{what} is not finite ({array[bad].flat[0]}) at {np.argwhere(bad)[0].tolist()}" if bad.any() else None


def world_problem(scenario: Scenario, engine_frames: bool) -> str | None:
    """Where an accepted scenario's world is not finite: every entity's motion at every frame; with
    `engine_frames`, the engine's first, middle and last frames (boxes, poses, road state, every agent)."""
    engine = ScenarioEngine(scenario) if engine_frames else None
    world = engine.world if engine is not None else scenario_world(scenario)
    times = np.arange(scenario.num_frames) / scenario.fps
    entities = [("ego", world.ego)] + [(agent.id, p) for agent, p in zip(scenario.agents, world.agents)]
    for name, placement in entities:
        state = EntityMotion(placement).at(times)
        for field in ("u", "r", "lateral_m", "speed_mps", "lateral_rate", "heading"):
            if problem := _not_finite(f"{name}'s {field}", getattr(state, field)):
                return problem
        if problem := _not_finite(f"{name}'s pose", np.stack(list(state.lane))):
            return problem
    if engine is None:
        return None
    n = scenario.num_frames
    for index in sorted({0, n // 2, n - 1}):
        frame = engine.frame(index)
        road = frame.road
        numbers = [frame.timestamp_s, frame.crowdedness, road.lane_width_m, road.ego_lateral_m, road.ego_speed_mps,
                   road.ego_travel_m, *(frame.ego_pose or ())]
        for box in frame.boxes:
            numbers += [*box.bbox_xyxy, box.truncation, box.occlusion, *box.location_m, *box.size_m, box.rotation_y,
                        box.distance_m, *(box.world_pose or ())]
        for agent in engine.agent_states(frame.timestamp_s):
            numbers += [agent.x_m, agent.y_m, agent.z_m, agent.lateral_m, agent.speed_mps, agent.heading_rad,
                        *agent.size_m, *(agent.world or ())]
        if problem := _not_finite(f"frame {index}'s numbers", numbers):
            return problem
    return None


def network_problem(network) -> str | None:
    """Where a road network read from a file is not finite: lane poses along every lane of every road."""
    for road in network.roads.values():
        for index, section in enumerate(road.laneSections):
            start, end = road.section_range(index)
            for lane_id in sorted(section.lanes):
                if lane_id == 0:
                    continue
                for s in np.linspace(start, max(start, min(end, start + 1e4)), 3):
                    if problem := _not_finite(f"road {road.id} lane {lane_id} at s={s:g}",
                                              list(road.lane_to_world(lane_id, float(s)))):
                        return problem
    return None


def _run(door: str, seed: int, what: str, mutant: bytes | str, case: Callable[..., str | None], *args: Any,
         failures: Path) -> str:
    """One case, `case(*args)`: drivesim's own error ("refused") or a finite result ("accepted"); anything else
    fails, naming the door, the seed and the mutant (kept under `failures`)."""
    try:
        with _deadline(CASE_SECONDS):
            problem = case(*args)
    except DrivesimError:
        return "refused"
    except Exception as err:  # noqa: BLE001 - the point of the test
        problem = f"raised {type(err).__name__}: {str(err)[:600]}"
    if problem is None:
        return "accepted"
    kept = failures / f"{door}_{seed}_{Path(what).name}"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_bytes(mutant if isinstance(mutant, bytes) else mutant.encode("utf-8", "surrogatepass"))
    text = mutant.decode("utf-8", "replace") if isinstance(mutant, bytes) else mutant
    pytest.fail(f"{door} case {seed} ({what}) {problem}\n(mutant kept as {kept})\n--- mutant ---\n{text[:4000]}")


def _rng(salt: int, seed: int) -> random.Random:
    return random.Random(salt * 1_000_003 + seed)


def _both_paths(counts: dict[str, int], accepted_share: float = 0.1) -> None:
    """The mutants exercised both paths: many refused, and enough accepted to reach the numbers behind."""
    total = sum(counts.values())
    assert counts["refused"] > 0.1 * total and counts["accepted"] > accepted_share * total, counts


# --- door a: OpenSCENARIO files -------------------------------------------------------------------------

def _xosc_schedule(count: int) -> list[tuple[int, Path]]:
    straight = [p for p in XOSC if p.name not in NETWORK_XOSC]
    network = [p for p in XOSC if p.name in NETWORK_XOSC]
    out = []
    for seed in range(count):
        if seed % NETWORK_EVERY == NETWORK_EVERY - 1:
            out.append((seed, network[(seed // NETWORK_EVERY) % len(network)]))
        else:
            out.append((seed, straight[seed % len(straight)]))
    return out


def _xosc_case(path: Path, engine_frames: bool) -> str | None:
    return world_problem(read_scenario(path), engine_frames)


def test_openscenario_files_take_any_mutant(tmp_path):
    folder = tmp_path / "scenarios"  # the examples' catalogs and roads beside each mutant
    shutil.copytree(SCENARIOS, folder, ignore=shutil.ignore_patterns("*.yaml"))
    counts = {"refused": 0, "accepted": 0}
    for seed, base in _xosc_schedule(_cases("xosc")):
        mutant = mutate_xml(base.read_bytes(), _rng(1, seed))
        path = folder / "openscenario" / f"fuzz_{base.name}"
        path.write_bytes(mutant)
        engine_frames = seed % ENGINE_EVERY["xosc"] == 0
        counts[_run("xosc", seed, base.name, mutant, _xosc_case, path, engine_frames,
                    failures=tmp_path / "failures")] += 1
    _both_paths(counts)


# --- door b: OpenDRIVE files ------------------------------------------------------------------------------

def _start_lane(network) -> tuple[str, int, float]:
    """A road outside junctions, its first driving lane right of the centre, and an s 20% along it."""
    for road_id in sorted(network.roads):
        road = network.roads[road_id]
        if road.in_junction:
            continue
        lanes = road.laneSections[0].lanes
        driving = sorted((k for k, lane in lanes.items() if k < 0 and lane.type == "driving"), reverse=True)
        if driving:
            return road_id, driving[0], round(road.length * 0.2, 1)
    raise AssertionError("no driving lane in the example road")


def _yaml_on(road_file: str, network) -> str:
    """A scenario on an OpenDRIVE road: the ego and a car ahead of it with a lane change and a braking."""
    road, lane, s = _start_lane(network)
    return (f"name: fuzz_road\nduration_s: 4\nfps: 5\nroad: {{opendrive: {road_file}}}\n"
            f"environment: {{crowdedness: 0.3}}\n"
            f"ego: {{position: {{road: '{road}', lane: {lane}, s: {s}}}, speed_mps: 12}}\n"
            f"agents:\n  - id: lead\n    type: car\n    position: {{road: '{road}', lane: {lane}, s: {s + 25}}}\n"
            f"    speed_mps: 10\n    actions: [{{at_s: 1, lateral_m: 1.5, duration_s: 2}}, {{at_s: 1, speed_mps: 4}}]\n")


# the straight-road .xosc run on each OpenDRIVE example in scenarios/openscenario (the ones on scenarios/roads
# use the network runner: seconds a case)
XOSC_ON = {"straight_highway.xodr": "cut_in.xosc", "straight_two_lane.xodr": "alks_cut_in.xosc"}


def _xodr_case(road_file: Path, scenario_file: Path | None, engine_frames: bool) -> str | None:
    if problem := network_problem(read_road_network(road_file)):
        return problem
    return None if scenario_file is None else world_problem(read_scenario(scenario_file), engine_frames)


def test_opendrive_files_take_any_mutant(tmp_path):
    folder = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, folder, ignore=shutil.ignore_patterns("*.yaml"))
    originals = {p: p.read_bytes() for p in XODR}
    for p in XODR:
        (folder / p.parent.name / f"on_{p.stem}.yaml").write_text(_yaml_on(p.name, read_road_network(p)))
    counts = {"refused": 0, "accepted": 0}
    for seed in range(_cases("xodr")):
        base = XODR[seed % len(XODR)]
        mutant = mutate_xml(originals[base], _rng(2, seed))
        where = folder / base.parent.name
        (where / base.name).write_bytes(mutant)
        # every other road also carries a scenario: the YAML one, or the .xosc that runs on the file
        scenario = None if seed % 2 else where / f"on_{base.stem}.yaml"
        if scenario is not None and base.name in XOSC_ON and seed % 4 == 0:
            scenario = where / XOSC_ON[base.name]
        engine_frames = seed % ENGINE_EVERY["xodr"] == 0
        counts[_run("xodr", seed, base.name, mutant, _xodr_case, where / base.name, scenario, engine_frames,
                    failures=tmp_path / "failures")] += 1
        (where / base.name).write_bytes(originals[base])
    _both_paths(counts)


# --- the YAML format's numbers: no finite number makes a NaN world ---------------------------------------------

YAML_EXAMPLES = {p.name: p.read_text() for p in sorted(SCENARIOS.glob("*.yaml"))}
NUMBER = re.compile(r"(?<![\w.$-])-?\d+(?:\.\d*)?(?:e[-+]?\d+)?(?![\w.])")
HUGE_NUMBERS = ["1e308", "-1e308", "1.7976931348623157e308", "1e300", "-1e300", "1e200", "1e100", "1e30", "1e18",
                "1e15", "-1e15", "1e12", "-1e12", "1e9", "1e7", "1e6", "-1e6", "1e5", "5e-324", "1e-300", "1e-9", "0",
                "-0.0", "9223372036854775807", "-9223372036854775807", "4294967296", "3600", "3599.999"]


def mutate_numbers(text: str, rng: random.Random) -> str:
    """1 or 2 numbers of a scenario's text replaced by huge, tiny or boundary ones (or scaled)."""
    for _ in range(rng.choice((1, 1, 2))):
        spots = [m for m in NUMBER.finditer(text) if "#" not in text[text.rfind("\n", 0, m.start()) + 1:m.start()]]
        if not spots:
            return text
        m = rng.choice(spots)
        if rng.random() < 0.7:
            new = rng.choice(HUGE_NUMBERS)
        else:
            new = _write_number(float(m.group()) * rng.choice(SCALES + [-1e300, 1e300, 1e100]))
        text = text[:m.start()] + new + text[m.end():]
    return text


def _yaml_case(text: str, name: str, engine_frames: bool) -> str | None:
    # named by its path: a road file (road.opendrive) is read relative to the scenario's folder
    return world_problem(parse_scenario(text, str(SCENARIOS / name)), engine_frames)


def test_yaml_numbers_never_make_a_nan_world(tmp_path):
    names = sorted(YAML_EXAMPLES)
    counts = {"refused": 0, "accepted": 0}
    for seed in range(_cases("yaml")):
        name = names[seed % len(names)]
        mutant = mutate_numbers(YAML_EXAMPLES[name], _rng(3, seed))
        engine_frames = seed % ENGINE_EVERY["yaml"] == 0
        counts[_run("yaml", seed, name, mutant, _yaml_case, mutant, name, engine_frames,
                    failures=tmp_path / "failures")] += 1
    _both_paths(counts)


# --- door c: a bundle's config.yaml -----------------------------------------------------------------------------

CONFIG_JUNK: list[Any] = [
    None, True, False, 0, 1, 2, 3, -1, -2, 7, 64, 1000, 10**6, 2**31, 2**63 - 1, 10**18, 0.5, 1.5, -0.5, 1e-300,
    1e308, -1e308, 1e30, "", "x", "4", "ddim", "dpmpp", "lcm", "epsilon", "v_prediction", "linear", "leading",
    [], [1], [0], [-1], [4, 4], [10**6], [1, 2, 3], [[1]], {}, {"a": 1}, {"steps": 1},
]


NETWORK_SECTIONS = ("autoencoder", "unet", "interpolator", "upsampler")  # their numbers are the weights' shapes


def _leaves(data: Any, path: tuple = ()) -> list[tuple]:
    """Key paths of every value of a config mapping (list items included)."""
    out = [path] if path else []
    if isinstance(data, dict):
        for key, value in data.items():
            out += _leaves(value, path + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _leaves(value, path + (i,))
    return out


def _parent(data: Any, path: tuple) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


def mutate_config(data: dict, rng: random.Random) -> str:
    """1-3 edits of a bundle config (values replaced, scaled, deleted, duplicated, unknown keys added), dumped
    as YAML; sometimes the text is cut short."""
    import yaml

    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        leaves = _leaves(data)
        if rng.random() < 0.6:  # mostly numbers a bundle's weights do not pin down: they reach the sampling
            leaves = [p for p in leaves if p[0] not in NETWORK_SECTIONS] or leaves
        path = rng.choice(leaves)
        parent, key = _parent(data, path), path[-1]
        op = rng.randrange(8)
        if op <= 2:
            parent[key] = copy.deepcopy(rng.choice(CONFIG_JUNK))
        elif op <= 4 and isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
            value = parent[key] * rng.choice([0, -1, 2, 3, 10, 1000, 10**6]) + rng.choice([0, 0, 1, -1])
            parent[key] = int(value) if isinstance(parent[key], int) else float(value)
        elif op == 5:
            del parent[key]
        elif op == 6 and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        elif isinstance(parent, dict):
            parent[rng.choice(["bogus", "students", "steps", "name", "unet"])] = copy.deepcopy(rng.choice(CONFIG_JUNK))
    text = yaml.safe_dump(data, sort_keys=False)
    if rng.random() < 0.05:
        text = text[:rng.randrange(len(text) + 1)]
    return text


@pytest.fixture(scope="module")
def micro_bundle_dir(tmp_path_factory):
    from pipeline_fixtures import micro_bundle  # also sets torch to one thread

    from drivesim.models.bundle import save_bundle

    folder = tmp_path_factory.mktemp("bundle") / "micro"
    save_bundle(micro_bundle(), folder)
    return folder


SMALL_SCENARIO = "name: fuzz\nduration_s: 0.1\ncamera: {width: 64, height: 32}\nagents: [{id: a, type: car, lane: 1, " \
                 "distance_m: 12, speed_mps: 9}]\n"


def frames_problem(frames: list, labels: list) -> str | None:
    """Frames of the asked size with something in them (a NaN in the latents comes out as all-black frames),
    labels all finite."""
    for i, frame in enumerate(frames):
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            return f"frame {i} is {frame.dtype} {frame.shape}, not (height, width, 3) uint8"
        if frame.max() == frame.min():
            return f"frame {i} is one flat colour {frame.flat[0]} (a NaN in the latents?)"
    for fc in labels:
        numbers = [fc.timestamp_s, fc.crowdedness]
        for box in fc.boxes:
            numbers += [*box.bbox_xyxy, *box.location_m, *box.size_m, box.rotation_y, box.distance_m]
        if problem := _not_finite(f"frame {fc.index}'s labels", numbers):
            return problem
    return None


def _bundle_case(folder: Path) -> str | None:
    """The bundle loads and makes a frame with finite labels and something in it, or is refused."""
    from drivesim.api import DriveSimPipeline
    from drivesim.models.bundle import load_bundle
    from drivesim.pipeline.generate import VideoPipeline
    from drivesim.pipeline.options import GenerateOptions

    bundle = load_bundle(folder)
    out = DriveSimPipeline(VideoPipeline(bundle, GenerateOptions(progress=False, steps=2)), folder)(SMALL_SCENARIO)
    return frames_problem(out.frames, out.labels)


def test_bundle_configs_take_any_mutant(micro_bundle_dir, tmp_path):
    import yaml

    from drivesim.models.bundle import CONFIG_FILE

    folder = tmp_path / "micro"
    shutil.copytree(micro_bundle_dir, folder)
    data = yaml.safe_load((folder / CONFIG_FILE).read_text())
    counts = {"refused": 0, "accepted": 0}
    for seed in range(_cases("bundle")):
        mutant = mutate_config(data, _rng(4, seed))
        (folder / CONFIG_FILE).write_text(mutant)
        counts[_run("bundle", seed, CONFIG_FILE, mutant, _bundle_case, folder, failures=tmp_path / "failures")] += 1
    _both_paths(counts, accepted_share=0.03)  # most edits of a network's numbers no longer fit its weights


# --- door d: the Python API's arguments ---------------------------------------------------------------------------

class _Odd:
    """An object of no type any argument takes."""


ARGUMENT_JUNK: list[Any] = [
    None, True, False, 0, 1, 2, 3, -1, -3, 2**31 - 1, 2**31, 2**63, 10**30, -10**30, 0.0, 0.5, 1.0, 2.5, -0.5, 7.0,
    float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 1e30, 100.0, 101.0, 1000, 1001, "", "x", "1", "ddim",
    "dpmpp", "lcm", "cpu", "cuda", "cuda:0", "meta", "fp32", "bf16", "auto", "fp16", [], [1], {}, {"a": 1}, (1, 2),
    b"x", np.float32("nan"), np.float64(2.0), np.int64(3), np.int64(-3), np.bool_(True), complex(1, 1), _Odd(),
    Path("."),
]
# every option of a call (`compile` only False: torch.compile of a valid call takes minutes on a CPU) and some
# that are none
OPTION_NAMES = ["seed", "steps", "sampler", "guidance", "context_guidance", "image_only", "super_resolution",
                "batched_guidance", "progress", "sr_steps", "interpolation_steps", "precision", "student",
                "session_clip_keyframes", "session_fast_provisional", "session_reuse_segments", "session_window_context",
                "device", "stepz", "callback", "scenario"]
# valid values that keep a valid call cheap (one 64x32 frame in well under a second); mixed in so that some
# calls pass and reach the models
CHEAP = {"seed": [0, 7, 2**31 - 1], "steps": [1, 2], "sampler": ["ddim", "dpmpp"], "guidance": [0.0, 1.0, 3.0],
         "context_guidance": [1.0, 2.0], "sr_steps": [1, 2], "interpolation_steps": [1, 2], "precision": ["fp32"],
         "session_clip_keyframes": [1, 2, None], "session_window_context": [0, 1]}


def _junk(name: str, rng: random.Random) -> Any:
    if name in CHEAP and rng.random() < 0.5:
        return rng.choice(CHEAP[name])
    if name in ("image_only", "super_resolution", "batched_guidance", "progress", "student",
                "session_fast_provisional", "session_reuse_segments") and rng.random() < 0.5:
        return rng.random() < 0.5
    return rng.choice(ARGUMENT_JUNK)


def _overrides(rng: random.Random) -> dict[str, Any]:
    names = rng.sample(OPTION_NAMES, rng.choice((1, 1, 2, 3)))
    out = {name: _junk(name, rng) for name in names}
    if "steps" not in out:  # the bundle's default steps would make a valid call slow
        out["steps"] = rng.choice(CHEAP["steps"])
    return out


def _api_case(pipe, bundle_dir: Path, plan: list, form: str, scenario: Any, overrides: dict[str, Any],
              rng: random.Random, made: list[int]) -> str | None:
    from drivesim.api import DriveSimPipeline

    if form == "call":
        options = {k: v for k, v in overrides.items() if k not in ("callback", "scenario")}
        callback = overrides.get("callback")

        def counting(p, index, frame):  # counts the frames made; then calls the junk callback (if callable)
            made.append(index)
            return callback(p, index, frame) if callable(callback) else None

        given = counting if "callback" not in overrides or callable(callback) else callback
        out = pipe(scenario, callback=given, **options)
        return frames_problem(out.frames, out.labels)
    overrides.pop("scenario", None)  # the first argument
    if form == "stream":
        frame = next(pipe.stream(scenario, **overrides))
        return frames_problem([frame.image], [frame.labels])
    if form == "session":
        session = pipe.session(scenario, seed=overrides.pop("seed", None), **overrides)
        return frames_problem(session.step(plan[:1]), plan[:1])
    if form == "from_pretrained":
        overrides.pop("device", None)  # an argument of its own
        path = bundle_dir if rng.random() < 0.5 else rng.choice(ARGUMENT_JUNK)
        device = "cpu" if rng.random() < 0.5 else rng.choice(ARGUMENT_JUNK)
        loaded = DriveSimPipeline.from_pretrained(path, device=device, **overrides)
        return None if isinstance(loaded, DriveSimPipeline) else f"from_pretrained gave {loaded!r}"
    try:
        pipe.set_progress_bar_config(**{name: _junk(name, rng) for name in rng.sample(["disable", "leave"], 1)})
        if not isinstance(pipe.pipeline.options.progress, bool):
            return f"progress is {pipe.pipeline.options.progress!r}"
    finally:
        pipe.set_progress_bar_config(disable=True)
    return None


def test_api_arguments_are_checked_before_any_work(micro_bundle_dir, tmp_path):
    from drivesim.api import DriveSimPipeline
    from drivesim.scenario.engine import ScenarioEngine

    pipe = DriveSimPipeline.from_pretrained(micro_bundle_dir)
    pipe.set_progress_bar_config(disable=True)
    plan = list(ScenarioEngine(parse_scenario(SMALL_SCENARIO)).frames())
    counts = {"refused": 0, "accepted": 0}
    for seed in range(_cases("api")):
        rng = _rng(5, seed)
        form = rng.choice(["call", "call", "call", "stream", "session", "session", "from_pretrained", "progress"])
        overrides = _overrides(rng)
        scenario = SMALL_SCENARIO if rng.random() < 0.85 else rng.choice(ARGUMENT_JUNK)
        made: list[int] = []  # frames made before an error: the work an argument check should have saved
        shown = f"{form}({scenario!r:.40}, {overrides!r:.300})"
        result = _run("api", seed, form, shown, _api_case, pipe, micro_bundle_dir, plan, form, scenario, overrides,
                      rng, made, failures=tmp_path / "failures")
        if result == "refused" and made:
            pytest.fail(f"api case {seed}: {shown} was refused after {len(made)} frame(s) were made: an argument "
                        "must be checked before any work")
        counts[result] += 1
    _both_paths(counts)


# --- door e: trajectory lines (docs/trajectory-format.md) ------------------------------------------------------

TRAJECTORY_CASES = 800  # ~12 s: a case plans at most a few frames


def _trajectory_lines() -> list[str]:
    """A valid 8-line drive: a braking lead car, a truck passing, a cyclist placed from the camera appearing, a
    world-pose car on the lines that give the ego's pose, night falling."""
    lines = []
    for k in range(8):
        t = round(k / 10, 6)
        actors = [{"id": "lead", "type": "car", "lateral_m": 5.25, "distance_m": 20 - 1.5 * t, "speed_mps": 10 - 3 * t},
                  {"id": "truck", "type": "truck", "lateral_m": 8.75, "distance_m": 4 + 3 * t, "speed_mps": 13,
                   "heading_rad": 0.05, "size_m": [8.0, 2.5, 3.2]}]
        if k >= 4:
            actors.append({"id": "bike", "type": "cyclist", "x_m": -2.5, "distance_m": 12 - t, "speed_mps": 4})
        line: dict[str, Any] = {"timestamp_s": t, "ego": {"speed_mps": 10, "lateral_m": 5.25 - 0.1 * k}, "actors": actors}
        if k == 5:
            line["environment"] = {"time_of_day": "night", "crowdedness": 0.3}
        lines.append(json.dumps(line))
    return lines


TRAJECTORY_VALUES = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e308", "1e6", "1000001", "-1e6", "0", "-0.0",
                     "5e-324", "9" * 5000, "-" + "9" * 400, "true", "null", '"5"', '""', "[]", "{}", '"tank"', '"car"',
                     "[1, 2]", "[1e308, 1, 1]", "-1", "0.05", "3.5", "500", "1e-9", '"night"', '"dusk"']


def mutate_trajectory(lines: list[str], rng: random.Random) -> str:
    """1-3 edits of a trajectory's text: a number (or any JSON value) replaced, a key renamed or dropped, a
    line duplicated, dropped, swapped or cut at a random character, an actor copied many times."""
    lines = list(lines)
    for _ in range(rng.choice((1, 1, 2, 3))):
        k = rng.randrange(len(lines)) if lines else 0
        kind = rng.random()
        if not lines:
            break
        if kind < 0.5:  # a value
            spots = list(re.finditer(r'(?<=: )(-?[0-9][0-9.e+-]*|"[a-z]+"|\[[^\]]*\])', lines[k]))
            if spots:
                m = rng.choice(spots)
                new = rng.choice(TRAJECTORY_VALUES) if rng.random() < 0.8 else \
                    _write_number((_number(m.group()) or 1.0) * rng.choice(SCALES))
                lines[k] = lines[k][:m.start()] + new + lines[k][m.end():]
        elif kind < 0.6:  # a key renamed or dropped
            keys = list(re.finditer(r'"([a-z_]+)": ', lines[k]))
            if keys:
                m = rng.choice(keys)
                lines[k] = lines[k][:m.start()] + rng.choice(['"agents": ', '"x": ', '"pose": ', '"id": ', ""]) + \
                    lines[k][m.end():]
        elif kind < 0.7:
            lines.insert(k, lines[k])
        elif kind < 0.75:
            del lines[k]
        elif kind < 0.85 and len(lines) > 1:
            j = rng.randrange(len(lines))
            lines[k], lines[j] = lines[j], lines[k]
        elif kind < 0.95:
            lines[k] = lines[k][:rng.randrange(len(lines[k]) + 1)]
        else:  # a pile of actors, some over the per-line cap
            data = json.loads(lines[k]) if lines[k].startswith("{") and lines[k].endswith("}") else None
            if isinstance(data, dict) and isinstance(data.get("actors"), list) and data["actors"]:
                first = data["actors"][0]
                n = rng.choice((50, 499, 501, 2000))
                data["actors"] = [{**first, "id": f"a{i}"} if isinstance(first, dict) else first for i in range(n)]
                lines[k] = json.dumps(data)
    return "\n".join(lines) + "\n"


def _trajectory_case(text: str) -> str | None:
    from drivesim.scenario.trajectory import parse_trajectory_lines, trajectory_conditions
    from pipeline_fixtures import HEADER

    header = parse_scenario(HEADER, "header.yaml")
    states = parse_trajectory_lines(text.splitlines(), "drive.jsonl")
    for index, fc in enumerate(trajectory_conditions(header, states, "drive.jsonl")):
        road = fc.road
        numbers = [fc.timestamp_s, fc.crowdedness, *(fc.ego_pose or ())]
        if road is not None:
            numbers += [road.lane_width_m, road.ego_lateral_m, road.ego_speed_mps, road.ego_travel_m]
        for box in fc.boxes:
            numbers += [*box.bbox_xyxy, box.truncation, box.occlusion, *box.location_m, *box.size_m, box.rotation_y,
                        box.distance_m, *(box.world_pose or ())]
        if problem := _not_finite(f"frame {index}'s numbers", numbers):
            return problem
    return None


def test_trajectory_lines_take_any_mutant(tmp_path):
    """Seeded mutations of trajectory text: refused with a located ScenarioError, or planned into finite labels."""
    base = _trajectory_lines()
    assert _trajectory_case("\n".join(base) + "\n") is None  # the unmutated drive is accepted
    counts = {"refused": 0, "accepted": 0}
    for seed in range(max(TRAJECTORY_CASES, int(os.environ.get("DRIVESIM_FUZZ_CASES", "0") or 0))):
        mutant = mutate_trajectory(base, _rng(6, seed))
        counts[_run("trajectory", seed, "drive.jsonl", mutant, _trajectory_case, mutant,
                    failures=tmp_path / "failures")] += 1
    _both_paths(counts, accepted_share=0.05)  # the format is strict by design: most edits are errors
