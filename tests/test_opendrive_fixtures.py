"""Small OpenDRIVE files written in the tests (a road from its plan view and lanes, a file from roads),
shared by tests/test_opendrive_*.py; the one test here checks that the smallest such file reads.

    path = write_xodr(tmp_path, road("1", 100.0, line(0, 0, 0, 0, 100)))
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROADS = REPO / "scenarios" / "roads"
EXAMPLES = ("country_road", "crossing", "motorway_parampoly")

ONE_LANE_EACH_WAY = """
        <lanes>
            <laneSection s="0">
                <left><lane id="1" type="driving"><width sOffset="0" a="3.5" b="0" c="0" d="0"/></lane></left>
                <center><lane id="0" type="none"><roadMark sOffset="0" type="solid"/></lane></center>
                <right><lane id="-1" type="driving"><width sOffset="0" a="3.5" b="0" c="0" d="0"/></lane></right>
            </laneSection>
        </lanes>"""


def line(s: float, x: float, y: float, hdg: float, length: float) -> str:
    return f'<geometry s="{s}" x="{x}" y="{y}" hdg="{hdg}" length="{length}"><line/></geometry>'


def road(road_id: str, length: float, geometries: str, lanes: str = ONE_LANE_EACH_WAY, link: str = "",
         extra: str = "", junction: str = "-1") -> str:
    return (f'    <road id="{road_id}" length="{length}" junction="{junction}">\n'
            f'        <link>{link}</link>\n'
            f'        <planView>\n            {geometries}\n        </planView>\n'
            f'{extra}{lanes}\n    </road>\n')


def xodr_text(*roads: str, junctions: str = "", header: str = '<header revMajor="1" revMinor="6"/>') -> str:
    return f'<?xml version="1.0"?>\n<OpenDRIVE>\n    {header}\n{"".join(roads)}{junctions}</OpenDRIVE>\n'


def write_xodr(folder: Path, *roads: str, name: str = "road.xodr", **kw) -> Path:
    path = folder / name
    path.write_text(xodr_text(*roads, **kw), encoding="utf-8")
    return path


def line_of(path: Path, marker: str, nth: int = 0) -> int:
    """1-based line of the nth line holding `marker`."""
    hits = [i for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if marker in text]
    return hits[nth]


def test_the_smallest_written_file_reads(tmp_path):
    from drivesim.standards.opendrive import read_opendrive

    read = read_opendrive(write_xodr(tmp_path, road("1", 100.0, line(0, 0, 0, 0, 100))))
    assert list(read.network.roads) == ["1"] and read.unsupported == () and read.header.revMinor == 6
