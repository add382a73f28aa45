"""Read scenario YAML into a `Scenario`, reporting every problem with its file, line and key.

    drivesim validate scenarios/*.yaml
    python -c "from drivesim.scenario.loader import load_scenario as l; print(l('scenarios/lead_brake.yaml').name)"

Three passes, all issues of a file collected before anything is raised:
1. YAML: `yaml.compose` with the safe loader gives a node tree with the line and column of every
   key; we build plain data from it ourselves (so duplicate keys are caught, and nothing but
   plain scalars, mappings and lists is ever constructed).
2. Schema: pydantic in strict mode (a quoted "10" is not a number) on that data; its error
   `loc` tuples are mapped back to the marks and its messages rewritten into friendly ones.
3. Cross-field checks (`checks.py`): lanes that exist, times inside the scenario, unique ids; then, on a
   scenario that passed them, the road's (`network.py`): roads, lanes, positions and routes that exist.
   A `road.opendrive` file is read relative to the scenario file's folder (and kept as an absolute path).
"""

from __future__ import annotations

import difflib
import json
import math
import os
import types
import typing
from typing import Any, Union

import yaml
from pydantic import BaseModel, ValidationError

from drivesim.errors import ScenarioError
from drivesim.scenario.checks import Finding, cross_field_findings
from drivesim.scenario.file_formats import register_format, reader_for  # noqa: F401 - register_format: public here
from drivesim.scenario.format import Scenario
from drivesim.scenario.network import resolve_road_file, world_findings
# ScenarioIssue and its helpers live in issues.py (the engine and the trajectory reader need them without the
# loader); MAX_ISSUES and cap_issues are also importable here, the address callers and tests have used.
from drivesim.scenario.issues import MAX_ISSUES, KeyPath, ScenarioIssue, cap_issues, format_key_path  # noqa: F401
from drivesim.scenario.user_files import file_issue, read_user_file

# Scenario files are small; the limits keep a hostile input (alias bombs, huge files) cheap.
MAX_SCENARIO_BYTES = 2 * 1024 * 1024
MAX_YAML_NODES = 200_000
MAX_YAML_DEPTH = 32  # the format nests 4 levels deep; deeper input is a mistake or an attack
# Whole numbers beyond this are no scenario value (and beyond ~1e308 not even a float).
MAX_WHOLE_NUMBER = 2**63 - 1
_TOO_LARGE_HINT = "no scenario value needs more than 18 digits; check for extra zeros"

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"

# A value to show in "missing required key" hints, per key name.
_EXAMPLE_VALUES = {"name": "my_scenario", "duration_s": "10", "id": "lead", "type": "car",
                   "distance_m": "20", "at_s": "2"}
_KEY_HINTS = {"size_m": "size_m is [length, width, height] in metres"}


# --- public API ----------------------------------------------------------------------------

def validate_scenario_text(text: str, filename: str = "<string>") -> list[ScenarioIssue]:
    """Every problem of a scenario text, sorted by position; empty when it is valid."""
    return _parse(text, filename)[1]


def parse_scenario(text: str, filename: str = "<string>") -> Scenario:
    """A validated `Scenario` from YAML text; raises `ScenarioError` with all issues."""
    scenario, issues = _parse(text, filename)
    if issues or scenario is None:
        raise ScenarioError(issues)
    return scenario


def load_scenario(path: Union[str, "os.PathLike[str]"]) -> Scenario:
    """A validated `Scenario` from a YAML file, or from a file of a registered format (`register_format`;
    `import drivesim` registers OpenSCENARIO's .xosc, docs/openscenario.md); raises `ScenarioError` with
    all issues. Entry points taking a user's scenario use `drivesim.sources.read_scenario`."""
    read = reader_for(path)
    if read is not None:
        return read(path)
    return parse_scenario(read_scenario_text(path), os.fspath(path))


