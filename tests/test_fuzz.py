"""Fuzz: seeded mutations of the example scenarios never raise anything but drivesim's own errors.

    python -m pytest tests/test_fuzz.py -x -q

Thousands of mutants go through the loader (and, when valid, the engine's first frames); a few
hundred through each command that reads a scenario, with main() called in-process. A failure
prints the seed and the mutant, so it replays exactly. The mutations are text edits a person or
a broken generator might make: values swapped for hostile ones (huge or non-finite numbers,
nulls, tags, aliases, deep brackets), lines deleted, duplicated, re-indented or cut short.
"""

from __future__ import annotations

import functools
import random
import re
from pathlib import Path

import pytest

from drivesim import cli
from drivesim.cli import main
from drivesim.errors import DrivesimError
from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.loader import parse_scenario

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = {p.name: p.read_text() for p in sorted((REPO / "scenarios").glob("*.yaml"))}
LOADER_MUTANTS = 3000
CLI_MUTANTS = 200  # per command
ENGINE_EVERY = 20  # valid loader mutants whose first frames the engine plans

HOSTILE_VALUES = [
    "1" + "0" * 400, "-1" + "0" * 40, "1" + "0" * 5000, ".nan", ".inf", "-.inf", "1e400", "1.0e400", "-1", "0",
    "-0.0", "2147483648", "4294967296", "1e-320", "~", "null", "''", '""', "[]", "{}", "[1, 2]", "{a: 1}", "[[[[",
    "]]", "*nope", "&anchor 3", "!!binary aGVsbG8=", "!!python/object/apply:os.system ['true']", "!custom 3",
    "!!float 1", "!!int x", "true", "no", "on", "2026-11-27", "12:30:00", "0x1F", "0o17", "1_000", "'3'", "é",
    "\x00", "\t", "- a", ": :", "? a", "| text", "> text", "%YAML 1.1", "---", "...", "<<: *nope", "x" * 300,
    "[" * 300 + "]" * 300, "{" * 200, "a" * 70, "car", "night", "3600", "3600.0001", "120.5", "8", "9",
]
CLI_SEEDS = [None, None, None, "0", "7", "-1", "2147483647", "2147483648", "x"]


def mutate(text: str, rng: random.Random) -> str:
    """1-3 random edits of a scenario text."""
    for _ in range(rng.randint(1, 3)):
        lines = text.split("\n") or [""]
        i = rng.randrange(len(lines))
        op = rng.randrange(9)
        if op <= 2:  # a value (after the last ': ' of a line, or a flow item) becomes a hostile one
            line = lines[i]
            spots = [m.end() for m in re.finditer(r": |\[|, |- ", line)]
            if spots:
                at = rng.choice(spots)
                end = min((k for k in (line.find(c, at) for c in ",]}#") if k >= 0), default=len(line))
                lines[i] = line[:at] + rng.choice(HOSTILE_VALUES) + line[end:]
            else:
                lines[i] = line + ": " + rng.choice(HOSTILE_VALUES)
        elif op == 3:
            del lines[i]
        elif op == 4:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op == 5:  # re-indent
            lines[i] = " " * rng.choice((0, 1, 2, 3, 4, 6, 8)) + lines[i].lstrip()
        elif op == 6:  # a new key, maybe known, maybe not
            key = rng.choice(["name", "duration_s", "fps", "seed", "camera", "agents", "lane", "type", "version",
                              "speed_mps", "size_m", "events", "at_s", "bogus", "<<"])
            lines.insert(i, " " * rng.choice((0, 2, 4, 6)) + f"{key}: {rng.choice(HOSTILE_VALUES)}")
        elif op == 7:  # one character changed
            line = lines[i]
            if line:
                k = rng.randrange(len(line))
                lines[i] = line[:k] + rng.choice("-:[]{}&*!|>'\"#%@`,?\t 09.e") + line[k + 1:]
        else:  # cut short
            text = text[:rng.randrange(len(text) + 1)]
            continue
        text = "\n".join(lines)
    return text


def _mutants(count: int, base: dict[str, str], salt: int) -> list[tuple[int, str, str]]:
    names = sorted(base)
    out = []
    for seed in range(count):
        rng = random.Random(salt * 1_000_003 + seed)
        name = names[seed % len(names)]
        out.append((seed, name, mutate(base[name], rng)))
    return out


