"""Scenario loading: the example scenarios, defaults, and located errors for bad inputs.

    python -m pytest tests/test_scenario_loader.py -x -q
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from drivesim.cli import main
from drivesim.errors import DrivesimError, ScenarioError
from drivesim.scenario.checks import SIDEWALK_MARGIN_M, check_scenario
from drivesim.scenario.format import DEFAULT_SIZE_M
from drivesim.scenario.loader import ScenarioIssue, load_scenario, parse_scenario, validate_scenario_text

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "scenarios").glob("*.yaml"))

# A valid scenario the bad cases below are variations of.
GOOD = """\
version: 1
name: probe
duration_s: 8
environment:
  time_of_day: night
  crowdedness: 0.5
road: {lanes: 3, lane_width_m: 3.5}
ego: {lane: 1, speed_mps: 15}
agents:
  - id: lead
    type: car
    lane: 1
    distance_m: 20
    speed_mps: 12
    actions:
      - {at_s: 2, lane_change_to: 2, duration_s: 2}
      - {at_s: 5, speed_mps: 4}
"""


# --- the example scenarios ------------------------------------------------------------------

def test_examples_are_there():
    names = {p.stem for p in EXAMPLES}
    assert {"highway_cut_in", "night_merge", "crowded_urban_pedestrians", "day_to_night",
            "truck_overtake", "lead_brake"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_validates(path):
    assert validate_scenario_text(path.read_text(), str(path)) == []  # its road file is relative to it
    scenario = load_scenario(path)
    assert scenario.name == path.stem  # file name and scenario name agree
    assert check_scenario(scenario) == []
    assert 4 <= scenario.duration_s <= 20 and scenario.fps == 10


def test_examples_are_varied():
    scenarios = [load_scenario(p) for p in EXAMPLES]
    assert {s.environment.time_of_day for s in scenarios} == {"day", "night"}
    assert any(s.environment.events for s in scenarios)
    types = {a.type for s in scenarios for a in s.agents}
    assert {"car", "truck", "pedestrian", "cyclist"} <= types
    actions = [x for s in scenarios for a in s.agents for x in a.actions]
    assert any(x.lane_change_to is not None for x in actions)
    assert any(x.lateral_m is not None for x in actions)
    assert any(x.speed_mps is not None for x in actions)


def test_validate_examples_cli(capsys):
    assert main(["validate", *map(str, EXAMPLES)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(EXAMPLES) and all(": ok (" in line for line in out)


# --- defaults and the public API ------------------------------------------------------------

def test_defaults_applied():
    s = parse_scenario("name: m\nduration_s: 3\nagents:\n  - {id: p, type: pedestrian, lateral_m: -1, distance_m: 9}\n")
    assert (s.version, s.seed, s.fps, s.num_frames) == (1, 0, 10.0, 30)
    assert (s.camera.width, s.camera.height, s.camera.fov_deg, s.camera.mount_height_m) == (1024, 512, 90.0, 1.5)
    assert (s.environment.time_of_day, s.environment.crowdedness, s.environment.events) == ("day", 0.0, [])
    assert (s.road.lanes, s.road.lane_width_m, s.ego.lane, s.ego.speed_mps) == (3, 3.5, 0, 10.0)
    agent = s.agents[0]
    assert agent.speed_mps == 0.0 and agent.actions == [] and agent.size == DEFAULT_SIZE_M["pedestrian"]


def test_issue_string_format():
    issue = ScenarioIssue("night.yaml", 12, 5, "agents[0].lane", "lane 4 does not exist (road has 3 lanes)", "use 0..2")
    assert str(issue) == "night.yaml:12:5: agents[0].lane: lane 4 does not exist (road has 3 lanes) -- use 0..2"
    assert str(ScenarioIssue("x.yaml", None, None, "", "file not found")) == "x.yaml: file not found"


def test_parse_and_load_agree(tmp_path):
    path = tmp_path / "probe.yaml"
    path.write_text(GOOD)
    assert load_scenario(path) == parse_scenario(GOOD) == load_scenario(str(path))
    assert validate_scenario_text(GOOD) == []


def test_anchors_and_merge_keys_work():
    text = GOOD + "  - <<: &truck {type: truck, lane: 0, speed_mps: 10}\n    id: t1\n    distance_m: 30\n" \
                  "  - <<: *truck\n    id: t2\n    distance_m: 60\n    lane: 2\n"
    s = parse_scenario(text)
    assert [(a.id, a.type, a.lane) for a in s.agents[1:]] == [("t1", "truck", 0), ("t2", "truck", 2)]


def test_exponent_numbers_are_numbers():
    # PyYAML (YAML 1.1) reads an unquoted 1e1 as text; a scenario author means ten.
    assert parse_scenario("name: x\nduration_s: 1e1\n").duration_s == 10.0
    assert parse_scenario("name: '1e1'\nduration_s: 2\n").name == "1e1"  # quoted stays text


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert load_scenario(path).name == "probe"


# --- bad inputs: each located at file, line and key path ------------------------------------

def _agent(extra: str = "", lane: str = "lane: 1") -> str:
    """GOOD's first lines plus one agent (starting at line 10) with `extra` lines."""
    head = GOOD.split("agents:")[0] + "agents:\n"
    return head + f"  - id: a\n    type: car\n    {lane}\n    distance_m: 20\n" + extra


