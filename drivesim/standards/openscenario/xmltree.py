"""A small XML tree with the file and line of every element, and located errors.

OpenSCENARIO and OpenDRIVE files are read with the standard library's expat parser (no external
entities, no DTDs), element by element, so every error can name `file:line:column: Element`.

    root = read_xml(Path("scenarios/openscenario/cut_in.xosc"), "OpenSCENARIO")
    root.child("Storyboard").line
"""

from __future__ import annotations

import os
import re
import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from drivesim.errors import ScenarioError
from drivesim.scenario.issues import ScenarioIssue
from drivesim.scenario.user_files import file_issue, read_user_file

MAX_XML_BYTES = 16 * 1024 * 1024  # OpenDRIVE maps run large; scenarios are small
MAX_XML_DEPTH = 64
# Real files hold one element per 50-100 bytes (a 16 MiB map: ~250,000); a tree costs ~250 bytes an element,
# so 16 MiB of `<a/>` (4 million elements) would take 1 GB: refused at this count instead.
MAX_XML_ELEMENTS = 1_000_000
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']{0,40})""")
ENCODINGS_HINT = ("save the file as UTF-8 and declare encoding=\"UTF-8\" (UTF-8, UTF-16, ISO-8859-1, US-ASCII and "
                  "single-byte encodings such as windows-1252 are read; multi-byte ones such as Shift_JIS are not)")


@dataclass(slots=True)
class Element:
    """One XML element: tag, attributes, child elements (text is not kept), and where it starts."""

    tag: str
    attrib: dict[str, str]
    file: str
    line: int
    column: int
    children: list["Element"] = field(default_factory=list)

    def child(self, tag: str) -> "Element | None":
        """The first child element named `tag`, or None."""
        return next((c for c in self.children if c.tag == tag), None)

    def all(self, tag: str) -> list["Element"]:
        return [c for c in self.children if c.tag == tag]

    def require(self, tag: str) -> "Element":
        found = self.child(tag)
        if found is None:
            raise located(self, f"missing <{tag}>", f"add a <{tag}> element inside <{self.tag}>")
        return found

    def one_of(self, tags: tuple[str, ...] | None = None) -> "Element":
        """The single child element (of one of `tags`, when given); anything else is an error."""
        kids = self.children
        if len(kids) != 1 or (tags is not None and kids[0].tag not in tags):
            want = " or ".join(f"<{t}>" for t in tags) if tags else "one element"
            got = ", ".join(f"<{c.tag}>" for c in kids) or "nothing"
            raise located(self, f"expected {want} inside, found {got}")
        return kids[0]

    def walk(self) -> Iterator["Element"]:
        yield self
        for c in self.children:
            yield from c.walk()


def located(node: Element, message: str, hint: str = "") -> ScenarioError:
    """A ScenarioError pointing at `node`: file:line:column: <Tag>: message -- hint."""
    return ScenarioError([ScenarioIssue(node.file, node.line, node.column, node.tag, message, hint)])


def file_error(path: str | os.PathLike[str], message: str, hint: str = "") -> ScenarioError:
    return file_issue(path, message, hint)


def read_xml(path: Path, expect_root: str) -> Element:
    """The element tree of an XML file whose root must be `expect_root`; errors are located."""
    name = os.fspath(path)
    raw = read_user_file(path, MAX_XML_BYTES, f"an {expect_root} file", "check the path")
    root = parse_xml(raw, name)
    if root.tag != expect_root:
        raise located(root, f"the root element is <{root.tag}>, expected <{expect_root}>",
                      f"pass an {expect_root} file")
    return root


def parse_xml(raw: bytes, name: str) -> Element:
    parser = xml.parsers.expat.ParserCreate()
    stack: list[Element] = []
    roots: list[Element] = []
    count = [0]

    def start(tag: str, attrs: dict[str, str]) -> None:
        # expat gives each element a dict of its own: kept as it is, not copied
        node = Element(tag, attrs, name, parser.CurrentLineNumber, parser.CurrentColumnNumber + 1)
        if len(stack) >= MAX_XML_DEPTH:
            raise located(node, f"nested more than {MAX_XML_DEPTH} elements deep")
        count[0] += 1
        if count[0] > MAX_XML_ELEMENTS:
            raise located(node, f"more than {MAX_XML_ELEMENTS} elements in the file",
                          "split the file, or remove elements drivesim does not need")
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)

    def end(tag: str) -> None:
        stack.pop()

    def no_entities(*_args: object) -> None:  # no DTDs: no entity expansion of any size
        raise file_error(name, "XML with a DOCTYPE or entity declarations is not accepted")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = no_entities
    parser.EntityDeclHandler = no_entities
    try:
        parser.Parse(raw, True)
    except xml.parsers.expat.ExpatError as err:
        issue = ScenarioIssue(name, err.lineno, err.offset + 1, "",
                              f"XML syntax error: {xml.parsers.expat.errors.messages[err.code]}",
                              "check the tags around this line")
        raise ScenarioError([issue]) from None
    except (LookupError, ValueError) as err:  # the declaration's encoding: unknown, multi-byte, not for text
        declared = _DECLARED_ENCODING.search(raw[:200])
        named = repr(declared.group(1).decode("ascii", "replace")) if declared else "of the file"
        raise ScenarioError([ScenarioIssue(name, 1, None, "", f"the XML encoding {named} cannot be read ({err})",
                                           ENCODINGS_HINT)]) from None
    if not roots:
        raise file_error(name, "no XML element in the file")
    return roots[0]
