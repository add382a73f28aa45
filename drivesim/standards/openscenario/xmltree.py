"""A small XML tree with the file and line of every element, and located errors.

OpenSCENARIO and OpenDRIVE files are read with the standard library's expat parser (no external
entities, no DTDs), element by element, so every error can name `file:line:column: Element`.

    root = read_xml(Path("scenarios/openscenario/cut_in.xosc"), "OpenSCENARIO")
    root.child("Storyboard").line

What a tree holds in memory is bounded, not only the file's bytes: every tree is charged in element units
(`XmlBudget`, MAX_XML_COST), and one budget is shared by all the files one scenario load reads (the .xosc,
its catalogs, its road: `with xml_budget(): ...`), each file parsed once within it.
"""

from __future__ import annotations

import os
import re
import xml.parsers.expat
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Iterator, Optional

from drivesim.errors import ScenarioError
from drivesim.scenario.issues import ScenarioIssue
from drivesim.scenario.user_files import file_issue, read_user_file, shown_path

MAX_XML_BYTES = 16 * 1024 * 1024  # OpenDRIVE maps run large; scenarios are small
MAX_XML_DEPTH = 64
# What a tree holds in memory, in element units of ~260 bytes (an Element with its children list, attribute
# dict and position): an attribute ~80 bytes (its value's str, a slot of the dict) plus up to 4 bytes a
# character of its value (a str with one emoji stores every character in 4), a name new to the file (a tag
# or an attribute name: expat keeps one copy of each) ~130 bytes plus its characters. Measured: 200,000
# `<a/>` 48 MB, with `b="1" c="2"` 72 MB, one element of 500,000 distinct attribute names 88 MB.
ATTRIBUTE_COST = 0.3
NAME_COST = 0.5
CHARACTER_COST = 1 / 64
# The budget of one scenario load, its files together (or of a file read alone): at most ~190 MB of trees.
# A dense 16 MiB OpenDRIVE map (3 attributes an element) costs ~505,000, the examples 60-200 a file.
MAX_XML_COST = 700_000
# Attributes on one element. expat hands over a start tag's attributes all at once, before any budget can
# look: one element of 1.5 million attributes held 300 MB. The standards' elements have at most ~15.
MAX_XML_ATTRIBUTES = 1000
_LONG_SEGMENT = re.compile(rb"<[^<]{%d,}" % (5 * MAX_XML_ATTRIBUTES))  # ` a=""`: 5 bytes an attribute at least
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


class XmlBudget:
    """What the trees of one load (a scenario, its catalogs, its road) may cost together, in element units
    (MAX_XML_COST), what each file cost, and each file's tree (a file read again in the load is not parsed
    again: every tree it charged stays paid for)."""

    def __init__(self, limit: Optional[float] = None, scope: str = "the files read for this scenario"):
        self.limit = MAX_XML_COST if limit is None else limit
        self.scope = scope
        self.spent = 0.0
        self.files: dict[str, float] = {}  # file name -> its cost
        self.trees: dict[str, Element] = {}  # absolute path -> its root

    def charge(self, cost: float, node: Element) -> None:
        """Add `cost` for `node`'s file; over the limit: a located error naming the files and the limit."""
        self.spent += cost
        self.files[node.file] = self.files.get(node.file, 0.0) + cost
        if self.spent > self.limit:
            raise located(node, f"too much XML: {self.scope} would hold more than {self.limit:g} "
                          f"element units in memory (an element counts 1, an attribute {ATTRIBUTE_COST:g} plus "
                          f"1/{1 / CHARACTER_COST:g} per character of its value, a name new to the file "
                          f"{NAME_COST:g}); {self._spent_by(node.file)}", _too_much_hint(node.file))

    def refund(self, file: str, cost: float) -> None:
        """A parse that failed: its tree is gone, a second read is charged anew."""
        self.spent -= cost
        self.files[file] = self.files.get(file, 0.0) - cost

    def _spent_by(self, file: str) -> str:
        others = sorted(((c, f) for f, c in self.files.items() if f != file and c >= 0.5), reverse=True)
        spent = f"this file reached {self.files[file]:,.0f}"
        if others:
            spent += " after " + ", ".join(f"{shown_path(f)} {c:,.0f}" for c, f in others[:4])
            spent += f" and {len(others) - 4} more files" if len(others) > 4 else ""
        return spent


def _too_much_hint(file: str) -> str:
    if file.lower().endswith(".xodr"):
        return "cut the road network to the roads the scenario drives on, or split the map"
    return ("remove what the scenario does not use: split a large catalog into smaller ones or keep only the "
            "entries the scenario references, and drop unread elements and long texts")


_BUDGET: ContextVar[Optional[XmlBudget]] = ContextVar("drivesim_xml_budget", default=None)


@contextmanager
def xml_budget() -> Iterator[XmlBudget]:
    """One XmlBudget for every file `read_xml` reads inside the block (nested: the outermost one's)."""
    current = _BUDGET.get()
    if current is not None:
        yield current
        return
    token = _BUDGET.set(XmlBudget())
    try:
        yield _BUDGET.get()
    finally:
        _BUDGET.reset(token)