BAD = [
    # (case id, text, line, key path, part of the message)
    ("yaml_syntax", "name: x\nduration_s: [1, 2\nfps: 3\n", 3, "", "YAML syntax error"),
    ("tab_indent", "name: x\nroad:\n\tlanes: 2\n", 3, "", "indent with spaces, not tabs"),
    ("two_documents", "name: x\nduration_s: 1\n---\nname: y\n", 3, "", "second YAML document"),
    ("top_level_list", "- name: x\n- duration_s: 3\n", 1, "", "top level must be a mapping"),
    ("top_level_scalar", "just some text\n", 1, "", "top level must be a mapping"),
    ("empty_file", "", 1, "", "file is empty"),
    ("comments_only", "# nothing here\n", 1, "", "file is empty"),
    ("missing_name", "version: 1\nduration_s: 5\n", 1, "name", "missing required key"),
    ("missing_duration", "name: x\nfps: 5\n", 1, "duration_s", "missing required key"),
    ("missing_agent_id", _agent().replace("  - id: a\n    type", "  - type"), 10, "agents[0].id",
     "missing required key"),
    ("negative_duration", "name: x\nduration_s: -4\n", 2, "duration_s", "must be > 0, got -4"),
    ("unknown_key_did_you_mean", _agent("    sped_mps: 3\n"), 14, "agents[0].sped_mps",
     "unknown key -- did you mean 'speed_mps'?"),
    ("unknown_key_wrong_section", GOOD + "lanes: 4\n", 18, "lanes", "'lanes' belongs under road"),
    ("bad_time_of_day", GOOD.replace("time_of_day: night", "time_of_day: dusk"), 5, "environment.time_of_day",
     "expected one of day, night, got 'dusk'"),
    ("crowdedness_above_1", GOOD.replace("crowdedness: 0.5", "crowdedness: 1.5"), 6, "environment.crowdedness",
     "must be <= 1, got 1.5"),
    ("agent_lane_out_of_range", _agent(lane="lane: 4"), 12, "agents[0].lane",
     "lane 4 does not exist (road has 3 lanes) -- use 0..2"),
    ("ego_lane_out_of_range", GOOD.replace("lanes: 3,", "lanes: 1,"), 8, "ego.lane",
     "lane 1 does not exist (road has 1 lane) -- use 0"),
    ("lane_change_out_of_range", GOOD.replace("lane_change_to: 2", "lane_change_to: 3"), 16,
     "agents[0].actions[0].lane_change_to", "lane 3 does not exist"),
    ("duplicate_agent_id", _agent("  - {id: a, type: bus, lane: 0, distance_m: 40}\n"), 14, "agents[1].id",
     "id 'a' is already used by agents[0]"),
    ("reserved_bg_id", _agent().replace("id: a", "id: bg_3"), 10, "agents[0].id", "reserved for background traffic"),
    ("action_after_duration", GOOD.replace("at_s: 5,", "at_s: 9,"), 17, "agents[0].actions[1].at_s",
     "after the end of the scenario (duration_s is 8)"),
    ("events_out_of_order", GOOD.replace("  crowdedness: 0.5\n", "  crowdedness: 0.5\n  events:\n"
                                         "    - {at_s: 6, time_of_day: day}\n    - {at_s: 3, crowdedness: 0.1}\n"),
     9, "environment.events[1].at_s", "events are out of order: 3 s comes after 6 s"),
    ("overlapping_speed_actions", _agent("    actions:\n      - {at_s: 1, speed_mps: 5, duration_s: 3}\n"
                                         "      - {at_s: 2, speed_mps: 9}\n"), 16, "agents[0].actions[1].at_s",
     "still changing the speed (until 4 s)"),
    ("negative_size", _agent("    size_m: [4.0, -1.8, 1.5]\n"), 14, "agents[0].size_m[1]", "must be > 0, got -1.8"),
    ("size_two_values", _agent("    size_m: [4.0, 1.8]\n"), 14, "agents[0].size_m", "expected exactly 3 values, got 2"),
    ("fov_out_of_range", GOOD + "camera: {fov_deg: 200}\n", 18, "camera.fov_deg", "must be < 179, got 200"),
    ("string_for_number", GOOD.replace("duration_s: 8", "duration_s: eight"), 3, "duration_s",
     "expected a number, got 'eight'"),
    ("quoted_number", GOOD.replace("speed_mps: 15", 'speed_mps: "15"'), 8, "ego.speed_mps", "remove the quotes"),
    ("float_for_lane", _agent(lane="lane: 1.0"), 12, "agents[0].lane", "expected a whole number, got 1.0"),
    ("both_lane_and_lateral", _agent("    lateral_m: 2.0\n"), 10, "agents[0]", "set exactly one of lane or lateral_m"),
    ("bad_agent_type", _agent().replace("type: car", "type: van"), 11, "agents[0].type",
     "expected one of car, truck, bus, pedestrian, cyclist, motorcycle"),
    ("version_2", GOOD.replace("version: 1", "version: 2"), 1, "version", "this drivesim reads version 1"),
    ("duplicate_key", GOOD.replace("    distance_m: 20\n", "    distance_m: 20\n    distance_m: 30\n"), 14,
     "agents[0].distance_m", "duplicate key (first given at line 13)"),
    ("vehicle_off_road", _agent(lane="lateral_m: -1.0"), 12, "agents[0].lateral_m", "is not on the road (0..10.5 m"),
    ("pedestrian_beyond_sidewalk", _agent(lane="lateral_m: 16.0").replace("type: car", "type: pedestrian"), 12,
     "agents[0].lateral_m", "use -5..15.5"),
    ("empty_action", _agent("    actions:\n      - {at_s: 1}\n"), 15, "agents[0].actions[0]",
     "an action must set lane_change_to, lateral_m or speed_mps"),
    ("section_not_a_mapping", GOOD + "camera: wide\n", 18, "camera", "expected a mapping"),
    ("unsafe_tag", "name: !!python/object/apply:os.system ['true']\nduration_s: 2\n", 1, "name",
     "unsupported YAML tag"),
    ("custom_scalar_tag", "name: x\nduration_s: !seconds 2\n", 2, "duration_s", "cannot read value"),
    ("empty_name", GOOD.replace("name: probe", "name: ''"), 2, "name", "must not be empty"),
    # Inputs that used to end in a traceback (OverflowError, pydantic's JSON recursion limit at 1:1).
    ("integer_too_large_for_a_float", "name: x\nduration_s: 1" + "0" * 400 + "\n", 2, "duration_s",
     "number too large (401 digits)"),
    ("integer_beyond_python_str_limit", "name: x\nduration_s: 1" + "0" * 5000 + "\n", 2, "duration_s",
     "number too large"),
    ("not_a_number", "name: x\nduration_s: .nan\n", 2, "duration_s", "expected a finite number, got .nan"),
    ("nested_300_deep", "name: x\nduration_s: 2\nagents: " + "[" * 300 + "]" * 300 + "\n", 3,
     "agents" + "[0]" * 32, "nested more than 32 levels deep"),
    ("null_required_key", "name:\nduration_s: 2\n", 1, "name", "has no value; expected text -- give it a value, e.g."),
]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("case,text,line,key_path,message", BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_located(tmp_path, capsys, case, text, line, key_path, message):
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    hits = [i for i in info.value.issues if i.key_path == key_path and message in str(i)]
    assert hits, f"no issue at {key_path!r} saying {message!r} in:\n{info.value}"
    issue = hits[0]
    assert (issue.file, issue.line) == (str(path), line), str(issue)
    assert str(issue).startswith(f"{path}:{line}:")
    assert issue.column is not None and issue.column >= 1
    # The same through the command line: exit status 1, the issue printed, no traceback.
    assert main(["validate", str(path)]) == 1
    captured = capsys.readouterr()
    assert str(issue) in captured.err
    assert "Traceback" not in captured.out + captured.err


def test_bad_inputs_are_distinct():
    assert len({c[0] for c in BAD}) == len(BAD) >= 15
    assert len({c[1] for c in BAD}) == len(BAD)  # each a different file


def test_all_errors_reported_at_once(tmp_path, capsys):
    text = GOOD.replace("time_of_day: night", "time_of_day: dusk") \
               .replace("lane: 1\n    distance", "lane: 7\n    distance") \
               .replace("speed_mps: 12", "sped_mps: 12")
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    located = [(i.line, i.key_path) for i in info.value.issues]
    assert located == [(5, "environment.time_of_day"), (12, "agents[0].lane"), (14, "agents[0].sped_mps")]
    assert validate_scenario_text(text, "bad.yaml") == [
        ScenarioIssue("bad.yaml", *(i.line, i.column, i.key_path, i.message, i.hint)) for i in info.value.issues]
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "3 errors" in err and len(re.findall(r"bad\.yaml:\d+:\d+: ", err)) == 3


def test_sidewalk_margin_is_the_documented_one():
    doc = (REPO / "docs" / "scenario-format.md").read_text()
    assert f"up to **{SIDEWALK_MARGIN_M:g} m**" in doc
    ok = _agent(lane=f"lateral_m: {-SIDEWALK_MARGIN_M}").replace("type: car", "type: pedestrian")
    assert validate_scenario_text(ok) == []


def test_alias_bomb_and_recursion_are_refused_quickly():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    assert "more than" in str(validate_scenario_text(bomb)[0])
    issues = validate_scenario_text("name: x\nduration_s: 2\nagents: &a [*a]\n")
    assert any("refers to itself" in i.message for i in issues)


# --- files that cannot be read, and the command line -----------------------------------------

def test_missing_file_and_directory(tmp_path, capsys):
    for target, message in [(tmp_path / "nope.yaml", "file not found"), (tmp_path, "is a directory")]:
        with pytest.raises(DrivesimError, match=message):
            load_scenario(target)
        assert main(["validate", str(target)]) == 1
        captured = capsys.readouterr()
        assert message in captured.err and "Traceback" not in captured.err


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\nduration_s: 2\n".encode("latin-1"))
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(path)


def test_validate_mixed_files(tmp_path, capsys):
    bad = _write(tmp_path, "name: x\n")
    assert main(["validate", str(EXAMPLES[0]), str(bad)]) == 1
    captured = capsys.readouterr()
    assert f"{EXAMPLES[0]}: ok" in captured.out
    assert "1 of 2 files have errors" in captured.err


def test_validate_subprocess(tmp_path):
    path = _write(tmp_path, _agent("    sped_mps: 3\n"))
    proc = subprocess.run([sys.executable, "-m", "drivesim.cli", "validate", str(path)],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert f"{path}:14:5: agents[0].sped_mps: unknown key -- did you mean 'speed_mps'?" in proc.stderr


# --- the format reference stays true ---------------------------------------------------------

def _doc_blocks(lang: str) -> list[str]:
    doc = (REPO / "docs" / "scenario-format.md").read_text()
    return [body for tag, body in re.findall(r"^```(\w*)\n(.*?)^```$", doc, flags=re.S | re.M) if tag == lang]


def test_doc_full_example_is_valid():
    full = next(b for b in _doc_blocks("yaml") if "name: night_merge" in b)
    assert validate_scenario_text(full, "doc.yaml") == []


def test_doc_error_example_output_is_exact(tmp_path, monkeypatch, capsys):
    bad = next(b for b in _doc_blocks("yaml") if "sped_mps" in b)
    expected = next(b for b in _doc_blocks("") if "drivesim validate night.yaml" in b).splitlines()
    (tmp_path / "night.yaml").write_text(bad)
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "night.yaml"]) == 1
    printed = capsys.readouterr().err.splitlines()
    assert printed == expected[1:-2]  # between the command line and the exit status