def read_scenario_text(path: Union[str, "os.PathLike[str]"]) -> str:
    """The file's text, or a `ScenarioError` saying why it cannot be read."""
    raw = read_user_file(path, MAX_SCENARIO_BYTES, "a scenario file",
                         "pass a scenario .yaml file, e.g. scenarios/lead_brake.yaml")
    try:
        return raw.decode("utf-8-sig")  # tolerate a byte-order mark from Windows editors
    except UnicodeDecodeError as err:
        raise file_issue(path, f"not UTF-8 text (undecodable byte at offset {err.start})",
                         "save the file as UTF-8") from None


# --- the three passes ----------------------------------------------------------------------

def read_yaml_data(text: str, filename: str = "<string>") -> tuple[Any, list[ScenarioIssue]]:
    """Plain data from YAML text with the scenario loader's guards (size, node count -- alias bombs --,
    depth, tags, oversized numbers), and every located problem; (None, issues) where it cannot be read.
    Any drivesim YAML a user hands over (bundle configs too) is read through this."""
    data, issues, _ = _read_yaml(text, filename)
    return data, issues


def _read_yaml(text: str, filename: str) -> tuple[Any, list[ScenarioIssue], "_NodeReader | None"]:
    if len(text) > MAX_SCENARIO_BYTES:
        return None, [ScenarioIssue(filename, None, None, "",
                                    f"text is {len(text)} characters; the limit is {MAX_SCENARIO_BYTES}")], None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        return None, [_yaml_syntax_issue(err, filename)], None
    except yaml.YAMLError as err:
        return None, [ScenarioIssue(filename, None, None, "", f"YAML error: {err}")], None
    except RecursionError:
        return None, [ScenarioIssue(filename, None, None, "", "YAML is nested too deeply")], None
    if root is None:
        return None, [ScenarioIssue(filename, 1, 1, "", "file is empty",
                                    "a scenario needs at least 'name: ...' and 'duration_s: ...'")], None
    reader = _NodeReader()
    try:
        data = reader.read(root, ())
    except _TooManyNodes:
        return None, [ScenarioIssue(filename, None, None, "",
                                    f"YAML expands to more than {MAX_YAML_NODES} values (aliases?)")], None
    return data, [_Locator(filename, reader.marks)(f) for f in reader.findings], reader


def _parse(text: str, filename: str) -> tuple[Scenario | None, list[ScenarioIssue]]:
    # 1. YAML -> plain data + marks
    data, issues, reader = _read_yaml(text, filename)
    if reader is None:
        return None, issues
    locate = _Locator(filename, reader.marks)
    if not isinstance(data, dict):
        return None, issues + [locate(Finding((), f"the top level must be a mapping of keys, got {_kind(data)}",
                                              "start with 'version: 1', 'name: ...', 'duration_s: ...'"))]

    # 2. schema, strict: JSON strict mode accepts ints for floats and lists for tuples only
    scenario: Scenario | None = None
    schema_findings: list[Finding] = []
    try:
        scenario = Scenario.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as err:
        schema_findings = [_friendly(e) for e in err.errors()]

    # 3. cross-field checks on the raw data, so they are reported alongside schema errors.
    # One issue per key path: the YAML reader's, else pydantic's, else the checks'.
    seen = {f.path for f in reader.findings}
    schema_findings = [f for f in schema_findings if f.path not in seen]
    seen |= {f.path for f in schema_findings}
    check_findings = [f for f in cross_field_findings(data) if f.path not in seen]

    issues += [locate(f) for f in schema_findings + check_findings]
    if scenario is not None and not issues:
        folder = None if filename.startswith("<") else os.path.dirname(os.path.abspath(filename))
        scenario = resolve_road_file(scenario, folder)
        issues += [locate(f) for f in world_findings(scenario)]
    issues.sort(key=lambda i: (i.line or 0, i.column or 0))
    return (scenario if not issues else None), cap_issues(issues, filename)