def test_loader_and_engine_take_any_mutant():
    valid = 0
    for seed, name, text in _mutants(LOADER_MUTANTS, EXAMPLES, salt=1):
        try:  # named by its path: a road file (road.opendrive) is read relative to the scenario's folder
            scenario = parse_scenario(text, str(REPO / "scenarios" / name))
            valid += 1
            if seed % ENGINE_EVERY == 0:  # building an engine takes ~50 ms: a sample of the valid ones
                engine = ScenarioEngine(scenario)
                for index in range(min(3, scenario.num_frames)):
                    engine.frame(index)
        except DrivesimError:
            pass
        except Exception as err:  # noqa: BLE001 - the point of the test
            pytest.fail(f"mutant {seed} of {name} raised {type(err).__name__}: {err}\n--- text ---\n{text[:3000]}")
    # The mutants must exercise both paths: many invalid, and enough still valid to reach the engine.
    assert 0.1 * LOADER_MUTANTS < valid < 0.9 * LOADER_MUTANTS, valid


def _small(text: str) -> str:
    """The example at 0.5 fps and 64x32 pixels, so a valid mutant renders in milliseconds."""
    text = re.sub(r"(?m)^fps: .*$", "fps: 0.5", text) if re.search(r"(?m)^fps:", text) else text + "\nfps: 0.5\n"
    return text + "\ncamera: {width: 64, height: 32}\n"


SMALL = {name: _small(text) for name, text in EXAMPLES.items()}


@pytest.fixture(scope="module")
def schematic_server():
    import drivesim.serve  # noqa: F401 - sets gRPC's fork option before grpc loads
    from drivesim.serve.generator import SchematicGenerator
    from drivesim.serve.limits import Limits
    from drivesim.serve.server import DrivesimServer, ServeConfig

    # Short scenarios only: the client writes PNGs and videos of whatever the server streams.
    limits = Limits(max_duration_s=4.0, max_pixels=64 * 32)
    with DrivesimServer(SchematicGenerator(), ServeConfig(port=0, limits=limits)) as server:
        yield server


def _commands(tmp: Path, server: str) -> dict[str, list[str]]:
    return {"validate": ["validate", "{file}"],
            "plan": ["plan", "{file}", "-o", str(tmp / "labels.jsonl")],
            "preview": ["preview", "{file}", "-o", str(tmp / "preview.png")],
            "export": ["export", "{file}", "-o", str(tmp / "dataset"), "--source", "schematic", "-q"],
            "generate": ["generate", "{file}", "-o", str(tmp / "generated"), "-q"],
            "client": ["client", "{file}", "-o", str(tmp / "client_out"), "--server", server]}


@pytest.mark.parametrize("command", ["validate", "plan", "preview", "export", "generate", "client"])
def test_every_scenario_command_takes_any_mutant(command, tmp_path, monkeypatch, capsys, schematic_server):
    import shutil

    import drivesim.pipeline.generate as pipeline

    def no_model(*args, **kwargs):
        # The fuzz is about inputs: stop `generate` where the model would start (its own tests run it).
        raise DrivesimError("fuzz: the model is not loaded in this test")

    monkeypatch.setattr(pipeline, "load_checkpoint", no_model)
    # One parser for all mutants: building it takes longer than validating most of them.
    monkeypatch.setattr(cli, "build_parser", functools.lru_cache(maxsize=None)(cli.build_parser))
    argv_template = _commands(tmp_path, schematic_server.address)[command]
    salt = 100 + ["validate", "plan", "preview", "export", "generate", "client"].index(command)
    codes = {0: 0, 1: 0}
    for seed, name, text in _mutants(CLI_MUTANTS, SMALL, salt=salt):
        path = tmp_path / name
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        argv = [a.replace("{file}", str(path)) for a in argv_template]
        cli_seed = random.Random(seed).choice(CLI_SEEDS)
        if cli_seed is not None and command in ("plan", "preview", "generate", "client"):
            argv += ["--seed", cli_seed]
        try:
            code = main(argv)
        except Exception as err:  # noqa: BLE001 - the point of the test
            pytest.fail(f"`drivesim {' '.join(argv)}` on mutant {seed} of {name} raised "
                        f"{type(err).__name__}: {err}\n--- text ---\n{text[:3000]}")
        out = capsys.readouterr()
        assert code in (0, 1), (seed, code)
        assert "Traceback" not in out.err, (seed, out.err[-2000:])
        codes[code] += 1
        for leftover in ("dataset", "generated", "client_out"):  # every mutant starts from a clean folder
            shutil.rmtree(tmp_path / leftover, ignore_errors=True)
    assert codes[1] > 0 and (codes[0] > 0 or command == "generate"), codes