# --- hostile and degenerate inputs ------------------------------------------------------------

def test_null_required_key_is_not_told_it_may_be_removed():
    required = validate_scenario_text("name: x\nduration_s:\n")
    assert [i.key_path for i in required] == ["duration_s"]
    assert "remove" not in required[0].hint and "duration_s: 10" in required[0].hint
    optional = validate_scenario_text("name: x\nduration_s: 2\nfps:\n")
    assert [i.key_path for i in optional] == ["fps"] and "remove the key" in optional[0].hint


def test_a_file_full_of_errors_reports_a_bounded_number_of_issues():
    from drivesim.scenario.loader import MAX_ISSUES

    text = "name: x\nduration_s: 2\nagents:\n" + "  - {id: a, type: van, lane: 0, distance_m: 1}\n" * 3000
    issues = validate_scenario_text(text, "many.yaml")
    assert len(issues) == MAX_ISSUES + 1
    assert "more issue(s)" in issues[-1].message
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "many.yaml")
    assert str(info.value).count("\n") == MAX_ISSUES  # the message is bounded too


def test_endless_file_is_read_only_up_to_the_cap(capsys):
    """/dev/zero has size 0 for stat: reading it whole used to exhaust memory."""
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    assert main(["validate", "/dev/zero"]) == 1
    err = capsys.readouterr().err
    assert "/dev/zero: file is larger than" in err and "Traceback" not in err


def test_huge_numbers_fail_cleanly_in_every_scenario_command(tmp_path, capsys):
    path = tmp_path / "huge.yaml"
    path.write_text("name: x\nduration_s: 1" + "0" * 400 + "\n")
    for argv in (["validate", str(path)], ["plan", str(path), "-o", str(tmp_path / "l.jsonl")],
                 ["preview", str(path), "-o", str(tmp_path / "p.png")],
                 ["export", str(path), "-o", str(tmp_path / "ds"), "--source", "schematic", "-q"]):
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert f"{path}:2:13: duration_s: number too large" in err and "Traceback" not in err, argv