def _yaml_syntax_issue(err: yaml.MarkedYAMLError, filename: str) -> ScenarioIssue:
    mark = err.problem_mark or err.context_mark
    problem = err.problem or "invalid YAML"
    if err.context:
        context = err.context
        if err.context_mark is not None and (mark is None or err.context_mark.line != mark.line):
            context += f" started at line {err.context_mark.line + 1}"
        problem += f" ({context})"
    hint = "check indentation, colons and brackets on this line and the one above"
    if "'\\t'" in problem or "tab" in problem:  # PyYAML writes the tab character as '\t'
        hint = "indent with spaces, not tabs"
    if "another document" in problem:
        problem, hint = "a second YAML document starts here", "a scenario file holds one document: remove the '---'"
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
    return ScenarioIssue(filename, line, col, "", f"YAML syntax error: {problem}", hint)


class _TooManyNodes(Exception):
    pass


class _NodeReader:
    """Plain data from a composed YAML node tree, recording where every key and item starts."""

    def __init__(self) -> None:
        self.marks: dict[KeyPath, tuple[int, int]] = {}
        self.findings: list[Finding] = []
        self._scalars = yaml.constructor.SafeConstructor()
        self._active: set[int] = set()  # nodes on the current branch: catches recursive aliases
        self._budget = MAX_YAML_NODES

    def read(self, node: yaml.Node, path: KeyPath) -> Any:
        self._budget -= 1
        if self._budget < 0:
            raise _TooManyNodes
        self.marks.setdefault(path, _mark(node))
        if len(path) > MAX_YAML_DEPTH and not isinstance(node, yaml.ScalarNode):
            # Stop here: pydantic and the checks recurse, and the format is never this deep.
            self.findings.append(Finding(path, f"nested more than {MAX_YAML_DEPTH} levels deep",
                                         "a scenario nests at most 4 levels (agents[].actions[].key); "
                                         "check the brackets and indentation", _mark(node)))
            return None
        if id(node) in self._active:
            self.findings.append(Finding(path, "an alias refers to itself", "", _mark(node)))
            return None
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if node.tag not in (_MAP_TAG, _SEQ_TAG):
            self.findings.append(Finding(path, f"unsupported YAML tag '{node.tag}'",
                                         "remove the tag: only plain mappings, lists and values", _mark(node)))
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.read(item, path + (i,)) for i, item in enumerate(node.value)]
        finally:
            self._active.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Any:
        try:
            value = self._scalars.construct_object(node, deep=True)
        except yaml.YAMLError as err:
            problem = getattr(err, "problem", None) or str(err)
            self.findings.append(Finding(path, f"cannot read value: {problem}", "remove the tag", _mark(node)))
            return None
        except ValueError:  # Python refuses to convert whole numbers of more than 4300 digits
            self.findings.append(Finding(path, f"number too large ({len(node.value)} characters)",
                                         _TOO_LARGE_HINT, _mark(node)))
            return None
        if isinstance(value, str) and node.style is None and _parses_as_number(value):
            return float(value)  # unquoted 1e3: YAML 1.1 says text, every reader of a scenario means 1000
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_WHOLE_NUMBER:
            digits = len(str(abs(value)))  # Python caps int -> str at 4300 digits; the text may be longer
            self.findings.append(Finding(path, f"number too large ({digits} digits)",
                                         _TOO_LARGE_HINT, _mark(node)))
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.findings.append(Finding(path, f"expected a finite number, got {node.value}",
                                         "write a number such as 10 or 2.5", _mark(node)))
            return None
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        return node.value  # dates, binary: keep the text as written

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        first_seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                key, (line, col) = key_node.value, _mark(key_node)
                if key in first_seen:
                    message = f"duplicate key (first given at line {first_seen[key]})"
                    self.findings.append(Finding(path + (key,), message, "keep only one of them", (line, col)))
                first_seen.setdefault(key, line)
        try:
            self._scalars.flatten_mapping(node)  # resolves '<<: *anchor' merges; own keys win
        except yaml.MarkedYAMLError as err:
            self.findings.append(Finding(path, f"bad merge: {err.problem}", "merge ('<<') only mappings",
                                         _mark(node)))
            return {}
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.findings.append(Finding(path, "keys must be plain names, not lists or mappings", "",
                                             _mark(key_node)))
                continue
            key = key_node.value  # the text as written: 'on' stays 'on', never True
            self.marks[path + (key,)] = _mark(key_node)
            out[key] = self.read(value_node, path + (key,))  # the key, not its value, locates it
        return out


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Locator:
    """Turns a `Finding` (a key path) into a `ScenarioIssue` (a file position)."""

    def __init__(self, filename: str, marks: dict[KeyPath, tuple[int, int]]):
        self.filename, self.marks = filename, marks

    def __call__(self, finding: Finding) -> ScenarioIssue:
        mark = finding.mark
        if mark is None:  # a missing key: point at the closest parent that exists
            for n in range(len(finding.path), -1, -1):
                if finding.path[:n] in self.marks:
                    mark = self.marks[finding.path[:n]]
                    break
        line, col = mark if mark is not None else (None, None)
        return ScenarioIssue(self.filename, line, col, format_key_path(finding.path), finding.message, finding.hint)


