"""OpenSCENARIO catalogs, read on demand from the CatalogLocations directories.

A CatalogReference names a catalog (`<Catalog name=...>`) and an entry in it. The directories are looked
through in the file's order, each one's `.xosc` files in name order: of each file only the start is parsed,
up to its `<Catalog>` element, to learn the catalog's name, and only the file holding the named catalog is
read whole (the first one, where two hold the same name). A scenario's catalogs are bounded: at most
MAX_CATALOG_FILES `.xosc` files in a directory, each at most `xmltree.MAX_XML_BYTES`, and at most
MAX_CATALOG_BYTES read from catalog files in all.

    catalogs = Catalogs([(Path("catalogs"), directory_element)])
    catalog, file = catalogs.find("VehicleCatalog", reference_element)   # None when no directory holds it
"""

from __future__ import annotations

import os
import xml.parsers.expat
from pathlib import Path

from drivesim.scenario.user_files import open_user_file, os_problem, shown_path
from drivesim.standards.openscenario import xmltree
from drivesim.standards.openscenario.xmltree import Element, located, read_xml

MAX_CATALOG_FILES = 256  # .xosc files looked at in one catalog directory
MAX_CATALOG_BYTES = 64 * 1024 * 1024  # bytes read from catalog files (names and whole files), for one scenario
_CHUNK = 64 * 1024  # a catalog's name is near the start of its file: it is read in chunks until found


class _Found(Exception):
    """Raised by the name scan's handler to stop parsing at the <Catalog> element."""


class Catalogs:
    """The catalogs of the directories `(path, <Directory> element)`, read as references need them."""

    def __init__(self, directories: list[tuple[Path, Element]]):
        self.directories = directories
        self._listed: list[tuple[Path, Element, list[Path]]] | None = None
        self._scanned: set[Path] = set()
        self._names: dict[str, Path] = {}  # catalog name -> the first file holding it (of the files scanned)
        self._loaded: dict[str, Element] = {}
        self._bytes = 0

    def find(self, name: str, ref: Element) -> tuple[Element, Path] | None:
        """The <Catalog> named `name` and its file; None when no catalog file of the directories holds it."""
        if name not in self._names:
            self._scan_until(name, ref)
        if name not in self._names:
            return None
        file = self._names[name]
        if name not in self._loaded:
            try:
                size = file.stat().st_size
            except OSError:
                size = 0  # read_xml says why it cannot read the file
            self._count(size, file, ref)
            self._loaded[name] = read_xml(file, "OpenSCENARIO").require("Catalog")
        return self._loaded[name], file

    def where(self) -> str:
        return ", ".join(shown_path(d) for d, _ in self.directories) or "no CatalogLocations"

    def _scan_until(self, name: str, ref: Element) -> None:
        for directory, node, files in self._listing():
            for file in files:
                if file in self._scanned:
                    continue
                self._scanned.add(file)
                found = self._catalog_name(file, ref)
                if found is not None:
                    self._names.setdefault(found, file)
                if found == name:
                    return

    def _listing(self) -> list[tuple[Path, Element, list[Path]]]:
        """Each directory's .xosc files in name order (a directory that is not there holds none)."""
        if self._listed is None:
            self._listed = []
            for directory, node in self.directories:
                self._listed.append((directory, node, _xosc_files(directory, node)))
        return self._listed

    def _count(self, size: int, file: Path, ref: Element) -> None:
        self._bytes += size
        if self._bytes > MAX_CATALOG_BYTES:
            raise located(ref, f"the catalog files read for this scenario exceed {MAX_CATALOG_BYTES} bytes in all "
                          f"(at {shown_path(file)})",
                          "keep the catalog directories to the catalogs the scenario uses")

    def _catalog_name(self, file: Path, ref: Element) -> str | None:
        """The name of the <Catalog> in `file`, parsing only up to it; None for a file without one. A file
        the scan cannot read is read whole by `read_xml`, whose located error says why."""
        parser = xml.parsers.expat.ParserCreate()
        depth, found = [0], []

        def start(tag: str, attrs: dict[str, str]) -> None:
            depth[0] += 1
            if depth[0] == 2 and tag == "Catalog" or depth[0] == 1 and tag != "OpenSCENARIO":
                found.append(attrs.get("name", "") if tag == "Catalog" else None)
                raise _Found

        def end(tag: str) -> None:
            depth[0] -= 1

        def refuse(*_args: object) -> None:
            raise ValueError("a DOCTYPE")

        parser.StartElementHandler, parser.EndElementHandler = start, end
        parser.StartDoctypeDeclHandler = parser.EntityDeclHandler = refuse
        read = 0
        try:
            with open_user_file(file, "a catalog file", "check the catalog directory") as f:
                while read <= xmltree.MAX_XML_BYTES:
                    chunk = f.read(_CHUNK)
                    read += len(chunk)
                    self._count(len(chunk), file, ref)
                    parser.Parse(chunk, not chunk)
                    if not chunk:
                        return None  # the whole file, no <Catalog> in it
        except _Found:
            if found[0] is not None:
                return found[0]
        except (xml.parsers.expat.ExpatError, LookupError, ValueError):
            pass
        read_xml(file, "OpenSCENARIO")  # raises the located error: a wrong root, bad XML, too large
        return None


def _xosc_files(directory: Path, node: Element) -> list[Path]:
    """The .xosc files of a catalog directory in name order; at most MAX_CATALOG_FILES."""
    hint = "Directory path is relative to the .xosc file"
    try:
        with os.scandir(directory) as entries:
            files = []
            for entry in entries:
                if entry.name.endswith(".xosc") and entry.is_file():
                    files.append(Path(entry.path))
                    if len(files) > MAX_CATALOG_FILES:
                        raise located(node, f"catalog directory {shown_path(directory)} holds more than "
                                      f"{MAX_CATALOG_FILES} .xosc files",
                                      "keep a scenario's catalogs in a directory of their own")
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as err:
        raise located(node, f"catalog directory {shown_path(directory)}: {os_problem(err)}", hint) from None
    return sorted(files)
