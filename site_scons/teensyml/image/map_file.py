"""Read the one thing a GNU ld map file knows and the ELF does not: which
object or archive member each input section of an output section came from.

Only the "Linker script and memory map" part is read. Inside an output
section it lists input sections (name, address, size, origin), fill (gaps the
linker padded: alignment, `. = offset`) and data statements (LONG(...) in the
script: the copy and zero tables). Long input-section names wrap onto a
second line, which this parser joins back.
"""
import os
import re
from dataclasses import dataclass, field

from ..errors import UserError

START_MARKER = "Linker script and memory map"
LINKER_STUBS = "linker stubs"

_HEX = r"0x([0-9a-fA-F]+)"
_OUTPUT = re.compile(rf"^(\S+)(?:\s+{_HEX}\s+{_HEX}(?:\s+load address {_HEX})?)?\s*$")
_PLACED = re.compile(rf"^\s+{_HEX}\s+{_HEX}\s+(.*)$")          # address size rest
_INPUT = re.compile(rf"^ (\S+)\s+{_HEX}\s+{_HEX}\s+(.*)$")     # one-line input section
_FILL = re.compile(rf"^ \*fill\*\s+{_HEX}\s+{_HEX}")
_STATEMENT = re.compile(r"^(BYTE|SHORT|LONG|QUAD|SQUAD)\b")
_WRAPPED_NAME = re.compile(r"^ ([^\s*]\S*)$")


@dataclass
class Piece:
    """A run of bytes inside an output section, as the map lists it."""
    kind: str       # input | fill | statement
    address: int
    size: int
    name: str = ""  # input section name (.text.main), or LONG/SHORT/...
    origin: str = ""  # object path, archive.a(member.o), or "linker stubs"


@dataclass
class OutputSection:
    name: str
    address: int
    size: int
    load_address: int = None
    pieces: list = field(default_factory=list)


def parse_text(text):
    """{(name, address): OutputSection} of a map file's text."""
    start = text.find(START_MARKER)
    if start < 0:
        raise ValueError("no memory map")
    sections, current, wrapped = {}, None, None
    lines = text[start:].splitlines()[1:]
    for number, line in enumerate(lines):
        if not line:
            continue
        if line[0] != " ":
            wrapped = None
            current = _output_header(line, lines, number)
            if current is not None:
                sections[(current.name, current.address)] = current
            continue
        if current is None:
            continue
        if wrapped is not None:
            match = _PLACED.match(line)
            name, wrapped = wrapped, None
            if match and not _STATEMENT.match(match.group(3)):
                current.pieces.append(Piece("input", int(match.group(1), 16),
                                            int(match.group(2), 16), name,
                                            match.group(3).strip()))
                continue
        if line.startswith(" *fill*"):
            match = _FILL.match(line)
            if match:
                current.pieces.append(Piece("fill", int(match.group(1), 16),
                                            int(match.group(2), 16)))
            continue
        match = _INPUT.match(line)
        if match and not match.group(1).startswith("*"):
            current.pieces.append(Piece("input", int(match.group(2), 16),
                                        int(match.group(3), 16), match.group(1),
                                        match.group(4).strip()))
            continue
        match = _PLACED.match(line)
        if match:
            statement = _STATEMENT.match(match.group(3))
            if statement:
                current.pieces.append(Piece("statement", int(match.group(1), 16),
                                            int(match.group(2), 16), statement.group(1),
                                            LINKER_STUBS))
            continue
        match = _WRAPPED_NAME.match(line)
        if match:
            wrapped = match.group(1)
    return sections


def _output_header(line, lines, number):
    """The OutputSection a column-0 line opens, or None (LOAD, OUTPUT(...)).
    A long name puts its address and size on the next line."""
    match = _OUTPUT.match(line)
    if not match or not line.startswith("."):
        return None
    name, address, size, load = match.groups()
    if address is None and number + 1 < len(lines):
        following = re.match(rf"^\s+{_HEX}\s+{_HEX}(?:\s+load address {_HEX})?\s*$",
                             lines[number + 1])
        if following:
            address, size, load = following.groups()
    if address is None:
        return OutputSection(name, 0, 0)     # listed, but the linker made nothing
    return OutputSection(name, int(address, 16), int(size, 16),
                         int(load, 16) if load else None)


def read(map_path):
    """The output sections of a map file, or a UserError saying what to do."""
    try:
        with open(map_path, encoding="utf-8", errors="replace") as stream:
            text = stream.read()
    except FileNotFoundError:
        raise UserError(f"{map_path} does not exist: the size report needs the linker map "
                        f"the link writes next to the ELF. Relink (`scons`, or `scons "
                        f"fixture`) to write it.") from None
    try:
        return parse_text(text)
    except ValueError:
        raise UserError(f"{map_path} is not a GNU ld map file (it has no \"{START_MARKER}\" "
                        f"part); give the .map the link writes next to the ELF.") from None


def origin_key(origin):
    """How component rules see an origin: an archive member as
    `libname.a(member.o)` with the archive's directory dropped (toolchain
    libraries live in long, machine-specific paths), an object as its path
    with forward slashes and a leading slash, so `*/app/*` also matches a
    relative build/<variant>/app/x.o."""
    origin = origin.replace("\\", "/")
    archive = re.match(r"^(.*\.a)\((.*)\)$", origin)
    if archive:
        return f"{os.path.basename(archive.group(1))}({archive.group(2)})"
    return origin if origin.startswith("/") or origin == LINKER_STUBS else "/" + origin