# --- pydantic errors -> friendly messages ---------------------------------------------------

def _friendly(err: dict[str, Any]) -> Finding:
    loc: KeyPath = tuple(err["loc"])
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    got = f", got {_show(value)}"
    key = next((p for p in reversed(loc) if isinstance(p, str)), "")
    hint = _KEY_HINTS.get(key, "")

    if kind == "missing" and loc and isinstance(loc[-1], int):  # a tuple given too few items
        count = f", got {len(value)}" if isinstance(value, list) else ""
        return Finding(loc[:-1], f"expected exactly {_tuple_len(loc[:-1])} values{count}", hint)
    if kind == "missing":
        example = _EXAMPLE_VALUES.get(key, "...")
        return Finding(loc, "missing required key", f"add '{key}: {example}'")
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if value is None and kind.endswith("_type"):
        fix = "give it a value" if _is_required(loc) else "give it a value or remove the key"
        example = _EXAMPLE_VALUES.get(key)
        return Finding(loc, f"has no value; expected {_expected(kind)}", f"{fix}, e.g. '{key}: {example}'"
                       if example and _is_required(loc) else fix)
    if kind == "literal_error" and loc == ("version",):
        return Finding(loc, f"unsupported version {_show(value)}; this drivesim reads version 1",
                       "set 'version: 1' (or leave it out)")
    if kind == "literal_error":
        choices = ", ".join(str(c) for c in typing.get_args(_annotation_at(loc)))
        return Finding(loc, f"expected one of {choices}{got}", hint)
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return Finding(loc, f"must be {bounds[kind]} {_number(limit)}{got}", hint)
    if kind in ("float_type", "float_parsing", "int_type", "int_parsing", "int_from_float"):
        if isinstance(value, str) and _parses_as_number(value):
            hint = "remove the quotes"
        elif isinstance(value, float) and kind.startswith("int") and value.is_integer():
            hint = f"write {int(value)}"
        return Finding(loc, f"expected {_expected(kind)}{got}", hint)
    if kind == "string_type":
        quote = not isinstance(value, (dict, list))
        return Finding(loc, f"expected text{got}", f'put it in quotes: "{_show(value)}"' if quote else "")
    if kind in ("model_type", "dict_type"):
        return Finding(loc, f"expected a mapping of keys (key: value){got}", hint)
    if kind in ("list_type", "tuple_type"):
        return Finding(loc, f"expected a list{got}", hint or "write [a, b, c] or one '- item' per line")
    if kind in ("too_long", "too_short") and ctx.get("field_type") == "Tuple":
        return Finding(loc, f"expected exactly {_tuple_len(loc)} values, got {ctx.get('actual_length')}", hint)
    if kind == "string_too_short":
        return Finding(loc, "must not be empty", hint)
    if kind == "string_too_long":
        return Finding(loc, f"must be at most {ctx.get('max_length')} characters", hint)
    if kind == "string_pattern_mismatch":
        return Finding(loc, f"may use only letters, digits, '_', '.' and '-'{got}", "no spaces")
    if kind == "value_error":
        return Finding(loc, str(ctx.get("error", err["msg"])), hint)
    return Finding(loc, err["msg"], hint)  # anything rarer: pydantic's own words


