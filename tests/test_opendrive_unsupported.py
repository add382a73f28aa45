"""What the road model does not hold is named, one line per kind with its first line and count -- never
skipped in silence; records whose values change nothing are not reported.

    python -m pytest tests/test_opendrive_unsupported.py -q
"""

from __future__ import annotations

import warnings

import pytest
from test_opendrive_fixtures import line, line_of, road, write_xodr

from drivesim.road import UNSUPPORTED
from drivesim.standards.opendrive import OpenDriveWarning, read_network, read_opendrive
from drivesim.standards.opendrive.unsupported import Notes, scan
from drivesim.standards.openscenario.xmltree import parse_xml

LANES = """
        <lanes>
            <laneSection s="0" singleSide="false">
                <center><lane id="0" type="none"><width sOffset="0" a="0" b="0" c="0" d="0"/></lane></center>
                <right>
                    <lane id="-1" type="driving" level="true" direction="standard">
                        <link><successor id="-1"/><successor id="-2"/></link>
                        <width sOffset="0" a="3.5" b="0" c="0" d="0"/>
                        <border sOffset="0" a="3.5" b="0" c="0" d="0"/>
                        <roadMark sOffset="0" type="broken" weight="standard" laneChange="none" height="0.02">
                            <type name="dashes" width="0.12"><line length="3" space="9" tOffset="0" sOffset="0"/></type>
                        </roadMark>
                        <speed sOffset="0" max="27.8" unit="m/s"/>
                        <userData code="x"/>
                    </lane>
                </right>
            </laneSection>
        </lanes>"""
EXTRA = """        <type s="0" type="motorway"/>
        <lateralProfile>
            <superelevation s="0" a="0" b="0" c="0" d="0"/>
            <superelevation s="50" a="0.02" b="0" c="0" d="0"/>
        </lateralProfile>
        <objects>
            <object id="1" s="10" t="-5" type="pole"/>
        </objects>
        <signals><signal id="1" s="20" t="-4"/></signals>
"""
HEADER = ('<header revMajor="1" revMinor="6">\n        <geoReference>+proj=utm +zone=32</geoReference>\n'
          '        <offset x="0" y="0" z="0" hdg="0"/>\n    </header>')


@pytest.fixture
def path(tmp_path):
    other = road("2", 10.0, line(0, 100, 0, 0, 10), extra='        <objects><object id="2" s="1" t="0"/></objects>\n')
    return write_xodr(tmp_path, road("1", 100.0, line(0, 0, 0, 0, 100), lanes=LANES, extra=EXTRA), other,
                      header=HEADER)


def test_each_kind_is_one_line_with_its_first_line_and_count(path):
    read = read_opendrive(path)
    found = {u.record: u for u in read.unsupported}
    lane = "road/lanes/laneSection/*/lane"
    expected = {  # record -> (marker of its first line, count)
        "header/geoReference": ("<geoReference", 1), "road/type": ('<type s="0"', 1),
        "road/lateralProfile/superelevation": ('s="50" a="0.02"', 1), "road/objects": ("<objects>", 2),
        "road/signals": ("<signals>", 1), f"{lane}/@level": ('level="true"', 1),
        f"{lane}/link (more than one predecessor or successor)": ('<successor id="-2"', 1),
        f"{lane}/border": ("<border", 1), f"{lane}/roadMark/@laneChange": ('laneChange="none"', 1),
        f"{lane}/roadMark/@height": ('height="0.02"', 1), f"{lane}/roadMark/type": ('<type name="dashes"', 1),
        f"{lane}/speed": ("<speed", 1), f"{lane}/userData": ("<userData", 1), f"{lane}/width (centre lane)": ('type="none"><width', 1),
    }
    assert sorted(found) == sorted(expected)
    for record, (marker, count) in expected.items():
        assert (found[record].line, found[record].count) == (line_of(path, marker), count), record
        assert found[record].file == str(path)
    # the reasons are the model's own where it lists the record
    assert found["road/signals"].reason == UNSUPPORTED["road/signals"]
    assert str(found["road/objects"]) == (f"{path}:{line_of(path, '<objects>')}: <objects> (road/objects) x2 not read: "
                                          f"{UNSUPPORTED['road/objects']}")
    # nothing unsupported changed what was read: lane -1 keeps its first successor and its <width>
    lane_ = read.network.roads["1"].laneSections[0].lanes[-1]
    assert lane_.successor == -1 and lane_.widths[0].a == 3.5


def test_read_network_warns_once_per_kind(path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        network = read_network(path)
    assert sorted(network.roads) == ["1", "2"]
    messages = [str(w.message) for w in caught if issubclass(w.category, OpenDriveWarning)]
    assert len(messages) == len(read_opendrive(path).unsupported) == len(caught)
    assert any(m.startswith(f"{path}:{line_of(path, '<signals>')}: <signals>") for m in messages)


def test_records_that_change_nothing_are_not_reported(tmp_path):
    extra = ('        <lateralProfile><superelevation s="0" a="0" b="0" c="0" d="0"/></lateralProfile>\n')
    header = '<header revMajor="1" revMinor="8"><offset x="0" y="0" z="0" hdg="0"/></header>'
    lanes = LANES.replace(' level="true"', ' level="false"').replace(' laneChange="none" height="0.02"', "")
    lanes = lanes.replace('<width sOffset="0" a="0" b="0" c="0" d="0"/>', "").replace('<successor id="-2"/>', "")
    lanes = "\n".join(t for t in lanes.splitlines() if not any(k in t for k in ("<border", "<speed", "<userData",
                                                                                   "<type", "<line", "</type>")))
    path = write_xodr(tmp_path, road("1", 100.0, line(0, 0, 0, 0, 100), lanes=lanes, extra=extra), header=header)
    assert read_opendrive(path).unsupported == ()


def test_other_versions_and_junction_types_are_named(tmp_path):
    junction = '    <junction id="9" type="direct"><connection id="0" incomingRoad="1" linkedRoad="2"/></junction>\n'
    path = write_xodr(tmp_path, road("1", 100.0, line(0, 0, 0, 0, 100)), junctions=junction,
                      header='<header revMajor="1" revMinor="3"/>')
    read = read_opendrive(path)
    found = {u.record: u for u in read.unsupported}
    assert sorted(found) == ["header/@revMinor", "junction/@type"]
    assert "OpenDRIVE 1.3" in found["header/@revMinor"].reason and read.network.junctions["9"].connections == ()


@pytest.mark.parametrize("record", sorted(k for k in UNSUPPORTED if "@" not in k and " " not in k))
def test_every_element_the_model_lists_is_named_when_a_file_has_it(record):
    tags = [t if t != "*" else "right" for t in record.split("/")]
    body = "".join(f'<{t} a="1" x="1">' for t in tags) + "".join(f"</{t}>" for t in reversed(tags))
    notes = Notes()
    scan(parse_xml(f"<OpenDRIVE>{body}</OpenDRIVE>".encode(), "f.xodr"), notes)
    assert [u.record for u in notes.grouped()] == [record]
