"""Every refusal of the OpenDRIVE reader names the file, the line of the element at fault, what is wrong
and how to fix it; hostile XML is refused before anything is built.

    python -m pytest tests/test_opendrive_errors.py -q
"""

from __future__ import annotations

import pytest
from test_opendrive_fixtures import ONE_LANE_EACH_WAY, line, line_of, road, write_xodr

from drivesim.errors import DrivesimError, ScenarioError
from drivesim.standards.opendrive import read_network, read_opendrive
from drivesim.standards.openscenario import xmltree

ARC = '<geometry s="0" x="0" y="0" hdg="0" length="50"><arc curvature="0.01"/></geometry>'


def _refused(path, marker: str, words: str, nth: int = 0):
    """The read fails with one located issue at the line holding `marker`, its message holding `words`."""
    with pytest.raises(ScenarioError) as err:
        read_network(path)
    issue = err.value.issues[0]
    assert isinstance(err.value, DrivesimError)
    assert issue.file == str(path) and issue.line == line_of(path, marker, nth), str(err.value)
    assert words in str(err.value), str(err.value)
    assert f"{path}:{issue.line}:" in str(err.value)  # what the CLI prints: file:line first
    assert " -- " in str(err.value) or ". Fix: " in str(err.value)  # and how to fix it
    return issue


def _width_lanes(width: str) -> str:
    return ONE_LANE_EACH_WAY.replace('<width sOffset="0" a="3.5" b="0" c="0" d="0"/></lane></right>',
                                     f'{width}</lane></right>')


@pytest.mark.parametrize("case", ["malformed", "nan", "inf", "overflow", "integer"])
def test_numbers_that_are_not_finite_numbers(tmp_path, case):
    values = {"malformed": ('x="12,5"', "x is '12,5', not a number"),
              "nan": ('x="NaN"', "not a finite number"), "inf": ('x="-INF"', "not a finite number"),
              "overflow": ('x="1e999"', "overflows"), "integer": (None, "not a whole number")}
    attr, words = values[case]
    if attr is None:
        lanes = ONE_LANE_EACH_WAY.replace('lane id="-1"', 'lane id="-1.0"')
        path = write_xodr(tmp_path, road("1", 50.0, ARC, lanes=lanes))
        _refused(path, 'lane id="-1.0"', words)
    else:
        path = write_xodr(tmp_path, road("1", 50.0, ARC.replace('x="0"', attr)))
        _refused(path, "<geometry", words)


def test_non_finite_numbers_in_records_drivesim_does_not_read_are_errors_too(tmp_path):
    extra = '        <objects>\n            <object id="7" s="nan" t="0" type="pole"/>\n        </objects>\n'
    _refused(write_xodr(tmp_path, road("1", 50.0, ARC, extra=extra)), "<object ", "s is 'nan'")


@pytest.mark.parametrize("missing, marker", [("hdg", "<geometry"), ("curvature", "<arc"), ("length", "<road id=")])
def test_missing_attributes(tmp_path, missing, marker):
    text = road("1", 50.0, ARC).replace(f' {missing}="', f' x{missing}="', 1)
    _refused(write_xodr(tmp_path, text), marker, f"missing attribute {missing}")


def test_unknown_geometry_and_empty_plan_views(tmp_path):
    path = write_xodr(tmp_path, road("1", 50.0, ARC.replace("<arc curvature=\"0.01\"/>", "<clothoid k=\"0\"/>")))
    _refused(path, "<clothoid", "<clothoid> is not an OpenDRIVE geometry")
    path = write_xodr(tmp_path, road("1", 50.0, ARC.replace("<arc curvature=\"0.01\"/>", "")))
    _refused(path, "<geometry", "holds nothing")


def test_links_to_roads_or_junctions_the_file_does_not_have(tmp_path):
    link = '\n            <successor elementType="road" elementId="9" contactPoint="start"/>\n        '
    _refused(write_xodr(tmp_path, road("1", 50.0, ARC, link=link)), "<successor", "road '9', which the file does not have")
    link = '\n            <predecessor elementType="junction" elementId="5"/>\n        '
    _refused(write_xodr(tmp_path, road("1", 50.0, ARC, link=link)), "<predecessor", "junction '5'")
    junction = ('    <junction id="5">\n        <connection id="0" incomingRoad="1" connectingRoad="77" '
                'contactPoint="start"/>\n    </junction>\n')
    link = '<predecessor elementType="junction" elementId="5"/>'
    path = write_xodr(tmp_path, road("1", 50.0, ARC, link=link), junctions=junction)
    _refused(path, "<connection", "connectingRoad '77' is not a road")
    path = write_xodr(tmp_path, road("1", 50.0, ARC, junction="8"))
    _refused(path, "<road id=", "junction '8'")