def _is_required(loc: KeyPath) -> bool:
    """Whether the key at `loc` must be given (a required field of its mapping)."""
    if not loc or not isinstance(loc[-1], str):
        return False
    owner = _annotation_at(loc[:-1])
    return _is_model(owner) and loc[-1] in owner.model_fields and owner.model_fields[loc[-1]].is_required()


def _unknown_key(loc: KeyPath) -> Finding:
    key, owner = str(loc[-1]), _annotation_at(loc[:-1])
    fields = list(owner.model_fields) if _is_model(owner) else []
    close = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
    if close:
        return Finding(loc, "unknown key", f"did you mean '{close[0]}'?")
    elsewhere = [where for where, model in _SECTIONS.items() if key in model.model_fields and model is not owner]
    if elsewhere:
        return Finding(loc, "unknown key", f"'{key}' belongs under {elsewhere[0]}")
    return Finding(loc, "unknown key", "accepted here: " + ", ".join(fields))


def _annotation_at(loc: KeyPath) -> Any:
    """The schema type at a data path: walks Scenario's fields, list items and tuple items."""
    ann: Any = Scenario
    for part in loc:
        ann = _unwrap(ann)
        if isinstance(part, str):
            if not (_is_model(ann) and part in ann.model_fields):
                return None
            ann = ann.model_fields[part].annotation
        else:
            args = typing.get_args(ann)
            if typing.get_origin(ann) is list and args:
                ann = args[0]
            elif typing.get_origin(ann) is tuple and args:
                ann = args[min(part, len(args) - 1)]
            else:
                return None
    return _unwrap(ann)


def _unwrap(ann: Any) -> Any:
    """Optional[X] -> X, Annotated[X, ...] -> X."""
    while True:
        origin, args = typing.get_origin(ann), typing.get_args(ann)
        if origin is typing.Annotated:
            ann = args[0]
        elif origin in (Union, types.UnionType):
            rest = [a for a in args if a is not type(None)]
            if len(rest) != 1:
                return ann
            ann = rest[0]
        else:
            return ann


def _is_model(ann: Any) -> bool:
    return isinstance(ann, type) and issubclass(ann, BaseModel)


def _sections() -> dict[str, type[BaseModel]]:
    """Every mapping of the format by where it sits: {"top level": Scenario, "road": Road, ...}."""
    found: dict[str, type[BaseModel]] = {}

    def visit(model: type[BaseModel], where: str) -> None:
        found[where] = model
        for name, field in model.model_fields.items():
            ann = _unwrap(field.annotation)
            if typing.get_origin(ann) is list:
                ann, name = _unwrap(typing.get_args(ann)[0]), name + "[]"
            if _is_model(ann):
                visit(ann, name if where == "the top level" else f"{where}.{name}")

    visit(Scenario, "the top level")
    return found


_SECTIONS = _sections()


def _tuple_len(loc: KeyPath) -> int:
    return len(typing.get_args(_annotation_at(loc))) or 0


def _expected(kind: str) -> str:
    if kind.startswith("int"):
        return "a whole number"
    if kind.startswith("float"):
        return "a number"
    if kind.startswith("string"):
        return "text"
    if kind in ("list_type", "tuple_type"):
        return "a list"
    return "a mapping of keys"


def _number(x: Any) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


def _parses_as_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list"}.get(type(value), f"the value {_show(value)}")


def _show(value: Any) -> str:
    """A value the way the user wrote it in YAML."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value[:40]}'" + ("..." if len(value) > 40 else "")
    if isinstance(value, float):
        return repr(value)  # 1.0 stays 1.0: it matters when a whole number is expected
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return str(value)