def read_xml(path: Path, expect_root: str) -> Element:
    """The element tree of an XML file whose root must be `expect_root`; errors are located. Inside
    `xml_budget()` the file is charged to the load's budget and parsed once; else it has a budget of its own."""
    name = os.fspath(path)
    budget = _BUDGET.get()
    key = os.path.abspath(name)
    root = budget.trees.get(key) if budget is not None else None
    if root is None:
        raw = read_user_file(path, MAX_XML_BYTES, f"an {expect_root} file", "check the path")
        root = parse_xml(raw, name, budget)
        if budget is not None:
            budget.trees[key] = root
    if root.tag != expect_root:
        raise located(root, f"the root element is <{root.tag}>, expected <{expect_root}>",
                      f"pass an {expect_root} file")
    return root


def parse_xml(raw: bytes, name: str, budget: Optional[XmlBudget] = None) -> Element:
    """The tree of `raw` (named `name` in errors), charged to `budget` (by default one of its own: "this file")."""
    if budget is None:
        budget = XmlBudget(scope="this file")
    _check_attribute_counts(raw, name)
    names: dict[str, str] = {}  # expat's table of tag and attribute names, each kept once
    parser = xml.parsers.expat.ParserCreate(intern=names)
    stack: list[Element] = []
    roots: list[Element] = []
    spent = [0.0]

    def start(tag: str, attrs: dict[str, str]) -> None:
        # expat gives each element a dict of its own: kept as it is, not copied
        node = Element(tag, attrs, name, parser.CurrentLineNumber, parser.CurrentColumnNumber + 1)
        if len(stack) >= MAX_XML_DEPTH:
            raise located(node, f"nested more than {MAX_XML_DEPTH} elements deep")
        cost = 1.0
        if attrs:
            cost += ATTRIBUTE_COST * len(attrs) + CHARACTER_COST * sum(map(len, attrs.values()))
        new_names = len(names) - known[0]
        if new_names:  # the names this element brought: the last ones expat added
            known[0] = len(names)
            cost += NAME_COST * new_names + CHARACTER_COST * sum(map(len, islice(reversed(names), new_names)))
        spent[0] += cost
        budget.charge(cost, node)
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
    known = [0]
    try:
        _parse(parser, raw, name)
    except BaseException:
        budget.refund(name, spent[0])  # the tree is gone: a second read is charged anew
        raise
    if not roots:
        raise file_error(name, "no XML element in the file")
    return roots[0]


def _parse(parser: "xml.parsers.expat.XMLParserType", raw: bytes, name: str) -> None:
    """Run `parser` over `raw`; expat's errors as located ScenarioErrors."""
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


def _check_attribute_counts(raw: bytes, name: str) -> None:
    """Refuse a start tag of more than MAX_XML_ATTRIBUTES attributes before expat builds its dict. A start tag
    holds no `<`, so it lies in one run from a `<` to the next, and has at most as many attributes as that run
    has `=`; only runs long enough to hold that many are counted. A file whose bytes are not ASCII's for
    `<` and `=` (UTF-16, EBCDIC) is counted in its characters."""
    text: "bytes | str" = raw
    pattern: "re.Pattern" = _LONG_SEGMENT
    declared = _DECLARED_ENCODING.search(raw[:200])
    codec = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-16-le" if raw[:2] == b"<\x00" else \
        "utf-16-be" if raw[:2] == b"\x00<" else declared.group(1).decode("ascii", "replace") if declared else None
    if codec is not None:
        try:
            ascii_compatible = b"<=".decode(codec) == "<=" and "utf-16" not in codec.lower()
        except (LookupError, ValueError, UnicodeError):
            return  # expat cannot read it either: its error says so
        if not ascii_compatible:
            text = raw.decode(codec, "replace")
            pattern = re.compile(_LONG_SEGMENT.pattern.decode("ascii"))
    less, equals, newline, bang, question = ("<", "=", "\n", "!", "?") if isinstance(text, str) else \
        (b"<", b"=", b"\n", b"!", b"?")
    for run in pattern.finditer(text):
        start = run.start()
        if text[start + 1:start + 2] in (bang, question):
            continue  # a comment, CDATA or a processing instruction: no attributes
        if text.count(equals, start, run.end()) > MAX_XML_ATTRIBUTES:
            line = text.count(newline, 0, start) + 1
            column = start - text.rfind(newline, 0, start)
            tag = re.match(r"[^\s/>=]{0,60}", str(text[start + 1:start + 61], "latin-1")
                           if isinstance(text, bytes) else text[start + 1:start + 61]).group(0)
            raise ScenarioError([ScenarioIssue(name, line, column, tag, f"an element with more than "
                                               f"{MAX_XML_ATTRIBUTES} attributes",
                                               "the standard's elements have a few each: remove the others")])