def test_a_road_link_without_its_contact_point(tmp_path):
    link = '<successor elementType="road" elementId="2"/>'
    path = write_xodr(tmp_path, road("1", 50.0, ARC, link=link), road("2", 10.0, line(0, 50, 0, 0, 10)))
    _refused(path, "<successor", "missing attribute contactPoint")


def test_negative_lane_widths(tmp_path):
    path = write_xodr(tmp_path, road("1", 50.0, ARC, lanes=_width_lanes('<width sOffset="0" a="2" b="-0.05" c="0" d="0"/>')))
    issue = _refused(path, 'b="-0.05"', "width goes negative")
    assert "-0.5 m at road s=50" in issue.message
    # a later record that dips below zero between its start and the section's end
    widths = '<width sOffset="0" a="3" b="0" c="0" d="0"/><width sOffset="10" a="1" b="-0.2" c="0.004" d="0"/>'
    _refused(write_xodr(tmp_path, road("1", 50.0, ARC, lanes=_width_lanes(widths))), 'b="-0.2"', "width goes negative")


def test_pieces_must_chain_to_within_a_millimetre(tmp_path):
    two = line(0, 0, 0, 0, 10) + line(10.0005, 10, 0, 0, 10)  # 0.5 mm: rounding, accepted
    assert read_network(write_xodr(tmp_path, road("1", 20.0005, two))).roads["1"].length == 20.0005
    two = line(0, 0, 0, 0, 10) + line(10.01, 10, 0, 0, 10)
    _refused(write_xodr(tmp_path, road("1", 20.01, two)), 's="10.01"', "the pieces before it end at s=10")


def test_records_the_model_refuses_are_reported_at_their_road(tmp_path):
    lanes = ONE_LANE_EACH_WAY.replace('lane id="-1"', 'lane id="-2"')  # a gap: no lane -1
    issue = _refused(write_xodr(tmp_path, road("1", 50.0, ARC, lanes=lanes)), "<road id=", "number right lanes")
    assert issue.key_path == "road"
    lanes = ONE_LANE_EACH_WAY.replace('type="driving"', 'type="motorway"', 1)
    _refused(write_xodr(tmp_path, road("1", 50.0, ARC, lanes=lanes)), 'type="motorway"', "not an OpenDRIVE lane type")
    lanes = ONE_LANE_EACH_WAY.replace('lane id="1"', 'lane id="-3"')
    _refused(write_xodr(tmp_path, road("1", 50.0, ARC, lanes=lanes)), 'lane id="-3"', "does not belong in <left>")
    _refused(write_xodr(tmp_path, road("1", 60.0, ARC)), "<road id=", "the road is 60 m long")


def test_duplicate_ids_and_wrong_versions(tmp_path):
    path = write_xodr(tmp_path, road("1", 50.0, ARC), road("1", 50.0, ARC))
    _refused(path, "<road id=", "a second road with id '1'", nth=1)
    path = write_xodr(tmp_path, road("1", 50.0, ARC), header='<header revMajor="2" revMinor="0"/>')
    _refused(path, "<header", "OpenDRIVE 2.0")
    other = tmp_path / "scenario.xodr"
    other.write_text("<OpenSCENARIO/>")
    with pytest.raises(ScenarioError, match="expected <OpenDRIVE>"):
        read_network(other)


# --- hostile XML: the hardened XML layer refuses it (no DTD, no entities, bounded size and depth) ----------

def test_entity_expansion_and_external_entities_are_refused(tmp_path):
    laughs = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>\n'
              '<OpenDRIVE><header revMajor="1" revMinor="6" name="&lol2;"/></OpenDRIVE>\n')
    external = ('<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
                '<OpenDRIVE><header revMajor="1" revMinor="6" name="&xxe;"/></OpenDRIVE>\n')
    for name, text in (("laughs.xodr", laughs), ("xxe.xodr", external)):
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ScenarioError, match="DOCTYPE") as err:
            read_network(path)
        assert "root:" not in str(err.value) and str(path) in str(err.value)


def _dense_road(i: int, roads: int) -> str:
    """Road `i` of a chain as map exporters write them: 4 geometries, 5 elevation records, 2 lane sections of
    3 + 3 lanes (links, width, road mark, speed), numbers with all their digits."""
    def f(x: float) -> str:
        return repr(float(x))

    geometries = "".join(f'''
            <geometry s="{f(k * 25)}" x="{f(i * 100 + k * 25 + 1.23456789e-9)}" y="{f(0)}" hdg="{f(0)}"
                      length="{f(25)}">
                <line/>
            </geometry>''' for k in range(4))
    elevation = "".join(f'''
            <elevation s="{f(k * 20)}" a="{f(0.1234567890123 * k)}" b="{f(1.234567e-4)}" c="0.0" d="0.0"/>'''
                        for k in range(5))

    def lanes(sign: int) -> str:
        return "".join(f'''
                    <lane id="{sign * j}" type="driving" level="false">
                        <link><predecessor id="{sign * j}"/><successor id="{sign * j}"/></link>
                        <width sOffset="0.0" a="{f(3.5)}" b="0.0" c="0.0" d="0.0"/>
                        <roadMark sOffset="0.0" type="broken" weight="standard" color="standard" width="0.15"
                                  laneChange="both"/>
                        <speed sOffset="0.0" max="{f(27.7777)}" unit="m/s"/>
                    </lane>''' for j in range(1, 4))
    sections = "".join(f'''
            <laneSection s="{f(k * 50)}">
                <left>{lanes(1)}
                </left>
                <center>
                    <lane id="0" type="none" level="false">
                        <roadMark sOffset="0.0" type="solid" weight="standard" color="standard" width="0.12"/>
                    </lane>
                </center>
                <right>{lanes(-1)}
                </right>
            </laneSection>''' for k in range(2))
    link = (f'<predecessor elementType="road" elementId="{i - 1}" contactPoint="end"/>' if i > 0 else "") + \
        (f'<successor elementType="road" elementId="{i + 1}" contactPoint="start"/>' if i < roads - 1 else "")
    return f'''
    <road name="road {i}" length="{f(100)}" id="{i}" junction="-1" rule="RHT">
        <link>{link}</link>
        <type s="0.0" type="motorway"><speed max="130" unit="km/h"/></type>
        <planView>{geometries}
        </planView>
        <elevationProfile>{elevation}
        </elevationProfile>
        <lanes>{sections}
        </lanes>
    </road>'''


def test_a_dense_map_as_large_as_a_file_may_be_fits_the_xml_budget(tmp_path):
    # the budget bounds what a tree holds in memory (xmltree.MAX_XML_COST): a real map of the file cap
    # (~505,000 units; generated, 15.9 MiB read in 2.5 s) still loads, with room for a scenario and catalogs
    text = ('<?xml version="1.0" encoding="UTF-8"?>\n<OpenDRIVE>\n    <header revMajor="1" revMinor="6"/>'
            + "".join(_dense_road(i, 40) for i in range(40)) + "\n</OpenDRIVE>\n")
    path = tmp_path / "dense.xodr"
    path.write_text(text)
    assert len(read_opendrive(path).network.roads) == 40
    budget = xmltree.XmlBudget(limit=float("inf"))
    xmltree.parse_xml(text.encode(), str(path), budget)
    at_the_cap = budget.spent / len(text) * xmltree.MAX_XML_BYTES
    assert 0.5 * xmltree.MAX_XML_COST < at_the_cap < 0.8 * xmltree.MAX_XML_COST, at_the_cap


def test_a_map_over_the_xml_budget_is_refused_naming_the_file(tmp_path, monkeypatch):
    path = write_xodr(tmp_path, road("1", 50.0, ARC))
    monkeypatch.setattr(xmltree, "MAX_XML_COST", 10)
    with pytest.raises(ScenarioError) as err:
        read_network(path)
    text = str(err.value)
    assert err.value.issues[0].file == str(path) and text.startswith(f"{path}:"), text
    for words in ("this file would hold more than 10 element units", "an attribute 0.3",
                  "cut the road network to the roads the scenario drives on"):
        assert words in text, text


def test_oversized_and_deep_files_are_refused(tmp_path, monkeypatch):
    path = write_xodr(tmp_path, road("1", 50.0, ARC))
    monkeypatch.setattr(xmltree, "MAX_XML_BYTES", 100)
    with pytest.raises(ScenarioError, match="larger than 100 bytes"):
        read_network(path)
    monkeypatch.undo()
    deep = tmp_path / "deep.xodr"
    deep.write_text("<OpenDRIVE>" + "<userData>" * 100 + "</userData>" * 100 + "</OpenDRIVE>")
    with pytest.raises(ScenarioError, match="nested more than"):
        read_network(deep)
    broken = tmp_path / "broken.xodr"
    broken.write_text('<OpenDRIVE>\n<header revMajor="1" revMinor="6">\n</OpenDRIVE>\n')
    with pytest.raises(ScenarioError, match="XML syntax error") as err:
        read_network(broken)
    assert err.value.issues[0].line == 3
